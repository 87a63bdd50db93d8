//! Stopping the system: every part flushed and stopped within its deadline, in an order that
//! keeps what the last ones write (alerts before the log, history last).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{AndonError, SignalSink};

use crate::DEFAULT_SHUTDOWN_DEADLINE;
use crate::error::{PartFailure, ShutdownError};
use crate::system::AndonSystem;

impl AndonSystem {
    /// Flushes and stops every component, in the order alerts (their `log` channel writes into
    /// the log), logs, spans, metrics, then the history (so that the last alert changes are
    /// kept), each within
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
        self.inner.components.stop_background().await;
        let mut failures = Vec::new();
        // The alert manager first: its `log` channel writes its last notifications into the
        // log, which must still be open to take them; then the others in fan-out order.
        let mut order: Vec<&Arc<dyn SignalSink>> = self.inner.sinks.iter().collect();
        order.sort_by_key(|sink| sink.name() != "alert");
        for sink in order {
            // The alert manager stops within the deadline on its own and says what it left in
            // its outbox for the next start, rather than being cut off by the timeout below.
            #[cfg(feature = "alert")]
            if sink.name() == "alert"
                && let Some(alerts) = self.alerts()
            {
                let report = alerts.shutdown_within(deadline.mul_f64(0.9)).await;
                if !report.is_complete() {
                    let lost =
                        report.lost + report.undelivered.saturating_sub(report.kept_in_outbox);
                    failures.push(PartFailure {
                        component: "alert",
                        error: AndonError::component(
                            "alert",
                            format!(
                                "{} notification(s) not delivered within {deadline:?}: {} kept in the outbox for the next start, {lost} lost",
                                report.undelivered + report.lost,
                                report.kept_in_outbox,
                            ),
                        ),
                    });
                }
                continue;
            }
            match tokio::time::timeout(deadline, sink.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(PartFailure {
                    component: sink.name(),
                    error,
                }),
                Err(_) => {
                    // A part stuck past its deadline (a log whose reader stopped reading) may
                    // block for good when dropped, waiting for what it still holds: keep it
                    // alive instead, so dropping the system never hangs the program.
                    std::mem::forget(Arc::clone(sink));
                    failures.push(PartFailure {
                        component: sink.name(),
                        error: AndonError::component(
                            sink.name(),
                            format!(
                                "did not shut down within {deadline:?}; what it held may be lost"
                            ),
                        ),
                    });
                }
            }
        }
        // Last, so that the alert manager's final changes are in it.
        if let Some(history) = &self.inner.history {
            match tokio::time::timeout(deadline, history.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(PartFailure {
                    component: "history",
                    error,
                }),
                Err(_) => failures.push(PartFailure {
                    component: "history",
                    error: AndonError::component(
                        "history",
                        format!(
                            "did not flush within {deadline:?}; records still queued may be lost"
                        ),
                    ),
                }),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError { failures })
        }
    }
}
