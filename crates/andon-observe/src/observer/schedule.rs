//! The observer's schedule: checks every `check_interval_secs`, a signal when the health
//! changes, the handle that stops them, and the observer's lifecycle ([`Component`]).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use andon_core::{AndonSignal, HealthStatus, ShutdownReport, SignalSink};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::{AndonObserver, COMPONENT, Shared, lock};
use crate::diagnostics::Diagnostics;
use crate::error::ObserveError;

impl AndonObserver {
    /// Starts checking every `check_interval_secs` on the current tokio runtime.
    ///
    /// Checks keep to a fixed grid (the first at once, then every interval from the start): a
    /// slow check does not shift the later ones, and a check missed because the previous one
    /// ran long is skipped rather than run in a burst (`MissedTickBehavior::Skip`).
    ///
    /// When the health worsens the observer sends the signal sink given to its builder
    /// ([`AndonObserverBuilder::with_signal_sink`](crate::AndonObserverBuilder::with_signal_sink))
    /// a YELLOW (Degraded) or RED (Critical) signal with the reasons; when it recovers, a GREEN
    /// one; nothing while it stays the same. A signal the sink refuses, or does not take within
    /// one interval, is counted in
    /// [`ObserverStats::signal_failures`](super::ObserverStats::signal_failures) and sent again
    /// at the next check.
    ///
    /// The checks stop at [`shutdown`](AndonObserver::shutdown), or when the last clone of the
    /// observer is dropped; starting again replaces the running schedule. When `enabled` is
    /// false in the configuration, or outside a tokio runtime, no checks run
    /// ([`is_checking`](AndonObserver::is_checking) says so).
    pub fn start(&self) {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.shared.config.enabled => runtime,
            _ => return,
        };
        let sink: Arc<dyn SignalSink> = match &self.shared.signal_sink {
            Some(sink) => Arc::clone(sink),
            None => Arc::new(andon_core::Noop),
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        // The task holds the observer weakly: the schedule, held by the observer, ends with it.
        let observer = self.downgrade();
        let period = Duration::from_secs(self.shared.config.check_interval_secs);
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
                let Some(observer) = observer.upgrade() else {
                    break;
                };
                observer
                    .scheduled_check(sink.as_ref(), &mut reported, period)
                    .await;
            }
        });
        let handle = ObserverHandle {
            stop: Some(stop),
            task: Some(task),
        };
        // A schedule started before is replaced: dropping its handle stops it.
        let _replaced = lock(&self.shared.schedule).replace(handle);
    }

    /// Whether scheduled checks are running (started, not shut down).
    pub fn is_checking(&self) -> bool {
        self.shared.schedules.load(Ordering::Acquire) > 0
    }

    /// Nothing to deliver: checks export their gauges as they finish. Never fails.
    pub async fn flush(&self) -> Result<(), ObserveError> {
        Ok(())
    }

    /// Stops the scheduled checks, letting a check in progress finish, within `deadline`;
    /// past it the schedule is aborted where it is and the report says so.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let handle = lock(&self.shared.schedule).take();
        let Some(handle) = handle else {
            return ShutdownReport::complete("observe");
        };
        match tokio::time::timeout(deadline, handle.stop()).await {
            Ok(()) => ShutdownReport::complete("observe"),
            Err(_) => ShutdownReport::timed_out("observe", 0, deadline),
        }
    }

    fn downgrade(&self) -> WeakObserver {
        WeakObserver(Arc::downgrade(&self.shared))
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

/// The observer as its schedule holds it: without keeping it alive.
struct WeakObserver(Weak<Shared>);

impl WeakObserver {
    /// The observer, while a clone of it lives.
    fn upgrade(&self) -> Option<AndonObserver> {
        Some(AndonObserver {
            shared: self.0.upgrade()?,
        })
    }
}

/// Marks a schedule as running for as long as it lives.
struct Running(Weak<Shared>);

impl Running {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.schedules.fetch_add(1, Ordering::AcqRel);
        Running(Arc::downgrade(shared))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.schedules.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The scheduled checks started by [`AndonObserver::start`], kept by the observer. Dropping
/// it stops them.
#[derive(Debug)]
pub(super) struct ObserverHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ObserverHandle {
    /// Stops the checks, letting a check in progress finish, and waits until they have stopped.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

andon_core::impl_component!(AndonObserver, "observe");
