//! The body of `POST /v1/signals`, read into the signal it raises: each field checked in turn
//! for its type, length and (`timestamp`, against the agent's clock) value, and named when it
//! is wrong.
//!
//! A body is read once straight into its fields ([`Typed`], no JSON value in between), which
//! is how every well-formed body is read. A body that read does not take (a field of the wrong
//! type, an unknown or repeated field, not an object) or whose fields are refused is read again
//! as a JSON object ([`Map`]), field by field, so that the error names the field at fault. Both
//! reads go through the same checks ([`read`]), in the same order, so they agree on every body
//! the first one takes.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use andon::{AndonSignal, Color};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{
    ApiError, MAX_ATTRIBUTES, MAX_CLOCK_SKEW, MAX_MESSAGE_CHARS, MAX_NAME_CHARS,
    RECEIVED_AT_ATTRIBUTE, checked, kind, object, only_known, string,
};
use crate::api::NewSignal;

const SIGNAL_FIELDS: &[&str] = &[
    "color",
    "message",
    "component",
    "trace_id",
    "attributes",
    "timestamp",
];
const SIGNAL_EXAMPLE: &str = r#"{"color":"red","message":"queue overflow","component":"queue"}"#;

/// Reads the body of `POST /v1/signals`, received at `now`. A `timestamp` more than
/// [`MAX_CLOCK_SKEW`] from `now` is refused; one within it is kept, with `now` beside it in the
/// [`RECEIVED_AT_ATTRIBUTE`] attribute.
pub(crate) fn signal(body: &[u8], now: SystemTime) -> Result<AndonSignal, ApiError> {
    let (new, time) = new_signal(body, now)?;
    Ok(to_signal(new, time, now))
}

/// The body read into a [`NewSignal`], with the time its `timestamp` names (read once): read
/// typed when it can be, else as a JSON object for an error that names the field.
fn new_signal(body: &[u8], now: SystemTime) -> Result<(NewSignal, Option<SystemTime>), ApiError> {
    if let Ok(mut typed) = serde_json::from_slice::<Typed>(body)
        && let Ok(read) = read(&mut typed, now)
    {
        return Ok(read);
    }
    let mut map = object(body, false, SIGNAL_EXAMPLE)?;
    only_known(&map, SIGNAL_FIELDS)?;
    read(&mut map, now)
}

/// A string field of a signal body and its rule: whether it must be there, and its longest
/// length in characters.
#[derive(Debug, Clone, Copy)]
struct Text {
    field: &'static str,
    required: bool,
    max: usize,
}

impl Text {
    /// A field that must be there, of at most `max` characters.
    const fn required(field: &'static str, max: usize) -> Text {
        Text {
            field,
            required: true,
            max,
        }
    }

    /// A field that may be absent or null, of at most `max` characters.
    const fn optional(field: &'static str, max: usize) -> Text {
        Text {
            required: false,
            ..Text::required(field, max)
        }
    }
}

const COLOR: Text = Text::required("color", 16);
const MESSAGE: Text = Text::required("message", MAX_MESSAGE_CHARS);
const COMPONENT: Text = Text::optional("component", MAX_NAME_CHARS);
const TRACE_ID: Text = Text::optional("trace_id", MAX_NAME_CHARS);
const TIMESTAMP: Text = Text::optional("timestamp", 64);

/// Where [`read`] takes a signal body's fields from; each field is taken once, moved out.
trait Fields {
    /// The string field `text` names (`None`: absent or null), checked as [`checked`] does.
    fn text(&mut self, text: Text) -> Result<Option<String>, ApiError>;
    /// The `attributes` object, empty when absent or null.
    fn attributes(&mut self) -> Result<BTreeMap<String, Value>, ApiError>;
}

/// A signal body read straight into its fields: every field optional here, so that a missing
/// one is refused by the same check as in the JSON object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Typed {
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, Value>>,
}

impl Fields for Typed {
    fn text(&mut self, text: Text) -> Result<Option<String>, ApiError> {
        let value = match text.field {
            "color" => self.color.take(),
            "message" => self.message.take(),
            "component" => self.component.take(),
            "trace_id" => self.trace_id.take(),
            "timestamp" => self.timestamp.take(),
            _ => None,
        };
        checked(text.field, value, text.required, text.max)
    }

    fn attributes(&mut self) -> Result<BTreeMap<String, Value>, ApiError> {
        Ok(self.attributes.take().unwrap_or_default())
    }
}

impl Fields for Map<String, Value> {
    fn text(&mut self, text: Text) -> Result<Option<String>, ApiError> {
        string(self, text.field, text.required, text.max)
    }

    fn attributes(&mut self) -> Result<BTreeMap<String, Value>, ApiError> {
        match self.remove("attributes") {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(attributes)) => Ok(attributes.into_iter().collect()),
            Some(other) => Err(ApiError::field(
                "attributes",
                format!(
                    "must be an object such as {{\"queue\":\"default\"}}, not {}",
                    kind(&other)
                ),
            )),
        }
    }
}

/// The signal body's fields, checked in turn (color, message, component, trace id, timestamp,
/// attributes) and moved into a [`NewSignal`], not copied.
fn read(
    fields: &mut impl Fields,
    now: SystemTime,
) -> Result<(NewSignal, Option<SystemTime>), ApiError> {
    let color = match fields.text(COLOR)? {
        Some(text) => text.parse::<Color>().map_err(|_| {
            ApiError::field(
                "color",
                format!("`{text}` is not a color: use red, yellow or green"),
            )
        })?,
        None => return Err(ApiError::field("color", "is required")),
    };
    let message = fields.text(MESSAGE)?.unwrap_or_default();
    let component = fields.text(COMPONENT)?;
    let trace_id = fields.text(TRACE_ID)?;
    let timestamp = fields.text(TIMESTAMP)?;
    let time = match &timestamp {
        Some(text) => Some(received_in_time(text, now)?),
        None => None,
    };
    let attributes = fields.attributes()?;
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ApiError::field(
            "attributes",
            format!(
                "has {} entries, more than the {MAX_ATTRIBUTES} allowed",
                attributes.len()
            ),
        ));
    }
    if attributes.keys().any(|key| {
        key.is_empty() || (key.len() > MAX_NAME_CHARS && key.chars().count() > MAX_NAME_CHARS)
    }) {
        return Err(ApiError::field(
            "attributes",
            format!("keys must have 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let new = NewSignal {
        color,
        message,
        component,
        trace_id,
        timestamp,
        attributes,
    };
    Ok((new, time))
}

/// The time a signal's `timestamp` names, when it is within [`MAX_CLOCK_SKEW`] of `now`.
fn received_in_time(text: &str, now: SystemTime) -> Result<SystemTime, ApiError> {
    let time = andon::core::rfc3339::parse(text).map_err(|e| ApiError::field("timestamp", e))?;
    let skew = time
        .duration_since(now)
        .or_else(|_| now.duration_since(time))
        .unwrap_or(Duration::MAX);
    if skew > MAX_CLOCK_SKEW {
        return Err(ApiError::field(
            "timestamp",
            format!(
                "`{text}` is {}s from the agent's clock, more than the {}s allowed: send the time the problem happened from a synchronized clock, or leave timestamp out",
                skew.as_secs(),
                MAX_CLOCK_SKEW.as_secs()
            ),
        ));
    }
    Ok(time)
}

/// The signal a checked [`NewSignal`] raises, received at `now`; `time` is the time its
/// `timestamp` names.
fn to_signal(new: NewSignal, time: Option<SystemTime>, now: SystemTime) -> AndonSignal {
    let mut signal = AndonSignal::new(new.color, new.message);
    if let Some(component) = new.component {
        signal = signal.with_component(component);
    }
    if let Some(trace_id) = new.trace_id {
        signal = signal.with_trace_id(trace_id);
    }
    if let Some(time) = time {
        signal = signal.with_timestamp(time).with_attribute(
            RECEIVED_AT_ATTRIBUTE,
            Value::String(humantime::format_rfc3339_millis(now).to_string()),
        );
    }
    for (key, value) in new.attributes {
        signal = signal.with_attribute(key, value);
    }
    signal
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body read only field by field, as JSON object.
    fn by_field(body: &[u8], now: SystemTime) -> Result<(NewSignal, Option<SystemTime>), ApiError> {
        let mut map = object(body, false, SIGNAL_EXAMPLE)?;
        only_known(&map, SIGNAL_FIELDS)?;
        read(&mut map, now)
    }

    #[test]
    fn both_reads_agree_on_every_body() {
        let now = andon::core::rfc3339::parse("2026-11-26T23:42:00Z").unwrap();
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let many: Vec<String> = (0..=MAX_ATTRIBUTES)
            .map(|i| format!("\"k{i}\":1"))
            .collect();
        let bodies = [
            r#"{"color":"yellow","message":"queue slow","component":"queue","attributes":{"depth":150}}"#.to_owned(),
            r#"{"color":" RED ","message":"m","trace_id":"t-1","timestamp":"2026-11-26T23:41:07.5Z"}"#.to_owned(),
            r#"{"color":"red","message":"m","component":null,"attributes":null}"#.to_owned(),
            r#"{"color":"red","message":"m\u00e9\n","attributes":{"a":{"b":[1,null]},"a":2}}"#.to_owned(),
            r#"{"color":"red","message":"m","color":"green"}"#.to_owned(),
            r#"{"color":"red               x","message":"m"}"#.to_owned(),
            r#"{"color":"blue","message":"m"}"#.to_owned(),
            r#"{"color":"red"}"#.to_owned(),
            r#"{"color":null,"message":"m"}"#.to_owned(),
            r#"{"color":"red","message":" "}"#.to_owned(),
            r#"{"color":"red","message":"m","component":5}"#.to_owned(),
            r#"{"color":"red","message":"m","colour":"red"}"#.to_owned(),
            r#"{"color":"red","message":"m","timestamp":"1970-01-01T00:00:00Z"}"#.to_owned(),
            r#"{"color":"red","message":"m","attributes":[1]}"#.to_owned(),
            r#"{"color":"red","message":"m","attributes":{"":1}}"#.to_owned(),
            format!(r#"{{"color":"red","message":"m","component":"{long}"}}"#),
            format!(r#"{{"color":"red","message":"m","attributes":{{{}}}}}"#, many.join(",")),
            "[1]".to_owned(),
            " ".to_owned(),
            r#"{"color":"red","message":"m"} x"#.to_owned(),
        ];
        for body in bodies {
            let (ours, theirs) = (
                new_signal(body.as_bytes(), now),
                by_field(body.as_bytes(), now),
            );
            assert_eq!(ours, theirs, "{body}");
        }
    }
}
