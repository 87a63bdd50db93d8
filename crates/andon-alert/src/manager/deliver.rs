//! Delivery: starting inline channels, building notifications, attaching diagnostics to
//! critical ones, recording them in the outbox and queueing them on their channels.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use andon_core::ConfigError;
use andon_core::config::unknown_channel;
use andon_runtime::lock;

use super::{DIAGNOSTICS_TIMEOUT, Inner};
use crate::channel::{ChannelHandle, Job, is_critical_firing};
use crate::error::AlertError;
use crate::notification::{AlertStatus, Notification, NotifiedAlert, first_start_millis};
use crate::rule::{AlertChannel, AlertRule};

/// A notification and the channels it goes to.
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) notification: Notification,
    pub(super) channels: Vec<String>,
}

impl Inner {
    /// The name of the channel: a named one is looked up; an inline one is named `key` (its
    /// place, such as `rules.high-queue.channels.0`) and started, or restarted when its
    /// configuration changed.
    pub(super) fn ensure_channel(
        &self,
        channel: &AlertChannel,
        key: &str,
    ) -> Result<String, AlertError> {
        match channel.inline_config() {
            None => {
                let AlertChannel::Named(name) = channel else {
                    return Err(ConfigError::new(
                        "alerts.channels",
                        "an inline channel has no configuration",
                    )
                    .into());
                };
                if self.read_channels().contains_key(name) {
                    Ok(name.clone())
                } else {
                    let channels = self.read_channels();
                    let known = channels.keys().map(String::as_str);
                    Err(unknown_channel(format!("alerts.channels.{name}"), name, known).into())
                }
            }
            Some(config) => {
                let name = key.to_owned();
                config.validate(&format!("alerts.{name}"))?;
                let mut inline = lock(&self.inline);
                if inline.get(&name) == Some(&config) && self.read_channels().contains_key(&name) {
                    return Ok(name);
                }
                let handle = ChannelHandle::spawn(&name, &config, self.settings.clone())?;
                self.write_channels().insert(name.clone(), handle);
                inline.insert(name.clone(), config);
                Ok(name)
            }
        }
    }

    /// Queues what the outbox held for channels that exist now.
    pub(super) fn replay_deferred(&self) {
        let mut deferred = lock(&self.deferred);
        if deferred.is_empty() {
            return;
        }
        let channels = self.read_channels();
        deferred.retain(|u| match channels.get(&u.channel) {
            Some(handle) => {
                handle.enqueue(Job {
                    notification: Arc::new(u.notification.clone()),
                    outbox_key: u.key.clone(),
                    critical: false,
                });
                self.counters.replayed.fetch_add(1, Ordering::Relaxed);
                false
            }
            None => true,
        });
    }

    pub(super) fn notification(
        &self,
        rule: &AlertRule,
        alerts: Vec<NotifiedAlert>,
        status: AlertStatus,
        escalation_level: u32,
        tag: &str,
        now: SystemTime,
    ) -> Notification {
        let first = alerts.first();
        let starts = first_start_millis(&alerts);
        let key = format!(
            "{}-{}-{starts}-{tag}",
            first.map(|a| a.fingerprint.as_str()).unwrap_or("none"),
            match status {
                AlertStatus::Firing => "firing",
                AlertStatus::Acknowledged => "acknowledged",
                AlertStatus::Resolved => "resolved",
            }
        );
        let count: u64 = alerts.iter().map(|a| a.count).sum();
        let mut title = String::new();
        if escalation_level > 0 {
            title.push_str(&format!("[ESCALATION {escalation_level}]"));
        }
        title.push_str(&format!("[{}:{}] ", status.upper(), rule.severity));
        match alerts.as_slice() {
            [one] => title.push_str(&one.summary),
            many => title.push_str(&format!("{} ({} alerts)", rule.name, many.len())),
        }
        if count > 1 {
            title.push_str(&format!(" (×{count})"));
        }
        Notification {
            key,
            status,
            severity: rule.severity,
            title,
            alerts,
            escalation_level,
            digest: false,
            diagnostics: None,
            snapshot: None,
            created_at: now,
        }
    }

    /// Attaches diagnostics to CRITICAL firing notifications, then dispatches.
    pub(super) async fn send(&self, mut outgoing: Vec<Outgoing>) {
        if outgoing.is_empty() {
            return;
        }
        if let Some(diagnostics) = self.diagnostics() {
            let wants = outgoing.iter().any(|o| is_critical_firing(&o.notification));
            if wants {
                let (summary, snapshot) =
                    match tokio::time::timeout(DIAGNOSTICS_TIMEOUT, diagnostics.snapshot()).await {
                        // The whole report travels with the alert (issue 15.5).
                        Ok(Ok(report)) => (
                            report.summary,
                            Some(report.details).filter(|d| !d.is_null()),
                        ),
                        Ok(Err(e)) => (format!("diagnostics failed: {e}"), None),
                        Err(_) => ("diagnostics timed out".to_owned(), None),
                    };
                for o in &mut outgoing {
                    if is_critical_firing(&o.notification) {
                        o.notification.diagnostics = Some(summary.clone());
                        o.notification.snapshot = snapshot.clone();
                    }
                }
            }
        }
        self.dispatch(outgoing);
    }

    /// Records each notification in the outbox and queues it on its channels; never waits.
    /// Returns how many channel queues took a notification.
    pub(super) fn dispatch(&self, outgoing: Vec<Outgoing>) -> usize {
        if !outgoing.is_empty() {
            // Which channels were notified, and when, is part of the persisted state.
            self.changed();
        }
        let mut queued = 0;
        let channels = self.read_channels();
        let trace_ui_url = self.trace_ui_url.clone();
        for o in outgoing {
            let mut notification = o.notification;
            if let Some(ui_url) = &trace_ui_url {
                notification.link_traces(ui_url);
            }
            let notification = Arc::new(notification);
            self.counters.notifications.fetch_add(1, Ordering::Relaxed);
            let critical = is_critical_firing(&notification);
            let handles: Vec<&ChannelHandle> = o
                .channels
                .iter()
                .filter_map(|name| channels.get(name))
                .collect();
            if critical {
                self.settings
                    .critical
                    .register(&notification.key, handles.len());
            }
            for handle in handles {
                let outbox_key = format!("{}@{}", notification.key, handle.name);
                if let Some(outbox) = &self.outbox {
                    outbox.pending(&outbox_key, &handle.name, &notification);
                }
                if handle.enqueue(Job {
                    notification: Arc::clone(&notification),
                    outbox_key,
                    critical,
                }) {
                    queued += 1;
                }
            }
        }
        queued
    }
}
