//! Open alerts as the API shows them, and acknowledging them, through the system's alert
//! manager when alerting is enabled.

use andon::AndonSystem;
use serde::{Deserialize, Serialize};

/// One open (pending or firing) alert, as `GET /v1/alerts` and `GET /v1/board` list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// The alert's fingerprint: what `POST /v1/alerts/{fingerprint}/ack` takes.
    pub fingerprint: String,
    /// The rule that raised it.
    pub rule: String,
    /// `pending` or `firing`.
    pub state: String,
    /// The rule's severity (`info`, `warning`, `critical`).
    pub severity: String,
    /// The component (board station) it is about, when its labels name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// One line: what is wrong.
    pub summary: String,
    /// Since when it is open, RFC 3339.
    pub since: String,
    /// Occurrences since it opened.
    pub count: u64,
    /// Who acknowledged it, with their note; absent while unacknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// Whether a silence mutes it.
    #[serde(default)]
    pub silenced: bool,
    /// The trace or correlation id of the signal that fired it, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// `trace_id` in the trace UI (`[tracer] ui_url`): `<ui_url>/trace/<mapped W3C id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// What acknowledging an alert did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ack {
    /// This many alerts were acknowledged.
    Done(usize),
    /// No open alert has this fingerprint.
    Unknown(String),
    /// Alerting is not enabled in this agent.
    Disabled,
}

/// The open alerts, or `None` when alerting is not enabled.
pub(crate) fn open(system: &AndonSystem) -> Option<Vec<AlertView>> {
    #[cfg(feature = "full")]
    {
        let ui_url = system.config().tracer.ui_url.as_deref();
        system.alerts().map(|manager| {
            manager
                .open_alerts()
                .iter()
                .map(|a| view(a, ui_url))
                .collect()
        })
    }
    #[cfg(not(feature = "full"))]
    {
        let _ = system;
        None
    }
}

/// Acknowledges the open alerts with `fingerprint`.
pub(crate) fn acknowledge(system: &AndonSystem, fingerprint: &str, by: &str) -> Ack {
    #[cfg(feature = "full")]
    {
        let Some(manager) = system.alerts() else {
            return Ack::Disabled;
        };
        match manager.acknowledge(fingerprint, by, "") {
            Ok(n) => Ack::Done(n),
            Err(error) => Ack::Unknown(error.to_string()),
        }
    }
    #[cfg(not(feature = "full"))]
    {
        let _ = (system, fingerprint, by);
        Ack::Disabled
    }
}

#[cfg(feature = "full")]
pub(crate) fn view(alert: &andon::alert::OpenAlert, ui_url: Option<&str>) -> AlertView {
    AlertView {
        fingerprint: alert.fingerprint.clone(),
        rule: alert.rule.clone(),
        state: match alert.state {
            andon::alert::AlertState::Pending => "pending",
            andon::alert::AlertState::Firing => "firing",
            andon::alert::AlertState::Inactive => "inactive",
        }
        .to_owned(),
        severity: alert.severity.as_str().to_owned(),
        component: alert.labels.get("component").cloned(),
        summary: alert.summary.clone(),
        since: humantime::format_rfc3339_millis(alert.since).to_string(),
        count: alert.count,
        acknowledged_by: alert.acknowledged_by.clone(),
        silenced: alert.silenced,
        trace_id: alert.trace_id.clone(),
        trace_url: alert
            .trace_id
            .as_deref()
            .zip(ui_url)
            .map(|(trace, ui_url)| andon::core::trace_url(ui_url, trace)),
    }
}
