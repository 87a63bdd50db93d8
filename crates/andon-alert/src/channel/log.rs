//! The `log` channel: andon's own log as an alert channel, so an alert is visible without any
//! server. One record per alert of a notification, written through the [`LogSink`](andon_core::LogSink) handed to
//! [`AlertManagerBuilder::with_log_sink`](crate::AlertManagerBuilder::with_log_sink) (standard error, as a
//! JSON line, until one is set).

use std::io::Write;
use std::sync::Arc;

use andon_core::{LogEntry, LogLevel};
use serde_json::{Value, json};

use super::{DeliveryError, Hooks};
use crate::notification::{AlertStatus, Notification, NotifiedAlert};

/// Writes notifications as log records.
#[derive(Debug)]
pub(crate) struct LogTransport {
    hooks: Arc<Hooks>,
}

impl LogTransport {
    pub(crate) fn new(hooks: &Arc<Hooks>) -> Self {
        LogTransport {
            hooks: Arc::clone(hooks),
        }
    }

    /// Writes one record per alert, off the runtime's threads: a CRITICAL record may wait a
    /// bounded time for its sink.
    pub(crate) async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let entries = entries(notification);
        let sink = self.hooks.log.clone();
        tokio::task::spawn_blocking(move || match sink {
            Some(sink) => {
                for entry in entries {
                    sink.write(entry).map_err(|e| {
                        DeliveryError::transient(format!("the log refused the record: {e}"))
                    })?;
                }
                Ok(())
            }
            None => {
                let mut err = std::io::stderr().lock();
                for entry in entries {
                    writeln!(err, "{}", json_line(&entry)).map_err(|e| {
                        DeliveryError::transient(format!("cannot write to standard error: {e}"))
                    })?;
                }
                Ok(())
            }
        })
        .await
        .map_err(|e| DeliveryError::transient(format!("the log writer stopped: {e}")))?
    }
}

/// The level of one alert's record: a firing alert's severity (CRITICAL for critical), INFO
/// for acknowledgements and resolutions.
fn level(alert: &NotifiedAlert) -> LogLevel {
    match alert.status {
        AlertStatus::Firing => alert.severity.log_level(),
        AlertStatus::Acknowledged | AlertStatus::Resolved => LogLevel::Info,
    }
}

/// The records of a notification: one per alert, naming the rule, the component and the
/// status, with the diagnostics.
pub(crate) fn entries(notification: &Notification) -> Vec<LogEntry> {
    // The whole snapshot when the notification carries it (a critical firing alert), else the
    // one-line summary.
    let diagnostics = notification.snapshot.clone().or_else(|| {
        notification
            .diagnostics
            .as_ref()
            .and_then(|d| serde_json::to_value(d).ok())
    });
    notification
        .alerts
        .iter()
        .map(|alert| {
            let status = match alert.status {
                AlertStatus::Firing => "firing",
                AlertStatus::Acknowledged => "acknowledged",
                AlertStatus::Resolved => "resolved",
            };
            let mut message = String::new();
            if notification.escalation_level > 0 {
                message.push_str(&format!("[ESCALATION {}]", notification.escalation_level));
            }
            message.push_str(&format!(
                "[{}:{}] {}",
                alert.status.upper(),
                alert.severity,
                alert.summary
            ));
            let mut fields: Vec<(String, Value)> = vec![
                ("alert.status".to_owned(), json!(status)),
                ("alert.rule".to_owned(), json!(alert.rule)),
                ("alert.severity".to_owned(), json!(alert.severity.as_str())),
                ("alert.fingerprint".to_owned(), json!(alert.fingerprint)),
                ("alert.count".to_owned(), json!(alert.count)),
                ("alert.key".to_owned(), json!(notification.key)),
            ];
            if notification.escalation_level > 0 {
                fields.push((
                    "alert.escalation_level".to_owned(),
                    json!(notification.escalation_level),
                ));
            }
            if let Some(by) = &alert.acknowledged_by {
                fields.push(("alert.acknowledged_by".to_owned(), json!(by)));
            }
            if let Some(trace) = &alert.trace_id {
                fields.push(("alert.trace_id".to_owned(), json!(trace)));
            }
            if notification.digest {
                fields.push(("alert.digest".to_owned(), json!(true)));
            }
            if let Some(d) = &diagnostics {
                fields.push(("diagnostics".to_owned(), d.clone()));
            }
            LogEntry {
                level: level(alert),
                message,
                component: alert.labels.get("component").cloned(),
                fields,
            }
        })
        .collect()
}

/// Writes `entry` through the log sink, or to standard error until one is set; best effort.
pub(super) fn write_now(hooks: &Hooks, entry: LogEntry) {
    let sink = hooks.log.clone();
    match sink {
        Some(sink) => {
            // Best effort: a refused record about alerting must not stop what reports it.
            let _ = sink.write(entry);
        }
        None => {
            let _ = writeln!(std::io::stderr().lock(), "{}", json_line(&entry));
        }
    }
}

/// The record as one JSON line, for standard error when no log sink is set.
fn json_line(entry: &LogEntry) -> String {
    let mut object = serde_json::Map::new();
    object.insert("level".to_owned(), json!(entry.level.as_str()));
    object.insert("message".to_owned(), json!(entry.message));
    if let Some(component) = &entry.component {
        object.insert("component".to_owned(), json!(component));
    }
    for (k, v) in &entry.fields {
        object.insert(k.clone(), v.clone());
    }
    Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use std::collections::BTreeMap;
    use std::time::SystemTime;

    use andon_core::AlertSeverity;

    use super::*;

    fn notification(status: AlertStatus, severity: AlertSeverity) -> Notification {
        let mut labels = BTreeMap::new();
        labels.insert("component".to_owned(), "queue".to_owned());
        Notification {
            key: "k".into(),
            status,
            severity,
            title: "t".into(),
            alerts: vec![NotifiedAlert {
                fingerprint: "f".into(),
                rule: "red-signal".into(),
                status,
                severity,
                summary: "red-signal: [RED] queue: overflow".into(),
                labels,
                starts_at: SystemTime::now(),
                ends_at: None,
                count: 1,
                acknowledged_by: None,
                trace_id: Some("trace-123".into()),
                trace_url: None,
            }],
            escalation_level: 0,
            digest: false,
            diagnostics: Some("memory 4.7%, cpu 12%".into()),
            snapshot: None,
            created_at: SystemTime::now(),
        }
    }

    #[test]
    fn a_critical_firing_alert_is_a_critical_record_naming_rule_component_and_status() {
        let firing = entries(&notification(AlertStatus::Firing, AlertSeverity::Critical));
        let [entry] = firing.as_slice() else {
            unreachable!("one alert, one record")
        };
        assert_eq!(entry.level, LogLevel::Critical);
        assert_eq!(entry.component.as_deref(), Some("queue"));
        assert_eq!(
            entry.message,
            "[FIRING:critical] red-signal: [RED] queue: overflow"
        );
        let field = |k: &str| entry.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v);
        assert_eq!(field("alert.status"), Some(&json!("firing")));
        assert_eq!(field("alert.rule"), Some(&json!("red-signal")));
        assert_eq!(field("alert.trace_id"), Some(&json!("trace-123")));
        assert!(field("diagnostics").is_some());
        let line: Value = serde_json::from_str(&json_line(entry)).unwrap();
        assert_eq!(line["level"], "CRITICAL");
        assert_eq!(line["alert.status"], "firing");

        let resolved = entries(&notification(
            AlertStatus::Resolved,
            AlertSeverity::Critical,
        ));
        assert_eq!(resolved[0].level, LogLevel::Info);
        assert!(resolved[0].message.starts_with("[RESOLVED:critical]"));
    }
}
