//! The open alerts: listing them for boards and acknowledging them.

use andon_core::history::AlertEventKind;

use super::deliver::Outgoing;
use super::{AlertManager, AlertState, OpenAlert};
use crate::error::AlertError;
use crate::notification::AlertStatus;

impl AlertManager {
    /// The pending and firing alerts.
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        let now = self.inner.now();
        let state = self.inner.lock_state();
        let inhibitors = self.inner.inhibitors(&state);
        let mut out = Vec::new();
        for rs in &state.rules {
            for inst in rs.instances.values() {
                if inst.state == AlertState::Inactive {
                    continue;
                }
                out.push(OpenAlert {
                    fingerprint: inst.fingerprint.clone(),
                    rule: rs.rule.name.clone(),
                    state: inst.state,
                    severity: rs.rule.severity,
                    labels: inst.labels.clone(),
                    summary: inst.summary(&rs.rule),
                    since: inst.since,
                    count: inst.total,
                    acknowledged_by: inst.acked.clone(),
                    silenced: state.silences.iter().any(|s| s.mutes(&inst.labels, now)),
                    inhibited: self.inner.inhibited(&rs.rule, inst, &inhibitors),
                    escalation_level: u32::try_from(inst.escalation_level).unwrap_or(u32::MAX),
                    trace_id: inst.trace_id.clone(),
                });
            }
        }
        out
    }

    /// Acknowledges the open alerts with this fingerprint, or every open alert of this rule:
    /// escalation stops and an ACKNOWLEDGED notification goes to the channels notified so far.
    /// Returns how many alerts were acknowledged.
    pub fn acknowledge(
        &self,
        fingerprint_or_rule: &str,
        who: &str,
        note: &str,
    ) -> Result<usize, AlertError> {
        let now = self.inner.now();
        let by = if note.is_empty() {
            who.to_owned()
        } else {
            format!("{who}: {note}")
        };
        let mut outgoing = Vec::new();
        let mut acknowledged = 0;
        {
            let mut state = self.inner.lock_state();
            for rs in &mut state.rules {
                let by_rule = rs.rule.name == fingerprint_or_rule;
                for inst in rs.instances.values_mut() {
                    if inst.state == AlertState::Inactive
                        || !(by_rule || inst.fingerprint == fingerprint_or_rule)
                    {
                        continue;
                    }
                    inst.acked = Some(by.clone());
                    acknowledged += 1;
                    self.inner.emit(
                        &rs.rule,
                        inst,
                        AlertEventKind::Acknowledged {
                            by: who.to_owned(),
                            note: note.to_owned(),
                        },
                        now,
                    );
                    if inst.notified {
                        let event = inst.event(&rs.rule, AlertStatus::Acknowledged, now);
                        let channels = inst.notified_channels.iter().cloned().collect();
                        outgoing.push(Outgoing {
                            notification: self.inner.notification(
                                &rs.rule,
                                vec![event],
                                AlertStatus::Acknowledged,
                                0,
                                &format!("a{}", inst.seq),
                                now,
                            ),
                            channels,
                        });
                        inst.seq += 1;
                    }
                }
            }
        }
        if acknowledged == 0 {
            return Err(AlertError::UnknownAlert(fingerprint_or_rule.to_owned()));
        }
        self.inner.dispatch(outgoing);
        self.persist_if_dirty();
        Ok(acknowledged)
    }
}
