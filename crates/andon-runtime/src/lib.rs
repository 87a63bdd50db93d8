//! The machinery andon's components share, written once: the bounded [`WorkQueue`] between
//! callers and a worker task (drops counted, never a wait; depth, last error, flush with a
//! deadline, close; the worker woken per item or once per batch, see [`WakePolicy`]), the
//! [`Backoff`] between delivery attempts (honouring a receiver's `Retry-After`, see
//! [`parse_retry_after`]), the injectable [`Clock`], the [`Alarm`] that bounds work with a
//! thread of its own, and locks that survive a panicking holder ([`lock()`]).
//!
//! An internal crate: it depends on std and tokio only (of andon, on nothing but
//! `andon-core`); the components (andon-log, andon-metrics, andon-trace, andon-alert,
//! andon-history) build on it, and the `andon` umbrella never reaches into it. Types a
//! component's public API shows (the alert manager's and the history's [`Clock`]) are
//! re-exported by that component.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use andon_runtime::{Backoff, work_queue};
//!
//! let (queue, mut worker) = work_queue::<String>(64);
//! let delivery = tokio::spawn(async move {
//!     let mut backoff = Backoff::new(Duration::from_millis(1)).with_max_retries(3);
//!     while let Some(message) = worker.recv().await {
//!         // deliver `message`; on a failure: `backoff.next_retry()` says how long to wait,
//!         // `worker.set_last_error(...)` keeps the reason for stats.
//!         backoff.reset();
//!         worker.done(1);
//!     }
//! });
//! queue.try_push("hello".to_owned()).unwrap();
//! queue.flush(Duration::from_secs(5)).await.unwrap();
//! queue.close();
//! delivery.await.unwrap();
//! # }
//! ```
//!
//! # Crate feature flags
//!
//! None: everything is always built.
//!
//! # Related crates
//!
//! - `andon-core`: the vocabulary every andon crate shares.
//! - `andon`: the umbrella most programs use.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod alarm;
mod backoff;
mod clock;
mod lock;
mod queue;

pub use alarm::Alarm;
pub use backoff::{Backoff, parse_retry_after};
pub use clock::{Clock, ManualClock, SystemClock};
pub use lock::{lock, read, write};
pub use queue::{
    FlushError, LastError, QueueCounts, RecvTimeoutError, Rejected, WakePolicy, WorkQueue,
    WorkReceiver, work_queue, work_queue_with,
};
