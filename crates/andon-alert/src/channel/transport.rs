//! The HTTP transport the Slack, PagerDuty, Alertmanager and webhook channels share: one client
//! per channel, where it posts each kind's body (built in the kind's own file), and how an answer
//! becomes a delivery error. A failing receiver's answer is kept as its status and a short,
//! redacted reason (`redact.rs`), with `Retry-After` honoured; a webhook carries the notification
//! key as `Idempotency-Key`.

use std::time::Duration;

use andon_core::config::{ChannelConfig, Secret};
use serde_json::Value;

use super::alertmanager::alertmanager_body;
use super::pagerduty::{host_name, pagerduty_events};
use super::redact::{Redactor, short_reason};
use super::slack::slack_body;
use super::webhook::webhook_body;
use super::{DeliveryError, Settings};
use crate::error::AlertError;
use crate::notification::Notification;

#[derive(Debug)]
enum Target {
    Slack {
        url: Secret,
        channel: Option<String>,
    },
    PagerDuty {
        url: String,
        routing_key: Secret,
        source: String,
    },
    Alertmanager {
        url: String,
        generator_url: Option<String>,
        valid_for: Duration,
    },
    Webhook {
        url: Secret,
    },
}

/// A client, where it posts, and what its errors must not show.
#[derive(Debug)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    target: Target,
    redactor: Redactor,
}

impl HttpTransport {
    pub(crate) fn build(
        name: &str,
        config: &ChannelConfig,
        settings: &Settings,
    ) -> Result<Self, AlertError> {
        // reqwest is built without a crypto provider of its own (the workspace's one TLS stack is
        // ring): make ring the process default, unless the application chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("andon-alert/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Channel {
                channel: name.to_owned(),
                message: format!("cannot build the HTTP client: {}", e.without_url()),
            })?;
        let target = match config {
            ChannelConfig::Slack {
                webhook_url,
                channel,
                ..
            } => Target::Slack {
                url: webhook_url.clone(),
                channel: channel.clone(),
            },
            ChannelConfig::PagerDuty {
                routing_key,
                url,
                source,
                ..
            } => Target::PagerDuty {
                url: url.clone(),
                routing_key: routing_key.clone(),
                source: source.clone().unwrap_or_else(host_name),
            },
            ChannelConfig::Alertmanager {
                url, generator_url, ..
            } => Target::Alertmanager {
                url: format!("{}/api/v2/alerts", url.trim_end_matches('/')),
                generator_url: generator_url.clone(),
                valid_for: settings.alert_valid_for,
            },
            ChannelConfig::Webhook { url, .. } => Target::Webhook { url: url.clone() },
            ChannelConfig::Email(_) | ChannelConfig::File { .. } | ChannelConfig::Log {} => {
                return Err(AlertError::Channel {
                    channel: name.to_owned(),
                    message: "is not an HTTP channel".to_owned(),
                });
            }
        };
        let redactor = match &target {
            Target::Slack { url, .. } | Target::Webhook { url } => Redactor::new(&[url], &[]),
            Target::PagerDuty {
                url, routing_key, ..
            } => Redactor::new(&[routing_key], &[url]),
            Target::Alertmanager {
                url, generator_url, ..
            } => Redactor::new(
                &[],
                &[url.as_str(), generator_url.as_deref().unwrap_or_default()],
            ),
        };
        Ok(HttpTransport {
            client,
            target,
            redactor,
        })
    }

    pub(crate) async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let (client, redactor) = (&self.client, &self.redactor);
        match &self.target {
            Target::Slack { url, channel } => {
                let body = slack_body(notification, channel.as_deref());
                post(client, url.expose(), &body, None, redactor).await
            }
            Target::PagerDuty {
                url,
                routing_key,
                source,
            } => {
                for event in pagerduty_events(notification, routing_key, source) {
                    post(client, url, &event, None, redactor).await?;
                }
                Ok(())
            }
            Target::Alertmanager {
                url,
                generator_url,
                valid_for,
            } => {
                let body = alertmanager_body(notification, generator_url.as_deref(), *valid_for);
                post(client, url, &body, None, redactor).await
            }
            Target::Webhook { url } => {
                let body = webhook_body(notification)?;
                post(
                    client,
                    url.expose(),
                    &body,
                    Some(&notification.key),
                    redactor,
                )
                .await
            }
        }
    }
}

/// Posts JSON; 2xx is success, 429 and 5xx and connection errors are retryable (with
/// Retry-After), other statuses are permanent. The error shows the status and a short reason
/// from the answer, redacted; never the answer itself.
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    idempotency_key: Option<&str>,
    redactor: &Redactor,
) -> Result<(), DeliveryError> {
    let mut request = client.post(url).json(body);
    if let Some(key) = idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let retryable = e.is_connect() || e.is_timeout() || e.is_request();
            let message = redactor.redact(&format!("request failed: {}", e.without_url()));
            return Err(DeliveryError {
                retryable,
                retry_after: None,
                message,
            });
        }
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| andon_runtime::parse_retry_after(v, std::time::SystemTime::now()));
    // At most 64 KiB of the answer are read to find a reason in.
    let text = read_capped(response, 64 * 1024).await;
    let retryable = status.as_u16() == 429 || status.is_server_error();
    let message = match short_reason(&text) {
        Some(reason) => format!("HTTP {status}: {}", redactor.redact(&reason)),
        None => format!("HTTP {status}"),
    };
    Err(DeliveryError {
        retryable,
        retry_after,
        message,
    })
}

/// The start of a response's body, at most `max` bytes, as text.
async fn read_capped(mut response: reqwest::Response, max: usize) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(max);
    String::from_utf8_lossy(&bytes).into_owned()
}
