//! `[alerts]`: alert rules, channels, deduplication, escalation and the outbox.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;
use super::check;
use crate::error::ConfigError;
use crate::severity::{AlertSeverity, HealthStatus};
use crate::signal::Color;

/// `[alerts]`: alert rules, channels, deduplication and escalation.
///
/// ```toml
/// [alerts]
/// evaluation_interval = "15s"
/// repeat_interval = "4h"
/// group_wait = "0s"
/// escalate_after = "15m"
/// outbox_path = "/var/lib/andon/alerts.outbox"
///
/// [alerts.channels.ops-slack]
/// type = "slack"
/// webhook_url = "${SLACK_WEBHOOK_URL}"
///
/// [alerts.channels.oncall]
/// type = "pagerduty"
/// routing_key = "${PAGERDUTY_ROUTING_KEY}"
///
/// [[alerts.escalation]]
/// channels = ["oncall"]
///
/// [[alerts.rules]]
/// name = "high-queue"
/// condition = { type = "queue_depth", max_depth = 100, clear_below = 80 }
/// for = "1m"
/// severity = "critical"
/// channels = ["ops-slack"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Evaluate rules and send notifications. Default `true`.
    pub enabled: bool,
    /// How often the background evaluation runs the rules. Default `"15s"`.
    #[serde(with = "super::duration")]
    pub evaluation_interval: Duration,
    /// A firing alert is notified again after this long (Alertmanager's `repeat_interval`).
    /// Default `"4h"`.
    #[serde(with = "super::duration")]
    pub repeat_interval: Duration,
    /// How long the first notification of a new alert waits to collect identical signals and
    /// other alerts of its rule into one notification. `"0s"` (the default) sends at once.
    #[serde(with = "super::duration")]
    pub group_wait: Duration,
    /// Alertmanager-style grouping across rules: the first notifications of alerts (of any
    /// rule) with the same values of these labels and the same channels, made within
    /// `group_wait`, go out as one notification, such as `["component"]`. Empty (the default):
    /// each rule groups only its own alerts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// With `group_by`: alerts joining a group that was already notified wait until this long
    /// after the group's last notification. Default `"5m"` (Alertmanager's default).
    #[serde(with = "super::duration")]
    pub group_interval: Duration,
    /// A firing alert not acknowledged within this long goes to the next escalation level.
    /// Default `"15m"`.
    #[serde(with = "super::duration")]
    pub escalate_after: Duration,
    /// The append-only file recording notifications before they are sent and after, replayed
    /// on start; none by default (pending notifications then do not survive a crash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_path: Option<PathBuf>,
    /// The file holding the open alerts (with acknowledgements and escalation level), written
    /// durably on every change and restored on start, so a crash forgets no open alert and a
    /// paged incident still gets its resolve. None by default in the library; the agent keeps
    /// it in its data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_file: Option<PathBuf>,
    /// A firing critical alert suppresses warning and info alerts of the same component.
    /// Default `true`.
    pub inhibit: bool,
    /// The timeout of one delivery attempt. Default `"10s"`.
    #[serde(with = "super::duration")]
    pub timeout: Duration,
    /// Retries after the first attempt on 429, 5xx and connection errors. Default 5.
    pub max_retries: u32,
    /// The first retry's wait, doubled on each retry (with jitter), at most `"60s"`.
    /// Default `"500ms"`.
    #[serde(with = "super::duration")]
    pub retry_backoff: Duration,
    /// How many notifications may wait for each channel. Default 1024.
    pub queue_capacity: usize,
    /// Consecutive failed deliveries after which a channel counts as failing and a YELLOW
    /// signal is raised. Default 3.
    pub failure_threshold: u32,
    /// The channels, by name, referred to by rules and escalation levels.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// The escalation levels, in order: level 1 is notified when a firing alert stays
    /// unacknowledged for `escalate_after`, level 2 after as long again, and so on.
    pub escalation: Vec<EscalationConfig>,
    /// The alert rules. With none, the built-in rule applies (see `default_rule`).
    pub rules: Vec<RuleConfig>,
    /// With no `[[alerts.rules]]`, every RED signal fires the built-in rule `red-signal`
    /// (critical, one alert per component) on every configured channel, or on the built-in
    /// `log` channel (a CRITICAL log record) when none is configured. Configured rules replace
    /// it (so do rules added through the API); `false` turns it off. Default `true`.
    pub default_rule: bool,
    /// The memory the open alerts of per-component and per-series rules may take, in bytes
    /// (an estimate: labels, summary, fingerprint, condition state). A new alert that would go
    /// over it is dropped and counted (`AlertStats::instances_dropped`,
    /// `andon_alert_instances_dropped_total`). Default 16 MiB.
    pub max_instance_bytes: usize,
    /// Silences loaded when the alert manager starts (more can be added through its API).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub silences: Vec<SilenceConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            enabled: true,
            evaluation_interval: Duration::from_secs(15),
            repeat_interval: Duration::from_secs(4 * 3600),
            group_wait: Duration::ZERO,
            group_by: Vec::new(),
            group_interval: Duration::from_secs(5 * 60),
            escalate_after: Duration::from_secs(15 * 60),
            outbox_path: None,
            state_file: None,
            inhibit: true,
            timeout: Duration::from_secs(10),
            max_retries: 5,
            retry_backoff: Duration::from_millis(500),
            queue_capacity: 1024,
            failure_threshold: 3,
            channels: BTreeMap::new(),
            escalation: Vec::new(),
            rules: Vec::new(),
            default_rule: true,
            max_instance_bytes: 16 << 20,
            silences: Vec::new(),
        }
    }
}

/// `[[alerts.silences]]`: mutes the notifications of alerts whose labels match every matcher,
/// from `starts_at` (default: when the alert manager starts) until `ends_at` or for `duration`.
///
/// ```toml
/// [[alerts.silences]]
/// matchers = [{ name = "component", value = "db" }, { name = "severity", value = "info", equal = false }]
/// duration = "2h"            # or ends_at = "2026-11-27T06:00:00Z"
/// created_by = "alice"
/// comment = "database maintenance"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilenceConfig {
    /// Every matcher must hold for an alert to be muted.
    pub matchers: Vec<MatcherConfig>,
    /// When it starts muting, RFC 3339 such as `"2026-11-27T04:00:00Z"`; default: when the
    /// alert manager starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// When it stops, RFC 3339. Give this or `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// How long it mutes from `starts_at`. Give this or `ends_at`.
    #[serde(
        with = "super::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// Who created it (required, as in Alertmanager).
    pub created_by: String,
    /// Why.
    pub comment: String,
}

/// One label matcher of a silence: `name` equals `value` (or, with `equal = false`, differs
/// from it or is absent). Only exact values: regular expressions are not supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatcherConfig {
    /// The label's name, such as `component` or `alertname`.
    pub name: String,
    /// The value compared with.
    pub value: String,
    /// `true` (default): the label equals the value; `false`: it does not.
    #[serde(default = "default_true")]
    pub equal: bool,
}

fn default_true() -> bool {
    true
}

impl SilenceConfig {
    /// When the silence starts and ends, with `now` as the start when `starts_at` is not
    /// given; `key` (such as `alerts.silences.0`) names the field in errors.
    pub fn window(
        &self,
        now: std::time::SystemTime,
        key: &str,
    ) -> Result<(std::time::SystemTime, std::time::SystemTime), ConfigError> {
        let time = |field: &str, text: &str| {
            crate::signal::rfc3339::parse(text).map_err(|_| {
                ConfigError::new(
                    format!("{key}.{field}"),
                    format!("`{text}` is not an RFC 3339 time such as \"2026-11-27T06:00:00Z\""),
                )
            })
        };
        let starts = match &self.starts_at {
            Some(text) => time("starts_at", text)?,
            None => now,
        };
        let ends = match (&self.ends_at, self.duration) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    format!("{key}.duration"),
                    "give either ends_at or duration, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    format!("{key}.ends_at"),
                    "must be set (or duration, such as \"2h\"): a silence needs an end",
                ));
            }
            (None, Some(d)) if d.is_zero() => {
                return Err(ConfigError::new(
                    format!("{key}.duration"),
                    "must be longer than 0, such as \"2h\"",
                ));
            }
            (None, Some(d)) => starts + d,
            (Some(text), None) => time("ends_at", text)?,
        };
        if ends <= starts {
            return Err(ConfigError::new(
                format!("{key}.ends_at"),
                "must be after starts_at",
            ));
        }
        Ok((starts, ends))
    }

    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.matchers.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.matchers"),
                "must list at least one matcher, such as [{ name = \"component\", value = \"db\" }]: a silence without matchers would mute everything",
            ));
        }
        for (index, matcher) in self.matchers.iter().enumerate() {
            check::not_empty(&format!("{key}.matchers.{index}"), "name", &matcher.name)?;
        }
        check::not_empty(key, "created_by", &self.created_by)?;
        self.window(std::time::SystemTime::now(), key).map(|_| ())
    }
}

/// One channel: where notifications go.
///
/// Secrets print as `[redacted]`; the `url` of `pagerduty` and `alertmanager` and
/// `generator_url` are not secrets, but their user and password (`http://user:pass@host`) are
/// printed as `[redacted]` too, in `Debug` and when serialized.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ChannelConfig {
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL (a secret: use `${SLACK_WEBHOOK_URL}`).
        webhook_url: Secret,
        /// Post to this channel instead of the webhook's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// Messages per minute before notifications are merged into digests. Default 60.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_per_minute: Option<u32>,
    },
    /// PagerDuty Events API v2.
    PagerDuty {
        /// The integration's routing key (a secret).
        routing_key: Secret,
        /// The events endpoint. Default `https://events.pagerduty.com/v2/enqueue`.
        #[serde(
            default = "default_pagerduty_url",
            serialize_with = "super::secret::serialize_url"
        )]
        url: String,
        /// `payload.source`; default: the host name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// Events per minute before merging into digests. Default 120.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_per_minute: Option<u32>,
    },
    /// Email over SMTP.
    Email {
        /// The SMTP server's host name.
        host: String,
        /// The port; default 587 for `starttls`, 465 for `tls`, 25 for `none`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// `starttls` (default), `tls` or `none`.
        #[serde(default)]
        tls: EmailTls,
        /// The SMTP user, when the server wants credentials.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The SMTP password (a secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Secret>,
        /// The sender, such as `"andon <andon@example.com>"`.
        from: String,
        /// The recipients.
        to: Vec<String>,
        /// Messages per minute before merging into digests. Default 30.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_per_minute: Option<u32>,
    },
    /// A Prometheus Alertmanager, through its API v2 (`POST /api/v2/alerts`).
    Alertmanager {
        /// The Alertmanager's base URL, such as `http://alertmanager:9093` (or
        /// `http://user:pass@alertmanager:9093` behind basic authentication).
        #[serde(serialize_with = "super::secret::serialize_url")]
        url: String,
        /// The `generatorURL` of the alerts, such as the agent's board.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "super::secret::serialize_opt_url"
        )]
        generator_url: Option<String>,
        /// Posts per minute before merging. Default 600.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_per_minute: Option<u32>,
    },
    /// Any HTTP endpoint taking andon's JSON notification.
    Webhook {
        /// The URL (a secret: it often carries a token).
        url: Secret,
        /// Posts per minute before merging. Default 600.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget_per_minute: Option<u32>,
    },
    /// A file of JSON lines, one per notification.
    File {
        /// The file; appended to, its directory created.
        path: PathBuf,
    },
    /// andon's own log: one record per alert (CRITICAL for a critical alert firing), naming
    /// the rule, the component and the status, with the diagnostics. Needs no server.
    Log {},
}

fn default_pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".to_owned()
}

/// Like the derived `Debug`, with every URL's user and password redacted.
impl std::fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = |u: &str| Secret::redact_userinfo(u);
        match self {
            ChannelConfig::Slack {
                webhook_url,
                channel,
                budget_per_minute,
            } => f
                .debug_struct("Slack")
                .field("webhook_url", webhook_url)
                .field("channel", channel)
                .field("budget_per_minute", budget_per_minute)
                .finish(),
            ChannelConfig::PagerDuty {
                routing_key,
                url: endpoint,
                source,
                budget_per_minute,
            } => f
                .debug_struct("PagerDuty")
                .field("routing_key", routing_key)
                .field("url", &url(endpoint))
                .field("source", source)
                .field("budget_per_minute", budget_per_minute)
                .finish(),
            ChannelConfig::Email {
                host,
                port,
                tls,
                username,
                password,
                from,
                to,
                budget_per_minute,
            } => f
                .debug_struct("Email")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("username", username)
                .field("password", password)
                .field("from", from)
                .field("to", to)
                .field("budget_per_minute", budget_per_minute)
                .finish(),
            ChannelConfig::Alertmanager {
                url: endpoint,
                generator_url,
                budget_per_minute,
            } => f
                .debug_struct("Alertmanager")
                .field("url", &url(endpoint))
                .field("generator_url", &generator_url.as_deref().map(url))
                .field("budget_per_minute", budget_per_minute)
                .finish(),
            ChannelConfig::Webhook {
                url: endpoint,
                budget_per_minute,
            } => f
                .debug_struct("Webhook")
                .field("url", endpoint)
                .field("budget_per_minute", budget_per_minute)
                .finish(),
            ChannelConfig::File { path } => f.debug_struct("File").field("path", path).finish(),
            ChannelConfig::Log {} => f.debug_struct("Log").finish(),
        }
    }
}

impl ChannelConfig {
    /// The channel's kind, as written in `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ChannelConfig::Slack { .. } => "slack",
            ChannelConfig::PagerDuty { .. } => "pagerduty",
            ChannelConfig::Email { .. } => "email",
            ChannelConfig::Alertmanager { .. } => "alertmanager",
            ChannelConfig::Webhook { .. } => "webhook",
            ChannelConfig::File { .. } => "file",
            ChannelConfig::Log {} => "log",
        }
    }

    /// Messages per minute the channel's service accepts: the configured budget or the
    /// service's usual limit (Slack 60, PagerDuty 120, email 30, others 600; files have none).
    pub fn budget_per_minute(&self) -> Option<u32> {
        match self {
            ChannelConfig::Slack {
                budget_per_minute, ..
            } => Some(budget_per_minute.unwrap_or(60)),
            ChannelConfig::PagerDuty {
                budget_per_minute, ..
            } => Some(budget_per_minute.unwrap_or(120)),
            ChannelConfig::Email {
                budget_per_minute, ..
            } => Some(budget_per_minute.unwrap_or(30)),
            ChannelConfig::Alertmanager {
                budget_per_minute, ..
            }
            | ChannelConfig::Webhook {
                budget_per_minute, ..
            } => Some(budget_per_minute.unwrap_or(600)),
            ChannelConfig::File { .. } | ChannelConfig::Log {} => None,
        }
    }

    /// Checks the channel's values; `key` is its dotted key.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let url = |field: &str, value: &str, secret: bool| {
            super::secret::check_userinfo_not_placeholder(format!("{key}.{field}"), value)?;
            if value.starts_with("http://") || value.starts_with("https://") {
                Ok(())
            } else {
                let shown = if secret {
                    "the value".to_owned()
                } else {
                    Secret::redact_userinfo(value)
                };
                Err(ConfigError::new(
                    format!("{key}.{field}"),
                    format!("{shown} is not an http:// or https:// URL"),
                ))
            }
        };
        let secret = |field: &str, value: &Secret| {
            super::secret::check_not_placeholder(format!("{key}.{field}"), value)
        };
        let budget = |value: &Option<u32>| match value {
            Some(0) => Err(ConfigError::new(
                format!("{key}.budget_per_minute"),
                "must be at least 1 message per minute",
            )),
            _ => Ok(()),
        };
        match self {
            ChannelConfig::Slack {
                webhook_url,
                budget_per_minute,
                ..
            } => {
                secret("webhook_url", webhook_url)?;
                url("webhook_url", webhook_url.expose(), true)?;
                budget(budget_per_minute)
            }
            ChannelConfig::PagerDuty {
                routing_key,
                url: endpoint,
                budget_per_minute,
                ..
            } => {
                secret("routing_key", routing_key)?;
                if routing_key.is_empty() {
                    return Err(ConfigError::new(
                        format!("{key}.routing_key"),
                        "must not be empty: use the integration key of a PagerDuty Events API v2 integration",
                    ));
                }
                url("url", endpoint, false)?;
                budget(budget_per_minute)
            }
            ChannelConfig::Email {
                host,
                from,
                to,
                username,
                password,
                budget_per_minute,
                ..
            } => {
                if let Some(password) = password {
                    secret("password", password)?;
                }
                check::not_empty(key, "host", host)?;
                check::not_empty(key, "from", from)?;
                if to.is_empty() || to.iter().any(|t| !t.contains('@')) {
                    return Err(ConfigError::new(
                        format!("{key}.to"),
                        "must list at least one address, such as [\"oncall@example.com\"]",
                    ));
                }
                if password.is_some() && username.is_none() {
                    return Err(ConfigError::new(
                        format!("{key}.username"),
                        "must be set when a password is: SMTP credentials need both",
                    ));
                }
                budget(budget_per_minute)
            }
            ChannelConfig::Alertmanager {
                url: endpoint,
                generator_url,
                budget_per_minute,
            } => {
                url("url", endpoint, false)?;
                if let Some(generator) = generator_url {
                    super::secret::check_userinfo_not_placeholder(
                        format!("{key}.generator_url"),
                        generator,
                    )?;
                }
                budget(budget_per_minute)
            }
            ChannelConfig::Webhook {
                url: endpoint,
                budget_per_minute,
            } => {
                secret("url", endpoint)?;
                url("url", endpoint.expose(), true)?;
                budget(budget_per_minute)
            }
            ChannelConfig::File { path } => {
                if path.as_os_str().is_empty() {
                    Err(ConfigError::new(
                        format!("{key}.path"),
                        "must name a file, such as \"/var/log/andon-alerts.jsonl\"",
                    ))
                } else {
                    Ok(())
                }
            }
            ChannelConfig::Log {} => Ok(()),
        }
    }
}

/// How email travels to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption, usually port 25; for local relays and tests.
    None,
}

/// `[[alerts.escalation]]`: one escalation level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// The channels notified at this level, by name.
    pub channels: Vec<String>,
    /// How long after the previous level (or the first notification) this one is notified;
    /// default: `escalate_after`.
    #[serde(
        with = "super::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub after: Option<Duration>,
}

/// `[[alerts.rules]]`: one alert rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// The rule's unique name, the `alertname` label.
    pub name: String,
    /// When the rule's alert is active.
    pub condition: ConditionConfig,
    /// How long the condition must hold before the alert fires; pending until then. Default `"0s"`.
    #[serde(rename = "for", with = "super::duration")]
    pub for_: Duration,
    /// `info`, `warning` (default) or `critical`.
    pub severity: AlertSeverity,
    /// The channels notified, by name.
    pub channels: Vec<String>,
    /// Keep firing this long after the condition clears, so an alert at the edge does not
    /// resolve and fire again in a loop. Default `"0s"`.
    #[serde(with = "super::duration")]
    pub keep_firing_for: Duration,
    /// Labels added to the alert (and its fingerprint).
    pub labels: BTreeMap<String, String>,
    /// A one-line summary for notifications; default: the rule's name and condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// This rule's repeat interval instead of `[alerts].repeat_interval`.
    #[serde(
        with = "super::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub repeat_interval: Option<Duration>,
    /// Whether the escalation levels apply to this rule. Default `true`.
    pub escalate: bool,
}

impl Default for RuleConfig {
    fn default() -> Self {
        RuleConfig {
            name: String::new(),
            condition: ConditionConfig::Signal {
                color: Color::Red,
                component: None,
                count: 1,
                window: Duration::from_secs(60),
            },
            for_: Duration::ZERO,
            severity: AlertSeverity::Warning,
            channels: Vec::new(),
            keep_firing_for: Duration::ZERO,
            labels: BTreeMap::new(),
            summary: None,
            repeat_interval: None,
            escalate: true,
        }
    }
}

/// When a rule's alert is active, written as a table with `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConditionConfig {
    /// The queue depth gauge is above `max_depth`.
    QueueDepth {
        /// The depth above which the alert is active.
        max_depth: f64,
        /// Once active, it stays active until the depth falls to this level (hysteresis);
        /// default: `max_depth`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear_below: Option<f64>,
        /// The gauge read. Default `andon_queue_depth`.
        #[serde(default = "default_queue_metric")]
        metric: String,
    },
    /// A metric (a gauge's value, or a counter's rate over `rate_over`) compared with a threshold.
    Metric {
        /// The metric's name.
        metric: String,
        /// Only series with these labels; the largest value among them counts.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        labels: BTreeMap<String, String>,
        /// `>` (default), `>=`, `<` or `<=`.
        #[serde(default = "default_op")]
        op: String,
        /// The threshold.
        threshold: f64,
        /// Once active, stays active until the value passes back over this level (hysteresis).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<f64>,
        /// Compare the per-second rate of the counter over this window instead of its value.
        #[serde(
            default,
            with = "super::duration::option",
            skip_serializing_if = "Option::is_none"
        )]
        rate_over: Option<Duration>,
    },
    /// Signals of a color (and component): `count` of them within `window`.
    Signal {
        /// `red`, `yellow` or `green`.
        color: Color,
        /// Only signals of this component.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component: Option<String>,
        /// How many signals within `window` make the alert active. Default 1.
        #[serde(default = "default_count")]
        count: u32,
        /// The window, and how long after the last signal the alert stays active. Default `"1m"`.
        #[serde(default = "default_window", with = "super::duration")]
        window: Duration,
    },
    /// The observer's health is at least `status` (`Degraded` or `Critical`).
    Health {
        /// The status at or above which the alert is active.
        status: HealthStatus,
    },
    /// Every condition holds.
    All {
        /// The conditions.
        conditions: Vec<ConditionConfig>,
    },
    /// At least one condition holds.
    Any {
        /// The conditions.
        conditions: Vec<ConditionConfig>,
    },
}

fn default_queue_metric() -> String {
    "andon_queue_depth".to_owned()
}
fn default_op() -> String {
    ">".to_owned()
}
fn default_count() -> u32 {
    1
}
fn default_window() -> Duration {
    Duration::from_secs(60)
}

/// The comparison operators a metric condition accepts.
pub const OPERATORS: &[&str] = &[">", ">=", "<", "<="];

impl ConditionConfig {
    fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            ConditionConfig::QueueDepth {
                max_depth,
                clear_below,
                metric,
            } => {
                if !max_depth.is_finite() || *max_depth < 0.0 {
                    return Err(ConfigError::new(
                        format!("{key}.max_depth"),
                        format!("must be a depth of 0 or more (got {max_depth})"),
                    ));
                }
                if let Some(clear) = clear_below.filter(|c| c > max_depth) {
                    return Err(ConfigError::new(
                        format!("{key}.clear_below"),
                        format!("must be at most max_depth ({max_depth}), got {clear}"),
                    ));
                }
                check::not_empty(key, "metric", metric)
            }
            ConditionConfig::Metric {
                metric,
                op,
                threshold,
                clear,
                rate_over,
                ..
            } => {
                check::not_empty(key, "metric", metric)?;
                if !OPERATORS.contains(&op.as_str()) {
                    return Err(ConfigError::new(
                        format!("{key}.op"),
                        format!("unknown operator `{op}`: use >, >=, < or <="),
                    ));
                }
                if !threshold.is_finite() {
                    return Err(ConfigError::new(
                        format!("{key}.threshold"),
                        "must be a finite number",
                    ));
                }
                if let Some(clear) = clear {
                    let above = op.starts_with('>');
                    if (above && clear > threshold) || (!above && clear < threshold) {
                        return Err(ConfigError::new(
                            format!("{key}.clear"),
                            format!(
                                "must be on the safe side of the threshold {threshold} (at most it for `>`, at least it for `<`), got {clear}"
                            ),
                        ));
                    }
                }
                if rate_over.is_some_and(|w| w.is_zero()) {
                    return Err(ConfigError::new(
                        format!("{key}.rate_over"),
                        "must be a window longer than 0, such as \"5m\"",
                    ));
                }
                Ok(())
            }
            ConditionConfig::Signal { count, window, .. } => {
                if *count == 0 {
                    return Err(ConfigError::new(
                        format!("{key}.count"),
                        "must be at least 1 (1 fires on every matching signal)",
                    ));
                }
                if window.is_zero() {
                    return Err(ConfigError::new(
                        format!("{key}.window"),
                        "must be longer than 0, such as \"1m\"",
                    ));
                }
                Ok(())
            }
            ConditionConfig::Health { status } => {
                if *status == HealthStatus::Healthy {
                    return Err(ConfigError::new(
                        format!("{key}.status"),
                        "must be Degraded or Critical (Healthy would always fire)",
                    ));
                }
                Ok(())
            }
            ConditionConfig::All { conditions } | ConditionConfig::Any { conditions } => {
                if conditions.is_empty() {
                    return Err(ConfigError::new(
                        format!("{key}.conditions"),
                        "must list at least one condition",
                    ));
                }
                for (index, condition) in conditions.iter().enumerate() {
                    condition.validate(&format!("{key}.conditions.{index}"))?;
                }
                Ok(())
            }
        }
    }
}

impl AlertsConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        for (field, value) in [
            ("evaluation_interval", self.evaluation_interval),
            ("repeat_interval", self.repeat_interval),
            ("escalate_after", self.escalate_after),
            ("timeout", self.timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(
                    check::key(section, field),
                    "must be longer than 0, such as \"30s\" or \"5m\"",
                ));
            }
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::new(
                check::key(section, "queue_capacity"),
                "must be at least 1 (1024 is a good default)",
            ));
        }
        if self.max_instance_bytes == 0 {
            return Err(ConfigError::new(
                check::key(section, "max_instance_bytes"),
                "must be at least 1 (16777216, 16 MiB, is a good default)",
            ));
        }
        if self.failure_threshold == 0 {
            return Err(ConfigError::new(
                check::key(section, "failure_threshold"),
                "must be at least 1 (3 is a good default)",
            ));
        }
        if self
            .outbox_path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::new(
                check::key(section, "outbox_path"),
                "must name a file, such as \"/var/lib/andon/alerts.outbox\", or be left out",
            ));
        }
        for (name, channel) in &self.channels {
            channel.validate(&format!("{section}.channels.{name}"))?;
        }
        let known = |key: String, names: &[String]| -> Result<(), ConfigError> {
            for name in names {
                if !self.channels.contains_key(name) {
                    let allowed: Vec<&str> = self.channels.keys().map(String::as_str).collect();
                    return Err(ConfigError::new(
                        key,
                        format!(
                            "unknown channel `{name}`: define it under [alerts.channels.{name}]{}",
                            if allowed.is_empty() {
                                String::new()
                            } else {
                                format!(" or use one of {}", allowed.join(", "))
                            }
                        ),
                    ));
                }
            }
            Ok(())
        };
        for (index, level) in self.escalation.iter().enumerate() {
            let key = format!("{section}.escalation.{index}");
            if level.channels.is_empty() {
                return Err(ConfigError::new(
                    format!("{key}.channels"),
                    "must name at least one channel",
                ));
            }
            known(format!("{key}.channels"), &level.channels)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let key = format!("{section}.rules.{index}");
            check::not_empty(&key, "name", &rule.name)?;
            if !seen.insert(rule.name.as_str()) {
                return Err(ConfigError::new(
                    format!("{key}.name"),
                    format!(
                        "a rule named `{}` is already defined: names must be unique",
                        rule.name
                    ),
                ));
            }
            rule.condition.validate(&format!("{key}.condition"))?;
            known(format!("{key}.channels"), &rule.channels)?;
            if rule.repeat_interval.is_some_and(|d| d.is_zero()) {
                return Err(ConfigError::new(
                    format!("{key}.repeat_interval"),
                    "must be longer than 0, such as \"4h\"",
                ));
            }
        }
        if self.group_interval.is_zero() {
            return Err(ConfigError::new(
                check::key(section, "group_interval"),
                "must be longer than 0, such as \"5m\"",
            ));
        }
        for (index, label) in self.group_by.iter().enumerate() {
            check::not_empty(&format!("{section}.group_by"), &index.to_string(), label)?;
        }
        for (index, silence) in self.silences.iter().enumerate() {
            silence.validate(&format!("{section}.silences.{index}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    const FULL: &str = r##"
[alerts]
evaluation_interval = "30s"
repeat_interval = "1h"
group_wait = "5s"
group_by = ["component"]
group_interval = "2m"
escalate_after = "10m"
outbox_path = "/tmp/andon.outbox"

[alerts.channels.slack]
type = "slack"
webhook_url = "https://hooks.slack.test/services/T/B/X"
channel = "#ops"

[alerts.channels.pd]
type = "pagerduty"
routing_key = "R0UTING"

[alerts.channels.mail]
type = "email"
host = "smtp.example.com"
tls = "tls"
username = "andon"
password = "pw"
from = "andon@example.com"
to = ["oncall@example.com"]

[alerts.channels.am]
type = "alertmanager"
url = "http://127.0.0.1:9093"

[alerts.channels.hook]
type = "webhook"
url = "http://127.0.0.1:8080/hook"

[alerts.channels.log]
type = "file"
path = "alerts.jsonl"

[[alerts.escalation]]
channels = ["pd"]

[[alerts.rules]]
name = "high-queue"
condition = { type = "queue_depth", max_depth = 100, clear_below = 80 }
for = "1m"
severity = "critical"
channels = ["slack", "am"]
keep_firing_for = "2m"
labels = { team = "core" }

[[alerts.rules]]
name = "yellows"
condition = { type = "any", conditions = [
  { type = "signal", color = "yellow", count = 5, window = "1m" },
  { type = "metric", metric = "errors_total", rate_over = "5m", op = ">", threshold = 1.0 },
  { type = "health", status = "Critical" },
] }
channels = ["hook"]

[[alerts.silences]]
matchers = [{ name = "component", value = "db" }, { name = "severity", value = "info", equal = false }]
duration = "2h"
created_by = "alice"
comment = "maintenance"

[[alerts.silences]]
matchers = [{ name = "alertname", value = "high-queue" }]
starts_at = "2026-11-27T04:00:00Z"
ends_at = "2026-11-27T06:00:00Z"
created_by = "bob"
"##;

    #[test]
    fn the_full_schema_parses_with_secrets_redacted() {
        let config = AndonConfig::from_toml_str(FULL).unwrap().alerts;
        assert_eq!(config.repeat_interval, Duration::from_secs(3600));
        assert_eq!(config.channels.len(), 6);
        assert_eq!(config.rules[0].for_, Duration::from_secs(60));
        assert_eq!(config.rules[0].severity, AlertSeverity::Critical);
        assert_eq!(config.rules[1].severity, AlertSeverity::Warning);
        assert_eq!(config.channels["pd"].budget_per_minute(), Some(120));
        assert_eq!(config.group_by, ["component"]);
        assert_eq!(config.group_interval, Duration::from_secs(120));
        let silence = &config.silences[0];
        assert_eq!(
            silence.matchers[1],
            MatcherConfig {
                name: "severity".into(),
                value: "info".into(),
                equal: false
            }
        );
        assert!(silence.matchers[0].equal, "equal by default");
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(
            silence.window(now, "s").unwrap(),
            (now, now + Duration::from_secs(7200)),
            "a duration counts from when the manager starts"
        );
        let (starts, ends) = config.silences[1].window(now, "s").unwrap();
        assert_eq!(
            ends.duration_since(starts).unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            AlertsConfig::default().group_interval,
            Duration::from_secs(300)
        );
        let rendered = AndonConfig {
            alerts: config.clone(),
            ..AndonConfig::default()
        }
        .to_toml_string();
        assert!(!rendered.contains("R0UTING"), "{rendered}");
        assert!(!rendered.contains("hooks.slack.test"), "{rendered}");
        assert!(!format!("{config:?}").contains("R0UTING"));
    }

    #[test]
    fn errors_name_the_key_and_what_is_allowed() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[alerts]\nrepeat_interval = \"0s\"\n",
                "alerts.repeat_interval",
                "longer than 0",
            ),
            (
                "[alerts]\ngroup_wait = \"soon\"\n",
                "alerts.group_wait",
                "like \"250ms\"",
            ),
            (
                "[alerts]\nqueue_capacity = 0\n",
                "alerts.queue_capacity",
                "at least 1",
            ),
            (
                "[alerts]\nfailure_threshold = 0\n",
                "alerts.failure_threshold",
                "at least 1",
            ),
            (
                "[alerts]\nmax_instance_bytes = 0\n",
                "alerts.max_instance_bytes",
                "at least 1",
            ),
            (
                "[alerts]\noutbox_path = \"\"\n",
                "alerts.outbox_path",
                "must name a file",
            ),
            (
                "[alerts]\ncolour = 1\n",
                "alerts.colour",
                "unknown field `colour`",
            ),
            (
                "[alerts]\ngroup_interval = \"0s\"\n",
                "alerts.group_interval",
                "longer than 0",
            ),
            (
                "[alerts]\ngroup_by = [\"component\", \" \"]\n",
                "alerts.group_by.1",
                "must not be empty",
            ),
            (
                "[[alerts.silences]]\nduration = \"1h\"\ncreated_by = \"a\"\n",
                "alerts.silences.0.matchers",
                "at least one matcher",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"\", value = \"db\" }]\nduration = \"1h\"\ncreated_by = \"a\"\n",
                "alerts.silences.0.matchers.0.name",
                "must not be empty",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\", regex = true }]\nduration = \"1h\"\ncreated_by = \"a\"\n",
                "alerts.silences",
                "unknown field `regex`",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\nduration = \"1h\"\n",
                "alerts.silences.0.created_by",
                "must not be empty",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\n",
                "alerts.silences.0.ends_at",
                "needs an end",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nduration = \"1h\"\nends_at = \"2026-11-27T06:00:00Z\"\n",
                "alerts.silences.0.duration",
                "not both",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nduration = \"0s\"\n",
                "alerts.silences.0.duration",
                "longer than 0",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nends_at = \"tomorrow\"\n",
                "alerts.silences.0.ends_at",
                "RFC 3339",
            ),
            (
                "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nstarts_at = \"2026-11-27T06:00:00Z\"\nends_at = \"2026-11-27T05:00:00Z\"\n",
                "alerts.silences.0.ends_at",
                "after starts_at",
            ),
            (
                "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"hooks.slack.com/x\"\n",
                "alerts.channels.s.webhook_url",
                "is not an http:// or https:// URL",
            ),
            (
                "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\nbudget_per_minute = 0\n",
                "alerts.channels.s.budget_per_minute",
                "at least 1",
            ),
            (
                "[alerts.channels.s]\ntype = \"sms\"\n",
                "alerts.channels.s",
                "unknown variant `sms`",
            ),
            (
                "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\ncolor = 1\n",
                "alerts.channels.s",
                "unknown field `color`",
            ),
            (
                "[alerts.channels.p]\ntype = \"pagerduty\"\nrouting_key = \"\"\n",
                "alerts.channels.p.routing_key",
                "must not be empty",
            ),
            (
                "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = []\n",
                "alerts.channels.m.to",
                "at least one address",
            ),
            (
                "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\npassword = \"x\"\n",
                "alerts.channels.m.username",
                "must be set when a password is",
            ),
            (
                "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ntls = \"ssl\"\n",
                "alerts.channels.m",
                "unknown variant `ssl`",
            ),
            (
                "[alerts.channels.f]\ntype = \"file\"\npath = \"\"\n",
                "alerts.channels.f.path",
                "must name a file",
            ),
            (
                "[[alerts.rules]]\nname = \"\"\n",
                "alerts.rules.0.name",
                "must not be empty",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\n[[alerts.rules]]\nname = \"a\"\n",
                "alerts.rules.1.name",
                "already defined",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\nchannels = [\"nope\"]\n",
                "alerts.rules.0.channels",
                "unknown channel `nope`",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\nrepeat_interval = \"0s\"\n",
                "alerts.rules.0.repeat_interval",
                "longer than 0",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", op = \"=\", threshold = 1 }\n",
                "alerts.rules.0.condition.op",
                "use >, >=, < or <=",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", threshold = 10, clear = 20 }\n",
                "alerts.rules.0.condition.clear",
                "safe side",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"\", threshold = 1 }\n",
                "alerts.rules.0.condition.metric",
                "must not be empty",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", threshold = 1, rate_over = \"0s\" }\n",
                "alerts.rules.0.condition.rate_over",
                "longer than 0",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"queue_depth\", max_depth = 10, clear_below = 20 }\n",
                "alerts.rules.0.condition.clear_below",
                "at most max_depth",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"queue_depth\", max_depth = -1 }\n",
                "alerts.rules.0.condition.max_depth",
                "0 or more",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"signal\", color = \"red\", count = 0 }\n",
                "alerts.rules.0.condition.count",
                "at least 1",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"signal\", color = \"red\", window = \"0s\" }\n",
                "alerts.rules.0.condition.window",
                "longer than 0",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"health\", status = \"Healthy\" }\n",
                "alerts.rules.0.condition.status",
                "Degraded or Critical",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"all\", conditions = [] }\n",
                "alerts.rules.0.condition.conditions",
                "at least one condition",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"any\", conditions = [{ type = \"signal\", color = \"red\", count = 0 }] }\n",
                "alerts.rules.0.condition.conditions.0.count",
                "at least 1",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"weather\" }\n",
                "alerts.rules.0.condition",
                "unknown variant `weather`",
            ),
            (
                "[[alerts.rules]]\nname = \"a\"\nseverity = \"page\"\n",
                "alerts.rules.0.severity",
                "unknown variant `page`",
            ),
            (
                "[[alerts.escalation]]\nchannels = []\n",
                "alerts.escalation.0.channels",
                "at least one channel",
            ),
            (
                "[[alerts.escalation]]\nchannels = [\"pd\"]\n",
                "alerts.escalation.0.channels",
                "unknown channel `pd`",
            ),
        ];
        for (text, key, message) in cases {
            let err = AndonConfig::from_toml_str(text).unwrap_err();
            assert!(
                err.key.as_deref().is_some_and(|k| k.starts_with(key)),
                "{text}: key {:?}: {err}",
                err.key
            );
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn the_built_in_rule_is_on_by_default_and_a_log_channel_needs_no_options() {
        let defaults = AlertsConfig::default();
        assert!(defaults.default_rule);
        assert_eq!(defaults.max_instance_bytes, 16 << 20);
        let config = AndonConfig::from_toml_str(
            "[alerts]\ndefault_rule = false\nmax_instance_bytes = 4096\n[alerts.channels.ops]\ntype = \"log\"\n",
        )
        .unwrap()
        .alerts;
        assert!(!config.default_rule);
        assert_eq!(config.max_instance_bytes, 4096);
        assert_eq!(config.channels["ops"], ChannelConfig::Log {});
        assert_eq!(config.channels["ops"].kind(), "log");
        assert_eq!(config.channels["ops"].budget_per_minute(), None);
        let err = AndonConfig::from_toml_str("[alerts.channels.ops]\ntype = \"log\"\nlevel = 1\n")
            .unwrap_err();
        assert!(err.message.contains("unknown field `level`"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_errors() {
        let err = AndonConfig::from_toml_str(
            "[alerts.channels.w]\ntype = \"webhook\"\nurl = \"ftp://token-s3cr3t@x\"\n",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert_eq!(err.key.as_deref(), Some("alerts.channels.w.url"));
    }

    #[test]
    fn a_url_with_user_and_password_never_prints_the_password() {
        let text = "[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"http://am:Pa55w0rd@127.0.0.1:9093\"\n\
                    generator_url = \"https://board:G3nPass@andon.example/\"\n\
                    [alerts.channels.pd]\ntype = \"pagerduty\"\nrouting_key = \"R0UT1NG\"\n\
                    url = \"https://pd:PdPa55@events.example/v2/enqueue\"\n";
        let config = AndonConfig::from_toml_str(text).unwrap();
        let ChannelConfig::Alertmanager { url, .. } = &config.alerts.channels["am"] else {
            panic!("an alertmanager channel");
        };
        assert_eq!(url, "http://am:Pa55w0rd@127.0.0.1:9093", "sent as written");
        // What `andon config check` prints, and every Debug of the configuration.
        let shown = format!(
            "{}\n{config:?}\n{:?}",
            config.to_toml_string(),
            config.alerts.channels
        );
        for secret in ["Pa55w0rd", "G3nPass", "PdPa55", "R0UT1NG"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("url = \"http://[redacted]@127.0.0.1:9093\""),
            "{shown}"
        );
        // A URL that is not one names the key without the password.
        let err = AndonConfig::from_toml_str(
            "[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"ftp://am:Pa55w0rd@x\"\n",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("alerts.channels.am.url"));
        assert!(!err.to_string().contains("Pa55w0rd"), "{err}");
    }

    #[test]
    fn the_default_round_trips() {
        let config = AndonConfig::from_toml_str(FULL).unwrap();
        let mut expected = config.alerts.clone();
        // Secrets render redacted, so compare everything else.
        let text = config.to_toml_string();
        let back = AndonConfig::from_toml_str(&text.replace("\"[redacted]\"", "\"https://x/y\""));
        let back = back.unwrap().alerts;
        expected.channels = back.channels.clone();
        assert_eq!(back, expected);
    }
}
