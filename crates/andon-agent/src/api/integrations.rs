//! What the agent replies to a verified `POST /v1/integrations/pagerduty` or `/slack`.

use serde::{Deserialize, Serialize};

/// The reply to a verified PagerDuty v3 webhook: what andon did with the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagerDutyReply {
    /// Whether andon acted (acknowledged an alert); `false` for events it only logs or ignores.
    pub acted: bool,
    /// The event's type, such as `incident.acknowledged`.
    pub event_type: String,
    /// The andon alert the incident is about (its `incident_key`), when it names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Who PagerDuty says acted, as andon records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// For `incident.resolved`: always `false`, andon resolves the alert when its rule stops
    /// matching.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
    /// For `incident.reassigned`: the new assignees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignees: Option<Vec<String>>,
    /// One line for people: what andon did, or why nothing.
    pub message: String,
}

/// The reply to a verified Slack button press, shown to the user who pressed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackReply {
    /// Whether andon acted (acknowledged, resumed).
    pub acted: bool,
    /// Who Slack says pressed the button, as andon records it; absent for an unknown button.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What happened, for the user.
    pub text: String,
    /// Always `ephemeral`: only the user who pressed sees it.
    pub response_type: String,
    /// Always `false`: the notification stays as it was.
    pub replace_original: bool,
}
