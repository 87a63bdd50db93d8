//! The observer's schedule: checks every `check_interval_secs`, a signal when the health
//! changes, and the handle that stops them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use andon_core::{AndonSignal, HealthStatus, SignalSink};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{AndonObserver, COMPONENT, Shared};
use crate::diagnostics::Diagnostics;

impl AndonObserver {
    /// Starts checking every `check_interval_secs` on the current tokio runtime.
    ///
    /// Checks keep to a fixed grid (the first at once, then every interval from the start): a
    /// slow check does not shift the later ones, and a check missed because the previous one
    /// ran long is skipped rather than run in a burst (`MissedTickBehavior::Skip`).
    ///
    /// When the health worsens the observer sends `sink` a YELLOW (Degraded) or RED (Critical)
    /// signal with the reasons; when it recovers, a GREEN one; nothing while it stays the same.
    /// A signal the sink refuses, or does not take within one interval, is counted in
    /// [`ObserverStats::signal_failures`](super::ObserverStats::signal_failures) and sent again at the next check.
    ///
    /// The checks stop when the handle is stopped or dropped. When `enabled` is false in the
    /// configuration, or outside a tokio runtime, no checks run and the handle is already
    /// finished.
    #[must_use = "the checks stop when the handle is dropped"]
    pub fn start(&self, sink: Arc<dyn SignalSink>) -> ObserverHandle {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.config.enabled => runtime,
            _ => {
                return ObserverHandle {
                    stop: None,
                    task: None,
                };
            }
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let observer = self.clone();
        let period = Duration::from_secs(self.config.check_interval_secs);
        let running = Running::new(&self.shared);
        let task = runtime.spawn(async move {
            // Counted while the task lives, however it ends (stopped, or aborted on drop).
            let _running = running;
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut reported = HealthStatus::Healthy;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {}
                }
                observer
                    .scheduled_check(sink.as_ref(), &mut reported, period)
                    .await;
            }
        });
        ObserverHandle {
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn scheduled_check(
        &self,
        sink: &dyn SignalSink,
        reported: &mut HealthStatus,
        period: Duration,
    ) {
        let d = match self.run_diagnostics().await {
            Ok(d) => d,
            Err(_) => {
                self.shared.check_failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if d.status == *reported {
            return;
        }
        let signal = health_signal(&d, *reported);
        match tokio::time::timeout(period, sink.on_signal(&signal)).await {
            Ok(Ok(())) => {
                *reported = d.status;
                self.shared.signals_sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) | Err(_) => {
                self.shared.signal_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The signal for a change of health from `before` to `d.status`.
fn health_signal(d: &Diagnostics, before: HealthStatus) -> AndonSignal {
    let signal = match d.status {
        HealthStatus::Healthy => AndonSignal::green(format!(
            "host health recovered: memory {:.1}%, cpu {:.1}%",
            d.memory_percent, d.cpu_percent
        )),
        HealthStatus::Degraded => {
            AndonSignal::yellow(format!("host health degraded: {}", d.reasons.join("; ")))
        }
        HealthStatus::Critical => {
            AndonSignal::red(format!("host health critical: {}", d.reasons.join("; ")))
        }
    };
    let mut signal = signal
        .with_component(COMPONENT)
        .with_timestamp(d.taken_at)
        .with_attribute("health_status", format!("{:?}", d.status))
        .with_attribute("previous_health_status", format!("{before:?}"))
        .with_attribute("reasons", d.reasons.clone());
    for (key, value) in [
        ("memory_percent", d.memory_percent),
        ("cpu_percent", d.cpu_percent),
    ] {
        if value.is_finite() {
            signal = signal.with_attribute(key, value);
        }
    }
    signal
}

/// Marks a schedule as running for as long as it lives.
struct Running(Arc<Shared>);

impl Running {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.schedules.fetch_add(1, Ordering::AcqRel);
        Running(Arc::clone(shared))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.schedules.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The scheduled checks started by [`AndonObserver::start`]. Dropping it stops them.
#[derive(Debug)]
pub struct ObserverHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ObserverHandle {
    /// Stops the checks, letting a check in progress finish, and waits until they have stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Whether the checks have stopped (or never started).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
