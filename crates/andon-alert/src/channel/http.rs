//! The HTTP channels: Slack incoming webhooks, PagerDuty Events API v2, Prometheus Alertmanager
//! API v2 and generic JSON webhooks.

use std::collections::BTreeMap;
use std::time::Duration;

use andon_core::AlertSeverity;
use andon_core::config::{ChannelConfig, Secret};
use serde_json::{Value, json};

use super::{DeliveryError, Settings};
use crate::error::AlertError;
use crate::notification::{AlertEvent, AlertStatus, Notification};

/// Slack's limits on block text (characters).
const SLACK_HEADER_MAX: usize = 150;
const SLACK_SECTION_MAX: usize = 3000;
const SLACK_MAX_ALERT_BLOCKS: usize = 20;
/// PagerDuty's limit on `payload.summary`.
const PAGERDUTY_SUMMARY_MAX: usize = 1024;

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

/// A client and where it posts.
#[derive(Debug)]
pub(crate) struct HttpTransport {
    client: reqwest::Client,
    target: Target,
}

impl HttpTransport {
    pub(crate) fn build(
        name: &str,
        config: &ChannelConfig,
        settings: &Settings,
    ) -> Result<Self, AlertError> {
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
            ChannelConfig::Email { .. } | ChannelConfig::File { .. } | ChannelConfig::Log {} => {
                return Err(AlertError::Channel {
                    channel: name.to_owned(),
                    message: "is not an HTTP channel".to_owned(),
                });
            }
        };
        Ok(HttpTransport { client, target })
    }

    pub(crate) async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        match &self.target {
            Target::Slack { url, channel } => {
                let body = slack_body(notification, channel.as_deref());
                post(&self.client, url.expose(), &body, Some(url)).await
            }
            Target::PagerDuty {
                url,
                routing_key,
                source,
            } => {
                for event in pagerduty_events(notification, routing_key, source) {
                    post(&self.client, url, &event, Some(routing_key)).await?;
                }
                Ok(())
            }
            Target::Alertmanager {
                url,
                generator_url,
                valid_for,
            } => {
                let body = alertmanager_body(notification, generator_url.as_deref(), *valid_for);
                post(&self.client, url, &body, None).await
            }
            Target::Webhook { url } => {
                let mut body = serde_json::to_value(notification)
                    .map_err(|e| DeliveryError::permanent(format!("cannot encode: {e}")))?;
                if let Some(map) = body.as_object_mut() {
                    map.insert("version".to_owned(), json!("1"));
                    map.insert("text".to_owned(), json!(notification.text()));
                }
                post(&self.client, url.expose(), &body, Some(url)).await
            }
        }
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "andon".to_owned())
}

/// Posts JSON; 2xx is success, 429 and 5xx and connection errors are retryable (with
/// Retry-After), other statuses are permanent and carry the response body.
async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    secret: Option<&Secret>,
) -> Result<(), DeliveryError> {
    let redact = |text: String| match secret {
        Some(s) => redact_secret(s, &text),
        None => text,
    };
    let response = match client.post(url).json(body).send().await {
        Ok(r) => r,
        Err(e) => {
            let retryable = e.is_connect() || e.is_timeout() || e.is_request();
            let message = redact(format!("request failed: {}", e.without_url()));
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
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    // Redacted before it is cut, so that a cut cannot leave part of a secret behind.
    let text = redact(response.text().await.unwrap_or_default());
    let text: String = text.chars().take(512).collect();
    let retryable = status.as_u16() == 429 || status.is_server_error();
    Err(DeliveryError {
        retryable,
        retry_after,
        message: redact(format!("HTTP {status}: {text}")),
    })
}

/// Replaces the secret in `text`, and when the secret is a URL also its path and its query: a
/// server or proxy that echoes the request line shows only those (found by the security test,
/// tests/security.rs of andon-agent).
fn redact_secret(secret: &Secret, text: &str) -> String {
    let mut text = secret.redact_in(text);
    let value = secret.expose();
    if let Some((_, rest)) = value.split_once("://") {
        let path = rest.find('/').map(|at| &rest[at..]);
        let query = rest.split_once('?').map(|(_, q)| q);
        for part in [path, query].into_iter().flatten() {
            if part.len() > 1 {
                text = text.replace(part, Secret::REDACTED);
            }
        }
    }
    text
}

/// `Retry-After` as delay-seconds (`120`) or as an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`).
fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let text = format!("{year}-{month:02}-{day:0>2}T{time}Z");
    let at = humantime::parse_rfc3339(&text).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

fn emoji(notification: &Notification) -> &'static str {
    match (notification.status, notification.severity) {
        (AlertStatus::Resolved, _) => ":large_green_circle:",
        (AlertStatus::Acknowledged, _) => ":eyes:",
        (_, AlertSeverity::Critical) => ":red_circle:",
        (_, AlertSeverity::Warning) => ":large_yellow_circle:",
        (_, AlertSeverity::Info) => ":large_blue_circle:",
    }
}

fn alert_line(alert: &AlertEvent) -> String {
    let mut line = format!("*{}* {}", alert.status.upper(), alert.summary);
    if alert.count > 1 {
        line.push_str(&format!(" (×{})", alert.count));
    }
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("`{k}={v}`"))
        .collect();
    if !labels.is_empty() {
        line.push('\n');
        line.push_str(&labels.join(" "));
    }
    if let Some(trace) = &alert.trace_id {
        line.push_str(&format!("\ntrace `{trace}`"));
    }
    if let Some(by) = &alert.acknowledged_by {
        line.push_str(&format!("\nacknowledged by {by}"));
    }
    line
}

/// The Slack incoming-webhook body: `text` (the fallback and notification text) and `blocks`
/// (a header, a section per alert, the diagnostics, and a context line), within Slack's limits.
pub(crate) fn slack_body(notification: &Notification, channel: Option<&str>) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": truncate(&notification.title, SLACK_HEADER_MAX),
            "emoji": true,
        },
    })];
    for alert in notification.alerts.iter().take(SLACK_MAX_ALERT_BLOCKS) {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": truncate(&alert_line(alert), SLACK_SECTION_MAX) },
        }));
    }
    if notification.alerts.len() > SLACK_MAX_ALERT_BLOCKS {
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": format!("…and {} more alerts", notification.alerts.len() - SLACK_MAX_ALERT_BLOCKS),
            },
        }));
    }
    if let Some(diagnostics) = &notification.diagnostics {
        blocks.push(json!({
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": truncate(&format!("*Diagnostics*\n{diagnostics}"), SLACK_SECTION_MAX),
            },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "andon · {} · escalation level {} · key `{}`",
                rfc3339(notification.created_at),
                notification.escalation_level,
                notification.key
            ),
        }],
    }));
    let mut body = json!({
        "text": truncate(&format!("{} {}", emoji(notification), notification.text()), 3000),
        "blocks": blocks,
    });
    if let (Some(channel), Some(map)) = (channel, body.as_object_mut()) {
        map.insert("channel".to_owned(), json!(channel));
    }
    body
}

fn pagerduty_severity(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Critical => "critical",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Info => "info",
    }
}

/// The fields of a PagerDuty trigger event.
struct Trigger<'a> {
    dedup_key: &'a str,
    summary: &'a str,
    source: &'a str,
    severity: AlertSeverity,
    timestamp: std::time::SystemTime,
    component: Option<&'a str>,
    group: &'a str,
    details: Value,
}

fn pagerduty_trigger(routing_key: &Secret, t: Trigger<'_>) -> Value {
    let Trigger {
        dedup_key,
        summary,
        source,
        severity,
        timestamp,
        component,
        group,
        details,
    } = t;
    let mut payload = json!({
        "summary": truncate(summary, PAGERDUTY_SUMMARY_MAX),
        "source": source,
        "severity": pagerduty_severity(severity),
        "timestamp": rfc3339(timestamp),
        "group": group,
        "class": "andon",
        "custom_details": details,
    });
    if let (Some(component), Some(map)) = (component, payload.as_object_mut()) {
        map.insert("component".to_owned(), json!(component));
    }
    json!({
        "routing_key": routing_key.expose(),
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
        "client": "andon",
    })
}

/// The PagerDuty Events API v2 events of a notification: one per alert, `dedup_key` = the
/// alert's fingerprint, `event_action` trigger, acknowledge or resolve. A digest of firing
/// alerts is one trigger event listing them.
pub(crate) fn pagerduty_events(
    notification: &Notification,
    routing_key: &Secret,
    source: &str,
) -> Vec<Value> {
    if notification.digest && notification.status == AlertStatus::Firing {
        let details: Vec<Value> = notification
            .alerts
            .iter()
            .map(|a| json!({"fingerprint": a.fingerprint, "summary": a.summary, "status": a.status, "count": a.count, "trace_id": a.trace_id}))
            .collect();
        return vec![pagerduty_trigger(
            routing_key,
            Trigger {
                dedup_key: &notification.key,
                summary: &notification.text(),
                source,
                severity: notification.severity,
                timestamp: notification.created_at,
                component: None,
                group: "andon-digest",
                details: json!({ "alerts": details, "diagnostics": notification.diagnostics }),
            },
        )];
    }
    notification
        .alerts
        .iter()
        .map(|alert| match alert.status {
            AlertStatus::Firing => {
                let mut details = serde_json::Map::new();
                details.insert("labels".to_owned(), json!(alert.labels));
                details.insert("count".to_owned(), json!(alert.count));
                details.insert("escalation_level".to_owned(), json!(notification.escalation_level));
                details.insert("notification_key".to_owned(), json!(notification.key));
                if let Some(trace) = &alert.trace_id {
                    details.insert("trace_id".to_owned(), json!(trace));
                }
                if let Some(d) = &notification.diagnostics {
                    details.insert("diagnostics".to_owned(), json!(d));
                }
                pagerduty_trigger(
                    routing_key,
                    Trigger {
                        dedup_key: &alert.fingerprint,
                        summary: &alert.summary,
                        source,
                        severity: alert.severity,
                        timestamp: alert.starts_at,
                        component: alert.labels.get("component").map(String::as_str),
                        group: &alert.rule,
                        details: Value::Object(details),
                    },
                )
            }
            AlertStatus::Acknowledged | AlertStatus::Resolved => json!({
                "routing_key": routing_key.expose(),
                "event_action": if alert.status == AlertStatus::Resolved { "resolve" } else { "acknowledge" },
                "dedup_key": alert.fingerprint,
            }),
        })
        .collect()
}

/// The Alertmanager API v2 body (`POST /api/v2/alerts`): one postable alert per alert, with
/// labels, annotations, startsAt, endsAt (the resolution time, or how long a firing alert
/// stays active without being sent again) and generatorURL.
pub(crate) fn alertmanager_body(
    notification: &Notification,
    generator_url: Option<&str>,
    valid_for: Duration,
) -> Value {
    let alerts: Vec<Value> = notification
        .alerts
        .iter()
        .map(|alert| {
            let mut annotations = BTreeMap::new();
            annotations.insert("summary".to_owned(), alert.summary.clone());
            annotations.insert("count".to_owned(), alert.count.to_string());
            if let Some(d) = &notification.diagnostics {
                annotations.insert("diagnostics".to_owned(), d.clone());
            }
            if let Some(by) = &alert.acknowledged_by {
                annotations.insert("acknowledged_by".to_owned(), by.clone());
            }
            if let Some(trace) = &alert.trace_id {
                annotations.insert("trace_id".to_owned(), trace.clone());
            }
            let ends_at = match alert.ends_at {
                Some(t) if alert.status == AlertStatus::Resolved => t,
                _ => notification.created_at + valid_for,
            };
            let mut value = json!({
                "labels": alert.labels,
                "annotations": annotations,
                "startsAt": rfc3339(alert.starts_at),
                "endsAt": rfc3339(ends_at),
            });
            if let (Some(url), Some(map)) = (generator_url, value.as_object_mut()) {
                map.insert("generatorURL".to_owned(), json!(url));
            }
            value
        })
        .collect();
    Value::Array(alerts)
}

fn rfc3339(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn event(status: AlertStatus, summary: &str) -> AlertEvent {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_owned(), "r".to_owned());
        labels.insert("component".to_owned(), "db".to_owned());
        AlertEvent {
            fingerprint: "0123456789abcdef".to_owned(),
            rule: "r".to_owned(),
            status,
            severity: AlertSeverity::Critical,
            summary: summary.to_owned(),
            labels,
            starts_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ends_at: (status == AlertStatus::Resolved)
                .then(|| UNIX_EPOCH + Duration::from_secs(1_700_000_060)),
            count: 3,
            acknowledged_by: None,
            trace_id: Some("trace-123".to_owned()),
        }
    }

    fn notification(status: AlertStatus, summary: &str, n: usize) -> Notification {
        Notification {
            key: "k".to_owned(),
            status,
            severity: AlertSeverity::Critical,
            title: format!("[{}:critical] {summary}", status.upper()),
            alerts: (0..n).map(|_| event(status, summary)).collect(),
            escalation_level: 0,
            digest: false,
            diagnostics: Some("memory 42%".to_owned()),
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_030),
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_717); // Sun, 06 Nov 1994 08:48:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn slack_text_stays_within_slack_limits() {
        let long = "x".repeat(5000);
        let body = slack_body(&notification(AlertStatus::Firing, &long, 60), None);
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50);
        assert_eq!(
            blocks[0]["text"]["text"].as_str().unwrap().chars().count(),
            150
        );
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= 3000);
            }
        }
        assert!(body.to_string().contains("and 40 more alerts"));
        assert!(body.get("channel").is_none());
        let one = slack_body(&notification(AlertStatus::Firing, "s", 1), None);
        assert!(one["text"].as_str().unwrap().contains("[trace trace-123]"));
        assert!(
            one["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("trace `trace-123`")
        );
    }

    #[test]
    fn pagerduty_events_map_status_to_event_action_and_cap_the_summary() {
        let key = Secret::new("K");
        let long = "y".repeat(2000);
        let trigger = pagerduty_events(&notification(AlertStatus::Firing, &long, 1), &key, "host");
        assert_eq!(trigger[0]["event_action"], "trigger");
        assert_eq!(trigger[0]["dedup_key"], "0123456789abcdef");
        assert_eq!(
            trigger[0]["payload"]["summary"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1024
        );
        assert_eq!(
            trigger[0]["payload"]["timestamp"],
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(trigger[0]["payload"]["component"], "db");
        assert_eq!(trigger[0]["payload"]["custom_details"]["count"], 3);
        assert_eq!(
            trigger[0]["payload"]["custom_details"]["trace_id"], "trace-123",
            "a non-W3C correlation id is carried verbatim"
        );
        let resolve = pagerduty_events(&notification(AlertStatus::Resolved, "s", 1), &key, "host");
        assert_eq!(resolve[0]["event_action"], "resolve");
        assert!(resolve[0].get("payload").is_none());
        let ack = pagerduty_events(
            &notification(AlertStatus::Acknowledged, "s", 1),
            &key,
            "host",
        );
        assert_eq!(ack[0]["event_action"], "acknowledge");
        let mut digest = notification(AlertStatus::Firing, "s", 4);
        digest.digest = true;
        assert_eq!(pagerduty_events(&digest, &key, "host").len(), 1);
    }

    #[test]
    fn alertmanager_alerts_carry_starts_and_ends() {
        let valid = Duration::from_secs(600);
        let firing = alertmanager_body(
            &notification(AlertStatus::Firing, "s", 1),
            Some("http://g/"),
            valid,
        );
        assert_eq!(firing[0]["startsAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(
            firing[0]["endsAt"], "2023-11-14T22:23:50.000Z",
            "created_at + valid_for"
        );
        assert_eq!(firing[0]["generatorURL"], "http://g/");
        assert_eq!(firing[0]["labels"]["alertname"], "r");
        assert_eq!(firing[0]["annotations"]["diagnostics"], "memory 42%");
        assert_eq!(firing[0]["annotations"]["trace_id"], "trace-123");
        assert!(
            firing[0]["labels"].get("trace_id").is_none(),
            "an annotation, so that the alert's identity stays the same"
        );
        let resolved = alertmanager_body(&notification(AlertStatus::Resolved, "s", 1), None, valid);
        assert_eq!(resolved[0]["endsAt"], "2023-11-14T22:14:20.000Z");
        assert!(resolved[0].get("generatorURL").is_none());
        let _ = SystemTime::now();
    }

    #[test]
    fn a_url_secret_is_redacted_whole_and_by_its_path_and_query() {
        let url = Secret::new("https://hooks.example.com/services/T0/B0/XyZ?token=abc123");
        let echoed = "HTTP 500: POST /services/T0/B0/XyZ?token=abc123 failed; query token=abc123; \
                      url https://hooks.example.com/services/T0/B0/XyZ?token=abc123";
        let shown = redact_secret(&url, echoed);
        for part in ["XyZ", "abc123"] {
            assert!(!shown.contains(part), "{shown}");
        }
        assert!(
            shown.starts_with("HTTP 500: POST [redacted] failed"),
            "{shown}"
        );
        // A key that is not a URL is redacted as it is.
        let key = Secret::new("R0UT1NG");
        assert_eq!(
            redact_secret(&key, "key R0UT1NG refused"),
            "key [redacted] refused"
        );
    }
}
