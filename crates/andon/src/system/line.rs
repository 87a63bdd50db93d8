//! The line: a signal's stop or resumption as the `[line]` policy decides, a person's
//! resumption, and the YELLOWs `[line] escalate_yellow_after` turns into REDs.

use std::sync::Arc;
use std::time::Duration;

use andon_core::{AndonSignal, HistoryRecord, Line, LineDecision, LineEvent, LinePolicy};

use super::AndonSystem;
use crate::error::{PartFailure, SignalError};
use crate::fanout::Detached;

impl AndonSystem {
    /// Stops or resumes the line as the `[line]` policy decides for `signal`
    /// ([`LinePolicy::decide_with`]; `stop_line` is a heartbeat's own `stop_line`, overriding
    /// `[line]`), and announces it.
    pub(super) fn apply_to_line(
        &self,
        mut signal: AndonSignal,
        stop_line: Option<bool>,
    ) -> (AndonSignal, bool, bool) {
        let inner = &self.inner;
        let mut stopped_line = false;
        let mut resumed_line = false;
        let decision = inner.line.inspect(|state| {
            LinePolicy::decide_with(&inner.config.line, state, &signal, stop_line)
        });
        match decision {
            LineDecision::Stop => {
                signal = signal.with_attribute("line.stopped", true);
                let shared = Arc::new(signal.clone());
                stopped_line = inner.line.stop(Arc::clone(&shared));
                if stopped_line {
                    self.line_changed();
                    self.remember(|| {
                        HistoryRecord::Line(LineEvent::Stopped {
                            at: std::time::SystemTime::now(),
                            signal: shared.id(),
                            component: shared.component().map(str::to_owned),
                            message: shared.message().to_owned(),
                        })
                    });
                }
            }
            LineDecision::Resume { by } => {
                resumed_line = inner.line.resume(by.clone(), Some(signal.message()));
                if resumed_line {
                    self.line_changed();
                    self.remember(|| {
                        HistoryRecord::Line(LineEvent::Resumed {
                            at: std::time::SystemTime::now(),
                            by,
                            note: Some(signal.message().to_owned()),
                        })
                    });
                }
            }
            LineDecision::Leave => {}
        }
        (signal, stopped_line, resumed_line)
    }

    /// The production line: workers call `checkpoint()` or `wait_until_running()` on it.
    pub fn line(&self) -> &Line {
        &self.inner.line
    }

    /// Resumes the line and makes the resumption visible (a GREEN signal from `line`).
    ///
    /// With `[line] state_file`, the resumption is on disk before this returns; if it cannot
    /// be written, the error says so (the line runs in this process, but would start stopped
    /// after a restart).
    pub async fn resume_line(&self, by: &str, note: Option<&str>) -> Result<bool, SignalError> {
        let resumed = self.inner.line.resume(by, note);
        if resumed {
            let saved = match &self.inner.line_store {
                Some(store) => {
                    let store = Arc::clone(store);
                    let line = self.inner.line.clone();
                    Detached::new(async move { store.save_off_thread(&line).await }).await
                }
                None => Ok(()),
            };
            self.line_changed();
            self.remember(|| {
                HistoryRecord::Line(LineEvent::Resumed {
                    at: std::time::SystemTime::now(),
                    by: by.to_owned(),
                    note: note.map(str::to_owned),
                })
            });
            let mut signal = AndonSignal::green(format!(
                "line resumed by {by}{}",
                note.map(|n| format!(": {n}")).unwrap_or_default()
            ))
            .with_component("line")
            .with_attribute("resumed_by", by);
            if let Some(note) = note {
                signal = signal.with_attribute("note", note);
            }
            if let Err(error) = &saved {
                self.report_unsaved_line(error, &signal);
            }
            let delivered = self.signal_problem(signal).await;
            match (delivered, saved) {
                (delivered, Ok(())) => {
                    delivered?;
                }
                (Ok(outcome), Err(error)) => {
                    return Err(SignalError::Partial {
                        outcome,
                        failures: vec![PartFailure {
                            component: "line",
                            error,
                        }],
                    });
                }
                (
                    Err(SignalError::Partial {
                        outcome,
                        mut failures,
                    }),
                    Err(error),
                ) => {
                    failures.push(PartFailure {
                        component: "line",
                        error,
                    });
                    return Err(SignalError::Partial { outcome, failures });
                }
                (Err(other), Err(_)) => return Err(other),
            }
        }
        Ok(resumed)
    }

    /// Acknowledges the YELLOW of `component` that `[line] escalate_yellow_after` is timing:
    /// someone is on it, so it will not escalate to a RED that stops the line (a GREEN from the
    /// component does the same). Whether a YELLOW was waiting.
    pub fn acknowledge_yellow(&self, component: &str) -> bool {
        self.inner.escalation.disarm(component)
    }

    /// The timer of an unhandled YELLOW ran out: raise the RED it escalates to.
    pub(crate) async fn escalate_yellow(&self, yellow: Arc<AndonSignal>, after: Duration) {
        if !self
            .inner
            .escalation
            .claim(yellow.component_or_unknown(), yellow.id())
        {
            return;
        }
        // The RED is logged, counted, traced, alerted and stops the line like any other; a
        // part that fails is already reported by its own component.
        let _ = self
            .signal_problem(LinePolicy::escalated_red(&yellow, after))
            .await;
    }
}
