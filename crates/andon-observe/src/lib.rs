//! Runtime diagnostics for andon: what the host and this process are doing right now, on a
//! schedule, judged against health thresholds (in the spirit of Erlang's recon).
//!
//! # The component contract
//!
//! [`AndonObserver`] follows [`andon_core::contract`], like every andon component:
//! [`AndonObserver::builder`] takes the `[observer]` section, its `with_*` setters take the
//! probe, the metrics sink its gauges go to and the signal sink health changes go to, and
//! [`build`](AndonObserverBuilder::build) checks the section; [`AndonObserver::start`] runs the
//! scheduled checks until [`AndonObserver::shutdown`] (with a deadline, returning an
//! [`andon_core::ShutdownReport`]); [`AndonObserver::flush`] has nothing to deliver;
//! [`AndonObserver::stats`] returns [`ObserverStats`], which implements [`andon_core::Stats`];
//! and it implements [`andon_core::Component`].
//!
//! One call, [`AndonObserver::run_diagnostics`], returns a [`Diagnostics`] snapshot: memory,
//! CPU (overall and per core), swap, load, uptime and process count of the host; RSS, CPU,
//! threads and file descriptors of this process; per-interface network rates; per-mount disk
//! use without pseudo file systems; and the top-N processes by memory and CPU. Each section can
//! be switched off; one that cannot be read is reported unavailable with the reason, never as
//! zeros. CPU percentages and rates are measured over the time since the previous check, never
//! from one meaningless sample.
//!
//! [`AndonObserver::start`] checks every `check_interval_secs` and raises a YELLOW or RED
//! signal when the health worsens and a GREEN one when it recovers; a status must hold for
//! `health_hold_checks` consecutive checks (2 by default) before it changes. Each check also
//! feeds `andon_memory_usage_bytes` and `andon_cpu_usage_ratio`, the gauges the metrics'
//! default thresholds watch. Reads ([`AndonObserver::current`], [`AndonObserver::measure_now`])
//! never touch what the next check judges. The observer is also the workspace's
//! [`DiagnosticsSource`](andon_core::DiagnosticsSource): the alert manager takes a snapshot from
//! it when a critical alert fires.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use andon_core::config::ObserverConfig;
//! use andon_core::{HealthStatus, Noop};
//! use andon_observe::AndonObserver;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), andon_core::AndonError> {
//! let observer = AndonObserver::builder(ObserverConfig::default())
//!     .with_signal_sink(Arc::new(Noop)) // health changes go here (this one drops them)
//!     .build()?;
//! let d = observer.run_diagnostics().await?;
//! println!("Memory: {:.1}%", d.memory_percent);
//! println!("Health: {:?} {:?}", d.status, d.reasons);
//! assert!(d.memory_percent > 0.0 && d.memory_percent <= 100.0);
//!
//! // Scheduled checks, raising signals through the builder's sink, until the shutdown.
//! observer.start();
//! assert!(observer.shutdown(std::time::Duration::from_secs(5)).await.is_complete());
//! # Ok(())
//! # }
//! ```
//!
//! Backends are behind the [`Probe`] trait; [`SysinfoProbe`] (sysinfo) is the default. Health
//! rules live in the pure [`HealthJudge`], testable with any [`Readings`].
//!
//! # Crate feature flags
//!
//! This crate has no optional features.
//!
//! # Related crates
//!
//! - `andon-core`: the configuration (`[observer]`), the signal and the traits implemented here.
//! - `andon`: the umbrella, whose `AndonSystem` wires the observer to the other components.
//! - `andon-metrics`: a `MetricsSink` for [`AndonObserverBuilder::with_metrics_sink`].
//! - `andon-alert`: takes a snapshot from the observer when a critical alert fires.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod diagnostics;
mod error;
mod judge;
mod observer;
mod probe;
mod stats;

pub use diagnostics::{
    Diagnostics, InterfaceRates, LoadAverage, MountUsage, ProcessDiagnostics, ProcessSummary,
    Reading, SystemDiagnostics, TopProcesses,
};
pub use error::ObserveError;
pub use judge::{HealthJudge, Readings};
pub use observer::{AndonObserver, AndonObserverBuilder, GAUGES, ObserverStats};
pub use probe::{Probe, Sections, SysinfoProbe};
