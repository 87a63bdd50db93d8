//! Notifications: what channels send, in one shape every channel renders its own way.

use std::collections::BTreeMap;
use std::time::SystemTime;

use andon_core::AlertSeverity;
use serde::{Deserialize, Serialize};

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// The alert fires (first notification, a repeat or an escalation).
    Firing,
    /// Someone acknowledged it.
    Acknowledged,
    /// Its condition cleared.
    Resolved,
}

impl AlertStatus {
    /// `FIRING`, `ACKNOWLEDGED` or `RESOLVED`, for subjects and titles.
    pub fn upper(self) -> &'static str {
        match self {
            AlertStatus::Firing => "FIRING",
            AlertStatus::Acknowledged => "ACKNOWLEDGED",
            AlertStatus::Resolved => "RESOLVED",
        }
    }
}

/// One alert as a notification shows it to people and receivers: its current status, the
/// occurrences it stands for, who acknowledged it, links. Rendered by every channel.
///
/// Not to be confused with [`andon_core::history::AlertEvent`], the record of one state change
/// of an alert (fired, acknowledged, escalated, resolved) kept in the history and published to
/// subscribers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifiedAlert {
    /// The alert's fingerprint (rule + labels): PagerDuty's `dedup_key`.
    pub fingerprint: String,
    /// The rule's name.
    pub rule: String,
    /// Firing, acknowledged or resolved.
    pub status: AlertStatus,
    /// The rule's severity.
    pub severity: AlertSeverity,
    /// One line: what is wrong.
    pub summary: String,
    /// The alert's labels, `alertname` and `severity` among them.
    pub labels: BTreeMap<String, String>,
    /// When it started firing.
    #[serde(with = "andon_core::rfc3339")]
    pub starts_at: SystemTime,
    /// When it resolved.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "andon_core::rfc3339::option"
    )]
    pub ends_at: Option<SystemTime>,
    /// How many occurrences (signals or evaluations) this notification stands for.
    pub count: u64,
    /// Who acknowledged it, with the note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// The trace or correlation id of the signal that fired it, verbatim (a W3C trace id or
    /// any other string such as `trace-123`); none for alerts not fired by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// The trace in the trace UI (`[tracer] ui_url`, see
    /// [`AlertManagerBuilder::with_trace_ui_url`]):
    /// `<ui_url>/trace/<id>`, where `<id>` is the W3C trace id `trace_id` maps to
    /// ([`andon_core::trace_url`]); none without a trace id or a trace UI.
    ///
    /// [`AlertManagerBuilder::with_trace_ui_url`]: crate::AlertManagerBuilder::with_trace_ui_url
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// One notification: one or more alerts of a rule (grouped), or a digest of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// The unique key of this notification, the same when it is sent again after a restart:
    /// receivers deduplicate on it.
    pub key: String,
    /// The overall status (the first alert's).
    pub status: AlertStatus,
    /// The highest severity among the alerts.
    pub severity: AlertSeverity,
    /// A title such as `[FIRING:critical] high-queue`.
    pub title: String,
    /// The alerts this notification tells of: one, or a group's members in a digest.
    pub alerts: Vec<NotifiedAlert>,
    /// The escalation level this notification is for (0: the rule's own channels).
    pub escalation_level: u32,
    /// Several notifications merged because the channel was over its delivery budget.
    #[serde(default)]
    pub digest: bool,
    /// The diagnostics summary, attached to CRITICAL notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// The whole diagnostics snapshot (memory, CPU, load, disks, network, the process, the top
    /// processes) as a JSON object, attached to CRITICAL firing notifications with
    /// `diagnostics`; cut by its producer to `[observer] snapshot_max_bytes`. Every channel
    /// carries it: a `snapshot` object in webhook and file payloads, PagerDuty's
    /// `custom_details.snapshot`, Slack blocks, the email body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<serde_json::Value>,
    /// When it was created.
    #[serde(with = "andon_core::rfc3339")]
    pub created_at: SystemTime,
}

impl Notification {
    /// The text of the notification: title, then a line per alert, then the diagnostics.
    pub fn text(&self) -> String {
        let mut out = self.title.clone();
        for alert in &self.alerts {
            out.push_str("\n- ");
            out.push_str(alert.status.upper());
            out.push(' ');
            out.push_str(&alert.summary);
            if alert.count > 1 {
                out.push_str(&format!(" (x{})", alert.count));
            }
            if let Some(component) = alert.labels.get("component") {
                out.push_str(&format!(" [component {component}]"));
            }
            if let Some(trace) = &alert.trace_id {
                out.push_str(&format!(" [trace {trace}]"));
            }
            if let Some(by) = &alert.acknowledged_by {
                out.push_str(&format!(" (acknowledged by {by})"));
            }
        }
        if let Some(diagnostics) = &self.diagnostics {
            out.push_str("\nDiagnostics: ");
            out.push_str(diagnostics);
        }
        out
    }

    /// Links every alert's trace id to `ui_url` (a checked `[tracer] ui_url`).
    pub(crate) fn link_traces(&mut self, ui_url: &str) {
        for alert in &mut self.alerts {
            if let Some(trace) = &alert.trace_id {
                alert.trace_url = Some(andon_core::trace_url(ui_url, trace));
            }
        }
    }

    /// The total occurrences of every alert in it.
    pub fn count(&self) -> u64 {
        self.alerts.iter().map(|a| a.count).sum()
    }

    /// Merges several notifications into one digest.
    pub(crate) fn digest(items: &[std::sync::Arc<Notification>], now: SystemTime) -> Notification {
        let alerts: Vec<NotifiedAlert> = items.iter().flat_map(|n| n.alerts.clone()).collect();
        let severity = highest_severity(items.iter().map(|n| n.severity));
        let key = items
            .first()
            .map(|n| format!("digest-{}", n.key))
            .unwrap_or_else(|| "digest".to_owned());
        Notification {
            key,
            status: items.first().map_or(AlertStatus::Firing, |n| n.status),
            severity,
            title: format!(
                "[DIGEST:{severity}] {} notifications merged: the channel is over its delivery budget",
                items.len()
            ),
            alerts,
            escalation_level: items.iter().map(|n| n.escalation_level).max().unwrap_or(0),
            digest: true,
            diagnostics: items.iter().find_map(|n| n.diagnostics.clone()),
            snapshot: items.iter().find_map(|n| n.snapshot.clone()),
            created_at: now,
        }
    }
}

/// The most severe of `severities`; WARNING when there are none.
pub(crate) fn highest_severity(severities: impl Iterator<Item = AlertSeverity>) -> AlertSeverity {
    severities.max().unwrap_or(AlertSeverity::Warning)
}

/// When the first of `alerts` started, in milliseconds since the Unix epoch (0 with none): part
/// of a notification's key.
pub(crate) fn first_start_millis(alerts: &[NotifiedAlert]) -> u128 {
    alerts
        .first()
        .map(|a| {
            a.starts_at
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
        })
        .unwrap_or_default()
}
