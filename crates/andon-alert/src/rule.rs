//! Alert rules: conditions, channels, escalation, and how they come from `[[alerts.rules]]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use andon_core::config::{ChannelConfig, ConditionConfig, RuleConfig, Secret};
use andon_core::{AlertSeverity, Color, HealthStatus};

/// The gauge a [`AlertCondition::QueueDepth`] rule reads.
pub const QUEUE_DEPTH_METRIC: &str = andon_core::names::QUEUE_DEPTH;

/// One alert rule: when its condition holds for `for_`, its alert fires on its channels.
///
/// ```
/// use andon_alert::{AlertCondition, AlertRule};
/// use andon_core::AlertSeverity;
///
/// let rule = AlertRule {
///     name: "high-queue".to_string(),
///     condition: AlertCondition::QueueDepth { max_depth: 100 },
///     severity: AlertSeverity::Critical,
///     ..Default::default()
/// };
/// assert_eq!(rule.for_, std::time::Duration::ZERO);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    /// The unique name, sent as the `alertname` label.
    pub name: String,
    /// When the alert is active.
    pub condition: AlertCondition,
    /// How long the condition must hold before the alert fires (pending until then).
    pub for_: Duration,
    /// How urgent the alert is; CRITICAL notifications carry a diagnostics summary.
    pub severity: AlertSeverity,
    /// Where notifications go.
    pub channels: Vec<AlertChannel>,
    /// Keep firing this long after the condition clears.
    pub keep_firing_for: Duration,
    /// Labels of the alert, part of its fingerprint.
    pub labels: BTreeMap<String, String>,
    /// A one-line summary; default: the rule's name and what its condition saw.
    pub summary: Option<String>,
    /// This rule's repeat interval instead of the configured one.
    pub repeat_interval: Option<Duration>,
    /// Whether the escalation levels apply. Default `true`.
    pub escalate: bool,
}

/// The defaults of `[[alerts.rules]]` (every RED signal, warning, no channels): one place
/// says what a rule does when a field is left out, in code and in configuration alike.
impl Default for AlertRule {
    fn default() -> Self {
        AlertRule::from_config(&RuleConfig::default())
    }
}

impl AlertRule {
    /// The rule of a `[[alerts.rules]]` entry; its channels refer to `[alerts.channels]` by name.
    pub fn from_config(config: &RuleConfig) -> Self {
        AlertRule {
            name: config.name.clone(),
            condition: AlertCondition::from_config(&config.condition),
            for_: config.for_,
            severity: config.severity,
            channels: config
                .channels
                .iter()
                .map(|c| AlertChannel::Named(c.clone()))
                .collect(),
            keep_firing_for: config.keep_firing_for,
            labels: config.labels.clone(),
            summary: config.summary.clone(),
            repeat_interval: config.repeat_interval,
            escalate: config.escalate,
        }
    }
}

/// When an alert is active.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertCondition {
    /// The queue depth gauge ([`QUEUE_DEPTH_METRIC`]) is above `max_depth`.
    QueueDepth {
        /// The depth above which the alert is active.
        max_depth: u64,
    },
    /// A metric compared with a threshold.
    Threshold(Threshold),
    /// `count` signals of `color` (and `component`) within `window`. With `count = 1` every
    /// matching signal fires; the alert resolves when no signal came for `window`.
    Signal {
        /// The color of the signals counted.
        color: Color,
        /// Only this component's signals; with `None` each component gets its own alert.
        component: Option<String>,
        /// How many within the window.
        count: u32,
        /// How far back signals count (a sliding window).
        window: Duration,
    },
    /// The observer's last health is at least `status`.
    Health {
        /// `Degraded` or `Critical`.
        status: HealthStatus,
    },
    /// Every condition holds.
    All(Vec<AlertCondition>),
    /// At least one condition holds.
    Any(Vec<AlertCondition>),
}

impl AlertCondition {
    /// The condition of a configuration entry.
    pub fn from_config(config: &ConditionConfig) -> Self {
        match config {
            ConditionConfig::QueueDepth {
                max_depth,
                clear_below,
                metric,
            } => AlertCondition::Threshold(Threshold {
                metric: metric.clone(),
                labels: Vec::new(),
                comparison: Comparison::Above,
                value: *max_depth,
                clear: *clear_below,
                rate_over: None,
            }),
            ConditionConfig::Metric {
                metric,
                labels,
                op,
                threshold,
                clear,
                rate_over,
            } => AlertCondition::Threshold(Threshold {
                metric: metric.clone(),
                labels: labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                comparison: Comparison::parse(op).unwrap_or(Comparison::Above),
                value: *threshold,
                clear: *clear,
                rate_over: *rate_over,
            }),
            ConditionConfig::Signal {
                color,
                component,
                count,
                window,
            } => AlertCondition::Signal {
                color: *color,
                component: component.clone(),
                count: *count,
                window: *window,
            },
            ConditionConfig::Health { status } => AlertCondition::Health { status: *status },
            ConditionConfig::All { conditions } => {
                AlertCondition::All(conditions.iter().map(Self::from_config).collect())
            }
            ConditionConfig::Any { conditions } => {
                AlertCondition::Any(conditions.iter().map(Self::from_config).collect())
            }
        }
    }

    /// Whether signals can make this condition hold.
    pub(crate) fn uses_signals(&self) -> bool {
        match self {
            AlertCondition::Signal { .. } => true,
            AlertCondition::All(c) | AlertCondition::Any(c) => c.iter().any(Self::uses_signals),
            _ => false,
        }
    }
}

/// A metric compared with a threshold, with an optional clear level (hysteresis).
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The metric's name.
    pub metric: String,
    /// Only series carrying these labels; the largest value among them counts.
    pub labels: Vec<(String, String)>,
    /// How the value is compared.
    pub comparison: Comparison,
    /// The level the value is compared with.
    pub value: f64,
    /// Once active, stays active until the value passes back over this level.
    pub clear: Option<f64>,
    /// Compare the per-second rate over this window (for counters) instead of the value.
    pub rate_over: Option<Duration>,
}

/// How a value is compared with a threshold: andon-core's, the one the metrics recorder's
/// thresholds use too (the hysteresis rule is [`Comparison::raised_after`]).
pub use andon_core::threshold::Comparison;

/// Where a rule's notifications go: a configured channel by name, or one given inline.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertChannel {
    /// A channel of `[alerts.channels]`.
    Named(String),
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL.
        webhook_url: Secret,
        /// Post to this channel instead of the webhook's own.
        channel: Option<String>,
    },
    /// PagerDuty Events API v2 with this routing key.
    PagerDuty {
        /// The integration's routing key.
        routing_key: Secret,
    },
    /// A generic JSON webhook.
    Webhook {
        /// The URL JSON is POSTed to (a secret: it often carries a token).
        url: Secret,
    },
    /// A Prometheus Alertmanager's base URL.
    Alertmanager {
        /// Such as `http://127.0.0.1:9093`.
        url: String,
    },
    /// A file of JSON lines.
    File {
        /// The file each notification is appended to, one JSON object a line.
        path: PathBuf,
    },
    /// andon's own log: a record per alert, CRITICAL for a critical alert firing, through
    /// the log sink given to
    /// [`AlertManagerBuilder::with_log_sink`](crate::AlertManagerBuilder::with_log_sink).
    Log,
    /// Any channel, with every option (email among them).
    Config(ChannelConfig),
}

impl AlertChannel {
    /// The configuration of an inline channel; `None` for a named one. An inline channel is
    /// named by its place (its key, such as `rules.high-queue.channels.0`), never after its
    /// address or secret (not even a hash of it).
    pub(crate) fn inline_config(&self) -> Option<ChannelConfig> {
        let config = match self {
            AlertChannel::Named(_) => return None,
            AlertChannel::Slack {
                webhook_url,
                channel,
            } => ChannelConfig::Slack {
                webhook_url: webhook_url.clone(),
                channel: channel.clone(),
                budget_per_minute: None,
            },
            AlertChannel::PagerDuty { routing_key } => ChannelConfig::PagerDuty {
                routing_key: routing_key.clone(),
                url: "https://events.pagerduty.com/v2/enqueue".to_owned(),
                source: None,
                budget_per_minute: None,
            },
            AlertChannel::Webhook { url } => ChannelConfig::Webhook {
                url: url.clone(),
                budget_per_minute: None,
            },
            AlertChannel::Alertmanager { url } => ChannelConfig::Alertmanager {
                url: url.clone(),
                generator_url: None,
                budget_per_minute: None,
            },
            AlertChannel::File { path } => ChannelConfig::File { path: path.clone() },
            AlertChannel::Log => ChannelConfig::Log {},
            AlertChannel::Config(config) => config.clone(),
        };
        Some(config)
    }
}

/// An escalation level: the channels notified when a firing alert stays unacknowledged.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationLevel {
    /// Channels notified at this level.
    pub channels: Vec<AlertChannel>,
    /// How long after the previous level this one is notified.
    pub after: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_is_the_default_configured_rule() {
        let rule = AlertRule::default();
        assert_eq!(
            rule.condition,
            AlertCondition::Signal {
                color: Color::Red,
                component: None,
                count: 1,
                window: Duration::from_secs(60),
            }
        );
        assert_eq!(rule.severity, AlertSeverity::Warning);
        assert!(rule.escalate && rule.channels.is_empty() && rule.name.is_empty());
    }

    #[test]
    fn inline_channels_carry_their_configuration_and_never_show_the_secret() {
        let slack = AlertChannel::Slack {
            webhook_url: Secret::new("https://hooks.slack.com/services/T/B/S3CRET"),
            channel: None,
        };
        let config = slack.inline_config().unwrap();
        assert_eq!(config.kind(), "slack");
        for shown in [format!("{slack:?}"), format!("{config:?}")] {
            assert!(!shown.contains("S3CRET"), "{shown}");
        }
        assert!(AlertChannel::Named("x".into()).inline_config().is_none());
    }

    #[test]
    fn configured_conditions_become_rule_conditions() {
        let config = ConditionConfig::Any {
            conditions: vec![
                ConditionConfig::QueueDepth {
                    max_depth: 100.0,
                    clear_below: Some(80.0),
                    metric: QUEUE_DEPTH_METRIC.to_owned(),
                },
                ConditionConfig::Metric {
                    metric: "m".to_owned(),
                    labels: [("q".to_owned(), "a".to_owned())].into_iter().collect(),
                    op: "<=".to_owned(),
                    threshold: 5.0,
                    clear: None,
                    rate_over: None,
                },
            ],
        };
        let AlertCondition::Any(c) = AlertCondition::from_config(&config) else {
            panic!("any stays any");
        };
        let AlertCondition::Threshold(queue) = &c[0] else {
            panic!("queue depth is a threshold");
        };
        assert_eq!((queue.value, queue.clear), (100.0, Some(80.0)));
        let AlertCondition::Threshold(metric) = &c[1] else {
            panic!("metric is a threshold");
        };
        assert_eq!(metric.comparison, Comparison::AtMost);
        assert_eq!(metric.labels, [("q".to_owned(), "a".to_owned())]);
        assert!(Comparison::AtMost.holds(5.0, 5.0) && !Comparison::Below.holds(5.0, 5.0));
    }
}
