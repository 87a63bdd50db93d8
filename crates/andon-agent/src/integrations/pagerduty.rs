//! `POST /v1/integrations/pagerduty`: PagerDuty v3 webhooks.
//!
//! Verified as PagerDuty documents it: `X-PagerDuty-Signature` holds one or more
//! comma-separated `v1=<hex>` signatures, each the HMAC-SHA256 of the raw body under a
//! subscription secret; one must match. The event's `occurred_at` must be inside the replay
//! window and its `id` new. The incident's `incident_key` is the `dedup_key` andon sent, the
//! alert's fingerprint (see andon-alert's PagerDuty channel).
//!
//! - `incident.acknowledged`: andon's alert is acknowledged by the PagerDuty user; it stops
//!   escalating.
//! - `incident.resolved`: the alert is acknowledged too, but stays open while its condition
//!   holds (andon resolves it when the rule stops matching); the reply says so.
//! - `incident.reassigned`: written to andon's log with the new assignees; nothing else changes.
//! - Any other event type (`pagey.ping`, ...) is answered 200 and not acted on.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use super::{Outcome, Provider, check_fresh, hmac_hex, refuse, same, secret_of};
use crate::api::PagerDutyReply;
use crate::request::ApiError;
use crate::server::AgentState;

const PROVIDER: Provider = Provider::PagerDuty;

/// The handler: verify, then map the event to andon's acknowledgement.
pub(super) async fn webhook(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PagerDutyReply>, ApiError> {
    let secret = secret_of(&state, PROVIDER)?;
    let Some(signatures) = headers
        .get("x-pagerduty-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Unsigned,
            "no X-PagerDuty-Signature header: only signed PagerDuty v3 webhooks are taken",
        ));
    };
    let expected = hmac_hex(&secret, &[&body]).unwrap_or_default();
    let verified = !expected.is_empty()
        && signatures
            .split(',')
            .filter_map(|s| s.trim().strip_prefix("v1="))
            .fold(false, |any, given| any | same(given, &expected));
    if !verified {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Forged,
            "the X-PagerDuty-Signature does not match the body under [agent] pagerduty_webhook_secret: not acted on",
        ));
    }
    let payload: Value = serde_json::from_slice(&body).map_err(|e| {
        refuse(
            &state,
            PROVIDER,
            Outcome::Malformed,
            format!(
                "the body is not JSON ({e}): a PagerDuty v3 webhook carries {{\"event\": ...}}"
            ),
        )
    })?;
    let event = &payload["event"];
    let signed_at = event["occurred_at"]
        .as_str()
        .and_then(|t| andon::core::rfc3339::parse(t).ok())
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let Some(signed_at) = signed_at else {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Malformed,
            "the event has no RFC 3339 `occurred_at`: a PagerDuty v3 webhook carries event.occurred_at",
        ));
    };
    let id = event["id"]
        .as_str()
        .map_or_else(|| expected.clone(), str::to_owned);
    check_fresh(&state, PROVIDER, signed_at, id)?;
    state.webhooks.count(PROVIDER, Outcome::Accepted);
    Ok(Json(act(&state, event)))
}

/// Who did it: the event's agent (a PagerDuty user), as andon records it.
fn who(event: &Value) -> String {
    let name = event["agent"]["summary"]
        .as_str()
        .or_else(|| event["agent"]["id"].as_str())
        .unwrap_or("someone");
    format!("{} (PagerDuty)", printable(name))
}

/// At most 100 printable characters of provider text.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(100).collect()
}

fn act(state: &AgentState, event: &Value) -> PagerDutyReply {
    let kind = event["event_type"].as_str().unwrap_or("");
    let data = &event["data"];
    let key = data["incident_key"]
        .as_str()
        .or_else(|| data["dedup_key"].as_str())
        .map(printable);
    let by = who(event);
    let reply = |acted: bool, message: String| PagerDutyReply {
        acted,
        event_type: kind.to_owned(),
        fingerprint: None,
        by: None,
        resolved: None,
        assignees: None,
        message,
    };
    let Some(key) = key.filter(|_| kind.starts_with("incident.")) else {
        return reply(
            false,
            "not an incident event of andon's: nothing to do".to_owned(),
        );
    };
    // A reply about andon's alert `key`; `from_them` also names who PagerDuty says acted.
    let about = |acted: bool, message: String| PagerDutyReply {
        fingerprint: Some(key.clone()),
        ..reply(acted, message)
    };
    let from_them = |acted: bool, message: String| PagerDutyReply {
        by: Some(by.clone()),
        ..about(acted, message)
    };
    match kind {
        "incident.acknowledged" => {
            let (acted, message) = super::acknowledge(state, &key, &by);
            if acted {
                super::log(state, PROVIDER, &message, &by);
            }
            from_them(acted, message)
        }
        "incident.resolved" => {
            if !super::is_open(state, &key) {
                let message = format!("the andon alert {key} is not open: nothing to do");
                return about(false, message);
            }
            let (acted, _) = super::acknowledge(state, &key, &by);
            let message = format!(
                "the andon alert {key} stays open: its condition still holds, and andon resolves it when the rule stops matching; it is acknowledged by {by} and stops escalating"
            );
            super::log(state, PROVIDER, &message, &by);
            PagerDutyReply {
                resolved: Some(false),
                ..from_them(acted, message)
            }
        }
        "incident.reassigned" => {
            let to: Vec<String> = data["assignees"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x["summary"].as_str().map(printable))
                        .collect()
                })
                .unwrap_or_default();
            let message = format!(
                "the PagerDuty incident of andon alert {key} was reassigned to {} by {by}",
                if to.is_empty() {
                    "someone".to_owned()
                } else {
                    to.join(", ")
                }
            );
            super::log(state, PROVIDER, &message, &by);
            PagerDutyReply {
                assignees: Some(to),
                ..from_them(false, message)
            }
        }
        _ => about(false, "andon does not act on this event type".to_owned()),
    }
}
