//! Alerting for andon: rules, alert states, deduplication, grouping, silences, inhibition,
//! escalation, and channels (Slack, PagerDuty, email, Alertmanager, webhooks, files) that
//! retry, respect their service's budget and lose nothing across a restart.
//!
//! # The component contract
//!
//! The manager follows [`andon_core::contract`], like every andon component:
//! [`AlertManager::builder`] takes the `[alerts]` section, its `with_*` setters take what the
//! manager reads and reports to (metrics source, diagnostics, signal, metrics and log sinks,
//! history, clock), and [`build`](AlertManagerBuilder::build) checks the section and starts
//! it; [`AlertManager::start`] starts the periodic evaluation, as the observer's `start`
//! starts its checks; [`AlertManager::flush`] and [`AlertManager::shutdown`] (with a deadline,
//! returning an [`andon_core::ShutdownReport`], stopping the evaluation too) deliver what is
//! due; [`AlertManager::stats`] returns
//! [`AlertStats`], which implements [`andon_core::Stats`]; and the manager implements
//! [`andon_core::Component`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule};
//! use andon_core::{AlertSeverity, AndonConfig, AndonSignal, Noop, SignalSink};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let config = AndonConfig::from_toml_str("[alerts]\nrepeat_interval = \"1h\"\n")?;
//! let alerts = AlertManager::builder(config.alerts)
//!     .with_metrics_source(Arc::new(Noop)) // what metric rules read
//!     .build()?;
//! alerts.add_rule(AlertRule {
//!     name: "high-queue".to_string(),
//!     condition: AlertCondition::QueueDepth { max_depth: 100 },
//!     severity: AlertSeverity::Critical,
//!     channels: vec![AlertChannel::File { path: dir.path().join("alerts.jsonl") }],
//!     ..Default::default()
//! })?;
//! alerts.add_rule(AlertRule {
//!     name: "stop-the-line".to_string(), // every RED fires
//!     channels: vec![AlertChannel::File { path: dir.path().join("alerts.jsonl") }],
//!     ..Default::default()
//! })?;
//! alerts.check_and_fire_alerts().await?;
//! alerts.on_signal(&AndonSignal::red("queue overflow").with_component("queue")).await?;
//! alerts.acknowledge("stop-the-line", "alice", "looking")?;
//! alerts.flush().await?;
//! let lines = std::fs::read_to_string(dir.path().join("alerts.jsonl"))?;
//! assert!(lines.contains("[FIRING:warning] stop-the-line: [RED] queue: queue overflow"));
//! assert!(lines.contains(r#""acknowledged_by":"alice: looking""#));
//! # Ok(())
//! # }
//! ```
//!
//! # Alerts by default
//!
//! With no configured rule, every RED signal fires the built-in rule `red-signal` (critical, one
//! alert per component) on the built-in `log` channel: a CRITICAL record in andon's own log
//! (through [`AlertManagerBuilder::with_log_sink`]) naming the rule, the component and the status,
//! with the diagnostics. Configured rules replace it; `[alerts] default_rule = false` turns it
//! off. [`SignalSink::accept`](andon_core::SignalSink::accept) says whether a signal queued a
//! notification, or why not (no rule matched, deduplicated, silenced, …).
//!
//! # How an alert lives
//!
//! A rule's condition (queue depth, a metric's value or rate against a threshold with an
//! optional clear level, signals of a color and component, the observer's health, or an
//! `all`/`any` of these) makes its alert *pending*; after the rule's `for` it *fires* and a
//! notification goes to the rule's channels, after `group_wait` when that is set so that a
//! storm of identical signals becomes one notification carrying the count. It is notified
//! again after `repeat_interval`, escalated to the next level's channels when nobody
//! acknowledges it within `escalate_after`, and when its condition clears (after
//! `keep_firing_for`) a RESOLVED notification goes to every channel it reached. Silences mute
//! matching alerts (added through the API or `[[alerts.silences]]`); a firing CRITICAL alert
//! inhibits warnings of the same component. A CRITICAL notification carries the diagnostics
//! summary and the whole snapshot (`Notification::snapshot`) when a diagnostics source is set.
//!
//! A threshold rule has one alert per series of its metric (the series' labels in the
//! alert's fingerprint). With `group_by`, alerts of any rule sharing those labels' values go
//! out as one notification. An alert fired by a signal carries the signal's trace or
//! correlation id verbatim (`trace_id`). Every state change (fired, acknowledged, escalated,
//! resolved) is published as an [`andon_core::history::AlertEvent`] through
//! [`AlertManager::subscribe`] and [`AlertManagerBuilder::with_history`], without ever waiting.
//!
//! Metric and queue-depth rules react when the metrics recorder reports a change
//! ([`andon_core::MetricsListener`]), not only on the evaluation tick. With
//! `[alerts] state_file`, the open alerts (with acknowledgements and escalation levels) are
//! written durably on every change and restored on start, so an alert open before a crash
//! still resolves. Alerts of per-component and per-series rules are bounded by
//! `[alerts] max_instance_bytes`.
//!
//! Every channel runs on its own task with a bounded queue, a timeout, retries with
//! exponential backoff and jitter on 429, 5xx and connection errors (honoring `Retry-After`),
//! and a delivery budget over which notifications merge into a digest. With `outbox_path`
//! set, each notification is written to an append-only file before it is queued and marked
//! done after, and a restart sends what was left with the same key: at-least-once, so
//! receivers de-duplicate on the key (a webhook's `Idempotency-Key`, PagerDuty's `dedup_key`).
//!
//! # Crate feature flags
//!
//! This crate has no optional features.
//!
//! # Related crates
//!
//! - `andon-core`: the configuration (`[alerts]`), signals and the traits this crate uses
//!   ([`MetricsSource`](andon_core::MetricsSource) for metric rules,
//!   [`DiagnosticsSource`](andon_core::DiagnosticsSource) for snapshots,
//!   [`SignalSink`](andon_core::SignalSink) both ways).
//! - `andon`: the umbrella, whose `AndonSystem` wires the alert manager to the other parts.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod channel;
mod error;
mod fingerprint;
mod manager;
mod notification;
mod outbox;
mod rule;
mod silence;
mod stats;

pub use andon_runtime::{Clock, ManualClock, SystemClock};
pub use channel::ChannelReport;
pub use error::AlertError;
pub use fingerprint::fingerprint;
pub use manager::{
    AlertManager, AlertManagerBuilder, AlertState, AlertStats, DEFAULT_SHUTDOWN_DEADLINE,
    HEARTBEAT_DOWN_METRIC, OpenAlert, WATCHDOG_ALERT,
};
pub use notification::{AlertStatus, Notification, NotifiedAlert};
pub use rule::{
    AlertChannel, AlertCondition, AlertRule, Comparison, EscalationLevel, QUEUE_DEPTH_METRIC,
    Threshold,
};
pub use silence::{Matcher, Silence};

/// The payloads as each service documents them, for tests and tools that check them.
pub mod payload {
    use andon_core::config::Secret;
    use serde_json::Value;

    use crate::notification::Notification;

    /// The Slack incoming-webhook body (`text` and `blocks`).
    pub fn slack(notification: &Notification, channel: Option<&str>) -> Value {
        crate::channel::slack_body(notification, channel)
    }

    /// The PagerDuty Events API v2 events, one per alert.
    pub fn pagerduty(
        notification: &Notification,
        routing_key: &Secret,
        source: &str,
    ) -> Vec<Value> {
        crate::channel::pagerduty_events(notification, routing_key, source)
    }

    /// The Alertmanager API v2 `POST /api/v2/alerts` body.
    pub fn alertmanager(
        notification: &Notification,
        generator_url: Option<&str>,
        valid_for: std::time::Duration,
    ) -> Value {
        crate::channel::alertmanager_body(notification, generator_url, valid_for)
    }
}
