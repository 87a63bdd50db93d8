//! Evaluation: each rule's alerts move through their states, then what is due is worked out
//! (first notifications, repeats, escalations, resolutions).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use andon_core::AlertSeverity;
use andon_core::history::AlertEventKind;

use super::deliver::Outgoing;
use super::{
    ALERTS_TOTAL, AlertManager, AlertState, Groups, Inner, Instance, Instances, RuleState, State,
    series_key, series_value,
};
use crate::error::AlertError;
use crate::notification::{AlertStatus, NotifiedAlert};
use crate::rule::{AlertRule, Threshold};
use crate::silence::Silence;

/// What one evaluation pass works with besides each rule: the silences and escalation levels,
/// the groups, the time, and the notifications found due so far.
pub(super) struct Due<'a> {
    silences: &'a [Silence],
    escalation: &'a [(Vec<String>, Duration)],
    groups: &'a mut Groups,
    now: SystemTime,
    outgoing: Vec<Outgoing>,
}

impl<'a> Due<'a> {
    fn new(
        silences: &'a [Silence],
        escalation: &'a [(Vec<String>, Duration)],
        groups: &'a mut Groups,
        now: SystemTime,
    ) -> Self {
        Due {
            silences,
            escalation,
            groups,
            now,
            outgoing: Vec::new(),
        }
    }

    /// The notifications due, with one per group that collected alerts in this pass.
    fn finish(mut self, inner: &Inner) -> Vec<Outgoing> {
        inner.flush_groups(self.groups, self.now, &mut self.outgoing);
        self.outgoing
    }
}

impl AlertManager {
    /// Evaluates every rule now and sends what is due: first notifications, repeats,
    /// escalations and resolutions.
    pub async fn check_and_fire_alerts(&self) -> Result<(), AlertError> {
        self.evaluate(None).await
    }

    /// Evaluates the rules that read one of `only`'s metrics (every rule with `None`) and
    /// sends what is due.
    pub(super) async fn evaluate(&self, only: Option<&[String]>) -> Result<(), AlertError> {
        if self.inner.shut_down.load(Ordering::Relaxed) {
            return Err(AlertError::ShutDown);
        }
        if !self.inner.config.enabled {
            return Ok(());
        }
        self.start_deferred();
        if only.is_none() {
            self.inner
                .counters
                .evaluations
                .fetch_add(1, Ordering::Relaxed);
            // Every rule is in by the first full evaluation: what no rule claimed is skipped.
            self.skip_unclaimed();
        }
        let now = self.inner.now();
        let health = self.inner.diagnostics().and_then(|d| d.last_health());
        let outgoing = {
            let mut state = self.inner.lock_state();
            let State {
                rules,
                silences,
                escalation,
                groups,
                ..
            } = &mut *state;
            // A partial evaluation knows what the rules it skips inhibit from their state.
            let mut inhibitors = match only {
                Some(_) => self.inner.inhibitors_of(rules),
                None => HashSet::new(),
            };
            let mut due = Due::new(silences, escalation, groups, now);
            // Critical rules come first (see `add_rule`), so what they inhibit is known when
            // the others are ticked.
            // One buffer for every rule's series values: most rules have one series.
            let mut scratch = Vec::new();
            for rs in rules.iter_mut() {
                if only.is_some_and(|names| !rs.metrics.iter().any(|m| names.contains(m))) {
                    continue;
                }
                let critical = rs.rule.severity == AlertSeverity::Critical;
                let values = match &rs.series {
                    Some(t) => {
                        self.inner
                            .series_values(t, &rs.rule, &mut rs.instances, now, &mut scratch);
                        Some(scratch.as_slice())
                    }
                    None => None,
                };
                for (key, inst) in rs.instances.iter_mut() {
                    let holds = match values {
                        Some(values) => {
                            let raw = series_value(values, key);
                            inst.node.eval_series(now, raw)
                        }
                        None => inst
                            .node
                            .eval(now, self.inner.metrics.as_ref(), health.as_ref()),
                    };
                    self.inner
                        .transition(&rs.rule, &mut rs.group_until, inst, holds, now);
                    let inhibits =
                        critical && self.inner.config.inhibit && inst.state == AlertState::Firing;
                    if let Some(c) = inhibits.then(|| inst.labels.get("component")).flatten() {
                        inhibitors.insert(c.clone());
                    }
                }
                self.inner.tick_rule(rs, &inhibitors, &mut due);
                if let (Some(t), Some(values)) = (&rs.series, values) {
                    // Resolved series are forgotten (series come and go); a rate keeps the
                    // history of every series still there.
                    let rate = t.rate_over.is_some();
                    let freed = rs.instances.retain(|key, i| {
                        i.state != AlertState::Inactive
                            || (rate && series_value(values, key).is_some())
                    });
                    self.inner
                        .instance_bytes
                        .fetch_sub(freed, Ordering::Relaxed);
                }
            }
            due.finish(&self.inner)
        };
        self.inner.send(outgoing).await;
        self.persist_if_dirty();
        Ok(())
    }
}

impl Inner {
    /// Moves an instance through inactive → pending → firing → inactive (resolved).
    pub(super) fn transition(
        &self,
        rule: &AlertRule,
        group_until: &mut Option<SystemTime>,
        inst: &mut Instance,
        holds: bool,
        now: SystemTime,
    ) {
        let elapsed = |since: SystemTime| now.duration_since(since).unwrap_or_default();
        let (for_, keep_firing_for) = (rule.for_, rule.keep_firing_for);
        if holds {
            inst.cleared_at = None;
            match inst.state {
                AlertState::Inactive => {
                    inst.since = now;
                    inst.state = AlertState::Pending;
                    inst.unnotified = inst.unnotified.max(1);
                    inst.total = inst.total.max(1);
                }
                AlertState::Pending | AlertState::Firing => {}
            }
            if inst.state == AlertState::Pending && elapsed(inst.since) >= for_ {
                inst.state = AlertState::Firing;
                inst.since = now;
                self.emit(rule, inst, AlertEventKind::Fired, now);
                if let Some(metrics) = self.hooks.metrics() {
                    metrics.add_counter(
                        ALERTS_TOTAL,
                        &[("rule", &rule.name), ("severity", rule.severity.as_str())],
                        1,
                    );
                }
                if !self.config.group_wait.is_zero() && group_until.is_none() {
                    *group_until = Some(now + self.config.group_wait);
                }
            }
        } else {
            match inst.state {
                AlertState::Inactive => {}
                AlertState::Pending => inst.reset(),
                AlertState::Firing => {
                    let cleared = *inst.cleared_at.get_or_insert(now);
                    if elapsed(cleared) >= keep_firing_for {
                        // Resolved: `tick` sends the notification and resets.
                        inst.state = AlertState::Inactive;
                        inst.cleared_at = Some(cleared);
                        self.emit(rule, inst, AlertEventKind::Resolved, now);
                    }
                }
            }
        }
    }

    /// The current value of every series of a per-series threshold rule, by key; adds the
    /// alerts of series that cross the threshold (of every series, for a rate).
    pub(super) fn series_values(
        &self,
        t: &Threshold,
        rule: &AlertRule,
        instances: &mut Instances,
        now: SystemTime,
        values: &mut Vec<(String, f64)>,
    ) {
        values.clear();
        for sample in self.metrics.samples(&t.metric) {
            if !t.labels.iter().all(|(k, v)| sample.label(k) == Some(v)) {
                continue;
            }
            let key = series_key(&sample.labels);
            let wanted = t.rate_over.is_some() || t.comparison.holds(sample.value, t.value);
            if wanted && !instances.contains_key(&key) {
                let mut inst = Instance::for_series(rule, &sample.labels, now);
                if self.admit(rule, &mut inst) {
                    instances.insert(key.clone(), inst);
                }
            }
            values.push((key, sample.value));
        }
        if values.len() > 1 {
            values.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }

    /// Works out what is due: resolutions, grouped first notifications, repeats, escalations;
    /// of the rules at indices `only` (ascending, no duplicates), else of every rule.
    pub(super) fn tick(
        &self,
        state: &mut State,
        now: SystemTime,
        only: Option<&[usize]>,
    ) -> Vec<Outgoing> {
        let inhibitors = self.inhibitors(state);
        let State {
            rules,
            silences,
            escalation,
            groups,
            ..
        } = state;
        let mut due = Due::new(silences, escalation, groups, now);
        let mut tick = |rs: &mut RuleState| self.tick_rule(rs, &inhibitors, &mut due);
        match only {
            None => rules.iter_mut().for_each(&mut tick),
            // `only` is ascending (rule order), without duplicates.
            Some(only) => {
                for index in only {
                    if let Some(rs) = rules.get_mut(*index) {
                        tick(rs);
                    }
                }
            }
        }
        due.finish(self)
    }

    /// What is due for one rule.
    pub(super) fn tick_rule(
        &self,
        rs: &mut RuleState,
        inhibitors: &HashSet<String>,
        due: &mut Due<'_>,
    ) {
        let (silences, escalation, now) = (due.silences, due.escalation, due.now);
        let (groups, outgoing) = (&mut *due.groups, &mut due.outgoing);
        let repeat = rs
            .rule
            .repeat_interval
            .unwrap_or(self.config.repeat_interval);
        let grouping = !self.config.group_by.is_empty();
        let group_open = rs.group_until.is_some_and(|g| now < g);
        let mut firing = Vec::new();
        let mut resolved: BTreeMap<Vec<String>, Vec<NotifiedAlert>> = BTreeMap::new();
        for inst in rs.instances.values_mut() {
            if inst.state == AlertState::Inactive && inst.cleared_at.is_some() {
                if inst.notified {
                    let channels: Vec<String> = inst.notified_channels.iter().cloned().collect();
                    resolved.entry(channels).or_default().push(inst.event(
                        &rs.rule,
                        AlertStatus::Resolved,
                        now,
                    ));
                }
                inst.reset();
                continue;
            }
            if inst.state != AlertState::Firing {
                continue;
            }
            let muted = silences.iter().any(|s| s.mutes(&inst.labels, now))
                || (self.config.inhibit && self.inhibited(&rs.rule, inst, inhibitors));
            if muted {
                if !inst.muted {
                    inst.muted = true;
                    self.counters.suppressed.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            inst.muted = false;
            let due = if inst.notified {
                inst.last_notified
                    .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= repeat)
            } else if grouping {
                let key = self.group_key(&rs.channels, &inst.labels);
                self.group_due(groups, &key, now)
            } else {
                !group_open
            };
            if due {
                firing.push(inst.fingerprint.clone());
            }
            // Escalation: the next level when unacknowledged long enough.
            let next_level = if rs.rule.escalate && inst.notified && inst.acked.is_none() {
                escalation.get(inst.escalation_level)
            } else {
                None
            };
            if let Some((channels, _)) = next_level {
                let after: Duration = escalation
                    .iter()
                    .take(inst.escalation_level + 1)
                    .map(|(_, a)| *a)
                    .sum();
                if now.duration_since(inst.since).unwrap_or_default() >= after {
                    inst.escalation_level += 1;
                    let level = u32::try_from(inst.escalation_level).unwrap_or(u32::MAX);
                    self.emit(&rs.rule, inst, AlertEventKind::Escalated { level }, now);
                    let event = inst.event(&rs.rule, AlertStatus::Firing, now);
                    inst.notified_channels.extend(channels.iter().cloned());
                    outgoing.push(Outgoing {
                        notification: self.notification(
                            &rs.rule,
                            vec![event],
                            AlertStatus::Firing,
                            level,
                            &format!("e{level}"),
                            now,
                        ),
                        channels: channels.clone(),
                    });
                }
            }
        }
        if !firing.is_empty() {
            let mut events = Vec::new();
            let mut tag = String::new();
            for inst in rs.instances.values_mut() {
                if !firing.contains(&inst.fingerprint) {
                    continue;
                }
                let event = inst.event(&rs.rule, AlertStatus::Firing, now);
                if grouping {
                    let key = self.group_key(&rs.channels, &inst.labels);
                    groups
                        .batch
                        .entry(key)
                        .or_insert_with(|| (rs.channels.clone(), Vec::new()))
                        .1
                        .push(event);
                } else {
                    events.push(event);
                }
                if tag.is_empty() {
                    tag = format!("f{}", inst.seq);
                }
                inst.seq += 1;
                inst.notified = true;
                inst.last_notified = Some(now);
                inst.unnotified = 0;
                inst.notified_channels.extend(rs.channels.iter().cloned());
            }
            rs.group_until = None;
            if !events.is_empty() {
                outgoing.push(Outgoing {
                    notification: self.notification(
                        &rs.rule,
                        events,
                        AlertStatus::Firing,
                        0,
                        &tag,
                        now,
                    ),
                    channels: rs.channels.clone(),
                });
            }
        } else if !group_open {
            rs.group_until = None;
        }
        if rs.per_component {
            // Alerts of components that went quiet are forgotten: components are unbounded.
            let freed = rs
                .instances
                .retain(|_, i| i.state != AlertState::Inactive || !i.node.is_idle());
            self.instance_bytes.fetch_sub(freed, Ordering::Relaxed);
        }
        for (channels, events) in resolved {
            let tag = format!("r{}", events.len());
            outgoing.push(Outgoing {
                notification: self.notification(
                    &rs.rule,
                    events,
                    AlertStatus::Resolved,
                    0,
                    &tag,
                    now,
                ),
                channels,
            });
        }
    }
}
