//! The alert manager as a [`SignalSink`]: a signal feeds the signal rules, and the receipt says
//! whether a notification was queued to a channel or, if not, why (no rule matched, the alert
//! was deduplicated, silenced, inhibited, pending, or dropped over the byte budget).

use std::sync::atomic::Ordering;

use andon_core::{AndonError, AndonSignal, Receipt, SignalSink, async_trait};

use super::{AlertManager, AlertState, DEFAULT_SHUTDOWN_DEADLINE, Inner, Instance, State};
use crate::channel::is_critical_firing;
use crate::error::AlertError;
use crate::rule::AlertCondition;

/// An alert a signal touched: its rule's index, its key among the rule's alerts, and whether
/// it had been notified before the signal.
type Touched = (usize, String, bool);

impl AlertManager {
    /// Feeds the signal rules and says what became of the signal: `Delivered` when a
    /// notification was queued to at least one channel (or waits for its diagnostics snapshot
    /// before it is), else `Skipped` with the reason.
    async fn take(&self, signal: &AndonSignal) -> Result<Receipt, AndonError> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::Relaxed) {
            return Err(AlertError::ShutDown.into());
        }
        if !inner.config.enabled {
            return Ok(skipped("alerting is turned off ([alerts] enabled = false)"));
        }
        self.start_deferred();
        inner.counters.signals.fetch_add(1, Ordering::Relaxed);
        let now = inner.now();
        let mut outgoing = Vec::new();
        let mut reason: Option<String> = None;
        {
            let mut state = inner.lock_state();
            let mut touched = Vec::new();
            let mut alerts: Vec<Touched> = Vec::new();
            let mut candidates = Vec::new();
            state.signal_index.candidates(signal, &mut candidates);
            for index in candidates {
                let Some(rs) = state.rules.get_mut(index) else {
                    continue;
                };
                if !rs.uses_signals {
                    continue;
                }
                if rs.per_component {
                    let AlertCondition::Signal { color, .. } = &rs.rule.condition else {
                        continue;
                    };
                    if signal.color() != *color {
                        continue;
                    }
                    let key = signal.component().unwrap_or_default().to_owned();
                    if !rs.instances.contains_key(&key) {
                        let mut inst = Instance::new(&rs.rule, signal.component(), now);
                        if !inner.admit(&rs.rule, &mut inst) {
                            reason.get_or_insert_with(|| {
                                format!(
                                    "dropped: a new alert of rule `{}` would take the open alerts over [alerts] max_instance_bytes ({} bytes)",
                                    rs.rule.name, inner.config.max_instance_bytes
                                )
                            });
                            continue;
                        }
                        rs.instances.insert(key.clone(), inst);
                    }
                }
                let key = if rs.per_component {
                    signal.component().unwrap_or_default()
                } else {
                    ""
                };
                let Some(inst) = rs.instances.get_mut(key) else {
                    continue;
                };
                let matched_any = inst.node.record(signal, now);
                if matched_any {
                    let was_notified = inst.notified;
                    inst.summary = Some(signal.to_string());
                    // The id of the signal that makes it fire stays with the alert until it
                    // resolves; later signals of the storm are counted, not re-attributed.
                    if let Some(trace) = signal.trace_id()
                        && inst.state != AlertState::Firing
                    {
                        inst.trace_id = Some(trace.to_owned());
                    }
                    let holds = inst.node.eval(now, inner.metrics.as_ref(), None);
                    let before = inst.state;
                    inner.transition(&rs.rule, &mut rs.group_until, inst, holds, now);
                    if before != AlertState::Inactive && inst.state != AlertState::Inactive {
                        inst.unnotified += 1;
                        inst.total += 1;
                        if was_notified {
                            inner.counters.deduplicated.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    alerts.push((index, key.to_owned(), was_notified));
                    touched.push(index);
                }
            }
            // A due group may hold alerts of rules this signal did not touch: tick them all.
            let group_due = !inner.config.group_by.is_empty()
                && state
                    .groups
                    .timing
                    .values()
                    .any(|g| g.flush_at.is_some_and(|f| f <= now));
            if group_due {
                outgoing.extend(inner.tick(&mut state, now, None));
            } else if !touched.is_empty() {
                outgoing.extend(inner.tick(&mut state, now, Some(&touched)));
            }
            if outgoing.is_empty() && reason.is_none() {
                reason = inner.quiet_reason(&state, &alerts, now);
            }
        }
        if outgoing.is_empty() {
            self.persist_if_dirty();
            return Ok(skipped(
                reason.as_deref().unwrap_or("no alert rule matched"),
            ));
        }
        let reaches_a_channel = {
            let channels = inner.read_channels();
            outgoing
                .iter()
                .any(|o| o.channels.iter().any(|c| channels.contains_key(c)))
        };
        let needs_snapshot = inner.diagnostics().is_some()
            && outgoing.iter().any(|o| is_critical_firing(&o.notification));
        let queued = if needs_snapshot {
            // The snapshot may take a while: never on the caller's path.
            let manager = self.clone();
            inner.in_snapshot.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                manager.inner.send(outgoing).await;
                manager.inner.in_snapshot.fetch_sub(1, Ordering::Relaxed);
            });
            reaches_a_channel
        } else {
            inner.dispatch(outgoing) > 0
        };
        self.persist_if_dirty();
        Ok(if queued {
            Receipt::Delivered
        } else if reaches_a_channel {
            skipped("every channel's queue is full: the notification was dropped and counted")
        } else {
            skipped("the matching rule has no channel: add channels to it")
        })
    }
}

fn skipped(reason: &str) -> Receipt {
    Receipt::Skipped {
        reason: reason.to_owned(),
    }
}

impl Inner {
    /// Why the alerts a signal touched sent nothing, for the receipt.
    fn quiet_reason(
        &self,
        state: &State,
        touched: &[Touched],
        now: std::time::SystemTime,
    ) -> Option<String> {
        let inhibitors = self.inhibitors(state);
        let (index, key, was_notified) = touched.first()?;
        let rs = state.rules.get(*index)?;
        let inst = rs.instances.get(key)?;
        let rule = &rs.rule.name;
        Some(match inst.state {
            AlertState::Inactive => {
                format!("alert `{rule}` is not active yet: {}", inst.node.describe())
            }
            AlertState::Pending => format!(
                "alert `{rule}` is pending: it fires when its condition has held for {}",
                humantime::format_duration(rs.rule.for_)
            ),
            AlertState::Firing => {
                if let Some(silence) = state.silences.iter().find(|s| s.mutes(&inst.labels, now)) {
                    format!(
                        "silenced by `{}` ({}: {})",
                        silence.id, silence.created_by, silence.comment
                    )
                } else if self.config.inhibit && self.inhibited(&rs.rule, inst, &inhibitors) {
                    format!(
                        "inhibited by a firing critical alert of component `{}`",
                        inst.labels.get("component").map_or("", String::as_str)
                    )
                } else if *was_notified {
                    format!(
                        "deduplicated into the open alert `{rule}` ({}, {} occurrence(s))",
                        inst.fingerprint, inst.total
                    )
                } else if rs.channels.is_empty() {
                    format!("rule `{rule}` has no channel: add channels to it")
                } else {
                    format!("alert `{rule}` waits for group_wait before its first notification")
                }
            }
        })
    }
}

#[async_trait]
impl SignalSink for AlertManager {
    fn name(&self) -> &'static str {
        "alert"
    }

    /// Feeds signal rules: cheap (a lock, an index lookup by color and component, and a few
    /// comparisons per rule that can match); a notification that is due is queued on its
    /// channels without waiting for them.
    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        self.take(signal).await.map(|_| ())
    }

    /// As `on_signal`, and says whether a notification was queued to a channel
    /// (`Delivered`), or why not (`Skipped`: "no alert rule matched", "deduplicated into the
    /// open alert …", "silenced by …", …).
    async fn accept(&self, signal: &AndonSignal) -> Result<Receipt, AndonError> {
        self.take(signal).await
    }

    async fn flush(&self) -> Result<(), AndonError> {
        AlertManager::flush(self).await.map_err(AndonError::from)
    }

    /// [`AlertManager::shutdown`] with [`DEFAULT_SHUTDOWN_DEADLINE`]: what is not delivered
    /// by then stays in the outbox for the next start.
    async fn shutdown(&self) -> Result<(), AndonError> {
        AlertManager::shutdown(self, DEFAULT_SHUTDOWN_DEADLINE).await;
        Ok(())
    }
}
