//! The heartbeat endpoints: `POST /v1/heartbeats/{name}` (a check-in, body `{"status":
//! "success"|"start"|"fail", "message": "…"}`, both optional) and `GET /v1/heartbeats` (every
//! heartbeat with its state, last check-in and next due time).

use std::collections::BTreeMap;

use andon::{HeartbeatError, HeartbeatStatus};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::api::{CheckIn, HeartbeatList, HeartbeatView, UnknownHeartbeat};
use crate::request::{self, ApiError, MAX_MESSAGE_CHARS};
use crate::server::{Ctx, authorize, body};

/// The fields a check-in body may have.
const FIELDS: &[&str] = &["status", "message", "attributes"];

/// At most this many attributes on one check-in, and this many bytes of them as JSON.
const MAX_ATTRIBUTES: usize = 32;
const MAX_ATTRIBUTE_BYTES: usize = 16 * 1024;

/// `GET /v1/heartbeats`: every configured heartbeat with its state and when it is next due.
pub(crate) async fn list(State(state): State<Ctx>) -> Json<HeartbeatList> {
    Json(HeartbeatList {
        heartbeats: state.system.heartbeats(),
    })
}

/// `POST /v1/heartbeats/{name}`: a job's check-in (`success`, `start` or `fail`).
pub(crate) async fn check_in(
    State(state): State<Ctx>,
    headers: HeaderMap,
    Path(name): Path<String>,
    raw: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let check_in = read(&body(&state, raw).await?)?;
    let attributes = check_in.attributes.into_iter().collect();
    match state
        .system
        .check_in_with(&name, check_in.status, check_in.message.as_deref(), attributes)
        .await
    {
        Ok(view) => Ok(Json::<HeartbeatView>(view).into_response()),
        Err(HeartbeatError::Unknown { name, known }) => Ok((
            StatusCode::NOT_FOUND,
            Json(UnknownHeartbeat {
                error: format!(
                    "no heartbeat is named `{name}`: add a [[heartbeats]] entry for it, or set [agent] heartbeats_auto = true (known: {})",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                ),
                known,
            }),
        )
            .into_response()),
        Err(HeartbeatError::BadName(message)) => Err(ApiError::field("name", message)),
        Err(error @ HeartbeatError::TooMany { .. }) => {
            Err(ApiError::new(StatusCode::CONFLICT, error.to_string()))
        }
        Err(HeartbeatError::ShutDown) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is shutting down: check in again once it is back",
        )),
        Err(other) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            other.to_string(),
        )),
    }
}

/// Reads a check-in body: empty or `{}` is a success.
fn read(body: &[u8]) -> Result<CheckIn, ApiError> {
    const EXAMPLE: &str = r#"{"status":"fail","message":"exit 3"}"#;
    // Empty (or `{}`) is a success.
    let map = request::object(body, true, EXAMPLE)?;
    request::only_known(&map, FIELDS)?;
    let status = match map.get("status") {
        None | Some(Value::Null) => HeartbeatStatus::Success,
        Some(Value::String(s)) => {
            s.parse()
                .map_err(|e: andon::core::heartbeat::ParseHeartbeatStatusError| {
                    ApiError::field("status", e.to_string())
                })?
        }
        Some(_) => {
            return Err(ApiError::field(
                "status",
                "must be a string: \"success\", \"start\" or \"fail\"",
            ));
        }
    };
    let message = match map.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() > MAX_MESSAGE_CHARS => {
            return Err(ApiError::field(
                "message",
                format!("is longer than {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ApiError::field("message", "must be a string")),
    };
    let attributes = match map.get("attributes") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(attributes)) => {
            if attributes.len() > MAX_ATTRIBUTES {
                return Err(ApiError::field(
                    "attributes",
                    format!("has more than {MAX_ATTRIBUTES} entries"),
                ));
            }
            let bytes = serde_json::to_vec(attributes).map_or(usize::MAX, |b| b.len());
            if bytes > MAX_ATTRIBUTE_BYTES {
                return Err(ApiError::field(
                    "attributes",
                    format!("is larger than {MAX_ATTRIBUTE_BYTES} bytes as JSON"),
                ));
            }
            attributes.clone().into_iter().collect()
        }
        Some(_) => {
            return Err(ApiError::field(
                "attributes",
                "must be a JSON object, such as {\"exit_code\": 3}",
            ));
        }
    };
    Ok(CheckIn {
        status,
        message,
        attributes,
    })
}

/// `andon ping NAME [--start|--fail] [-m MESSAGE]`: prints the heartbeat's state and next due
/// time.
pub(crate) async fn ping(
    client: &crate::client::Client,
    name: &str,
    start: bool,
    fail: bool,
    message: Option<String>,
) -> Result<u8, crate::error::AgentError> {
    let status = match (start, fail) {
        (true, _) => HeartbeatStatus::Start,
        (_, true) => HeartbeatStatus::Fail,
        _ => HeartbeatStatus::Success,
    };
    let check_in = CheckIn {
        message,
        ..CheckIn::new(status)
    };
    let view = client.check_in(name, &check_in).await?;
    let next_due = view.next_due.map_or_else(
        || "-".to_owned(),
        |t| humantime::format_rfc3339_nanos(t).to_string(),
    );
    println!(
        "{name}: {} ({status}), next due {next_due}",
        view.state.as_str()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_read_as_check_ins() {
        let success = CheckIn::new(HeartbeatStatus::Success);
        assert_eq!(read(b"").unwrap(), success);
        assert_eq!(read(b"{}").unwrap(), success);
        assert_eq!(
            read(br#"{"status":"fail","message":"exit 3","attributes":{"exit_code":3}}"#).unwrap(),
            CheckIn {
                status: HeartbeatStatus::Fail,
                message: Some("exit 3".to_owned()),
                attributes: [("exit_code".to_owned(), serde_json::json!(3))].into(),
            }
        );
        assert_eq!(
            read(br#"{"attributes":[1]}"#).unwrap_err().field.as_deref(),
            Some("attributes")
        );
        assert_eq!(
            read(br#"{"status":"start"}"#).unwrap().status,
            HeartbeatStatus::Start
        );
        assert_eq!(
            read(br#"{"status":"done"}"#).unwrap_err().field.as_deref(),
            Some("status")
        );
        assert_eq!(
            read(br#"{"when":1}"#).unwrap_err().field.as_deref(),
            Some("when")
        );
        assert_eq!(
            read(br#"{"message":3}"#).unwrap_err().field.as_deref(),
            Some("message")
        );
        assert!(read(b"[1]").unwrap_err().message.contains("JSON object"));
    }
}
