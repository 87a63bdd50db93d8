//! Escalation of an unhandled YELLOW (`[line] escalate_yellow_after`): the timers. What arms and
//! disarms them is [`LinePolicy::escalation`] (andon-core); this module only schedules. A YELLOW
//! from a component that may stop the line arms a timer; a GREEN or RED from the same component, or
//! [`AndonSystem::acknowledge_yellow`], disarms it; when it runs out, a RED naming the YELLOW is
//! raised through the system and stops the line like any RED.
//!
//! While a component's timer runs, further YELLOWs from it do not restart it: a problem that
//! keeps warning is not handled.

use andon_core::config::LineConfig;
use andon_core::{AndonSignal, Escalation, LinePolicy, SignalId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

use crate::system::WeakSystem;

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
    pub(crate) fn observe(&self, signal: &AndonSignal, config: &LineConfig, system: WeakSystem) {
        let after = match LinePolicy::escalation(config, signal) {
            Escalation::Ignore => return,
            Escalation::Disarm => {
                self.disarm(signal.component_or_unknown());
                return;
            }
            Escalation::Arm { after } => after,
        };
        let component = signal.component_or_unknown();
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
            if let Some(system) = system.upgrade() {
                system.escalate_yellow(yellow, after).await;
            }
        });
        pending.insert(component.to_owned(), Pending { yellow: id, timer });
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
