//! The Alertmanager channel's body: API v2 `POST /api/v2/alerts`, one postable alert per
//! alert, sent by the HTTP transport (`transport.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::rfc3339;
use crate::notification::{AlertStatus, Notification};

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
            if let Some(url) = &alert.trace_url {
                annotations.insert("trace_url".to_owned(), url.clone());
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::event;
    use super::*;
    use andon_core::AlertSeverity;
    use std::time::{SystemTime, UNIX_EPOCH};

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
            snapshot: None,
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_030),
        }
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
}
