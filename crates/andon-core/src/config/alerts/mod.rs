//! `[alerts]`: alert rules, channels, deduplication, escalation and the outbox.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check;
use crate::contract::SectionConfig;
use crate::error::ConfigError;

mod channels;
mod email;
mod rules;
mod silences;
mod watchdog;

pub use channels::ChannelConfig;
pub use email::{EmailConfig, EmailTls};
pub use rules::{ConditionConfig, EscalationConfig, OPERATORS, RuleConfig};
pub use silences::{MatcherConfig, SilenceConfig};
pub use watchdog::{MIN_WATCHDOG_INTERVAL, WatchdogConfig};

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
    /// `[alerts.watchdog]`: an always-firing `AndonWatchdog` alert sent to every Alertmanager
    /// channel, for a dead man's switch there. Off by default.
    pub watchdog: WatchdogConfig,
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
            watchdog: WatchdogConfig::default(),
        }
    }
}

/// The error for a channel name that no `[alerts.channels.<name>]` table defines, at `key`:
/// it says which table to write, or which of the `known` channels to use instead. The same
/// words whether a rule in the file or one added at run time names it.
///
/// ```
/// use andon_core::config::unknown_channel;
///
/// let err = unknown_channel("alerts.rules.0.channels", "pager", ["slack", "email"]);
/// assert_eq!(err.key.as_deref(), Some("alerts.rules.0.channels"));
/// assert_eq!(
///     err.message,
///     "unknown channel `pager`: define it under [alerts.channels.pager] or use one of slack, email"
/// );
/// let none = unknown_channel("alerts.channels.pager", "pager", []);
/// assert!(none.message.ends_with("[alerts.channels.pager]"));
/// ```
pub fn unknown_channel<'a>(
    key: impl Into<String>,
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> ConfigError {
    let known: Vec<&str> = known.into_iter().collect();
    let instead = if known.is_empty() {
        String::new()
    } else {
        format!(" or use one of {}", known.join(", "))
    };
    ConfigError::new(
        key,
        format!("unknown channel `{name}`: define it under [alerts.channels.{name}]{instead}"),
    )
}

impl SectionConfig for AlertsConfig {
    const SECTION: &'static str = "alerts";

    /// Checks every value of the `[alerts]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`alerts.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        for (field, value) in [
            ("evaluation_interval", self.evaluation_interval),
            ("repeat_interval", self.repeat_interval),
            ("escalate_after", self.escalate_after),
            ("timeout", self.timeout),
        ] {
            check::longer_than_zero(section, field, value, ", such as \"30s\" or \"5m\"")?;
        }
        for (field, value, good) in [
            ("queue_capacity", self.queue_capacity as u64, "1024"),
            (
                "max_instance_bytes",
                self.max_instance_bytes as u64,
                "16777216, 16 MiB,",
            ),
            ("failure_threshold", u64::from(self.failure_threshold), "3"),
        ] {
            check::at_least_one(section, field, value, good)?;
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
                    let allowed = self.channels.keys().map(String::as_str);
                    return Err(unknown_channel(key, name, allowed));
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
            let repeat = rule.repeat_interval;
            check::longer_than_zero(&key, "repeat_interval", repeat, ", such as \"4h\"")?;
        }
        let fix = ", such as \"5m\"";
        check::longer_than_zero(section, "group_interval", self.group_interval, fix)?;
        for (index, label) in self.group_by.iter().enumerate() {
            check::not_empty(&format!("{section}.group_by"), &index.to_string(), label)?;
        }
        for (index, silence) in self.silences.iter().enumerate() {
            silence.validate(&format!("{section}.silences.{index}"))?;
        }
        let alertmanagers = self
            .channels
            .values()
            .filter(|c| matches!(c, ChannelConfig::Alertmanager { .. }))
            .count();
        self.watchdog
            .validate(&format!("{section}.watchdog"), alertmanagers)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
