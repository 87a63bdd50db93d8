//! The byte budget of alerts: rules with one alert per component or per series create alerts
//! for whatever components and series appear, so their alerts are bounded by their estimated
//! size (`[alerts] max_instance_bytes`), not only by what the host sends. A new alert over the
//! budget is not created, and is counted.

use std::collections::BTreeMap;
use std::mem::size_of;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::{Inner, Instance, Node};
use crate::rule::AlertRule;

/// The counter of alerts not created over the budget, by rule.
pub(super) const DROPPED_TOTAL: &str = "andon_alert_instances_dropped_total";

/// What a summary is assumed to take: it is set after the alert is created and changes with
/// every signal, so the estimate reserves a typical signal line.
const SUMMARY_ALLOWANCE: usize = 256;

fn map_bytes(map: &BTreeMap<String, String>) -> usize {
    // Each entry: two strings' headers and bytes, and its share of a B-tree node.
    map.iter()
        .map(|(k, v)| k.len() + v.len() + 2 * size_of::<String>() + 16)
        .sum()
}

impl Node {
    /// The estimated heap and inline size of the condition's state.
    fn estimate(&self) -> usize {
        size_of::<Node>()
            + match self {
                Node::Threshold {
                    threshold, history, ..
                } => {
                    threshold.metric.len()
                        + threshold
                            .labels
                            .iter()
                            .map(|(k, v)| k.len() + v.len() + 2 * size_of::<String>())
                            .sum::<usize>()
                        + history.len() * size_of::<(SystemTime, f64)>()
                }
                Node::Signal {
                    component, count, ..
                } => {
                    component.as_ref().map_or(0, String::len)
                        + (*count as usize) * size_of::<SystemTime>()
                }
                Node::Health { .. } => 0,
                Node::All(nodes) | Node::Any(nodes) => nodes.iter().map(Node::estimate).sum(),
            }
    }
}

impl Instance {
    /// The estimated size of the alert: its fixed part, labels, fingerprint, summary, trace id
    /// and condition state.
    pub(super) fn estimate(&self) -> usize {
        size_of::<Instance>()
            + map_bytes(&self.labels)
            + self.fingerprint.len()
            + self.summary.as_ref().map_or(SUMMARY_ALLOWANCE, String::len)
            + self.trace_id.as_ref().map_or(0, String::len)
            + self.node.estimate()
            + self
                .notified_channels
                .iter()
                .map(|c| c.len() + size_of::<String>())
                .sum::<usize>()
    }
}

impl Inner {
    /// Counts a new alert of a per-component or per-series rule in the byte budget; false
    /// (counted in `instances_dropped` and `andon_alert_instances_dropped_total{rule}`) when
    /// it would take the open alerts over `[alerts] max_instance_bytes`.
    pub(super) fn admit(&self, rule: &AlertRule, inst: &mut Instance) -> bool {
        let bytes = inst.estimate();
        let total = self.instance_bytes.load(Ordering::Relaxed);
        if total.saturating_add(bytes) > self.config.max_instance_bytes {
            self.counters
                .instances_dropped
                .fetch_add(1, Ordering::Relaxed);
            if let Some(metrics) = self.hooks.metrics() {
                metrics.add_counter(DROPPED_TOTAL, &[("rule", &rule.name)], 1);
            }
            return false;
        }
        self.instance_bytes.fetch_add(bytes, Ordering::Relaxed);
        inst.bytes = bytes;
        true
    }

    /// Counts a restored alert in the budget without refusing it: what was open stays open.
    pub(super) fn count_restored(&self, inst: &mut Instance) {
        let bytes = inst.estimate();
        self.instance_bytes.fetch_add(bytes, Ordering::Relaxed);
        inst.bytes = bytes;
    }
}
