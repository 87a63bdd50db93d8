//! `[[alerts.rules]]` and `[[alerts.escalation]]`: alert rules, their conditions, and the
//! escalation levels.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::severity::{AlertSeverity, HealthStatus};
use crate::signal::Color;
use serde::{Deserialize, Serialize};

use super::super::check;
use crate::error::ConfigError;

/// `[[alerts.escalation]]`: one escalation level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationConfig {
    /// The channels notified at this level, by name.
    pub channels: Vec<String>,
    /// How long after the previous level (or the first notification) this one is notified;
    /// default: `escalate_after`.
    #[serde(
        with = "crate::config::duration::option",
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
    #[serde(rename = "for", with = "crate::config::duration")]
    pub for_: Duration,
    /// `info`, `warning` (default) or `critical`.
    pub severity: AlertSeverity,
    /// The channels notified, by name.
    pub channels: Vec<String>,
    /// Keep firing this long after the condition clears, so an alert at the edge does not
    /// resolve and fire again in a loop. Default `"0s"`.
    #[serde(with = "crate::config::duration")]
    pub keep_firing_for: Duration,
    /// Labels added to the alert (and its fingerprint).
    pub labels: BTreeMap<String, String>,
    /// A one-line summary for notifications; default: the rule's name and condition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// This rule's repeat interval instead of `[alerts].repeat_interval`.
    #[serde(
        with = "crate::config::duration::option",
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
        /// The level the metric's value is compared with.
        threshold: f64,
        /// Once active, stays active until the value passes back over this level (hysteresis).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clear: Option<f64>,
        /// Compare the per-second rate of the counter over this window instead of its value.
        #[serde(
            default,
            with = "crate::config::duration::option",
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
        #[serde(default = "default_window", with = "crate::config::duration")]
        window: Duration,
    },
    /// The observer's health is at least `status` (`Degraded` or `Critical`).
    Health {
        /// The status at or above which the alert is active.
        status: HealthStatus,
    },
    /// Every condition holds.
    All {
        /// The conditions that must all hold.
        conditions: Vec<ConditionConfig>,
    },
    /// At least one condition holds.
    Any {
        /// The conditions of which one must hold.
        conditions: Vec<ConditionConfig>,
    },
}

fn default_queue_metric() -> String {
    crate::names::QUEUE_DEPTH.to_owned()
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
    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
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
                check::not_zero(key, "count", *count, " (1 fires on every matching signal)")?;
                check::longer_than_zero(key, "window", *window, ", such as \"1m\"")
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
