//! Alert instances: one alert of a rule (per component or per series where the rule says so),
//! its place in its life (pending, firing, resolved), and a rule's alerts with its state.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use super::{AlertState, Node};
use crate::fingerprint::fingerprint;
use crate::notification::{AlertStatus, NotifiedAlert};
use crate::rule::{AlertCondition, AlertRule, Threshold};

#[derive(Debug)]
pub(super) struct Instance {
    pub(super) node: Node,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) fingerprint: String,
    pub(super) state: AlertState,
    pub(super) since: SystemTime,
    pub(super) cleared_at: Option<SystemTime>,
    pub(super) notified: bool,
    pub(super) last_notified: Option<SystemTime>,
    pub(super) notified_channels: BTreeSet<String>,
    pub(super) unnotified: u64,
    pub(super) total: u64,
    pub(super) seq: u64,
    pub(super) acked: Option<String>,
    pub(super) escalation_level: usize,
    pub(super) summary: Option<String>,
    pub(super) muted: bool,
    /// The trace or correlation id of the signal that made it fire.
    pub(super) trace_id: Option<String>,
    /// Its estimated size, counted in `Inner::instance_bytes` while it exists (0: not counted).
    pub(super) bytes: usize,
}

impl Instance {
    pub(super) fn new(rule: &AlertRule, component: Option<&str>, now: SystemTime) -> Instance {
        let mut labels = rule.labels.clone();
        labels.insert("alertname".to_owned(), rule.name.clone());
        labels.insert("severity".to_owned(), rule.severity.as_str().to_owned());
        let filter = match &rule.condition {
            AlertCondition::Signal { component, .. } => component.as_deref(),
            _ => None,
        };
        if let Some(c) = component.or(filter) {
            labels.insert("component".to_owned(), c.to_owned());
        }
        Instance {
            node: Node::new(&rule.condition),
            fingerprint: fingerprint(&rule.name, &labels),
            labels,
            state: AlertState::Inactive,
            since: now,
            cleared_at: None,
            notified: false,
            last_notified: None,
            notified_channels: BTreeSet::new(),
            unnotified: 0,
            total: 0,
            seq: 0,
            acked: None,
            escalation_level: 0,
            summary: None,
            muted: false,
            trace_id: None,
            bytes: 0,
        }
    }

    /// The alert of one series of a per-series threshold rule: the series' labels are the
    /// alert's (the rule's own labels win), and part of its fingerprint.
    pub(super) fn for_series(
        rule: &AlertRule,
        series: &[(String, String)],
        now: SystemTime,
    ) -> Instance {
        let mut inst = Instance::new(rule, None, now);
        for (k, v) in series {
            inst.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        inst.fingerprint = fingerprint(&rule.name, &inst.labels);
        if let Node::Threshold { threshold, .. } = &mut inst.node {
            threshold.labels = series.to_vec();
        }
        inst
    }

    pub(super) fn summary(&self, rule: &AlertRule) -> String {
        if let Some(s) = &rule.summary {
            return s.clone();
        }
        match &self.summary {
            Some(s) => format!("{}: {s}", rule.name),
            None => format!("{}: {}", rule.name, self.node.describe()),
        }
    }

    pub(super) fn event(
        &self,
        rule: &AlertRule,
        status: AlertStatus,
        now: SystemTime,
    ) -> NotifiedAlert {
        NotifiedAlert {
            fingerprint: self.fingerprint.clone(),
            rule: rule.name.clone(),
            status,
            severity: rule.severity,
            summary: self.summary(rule),
            labels: self.labels.clone(),
            starts_at: self.since,
            ends_at: (status == AlertStatus::Resolved).then_some(now),
            count: self.unnotified.max(1),
            acknowledged_by: self.acked.clone(),
            trace_id: self.trace_id.clone(),
            trace_url: None,
        }
    }

    pub(super) fn reset(&mut self) {
        self.state = AlertState::Inactive;
        self.cleared_at = None;
        self.notified = false;
        self.last_notified = None;
        self.notified_channels.clear();
        self.unnotified = 0;
        self.total = 0;
        self.acked = None;
        self.escalation_level = 0;
        self.muted = false;
        self.trace_id = None;
    }
}

/// A rule's alerts by key (the component for per-component rules, `""` otherwise): a sorted
/// vector, so that the usual single alert sits next to its rule's other data.
#[derive(Debug, Default)]
pub(super) struct Instances(pub(super) Vec<(String, Instance)>);

impl Instances {
    pub(super) fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Instance> {
        self.0.iter().map(|(_, i)| i)
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut Instance> {
        self.0.iter_mut().map(|(_, i)| i)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Instance)> {
        self.0.iter_mut().map(|(k, i)| (k.as_str(), i))
    }

    pub(super) fn get(&self, key: &str) -> Option<&Instance> {
        match self.find(key) {
            Ok(at) => self.0.get(at).map(|(_, i)| i),
            Err(_) => None,
        }
    }

    pub(super) fn get_mut(&mut self, key: &str) -> Option<&mut Instance> {
        match self.find(key) {
            Ok(at) => self.0.get_mut(at).map(|(_, i)| i),
            Err(_) => None,
        }
    }

    pub(super) fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    pub(super) fn insert(&mut self, key: String, instance: Instance) {
        match self.find(&key) {
            Ok(at) => {
                if let Some(slot) = self.0.get_mut(at) {
                    slot.1 = instance;
                }
            }
            Err(at) => self.0.insert(at, (key, instance)),
        }
    }

    /// Keeps the alerts `keep` says to keep; returns the bytes counted for the others.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&str, &Instance) -> bool) -> usize {
        let mut freed = 0;
        self.0.retain(|(k, i)| {
            let kept = keep(k, i);
            if !kept {
                freed += i.bytes;
            }
            kept
        });
        freed
    }
}

#[derive(Debug)]
pub(super) struct RuleState {
    pub(super) rule: AlertRule,
    pub(super) channels: Vec<String>,
    pub(super) per_component: bool,
    /// A threshold rule: one alert per series of its metric, created when the series crosses.
    pub(super) series: Option<Threshold>,
    pub(super) uses_signals: bool,
    pub(super) instances: Instances,
    pub(super) group_until: Option<SystemTime>,
    /// The built-in rule (`[alerts] default_rule`), replaced by the first rule added.
    pub(super) builtin: bool,
    /// The metrics its condition reads, for event-driven evaluation.
    pub(super) metrics: Vec<String>,
}
