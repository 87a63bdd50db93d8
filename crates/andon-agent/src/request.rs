//! Reading what clients send: request bodies and query strings, checked field by field so that
//! a bad request gets a 400 naming the field and saying what is allowed.

use std::collections::BTreeMap;
use std::time::Duration;

use andon::Color;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::api::{AckRequest, ErrorBody, ResumeRequest};

mod signal;

pub(crate) use signal::signal;

/// The largest request body the API reads, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The longest signal message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// The longest component name, trace id, `by` or fingerprint, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The most attributes one signal may carry.
pub const MAX_ATTRIBUTES: usize = 64;
/// The most signals `GET /v1/signals` returns.
pub const MAX_LIMIT: usize = 1000;
/// How far a signal's `timestamp` may be from the agent's clock; further is refused.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
/// The attribute that holds the agent's receive time of a signal sent with its own `timestamp`.
pub const RECEIVED_AT_ATTRIBUTE: &str = "andon.received_at";
/// Who resumed or acknowledged, when the request does not say.
pub(crate) const DEFAULT_BY: &str = "api";

/// An API error: an HTTP status and a JSON body `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
    /// Close the connection after the answer (the request was not read whole).
    pub(crate) close: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
            close: false,
        }
    }

    /// A 400 about one field.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!("{field}: {}", message.into()),
            field: Some(field.to_owned()),
            close: false,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// The same error, answered with `Connection: close`.
    pub(crate) fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
            field: self.field,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"andon\""),
            );
        }
        if self.close {
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

/// The body as a JSON object; an empty body is an empty object when `empty_ok`.
pub(crate) fn object(
    body: &[u8],
    empty_ok: bool,
    example: &str,
) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(Map::new())
        } else {
            Err(ApiError::bad_request(format!(
                "the request body is empty: send a JSON object such as {example}"
            )))
        };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(format!(
            "the request body must be a JSON object such as {example}"
        ))),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not valid JSON ({e}): send an object such as {example}"
        ))),
    }
}

/// Refuses a body with a field not in `allowed`, naming it and listing the allowed ones.
pub(crate) fn only_known(map: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::field(
            unknown,
            format!("unknown field: allowed fields are {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// An optional string field of at most `max` characters, taken out of `map` (each field is read
/// once); `required` makes it mandatory and non-blank.
fn string(
    map: &mut Map<String, Value>,
    field: &str,
    required: bool,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match map.remove(field) {
        None | Some(Value::Null) => checked(field, None, required, max),
        Some(Value::String(s)) => checked(field, Some(s), required, max),
        Some(other) => Err(ApiError::field(
            field,
            format!("must be a string, not {}", kind(&other)),
        )),
    }
}

/// A string field's value (`None`: absent or null) when it is allowed: present if `required`,
/// not blank, at most `max` characters.
fn checked(
    field: &str,
    value: Option<String>,
    required: bool,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match value {
        None if required => Err(ApiError::field(field, "is required")),
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Err(ApiError::field(field, "must not be empty")),
        // A string of at most `max` bytes has at most `max` characters: count only longer ones.
        Some(s) if s.len() > max && s.chars().count() > max => Err(ApiError::field(
            field,
            format!("is longer than {max} characters"),
        )),
        Some(s) => Ok(Some(s)),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads the body of `POST /v1/line/resume` (empty is allowed: resumed by [`DEFAULT_BY`]).
pub(crate) fn resume(body: &[u8]) -> Result<ResumeRequest, ApiError> {
    let mut map = object(body, true, r#"{"by":"alice","note":"queue drained"}"#)?;
    only_known(&map, &["by", "note"])?;
    Ok(ResumeRequest {
        by: string(&mut map, "by", false, MAX_NAME_CHARS)?,
        note: string(&mut map, "note", false, MAX_MESSAGE_CHARS)?,
    })
}

/// Reads the body of `POST /v1/alerts/{fingerprint}/ack` (empty is allowed).
pub(crate) fn ack(body: &[u8]) -> Result<AckRequest, ApiError> {
    let mut map = object(body, true, r#"{"by":"alice"}"#)?;
    only_known(&map, &["by"])?;
    Ok(AckRequest {
        by: string(&mut map, "by", false, MAX_NAME_CHARS)?,
    })
}

/// What a fingerprint may be, as the server and the client both check it.
pub(crate) const FINGERPRINT_RULE: &str =
    "1 to 256 letters, digits, `-`, `_`, `:` or `.` (not only dots), as `andon alerts` lists it";

/// Whether `text` can be an alert fingerprint: one path segment that no URL parser reads as
/// a path of its own ([`is_path_segment`](andon::config::is_path_segment)).
pub(crate) fn is_fingerprint(text: &str) -> bool {
    andon::config::is_path_segment(text, MAX_NAME_CHARS, &['-', '_', ':', '.'])
}

/// Checks a fingerprint from the path.
pub(crate) fn fingerprint(text: &str) -> Result<(), ApiError> {
    if is_fingerprint(text) {
        Ok(())
    } else {
        Err(ApiError::field(
            "fingerprint",
            format!("must be {FINGERPRINT_RULE}"),
        ))
    }
}

/// The query of `GET /v1/signals`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SignalQuery {
    pub(crate) limit: usize,
    pub(crate) component: Option<String>,
    pub(crate) color: Option<Color>,
}

/// Reads the query of `GET /v1/signals`: `limit` (1 to 1000, default 50), `component`, `color`.
pub(crate) fn signal_query(query: &BTreeMap<String, String>) -> Result<SignalQuery, ApiError> {
    if let Some(unknown) = query
        .keys()
        .find(|k| !matches!(k.as_str(), "limit" | "component" | "color"))
    {
        return Err(ApiError::field(
            unknown,
            "unknown query parameter: allowed are limit, component, color",
        ));
    }
    let limit = match query.get("limit") {
        None => 50,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    "limit",
                    format!("`{text}` is not a number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let color = match query.get("color") {
        None => None,
        Some(text) => Some(text.parse::<Color>().map_err(|_| {
            ApiError::field(
                "color",
                format!("`{text}` is not a color: use red, yellow or green"),
            )
        })?),
    };
    let component = match query.get("component") {
        Some(c) if c.is_empty() => return Err(ApiError::field("component", "must not be empty")),
        other => other.cloned(),
    };
    Ok(SignalQuery {
        limit,
        component,
        color,
    })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        result.unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn a_full_signal_reads_every_field() {
        let now = andon::core::rfc3339::parse("2026-11-26T23:42:00Z").unwrap();
        let s = signal(
            br#"{"color":"RED","message":"queue overflow","component":"queue","trace_id":"t-1",
                 "timestamp":"2026-11-26T23:41:07.5Z","attributes":{"depth":150}}"#,
            now,
        )
        .unwrap();
        assert_eq!(s.color(), Color::Red);
        assert_eq!(s.component(), Some("queue"));
        assert_eq!(s.trace_id(), Some("t-1"));
        assert_eq!(s.attributes()["depth"], 150);
        assert_eq!(s.timestamp_rfc3339(), "2026-11-26T23:41:07.500000000Z");
        assert_eq!(
            s.attributes()[RECEIVED_AT_ATTRIBUTE],
            "2026-11-26T23:42:00.000Z"
        );
    }

    #[test]
    fn timestamps_far_from_the_agent_clock_are_refused() {
        let now = andon::core::rfc3339::parse("2026-11-26T23:42:00Z").unwrap();
        for far in [
            "1970-01-01T00:00:00Z",
            "2026-11-26T23:36:59Z",
            "2026-11-26T23:47:01Z",
            "9999-12-31T23:59:59Z",
        ] {
            let body = format!(r#"{{"color":"red","message":"m","timestamp":"{far}"}}"#);
            let err = signal(body.as_bytes(), now).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("timestamp"), "{far}");
            assert!(err.message.contains("300s allowed"), "{err:?}");
        }
        let near = signal(
            br#"{"color":"red","message":"m","timestamp":"2026-11-26T23:46:59Z"}"#,
            now,
        )
        .unwrap();
        assert!(near.attributes().contains_key(RECEIVED_AT_ATTRIBUTE));
        let plain = signal(br#"{"color":"red","message":"m"}"#, now).unwrap();
        assert!(
            plain.attributes().is_empty(),
            "no timestamp, no receive time"
        );
    }

    #[test]
    fn each_bad_signal_field_is_named() {
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        let cases: Vec<(String, &str)> = vec![
            (r#"{"message":"m"}"#.into(), "color"),
            (r#"{"color":"blue","message":"m"}"#.into(), "color"),
            (r#"{"color":7,"message":"m"}"#.into(), "color"),
            (r#"{"color":"red"}"#.into(), "message"),
            (r#"{"color":"red","message":"  "}"#.into(), "message"),
            (
                format!(r#"{{"color":"red","message":"{long}"}}"#),
                "message",
            ),
            (
                r#"{"color":"red","message":"m","component":""}"#.into(),
                "component",
            ),
            (
                r#"{"color":"red","message":"m","trace_id":5}"#.into(),
                "trace_id",
            ),
            (
                r#"{"color":"red","message":"m","timestamp":"yesterday"}"#.into(),
                "timestamp",
            ),
            (
                r#"{"color":"red","message":"m","attributes":[1]}"#.into(),
                "attributes",
            ),
            (
                r#"{"color":"red","message":"m","colour":"red"}"#.into(),
                "colour",
            ),
        ];
        for (body, field) in cases {
            let err = signal(body.as_bytes(), SystemTime::now()).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(err.field.as_deref(), Some(field), "{body}: {err:?}");
            assert!(err.message.starts_with(&format!("{field}: ")), "{err:?}");
        }
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused_with_an_example() {
        for body in [&b""[..], b"[1]", b"{nope", b"\"red\""] {
            let err = signal(body, SystemTime::now()).unwrap_err();
            assert_eq!(err.field, None);
            assert!(err.message.contains(r#""color":"red""#), "{err:?}");
        }
    }

    #[test]
    fn resume_and_ack_bodies_may_be_empty() {
        assert_eq!(resume(b"").unwrap(), ResumeRequest::default());
        let r = resume(br#"{"by":"alice","note":"drained"}"#).unwrap();
        assert_eq!(
            (r.by.as_deref(), r.note.as_deref()),
            (Some("alice"), Some("drained"))
        );
        assert_eq!(field_of(resume(br#"{"who":"x"}"#)), "who");
        assert_eq!(field_of(resume(br#"{"by":1}"#)), "by");
        assert_eq!(ack(b"").unwrap(), AckRequest::default());
        assert_eq!(field_of(ack(br#"{"by":""}"#)), "by");
        assert!(fingerprint("a1b2-c3:d_4.e").is_ok());
        assert_eq!(field_of(fingerprint("a b")), "fingerprint");
        assert_eq!(field_of(fingerprint("")), "fingerprint");
    }

    #[test]
    fn signal_queries_are_checked() {
        let q = |pairs: &[(&str, &str)]| {
            signal_query(
                &pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
        };
        let ok = q(&[("limit", "5"), ("color", "Red"), ("component", "db")]).unwrap();
        assert_eq!(
            (ok.limit, ok.color, ok.component.as_deref()),
            (5, Some(Color::Red), Some("db"))
        );
        assert_eq!(q(&[]).unwrap().limit, 50);
        assert_eq!(field_of(q(&[("limit", "0")])), "limit");
        assert_eq!(field_of(q(&[("limit", "1001")])), "limit");
        assert_eq!(field_of(q(&[("limit", "x")])), "limit");
        assert_eq!(field_of(q(&[("color", "blue")])), "color");
        assert_eq!(field_of(q(&[("component", "")])), "component");
        assert_eq!(field_of(q(&[("colour", "red")])), "colour");
    }
}
