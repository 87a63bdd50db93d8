//! Event-driven evaluation: the alert manager as a [`MetricsListener`]. The metrics recorder
//! tells it when a watched gauge or counter changes; the change is only marked (coalescing a
//! burst into one mark per metric) and a task evaluates the rules that read the marked metrics,
//! so a threshold crossing is notified at once instead of on the next evaluation tick.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use andon_core::MetricsListener;
use andon_runtime::lock;
use tokio::sync::Notify;

use super::{AlertManager, Inner, take_locked};
use crate::rule::{AlertCondition, QUEUE_DEPTH_METRIC};

/// The metrics changed since the evaluation task last looked, and its wake-up.
#[derive(Debug, Default)]
pub(super) struct Listener {
    dirty: Mutex<Vec<String>>,
    wake: Arc<Notify>,
    /// The evaluation task was started.
    started: AtomicBool,
}

/// The metrics `condition` reads, without duplicates.
pub(super) fn metrics_of(condition: &AlertCondition) -> Vec<String> {
    fn walk(condition: &AlertCondition, out: &mut Vec<String>) {
        let name = match condition {
            AlertCondition::QueueDepth { .. } => QUEUE_DEPTH_METRIC,
            AlertCondition::Threshold(t) => t.metric.as_str(),
            AlertCondition::All(c) | AlertCondition::Any(c) => {
                c.iter().for_each(|c| walk(c, out));
                return;
            }
            AlertCondition::Signal { .. } | AlertCondition::Health { .. } => return,
        };
        if !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    let mut out = Vec::new();
    walk(condition, &mut out);
    out
}

impl AlertManager {
    /// Starts the task that evaluates the rules of changed metrics, on the current tokio
    /// runtime (none: at the first signal or evaluation, see `start_deferred`). It holds the
    /// manager weakly and ends with it.
    pub(super) fn start_listening(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.start_later.store(true, Ordering::Relaxed);
            return;
        };
        if self.inner.listener.started.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let wake = Arc::clone(&self.inner.listener.wake);
        runtime.spawn(async move {
            loop {
                wake.notified().await;
                let Some(inner) = weak.upgrade() else {
                    break;
                };
                let names = take_locked(&inner.listener.dirty);
                if names.is_empty() {
                    continue;
                }
                let manager = AlertManager { inner };
                if manager.evaluate(Some(&names)).await.is_err() {
                    // Shut down.
                    break;
                }
            }
        });
    }
}

/// The recorder calls `metric_changed` on its hot path: it takes a short lock, marks the
/// metric (once until the task looks) and wakes the task; it never evaluates or waits.
impl MetricsListener for AlertManager {
    /// The metrics read by the rules added so far (threshold, metric and queue-depth
    /// conditions, inside `all`/`any` too).
    fn watched_metrics(&self) -> Vec<String> {
        let state = self.inner.lock_state();
        let mut names: Vec<String> = state
            .rules
            .iter()
            .flat_map(|r| r.metrics.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn metric_changed(&self, name: &str) {
        {
            let mut dirty = lock(&self.inner.listener.dirty);
            if dirty.iter().any(|n| n == name) {
                // Marked and woken already; the task has not looked yet.
                return;
            }
            dirty.push(name.to_owned());
        }
        self.inner.listener.wake.notify_one();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The evaluation task waits for a change: wake it so it sees the manager is gone.
        self.listener.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use std::collections::VecDeque;
    use std::time::{Duration, UNIX_EPOCH};

    use super::super::condition::threshold_step;
    use crate::rule::{Comparison, Threshold};

    #[test]
    fn a_rate_evaluated_on_every_update_keeps_a_history_bounded_by_its_window() {
        let t = Threshold {
            metric: "errors_total".into(),
            labels: Vec::new(),
            comparison: Comparison::Above,
            value: 5.0,
            clear: None,
            rate_over: Some(Duration::from_secs(60)),
        };
        let (mut active, mut history, mut last) = (false, VecDeque::new(), None);
        let start = UNIX_EPOCH + Duration::from_secs(1_000_000);
        // 100 updates a second for five minutes; the counter grows by 10 a second.
        for i in 0..30_000u64 {
            let now = start + Duration::from_millis(i * 10);
            threshold_step(
                &t,
                &mut active,
                &mut history,
                &mut last,
                now,
                Some(i as f64 / 10.0),
            );
        }
        assert!(history.len() <= 63, "{} samples kept", history.len());
        assert!((last.unwrap() - 10.0).abs() < 0.5, "rate {last:?}");
        assert!(active);
    }
}
