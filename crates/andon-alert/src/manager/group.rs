//! Grouping across rules (`[alerts] group_by`): which group an alert belongs to, when a
//! group's first notification is due, and the one notification per group.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::Inner;
use super::deliver::Outgoing;
use crate::notification::{
    AlertStatus, Notification, NotifiedAlert, first_start_millis, highest_severity,
};

/// Grouping across rules (`group_by`): the timing of each group, and what one evaluation pass
/// collected for the groups that are due.
#[derive(Debug, Default)]
pub(super) struct Groups {
    pub(super) timing: BTreeMap<String, GroupTiming>,
    pub(super) batch: BTreeMap<String, (Vec<String>, Vec<NotifiedAlert>)>,
}

#[derive(Debug, Default)]
pub(super) struct GroupTiming {
    /// When the group's waiting first notifications go out.
    pub(super) flush_at: Option<SystemTime>,
    /// When the group was last notified.
    pub(super) last_sent: Option<SystemTime>,
    /// Notifications sent for the group, for unique keys.
    pub(super) seq: u64,
}

impl Inner {
    /// The group of an alert going to `channels` with `labels`: the channels and the values
    /// of the `group_by` labels.
    pub(super) fn group_key(
        &self,
        channels: &[String],
        labels: &BTreeMap<String, String>,
    ) -> String {
        let mut key = channels.join(",");
        for label in &self.config.group_by {
            key.push('\u{1f}');
            key.push_str(labels.get(label).map_or("", String::as_str));
        }
        key
    }

    /// Whether the first notification of an alert of group `key` is due now; opens the group
    /// (due after `group_wait`, or `group_interval` after its last notification) if needed.
    pub(super) fn group_due(&self, groups: &mut Groups, key: &str, now: SystemTime) -> bool {
        let group = match groups.timing.get_mut(key) {
            Some(g) => g,
            None => groups.timing.entry(key.to_owned()).or_default(),
        };
        let flush_at = *group.flush_at.get_or_insert_with(|| match group.last_sent {
            Some(last) if now < last + self.config.group_interval => {
                last + self.config.group_interval
            }
            _ => now + self.config.group_wait,
        });
        now >= flush_at
    }

    /// One notification per group that collected alerts in this pass; forgets groups that
    /// have been quiet for `group_interval`.
    pub(super) fn flush_groups(
        &self,
        groups: &mut Groups,
        now: SystemTime,
        outgoing: &mut Vec<Outgoing>,
    ) {
        if self.config.group_by.is_empty() {
            return;
        }
        for (key, (channels, alerts)) in std::mem::take(&mut groups.batch) {
            let group = groups.timing.entry(key.clone()).or_default();
            group.flush_at = None;
            group.last_sent = Some(now);
            group.seq += 1;
            outgoing.push(Outgoing {
                notification: self.group_notification(&key, alerts, group.seq, now),
                channels,
            });
        }
        let interval = self.config.group_interval;
        for group in groups.timing.values_mut() {
            // Due with nothing to send: its alerts resolved or were muted while it waited.
            if group.flush_at.is_some_and(|f| f <= now) {
                group.flush_at = None;
            }
        }
        groups
            .timing
            .retain(|_, g| g.flush_at.is_some() || g.last_sent.is_some_and(|l| now < l + interval));
    }

    /// The firing notification of a group: its alerts, of any rule.
    pub(super) fn group_notification(
        &self,
        key: &str,
        alerts: Vec<NotifiedAlert>,
        seq: u64,
        now: SystemTime,
    ) -> Notification {
        let severity = highest_severity(alerts.iter().map(|a| a.severity));
        let starts = first_start_millis(&alerts);
        let mut title = format!("[FIRING:{severity}] ");
        match alerts.as_slice() {
            [one] => {
                title.push_str(&one.summary);
                if one.count > 1 {
                    title.push_str(&format!(" (×{})", one.count));
                }
            }
            many => {
                let by: Vec<String> = self
                    .config
                    .group_by
                    .iter()
                    .filter_map(|l| many[0].labels.get(l).map(|v| format!("{l}={v}")))
                    .collect();
                let mut rules: Vec<&str> = many.iter().map(|a| a.rule.as_str()).collect();
                rules.dedup();
                title.push_str(&format!("{} alerts", many.len()));
                if !by.is_empty() {
                    title.push_str(&format!(" for {}", by.join(", ")));
                }
                title.push_str(&format!(": {}", rules.join(", ")));
            }
        }
        Notification {
            key: format!(
                "group-{}-{starts}-g{seq}",
                andon_core::hex::encode(&crate::fingerprint::fnv1a(key.as_bytes()).to_be_bytes())
            ),
            status: AlertStatus::Firing,
            severity,
            title,
            alerts,
            escalation_level: 0,
            digest: false,
            diagnostics: None,
            snapshot: None,
            created_at: now,
        }
    }
}
