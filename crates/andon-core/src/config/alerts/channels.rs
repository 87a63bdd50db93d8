//! `[alerts.channels.NAME]`: where notifications go (Slack, PagerDuty, Alertmanager, webhook,
//! email, file, log), with secrets and URL credentials redacted.

use std::path::PathBuf;

use super::super::Secret;
use serde::{Deserialize, Serialize};

use super::email::EmailConfig;
use crate::error::ConfigError;

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
            serialize_with = "crate::config::secret::serialize_url"
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
    Email(EmailConfig),
    /// A Prometheus Alertmanager, through its API v2 (`POST /api/v2/alerts`).
    Alertmanager {
        /// The Alertmanager's base URL, such as `http://alertmanager:9093` (or
        /// `http://user:pass@alertmanager:9093` behind basic authentication).
        #[serde(serialize_with = "crate::config::secret::serialize_url")]
        url: String,
        /// The `generatorURL` of the alerts, such as the agent's board.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "crate::config::secret::serialize_opt_url"
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
            ChannelConfig::Email(email) => f.debug_tuple("Email").field(email).finish(),
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
            ChannelConfig::Email(_) => "email",
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
            ChannelConfig::Email(email) => Some(email.budget_per_minute.unwrap_or(30)),
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
            crate::config::secret::check_userinfo_not_placeholder(format!("{key}.{field}"), value)?;
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
            crate::config::secret::check_not_placeholder(format!("{key}.{field}"), value)
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
            ChannelConfig::Email(email) => {
                email.validate(key)?;
                budget(&email.budget_per_minute)
            }
            ChannelConfig::Alertmanager {
                url: endpoint,
                generator_url,
                budget_per_minute,
            } => {
                url("url", endpoint, false)?;
                if let Some(generator) = generator_url {
                    crate::config::secret::check_userinfo_not_placeholder(
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
