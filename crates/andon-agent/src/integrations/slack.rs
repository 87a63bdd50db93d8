//! `POST /v1/integrations/slack`: the Slack app's interactivity Request URL, for the
//! *Acknowledge* and *Resume the line* buttons andon's Slack notifications carry.
//!
//! Verified as Slack documents it: `X-Slack-Request-Timestamp` within five minutes of this
//! clock, and `X-Slack-Signature` = `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`
//! under the app's signing secret. The body is `application/x-www-form-urlencoded` with one
//! field, `payload`, the JSON of a `block_actions` interaction.
//!
//! - `andon_ack`, `andon_ack_1`, ... (value: the alert's fingerprint): andon's alert is acknowledged by the Slack
//!   user; it stops escalating.
//! - `andon_resume`: the line resumes, recorded as resumed by the Slack user.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

use super::{Outcome, Provider, check_fresh, hmac_hex, refuse, same, secret_of};
use crate::api::SlackReply;
use crate::request::ApiError;
use crate::server::AgentState;

const PROVIDER: Provider = Provider::Slack;

/// The `action_id` of the *Acknowledge* button, or its prefix (`andon_ack_1`, ... when a message
/// has several); its `value` is the alert's fingerprint.
pub(crate) const ACK_ACTION: &str = "andon_ack";
/// The `action_id` of the *Resume the line* button.
pub(crate) const RESUME_ACTION: &str = "andon_resume";

/// How long the reply waits for the resume to finish (Slack wants an answer within 3 s); past
/// it, the resume goes on and the reply says it is under way.
const RESUME_WAIT: Duration = Duration::from_millis(2_000);

/// The handler: verify, then map the button to andon's acknowledgement or resume.
pub(super) async fn interaction(
    State(state): State<Arc<AgentState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SlackReply>, ApiError> {
    let secret = secret_of(&state, PROVIDER)?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
    ) else {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Unsigned,
            "no X-Slack-Request-Timestamp or X-Slack-Signature header: only signed Slack requests are taken",
        ));
    };
    let expected = hmac_hex(&secret, &[b"v0:", timestamp.as_bytes(), b":", &body])
        .map(|hex| format!("v0={hex}"))
        .unwrap_or_default();
    if expected.is_empty() || !same(signature.trim(), &expected) {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Forged,
            "the X-Slack-Signature does not match the request under [agent] slack_signing_secret: not acted on",
        ));
    }
    let Ok(signed_at) = timestamp.trim().parse::<u64>() else {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Stale,
            "X-Slack-Request-Timestamp is not Unix seconds: not acted on",
        ));
    };
    check_fresh(&state, PROVIDER, signed_at, expected)?;
    let payload = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
        .ok()
        .and_then(|fields| fields.into_iter().find(|(k, _)| k == "payload"))
        .and_then(|(_, json)| serde_json::from_str::<Value>(&json).ok());
    let Some(payload) = payload else {
        return Err(refuse(
            &state,
            PROVIDER,
            Outcome::Malformed,
            "the body is not a form with a JSON `payload`: point the Slack app's Interactivity Request URL here",
        ));
    };
    state.webhooks.count(PROVIDER, Outcome::Accepted);
    Ok(Json(act(&state, &payload).await))
}

/// Who did it: the Slack user, as andon records it.
fn who(payload: &Value) -> String {
    let user = &payload["user"];
    let name = user["username"]
        .as_str()
        .or_else(|| user["name"].as_str())
        .unwrap_or("someone");
    let name: String = name.chars().filter(|c| !c.is_control()).take(80).collect();
    match user["id"].as_str() {
        Some(id) => format!(
            "@{name} ({} on Slack)",
            id.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(20)
                .collect::<String>()
        ),
        None => format!("@{name} (Slack)"),
    }
}

/// The reply Slack shows only to the user who pressed the button.
fn reply(acted: bool, by: Option<String>, text: String) -> SlackReply {
    SlackReply {
        acted,
        by,
        text,
        response_type: "ephemeral".to_owned(),
        replace_original: false,
    }
}

async fn act(state: &Arc<AgentState>, payload: &Value) -> SlackReply {
    let by = who(payload);
    let action = payload["actions"]
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(Value::Null);
    let id = action["action_id"].as_str();
    match id
        .filter(|id| id.starts_with(ACK_ACTION))
        .map_or(id, |_| Some(ACK_ACTION))
    {
        Some(ACK_ACTION) => {
            let fingerprint: String = action["value"]
                .as_str()
                .unwrap_or("")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(64)
                .collect();
            let (acted, message) = super::acknowledge(state, &fingerprint, &by);
            if acted {
                super::log(state, PROVIDER, &message, &by);
            }
            reply(acted, Some(by), message)
        }
        Some(RESUME_ACTION) => {
            let task_state = Arc::clone(state);
            let task_by = by.clone();
            let resume = tokio::spawn(async move {
                task_state
                    .system
                    .resume_line(&task_by, Some("from Slack"))
                    .await
            });
            let (acted, text) = match tokio::time::timeout(RESUME_WAIT, resume).await {
                Ok(Ok(Ok(true) | Err(andon::SignalError::Partial { .. }))) => {
                    (true, format!("the line resumed, by {by}"))
                }
                Ok(Ok(Ok(false))) => (false, "the line was running: nothing to resume".to_owned()),
                Ok(Ok(Err(error))) => (false, format!("the line did not resume: {error}")),
                Ok(Err(_)) => (
                    false,
                    "the line did not resume: the resume failed".to_owned(),
                ),
                Err(_) => (true, format!("the line is resuming, by {by}")),
            };
            reply(acted, Some(by), text)
        }
        other => reply(
            false,
            None,
            format!(
                "andon has no button `{}`: nothing to do",
                other.unwrap_or("")
            ),
        ),
    }
}
