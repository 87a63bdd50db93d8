//! Stopping the system: every part flushed and stopped within its deadline, in an order that
//! keeps what the last ones write (alerts before the log, history last).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{AndonError, ShutdownReport};

use crate::DEFAULT_SHUTDOWN_DEADLINE;
use crate::error::{PartFailure, ShutdownError};
use crate::system::AndonSystem;

/// How long past its deadline a part's shutdown may run before it is taken as stuck: its own
/// deadline handling gets to say what it left first.
const GUARD: Duration = Duration::from_millis(100);

impl AndonSystem {
    /// Flushes and stops every component through [`Component::shutdown`](andon_core::Component::shutdown),
    /// in the order alerts (their `log` channel writes into the log), observer, logs, metrics,
    /// spans, the sinks added to the builder, then the history (so that the last alert changes
    /// are kept), each within
    /// [`DEFAULT_SHUTDOWN_DEADLINE`]. Signals raised afterwards are refused.
    pub async fn shutdown(&self) -> Result<(), ShutdownError> {
        self.shutdown_within(DEFAULT_SHUTDOWN_DEADLINE).await
    }

    /// [`shutdown`](AndonSystem::shutdown) with a deadline per component.
    ///
    /// A component that misses its deadline is named in the error and is never dropped (it
    /// stays allocated until the process ends): one stuck for good, such as a log writing to a
    /// pipe nobody reads, would otherwise block the program when the system is dropped.
    pub async fn shutdown_within(&self, deadline: Duration) -> Result<(), ShutdownError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.escalation.disarm_all();
        self.inner.heartbeats.stop();
        self.inner.components.stop_background();
        let mut failures = Vec::new();
        // Every part through the one lifecycle, in the order `lifecycle::shutdown_order` gives:
        // alerts first, history last. Each keeps to the deadline itself and says what it left;
        // the timeout is only the guard against one that does not.
        for part in &self.inner.components.parts {
            let name = part.name();
            let report = match tokio::time::timeout(deadline + GUARD, part.shutdown(deadline)).await
            {
                Ok(report) => report,
                Err(_) => ShutdownReport::timed_out(name, 0, deadline),
            };
            if report.is_complete() {
                continue;
            }
            if report.timed_out {
                // A part stuck past its deadline (a log whose reader stopped reading) may
                // block for good when dropped, waiting for what it still holds: keep it alive
                // instead, so dropping the system never hangs the program.
                std::mem::forget(Arc::clone(part));
            }
            let why = report
                .error
                .unwrap_or_else(|| format!("{} item(s) not delivered", report.undelivered));
            failures.push(PartFailure {
                component: name,
                error: AndonError::component(name, why),
            });
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError { failures })
        }
    }
}
