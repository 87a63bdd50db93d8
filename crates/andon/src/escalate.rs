//! Escalation of an unhandled YELLOW (`[line] escalate_yellow_after`): a YELLOW from a component
//! that may stop the line arms a timer; a GREEN or RED from the same component, or
//! [`AndonSystem::acknowledge_yellow`], disarms it; when it runs out, a RED naming the YELLOW is
//! raised through the system and stops the line like any RED.
//!
//! While a component's timer runs, further YELLOWs from it do not restart it: a problem that
//! keeps warning is not handled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use andon_core::config::LineConfig;
use andon_core::{AndonSignal, Color, SignalId};
use tokio::task::JoinHandle;

use crate::system::{AndonSystem, Inner};

/// The attribute of an escalated RED naming the YELLOW it escalates.
pub(crate) const ESCALATED_FROM: &str = "andon.escalated_from";

/// The attribute of a YELLOW the system raises about itself (a part that missed its deadline):
/// it reports, it never escalates to a RED that stops the line.
pub(crate) const SELF_REPORT: &str = "andon.self_report";

#[derive(Debug)]
struct Pending {
    yellow: SignalId,
    timer: JoinHandle<()>,
}

/// The armed timers, one per component at most.
#[derive(Debug, Default)]
pub(crate) struct YellowEscalation {
    pending: Mutex<HashMap<String, Pending>>,
}

impl YellowEscalation {
    /// Arms, keeps or disarms the timer of the signal's component. Needs a tokio runtime.
    pub(crate) fn observe(&self, signal: &AndonSignal, config: &LineConfig, system: Weak<Inner>) {
        let Some(after) = config.escalate_yellow_after else {
            return;
        };
        if signal.attributes().contains_key(SELF_REPORT) {
            return;
        }
        let component = signal.component_or_unknown();
        match signal.color() {
            Color::Green | Color::Red => {
                self.disarm(component);
            }
            Color::Yellow => {
                // A YELLOW that stops the line itself, or from a component that may not stop
                // it, has nothing to escalate to.
                if config.stops(Color::Yellow, signal.component())
                    || !config.stops(Color::Red, signal.component())
                {
                    return;
                }
                let Ok(mut pending) = self.pending.lock() else {
                    return;
                };
                if pending.contains_key(component) {
                    return;
                }
                let yellow = Arc::new(signal.clone());
                let id = signal.id();
                let timer = tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    if let Some(inner) = system.upgrade() {
                        AndonSystem::from_inner(inner)
                            .escalate_yellow(yellow, after)
                            .await;
                    }
                });
                pending.insert(component.to_owned(), Pending { yellow: id, timer });
            }
        }
    }

    /// Disarms the component's timer; whether one was armed.
    pub(crate) fn disarm(&self, component: &str) -> bool {
        let removed = self
            .pending
            .lock()
            .ok()
            .and_then(|mut pending| pending.remove(component));
        match removed {
            Some(pending) => {
                pending.timer.abort();
                true
            }
            None => false,
        }
    }

    /// Claims the timer that ran out, unless it was disarmed meanwhile.
    pub(crate) fn claim(&self, component: &str, yellow: SignalId) -> bool {
        let Ok(mut pending) = self.pending.lock() else {
            return false;
        };
        if pending.get(component).is_some_and(|p| p.yellow == yellow) {
            pending.remove(component);
            true
        } else {
            false
        }
    }

    /// Disarms every timer (at shutdown).
    pub(crate) fn disarm_all(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            for (_, p) in pending.drain() {
                p.timer.abort();
            }
        }
    }
}

/// The RED that an unhandled YELLOW escalates to: same component and trace, the YELLOW's id and
/// message kept.
pub(crate) fn escalated_red(yellow: &AndonSignal, after: Duration) -> AndonSignal {
    let mut red = AndonSignal::red(format!(
        "YELLOW not handled within {after:?}: {}",
        yellow.message()
    ))
    .with_component(yellow.component_or_unknown())
    .with_attribute(ESCALATED_FROM, yellow.id().to_string())
    .with_attribute(
        "escalated_after_ms",
        u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
    );
    if let Some(trace_id) = yellow.trace_id() {
        red = red.with_trace_id(trace_id);
    }
    red
}
