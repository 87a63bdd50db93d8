//! The Cloud Logging API sink (`output = "api"`): the writer thread hands the Cloud-layout
//! lines to a bounded queue and never waits; a background thread of its own batches them by
//! count and bytes and writes them with `entries:write`, authenticated by Application Default
//! Credentials (`gcp_auth`), retrying 429, 5xx and unanswered requests.
//!
//! The API thread counts what it delivered (the sink's `written`) and lost after its retries
//! (the sink's `errors`, with `last_error`) in [`LogStats`](crate::LogStats) itself.

mod client;
mod detect;
mod entry;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use andon_core::config::CloudLoggingApi;
use tokio::sync::mpsc as queue;

use crate::queue::lock;
use crate::sinks::SinkCell;

/// How long closing waits for the API thread to deliver what it holds: short, since the writer
/// thread waits meanwhile and a wait past `logger.stall_timeout` (default 1 s) is a stall.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// The sink's counters, as the API thread updates them.
#[derive(Debug)]
struct Counters {
    written: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    last_error: Arc<Mutex<Option<String>>>,
}

/// Where the API thread counts: the sink's cell, attached at the first batch (before any
/// record reaches the thread).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    cell: OnceLock<Counters>,
    /// Set on close: the thread tries what it holds once each, without retries.
    closing: AtomicBool,
}

impl Outcome {
    fn delivered(&self, count: u64) {
        if let Some(cell) = self.cell.get() {
            cell.written.fetch_add(count, Ordering::Relaxed);
        }
    }

    fn closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    fn lost(&self, count: u64, error: String) {
        if let Some(cell) = self.cell.get() {
            cell.errors.fetch_add(count, Ordering::Relaxed);
            *lock(&cell.last_error) = Some(error);
        }
    }
}

/// The writer's end of the API sink.
#[derive(Debug)]
pub(crate) struct ApiSink {
    tx: Option<queue::Sender<Vec<u8>>>,
    outcome: Arc<Outcome>,
    thread: Option<JoinHandle<()>>,
    done: Option<mpsc::Receiver<()>>,
    start_error: Option<String>,
}

impl ApiSink {
    /// Starts the API thread for `api`; `project_id` is the configured one, if any.
    pub(crate) fn new(
        api: &CloudLoggingApi,
        project_id: Option<String>,
        report_interval: Duration,
    ) -> ApiSink {
        let (tx, rx) = queue::channel(api.queue_capacity.max(1));
        let outcome = Arc::new(Outcome::default());
        let (done_tx, done) = mpsc::channel();
        let worker = client::Worker::new(api.clone(), project_id, Arc::clone(&outcome));
        let spawned = std::thread::Builder::new()
            .name("andon-log-gcp".into())
            .spawn(move || {
                worker.run(rx, report_interval);
                let _ = done_tx.send(());
            });
        match spawned {
            Ok(thread) => ApiSink {
                tx: Some(tx),
                outcome,
                thread: Some(thread),
                done: Some(done),
                start_error: None,
            },
            Err(e) => ApiSink {
                tx: None,
                outcome,
                thread: None,
                done: None,
                start_error: Some(format!("cannot start the Cloud Logging API thread: {e}")),
            },
        }
    }

    /// Queues `lines` (one Cloud-layout record each) for the API thread, without waiting;
    /// returns how many were queued, the rest were dropped.
    pub(crate) fn offer<'a>(&self, lines: impl Iterator<Item = &'a [u8]>) -> (u64, u64) {
        let mut queued = 0;
        let mut dropped = 0;
        for line in lines {
            let sent = self
                .tx
                .as_ref()
                .is_some_and(|tx| tx.try_send(line.to_vec()).is_ok());
            if sent {
                queued += 1;
            } else {
                dropped += 1;
            }
        }
        (queued, dropped)
    }

    /// Why records cannot be queued: the thread did not start, or the queue is full.
    pub(crate) fn refusal(&self) -> String {
        self.start_error.clone().unwrap_or_else(|| {
            "the Cloud Logging API queue is full (api.queue_capacity): records dropped".to_owned()
        })
    }

    /// Lets the API thread count in `cell` (once; later calls keep the first cell).
    pub(crate) fn attach(&self, cell: &SinkCell) {
        let _ = self.outcome.cell.set(Counters {
            written: Arc::clone(&cell.written),
            errors: Arc::clone(&cell.errors),
            last_error: Arc::clone(&cell.last_error),
        });
    }

    /// Lets the API thread deliver what it holds, once each without retries, for up to
    /// [`CLOSE_GRACE`]; then leaves it to end with the process.
    pub(crate) fn close(&mut self) {
        self.outcome.closing.store(true, Ordering::Relaxed);
        self.tx = None;
        let finished = self
            .done
            .take()
            .is_some_and(|done| done.recv_timeout(CLOSE_GRACE).is_ok());
        if let Some(thread) = self.thread.take()
            && finished
        {
            let _ = thread.join();
        }
    }
}
