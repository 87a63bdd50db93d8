//! The manager's periodic evaluation, owned by the manager like the observer's schedule is
//! owned by the observer: [`AlertManager::start`] starts it, [`AlertManager::shutdown`] stops
//! it, and it ends with the last clone of the manager.

use std::sync::Arc;
use std::time::Duration;

use andon_runtime::lock;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{AlertManager, take_locked};

/// The running evaluation task and the way to stop it, kept by the manager. Dropping it stops
/// the task where it is.
#[derive(Debug)]
pub(super) struct Evaluation {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Evaluation {
    /// Stops the task, letting an evaluation in progress finish, and waits at most `within`
    /// for it; past that the task is aborted where it is.
    async fn stop(mut self, within: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(within, &mut task).await.is_err()
        {
            task.abort();
        }
    }

    /// Whether the task is still running.
    fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|task| !task.is_finished())
    }
}

impl Drop for Evaluation {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl AlertManager {
    /// Starts evaluating every rule (what
    /// [`check_and_fire_alerts`](AlertManager::check_and_fire_alerts) does) every
    /// `[alerts] evaluation_interval`, the first one interval from now, on the current tokio
    /// runtime.
    ///
    /// The evaluations stop at [`shutdown`](AlertManager::shutdown) (an evaluation in progress
    /// finishes first), or when the last clone of the manager is dropped; starting again
    /// replaces the running evaluation. Outside a tokio runtime nothing starts
    /// ([`is_evaluating`](AlertManager::is_evaluating) says so). Metric rules also react to
    /// changes between evaluations (see [`andon_core::MetricsListener`]), whether started or
    /// not.
    pub fn start(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        // The task holds the manager weakly: the evaluation, held by the manager, ends with it.
        let weak = Arc::downgrade(&self.inner);
        let interval = self.inner.config.evaluation_interval;
        let task = runtime.spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(interval) => {}
                }
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                if (AlertManager { inner })
                    .check_and_fire_alerts()
                    .await
                    .is_err()
                {
                    // Shut down.
                    break;
                }
            }
        });
        let evaluation = Evaluation {
            stop: Some(stop),
            task: Some(task),
        };
        // An evaluation started before is replaced: dropping it stops it.
        let _replaced = lock(&self.inner.evaluation).replace(evaluation);
    }

    /// Whether the periodic evaluation runs (started, not shut down).
    pub fn is_evaluating(&self) -> bool {
        lock(&self.inner.evaluation)
            .as_ref()
            .is_some_and(Evaluation::is_running)
    }

    /// Stops the periodic evaluation, if started, within `within` (the first step of a
    /// shutdown).
    pub(super) async fn stop_evaluation(&self, within: Duration) {
        if let Some(evaluation) = take_locked(&self.inner.evaluation) {
            evaluation.stop(within).await;
        }
    }
}
