//! The watchdog (`[alerts.watchdog]`): an always-firing `AndonWatchdog` alert sent straight to
//! every Alertmanager channel each interval, with `endsAt` three intervals ahead, so that
//! Alertmanager keeps it firing only while andon keeps sending, and a dead man's switch routed
//! on it pages when andon is gone. It bypasses rules, silences, inhibition, the channels'
//! queues and the outbox (the next interval is the retry); a failed send is counted
//! (`andon_alert_watchdog_failures_total{channel}`, `AlertStats::watchdog_failures`) and logged
//! when the channel starts and stops failing. It never blocks anything: its own task, each send
//! bounded by the delivery timeout (at most one interval).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use andon_core::config::ChannelConfig;
use andon_core::{AlertSeverity, LogEntry, LogLevel};
use tokio::time::MissedTickBehavior;

use super::AlertManager;
use crate::channel::{Hooks, HttpTransport, host_name};
use crate::error::AlertError;
use crate::fingerprint::fingerprint;
use crate::notification::{AlertStatus, Notification, NotifiedAlert};

/// The watchdog alert's name (its `alertname` label), for the Alertmanager route.
pub const WATCHDOG_ALERT: &str = "AndonWatchdog";

/// The counter of failed watchdog sends, by channel.
pub(super) const FAILURES_TOTAL: &str = "andon_alert_watchdog_failures_total";

/// How many intervals ahead `endsAt` is: a lost send or two do not end the alert.
const INTERVALS_AHEAD: u32 = 3;

/// The watchdog's counters, shared by its task and [`AlertManager::stats`].
#[derive(Debug, Default)]
pub(super) struct WatchdogStats {
    pub(super) sent: AtomicU64,
    pub(super) failures: AtomicU64,
}

/// One Alertmanager channel the watchdog sends to.
#[derive(Debug)]
struct Target {
    name: String,
    transport: HttpTransport,
    failing: bool,
}

impl AlertManager {
    /// Starts the watchdog task when `[alerts.watchdog] enabled`; it ends when the manager
    /// shuts down or is dropped.
    pub(super) fn start_watchdog(&self) -> Result<(), AlertError> {
        let config = &self.inner.config;
        if !config.watchdog.enabled {
            return Ok(());
        }
        let interval = config.watchdog.interval;
        let mut settings = self.inner.settings.clone();
        settings.alert_valid_for = interval * INTERVALS_AHEAD;
        settings.timeout = settings.timeout.min(interval);
        let mut targets = Vec::new();
        for (name, channel) in &config.channels {
            if matches!(channel, ChannelConfig::Alertmanager { .. }) {
                targets.push(Target {
                    name: name.clone(),
                    transport: HttpTransport::build(name, channel, &settings)?,
                    failing: false,
                });
            }
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| AlertError::Channel {
            channel: "watchdog".to_owned(),
            message: "no tokio runtime: create the alert manager inside a tokio runtime".to_owned(),
        })?;
        let manager = Arc::downgrade(&self.inner);
        let hooks = Arc::clone(&self.inner.hooks);
        let stats = Arc::clone(&self.inner.watchdog);
        let instance = host_name();
        let started = SystemTime::now();
        runtime.spawn(async move {
            // The first send one interval after the start, once the builder's setters (the
            // log and metrics sinks) are in place.
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // The manager is held only for this check: the task never keeps it alive.
                let running = manager
                    .upgrade()
                    .is_some_and(|inner| !inner.shut_down.load(Ordering::Relaxed));
                if !running {
                    break;
                }
                let notification = watchdog_notification(&instance, started, SystemTime::now());
                for target in &mut targets {
                    send(target, &notification, &hooks, &stats).await;
                }
            }
        });
        Ok(())
    }
}

/// Sends one watchdog notification to one channel; counts and logs the outcome.
async fn send(
    target: &mut Target,
    notification: &Notification,
    hooks: &Hooks,
    stats: &WatchdogStats,
) {
    match target.transport.deliver(notification).await {
        Ok(()) => {
            stats.sent.fetch_add(1, Ordering::Relaxed);
            if std::mem::replace(&mut target.failing, false) {
                hooks.log(record(
                    LogLevel::Info,
                    format!(
                        "the watchdog reaches Alertmanager channel `{}` again",
                        target.name
                    ),
                    &target.name,
                ));
            }
        }
        Err(e) => {
            stats.failures.fetch_add(1, Ordering::Relaxed);
            if let Some(metrics) = hooks.metrics() {
                metrics.add_counter(FAILURES_TOTAL, &[("channel", &target.name)], 1);
            }
            if !std::mem::replace(&mut target.failing, true) {
                hooks.log(record(
                    LogLevel::Warning,
                    format!(
                        "the watchdog cannot reach Alertmanager channel `{}`: {}; its dead man's \
                         switch will page if this lasts",
                        target.name, e.message
                    ),
                    &target.name,
                ));
            }
        }
    }
}

fn record(level: LogLevel, message: String, channel: &str) -> LogEntry {
    LogEntry {
        level,
        message,
        component: Some("andon-alert".to_owned()),
        fields: vec![("channel".to_owned(), channel.into())],
    }
}

/// The always-firing watchdog alert: the same labels (so the same Alertmanager alert) every
/// time, `startsAt` when the watchdog started, `endsAt` set by the transport from `now`.
fn watchdog_notification(instance: &str, started: SystemTime, now: SystemTime) -> Notification {
    let mut labels = BTreeMap::new();
    labels.insert("alertname".to_owned(), WATCHDOG_ALERT.to_owned());
    labels.insert("instance".to_owned(), instance.to_owned());
    labels.insert("severity".to_owned(), "none".to_owned());
    let summary = format!(
        "andon on {instance} is alive: this alert always fires while it runs; its absence means \
         andon is gone"
    );
    let alert = NotifiedAlert {
        fingerprint: fingerprint(WATCHDOG_ALERT, &labels),
        rule: WATCHDOG_ALERT.to_owned(),
        status: AlertStatus::Firing,
        severity: AlertSeverity::Info,
        summary: summary.clone(),
        labels,
        starts_at: started,
        ends_at: None,
        count: 1,
        acknowledged_by: None,
        trace_id: None,
        trace_url: None,
    };
    Notification {
        key: format!("watchdog-{}", alert.fingerprint),
        status: AlertStatus::Firing,
        severity: AlertSeverity::Info,
        title: summary,
        alerts: vec![alert],
        escalation_level: 0,
        digest: false,
        diagnostics: None,
        snapshot: None,
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::channel::alertmanager_body;

    #[test]
    fn the_watchdog_alert_keeps_its_labels_and_ends_a_few_intervals_ahead() {
        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = started + Duration::from_secs(600);
        let body = alertmanager_body(
            &watchdog_notification("host-a", started, now),
            None,
            Duration::from_secs(180),
        );
        let alert = &body[0];
        assert_eq!(alert["labels"]["alertname"], "AndonWatchdog");
        assert_eq!(alert["labels"]["instance"], "host-a");
        assert_eq!(alert["labels"]["severity"], "none");
        assert_eq!(alert["labels"].as_object().unwrap().len(), 3);
        assert_eq!(alert["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(alert["endsAt"], "2023-11-14T22:26:20.000Z", "now + 3 min");
        let later = alertmanager_body(
            &watchdog_notification("host-a", started, now + Duration::from_secs(60)),
            None,
            Duration::from_secs(180),
        );
        assert_eq!(later[0]["labels"], alert["labels"], "the same alert");
        assert_eq!(later[0]["startsAt"], alert["startsAt"]);
    }
}
