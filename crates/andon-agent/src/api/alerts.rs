//! `GET /v1/alerts` and `POST /v1/alerts/{fingerprint}/ack`; [`AlertView`] is also how
//! `GET /v1/board` and the event stream show an alert.

use serde::{Deserialize, Serialize};

/// One open (pending or firing) alert, as `GET /v1/alerts`, `GET /v1/board` and the `alerts`
/// event list it. The agent's view of the alert manager's open alert: labels reduced to the
/// component, times as RFC 3339, the trace id linked to the trace UI.
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

/// The answer to `GET /v1/alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertList {
    /// Whether alerting is enabled in this agent (`[alerts]` rules); `false` means no alert can
    /// be known, not that all is clear.
    pub alerting: bool,
    /// The open alerts (empty when alerting is off).
    pub alerts: Vec<AlertView>,
}

/// The body of `POST /v1/alerts/{fingerprint}/ack` (optional; an empty body is allowed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Who acknowledges (at most 256 characters); absent: `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The answer to `POST /v1/alerts/{fingerprint}/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    /// How many open alerts were acknowledged.
    pub acknowledged: usize,
    /// The fingerprint (or rule) acknowledged.
    pub fingerprint: String,
}
