//! The fan-out of one signal to every part, the line's state saved beside it, and the YELLOWs
//! andon raises about itself: a part missing its deadline, a line state that was not saved.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use andon_core::{AndonSignal, SignalId};

use super::{AndonSystem, SignalOutcome};
use crate::error::{PartFailure, SignalError};
use crate::fanout::Delivery;

/// A part that keeps missing its deadline, or a line state that keeps failing to be saved, is
/// reported by a YELLOW at most this often.
const STALL_REPORTED_EVERY: Duration = Duration::from_secs(60);

/// What the fan-out of one signal did.
pub(super) struct Fanned {
    id: SignalId,
    delivery: Delivery,
}

impl Fanned {
    pub(super) fn into_result(
        self,
        stopped_line: bool,
        resumed_line: bool,
    ) -> Result<SignalOutcome, SignalError> {
        let Delivery {
            delivered_to,
            skipped,
            timed_out,
            failures,
        } = self.delivery;
        let outcome = SignalOutcome {
            id: self.id,
            stopped_line,
            resumed_line,
            delivered_to,
            skipped,
            timed_out,
        };
        if failures.is_empty() {
            Ok(outcome)
        } else {
            Err(SignalError::Partial { outcome, failures })
        }
    }
}

impl AndonSystem {
    /// The fan-out, with the line's state written to disk at the same time when it changed.
    pub(super) async fn deliver(&self, signal: Arc<AndonSignal>, line_changed: bool) -> Fanned {
        let inner = &self.inner;
        let (mut delivery, saved) = tokio::join!(
            crate::fanout::deliver(&inner.sinks, &signal, inner.part_deadline),
            async {
                match &inner.line_store {
                    Some(store) if line_changed => store.save_off_thread(&inner.line).await,
                    _ => Ok(()),
                }
            }
        );
        if let Err(error) = saved {
            self.report_unsaved_line(&error, &signal);
            delivery.failures.push(PartFailure {
                component: "line",
                error,
            });
        }
        for part in &delivery.timed_out {
            self.report_stall(part, &signal);
        }
        Fanned {
            id: signal.id(),
            delivery,
        }
    }

    /// Counts a line state that could not be written (`[line] state_file`) and, at most once a
    /// minute, says so with a YELLOW from `andon`: the change holds in this process but a
    /// restart would not know it, which the on-call must hear of, not only the caller.
    pub(super) fn report_unsaved_line(&self, error: &andon_core::AndonError, signal: &AndonSignal) {
        if let Some(metrics) = &self.inner.metrics_sink {
            metrics.add_counter(crate::state::STATE_ERRORS, &[], 1);
        }
        let yellow = AndonSignal::yellow(format!(
            "the line's state after signal {} was not saved, so a restart would not know it: {error} (see andon_line_state_errors_total)",
            signal.id()
        ))
        .with_component("andon")
        .with_attribute(andon_core::line_policy::SELF_REPORT, true)
        .with_attribute("part", "line")
        .with_attribute("signal", signal.id().to_string());
        self.self_report("line_state", yellow);
    }

    /// Counts a part that missed its deadline and, at most once a minute per part, says so with
    /// a YELLOW from `andon` (raised in the background: it goes through the same parts).
    fn report_stall(&self, part: &'static str, signal: &AndonSignal) {
        let inner = &self.inner;
        if let Some(metrics) = &inner.metrics_sink {
            metrics.add_counter(crate::fanout::PART_TIMEOUTS, &[("part", part)], 1);
        }
        let yellow = AndonSignal::yellow(format!(
            "the {part} part did not take {} signal {} within {:?} and was skipped for it; the other parts went on (see andon_signal_part_timeouts_total)",
            signal.color(),
            signal.id(),
            inner.part_deadline
        ))
        .with_component("andon")
        .with_attribute(andon_core::line_policy::SELF_REPORT, true)
        .with_attribute("part", part)
        .with_attribute("signal", signal.id().to_string());
        self.self_report(part, yellow);
    }

    /// Raises `yellow` about andon itself in the background (it goes through the same parts),
    /// at most once a minute per `key`, and not after shutdown.
    fn self_report(&self, key: &'static str, yellow: AndonSignal) {
        let inner = &self.inner;
        let now = Instant::now();
        let due = inner.stall_reports.lock().is_ok_and(|mut reports| {
            let due = reports
                .get(key)
                .is_none_or(|last| now.duration_since(*last) >= STALL_REPORTED_EVERY);
            if due {
                reports.insert(key, now);
            }
            due
        });
        if !due || inner.shut_down.load(Ordering::Acquire) {
            return;
        }
        let system = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = system.signal_problem(yellow).await;
            });
        }
    }
}
