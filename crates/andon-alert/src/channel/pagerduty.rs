//! PagerDuty Events API v2 events, within its documented limits: `dedup_key` at most 255
//! characters, `payload.summary` at most 1024, and the whole event at most 512 KB (the
//! diagnostics snapshot in `custom_details` is what gives way).

use andon_core::AlertSeverity;
use andon_core::config::Secret;
use serde_json::{Value, json};

use super::redact::cut;
use super::rfc3339;
use crate::notification::{AlertStatus, Notification};

/// The limit on `payload.summary` (characters).
const SUMMARY_MAX: usize = 1024;
/// The limit on `dedup_key` (characters).
const DEDUP_KEY_MAX: usize = 255;
/// The limit on an event's size.
pub(crate) const EVENT_MAX_BYTES: usize = 512 * 1024;

fn severity(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Critical => "critical",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Info => "info",
    }
}

/// The fields of a trigger event.
struct Trigger<'a> {
    dedup_key: &'a str,
    summary: &'a str,
    source: &'a str,
    severity: AlertSeverity,
    timestamp: std::time::SystemTime,
    component: Option<&'a str>,
    group: &'a str,
    details: serde_json::Map<String, Value>,
    /// Events v2 `links`: each `{href, text}`.
    links: Vec<Value>,
}

/// The `links` entry of an alert's trace in the trace UI, if it has one.
fn trace_link(alert: &crate::notification::NotifiedAlert) -> Option<Value> {
    let (trace, url) = (alert.trace_id.as_ref()?, alert.trace_url.as_ref()?);
    Some(json!({ "href": url, "text": format!("Trace {trace}") }))
}

fn trigger(routing_key: &Secret, t: Trigger<'_>) -> Value {
    let mut payload = json!({
        "summary": cut(t.summary, SUMMARY_MAX),
        "source": t.source,
        "severity": severity(t.severity),
        "timestamp": rfc3339(t.timestamp),
        "group": t.group,
        "class": "andon",
        "custom_details": Value::Object(t.details),
    });
    if let (Some(component), Some(map)) = (t.component, payload.as_object_mut()) {
        map.insert("component".to_owned(), json!(component));
    }
    let mut event = json!({
        "routing_key": routing_key.expose(),
        "event_action": "trigger",
        "dedup_key": cut(t.dedup_key, DEDUP_KEY_MAX),
        "payload": payload,
        "client": "andon",
    });
    if let (false, Some(map)) = (t.links.is_empty(), event.as_object_mut()) {
        map.insert("links".to_owned(), Value::Array(t.links));
    }
    fit(&mut event);
    event
}

/// Keeps the event within 512 KB: first the snapshot gives way to a note saying how big it
/// was, then every custom detail but the notification key.
fn fit(event: &mut Value) {
    let size = |e: &Value| serde_json::to_vec(e).map_or(usize::MAX, |v| v.len());
    if size(event) <= EVENT_MAX_BYTES {
        return;
    }
    let Some(details) = event["payload"]["custom_details"].as_object_mut() else {
        return;
    };
    if let Some(snapshot) = details.get("snapshot") {
        let bytes = serde_json::to_vec(snapshot).map_or(0, |v| v.len());
        details.insert(
            "snapshot".to_owned(),
            json!({ "cut": format!("the snapshot ({bytes} bytes) is over PagerDuty's 512 KB event limit; see the webhook or file payload") }),
        );
    }
    if size(event) <= EVENT_MAX_BYTES {
        return;
    }
    if let Some(details) = event["payload"]["custom_details"].as_object_mut() {
        details.retain(|k, _| k == "notification_key");
        details.insert(
            "cut".to_owned(),
            json!("the details are over PagerDuty's 512 KB event limit"),
        );
    }
}

/// The PagerDuty Events API v2 events of a notification: one per alert, `dedup_key` = the
/// alert's fingerprint (so a trigger sent again after a restart joins the open alert, and its
/// acknowledge and resolve find it), `event_action` trigger, acknowledge or resolve. A digest
/// of firing alerts is one trigger event listing them, under the digest's key. A CRITICAL
/// trigger carries the diagnostics summary and the whole snapshot in `custom_details`.
pub(crate) fn pagerduty_events(
    notification: &Notification,
    routing_key: &Secret,
    source: &str,
) -> Vec<Value> {
    let common = |details: &mut serde_json::Map<String, Value>| {
        details.insert("notification_key".to_owned(), json!(notification.key));
        if let Some(d) = &notification.diagnostics {
            details.insert("diagnostics".to_owned(), json!(d));
        }
        if let Some(s) = &notification.snapshot {
            details.insert("snapshot".to_owned(), s.clone());
        }
    };
    if notification.digest && notification.status == AlertStatus::Firing {
        let alerts: Vec<Value> = notification
            .alerts
            .iter()
            .map(|a| json!({"fingerprint": a.fingerprint, "summary": a.summary, "status": a.status, "count": a.count, "trace_id": a.trace_id, "trace_url": a.trace_url}))
            .collect();
        let mut details = serde_json::Map::new();
        details.insert("alerts".to_owned(), json!(alerts));
        common(&mut details);
        return vec![trigger(
            routing_key,
            Trigger {
                dedup_key: &notification.key,
                summary: &notification.text(),
                source,
                severity: notification.severity,
                timestamp: notification.created_at,
                component: None,
                group: "andon-digest",
                details,
                links: notification.alerts.iter().filter_map(trace_link).collect(),
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
                details.insert(
                    "escalation_level".to_owned(),
                    json!(notification.escalation_level),
                );
                if let Some(trace) = &alert.trace_id {
                    details.insert("trace_id".to_owned(), json!(trace));
                }
                common(&mut details);
                trigger(
                    routing_key,
                    Trigger {
                        dedup_key: &alert.fingerprint,
                        summary: &alert.summary,
                        source,
                        severity: alert.severity,
                        timestamp: alert.starts_at,
                        component: alert.labels.get("component").map(String::as_str),
                        group: &alert.rule,
                        details,
                        links: trace_link(alert).into_iter().collect(),
                    },
                )
            }
            AlertStatus::Acknowledged | AlertStatus::Resolved => json!({
                "routing_key": routing_key.expose(),
                "event_action": if alert.status == AlertStatus::Resolved { "resolve" } else { "acknowledge" },
                "dedup_key": cut(&alert.fingerprint, DEDUP_KEY_MAX),
            }),
        })
        .collect()
}

/// The `source` of PagerDuty events when the channel names none: this host's name.
pub(crate) fn host_name() -> String {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::event;
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn notification(status: AlertStatus, summary: &str, n: usize) -> Notification {
        let alert = event(status, summary);
        Notification {
            key: "k".to_owned(),
            status,
            severity: AlertSeverity::Critical,
            title: format!("[{}:critical] {summary}", status.upper()),
            alerts: vec![alert; n],
            escalation_level: 0,
            digest: false,
            diagnostics: Some("memory 42%".to_owned()),
            snapshot: Some(json!({ "memory": { "used_percent": 42.0 } })),
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_030),
        }
    }

    #[test]
    fn events_map_status_to_event_action_and_cap_the_summary() {
        let key = Secret::new("K");
        let long = "y".repeat(2000);
        let trigger = pagerduty_events(&notification(AlertStatus::Firing, &long, 1), &key, "host");
        assert_eq!(trigger[0]["event_action"], "trigger");
        assert_eq!(trigger[0]["dedup_key"], "0123456789abcdef");
        let summary = trigger[0]["payload"]["summary"].as_str().unwrap();
        assert_eq!(summary.chars().count(), 1024);
        assert_eq!(
            trigger[0]["payload"]["timestamp"],
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(trigger[0]["payload"]["component"], "db");
        let details = &trigger[0]["payload"]["custom_details"];
        assert_eq!(details["count"], 3);
        assert_eq!(details["notification_key"], "k");
        assert_eq!(details["snapshot"]["memory"]["used_percent"], 42.0);
        assert_eq!(
            details["trace_id"], "trace-123",
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
        let events = pagerduty_events(&digest, &key, "host");
        assert_eq!(events.len(), 1);
        assert!(events[0]["payload"]["custom_details"]["snapshot"].is_object());
    }

    #[test]
    fn an_event_over_512_kb_gives_up_the_snapshot_first() {
        let key = Secret::new("K");
        let mut n = notification(AlertStatus::Firing, "s", 1);
        n.snapshot = Some(json!({ "blob": "z".repeat(600 * 1024) }));
        let event = &pagerduty_events(&n, &key, "host")[0];
        let size = serde_json::to_vec(event).unwrap().len();
        assert!(size <= EVENT_MAX_BYTES, "{size}");
        let details = &event["payload"]["custom_details"];
        assert!(
            details["snapshot"]["cut"]
                .as_str()
                .unwrap()
                .contains("512 KB")
        );
        assert_eq!(details["diagnostics"], "memory 42%", "the rest stays");
        let mut n = notification(AlertStatus::Firing, "s", 1);
        n.diagnostics = Some("d".repeat(600 * 1024));
        let event = &pagerduty_events(&n, &key, "host")[0];
        assert!(serde_json::to_vec(event).unwrap().len() <= EVENT_MAX_BYTES);
        assert_eq!(event["payload"]["custom_details"]["notification_key"], "k");
    }
}
