//! The Andon signal: one pull of the cord.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

// `crate::signal::Color` stays a path for the modules that name it so (the config sections).
pub(crate) use crate::severity::Color;
use crate::severity::LogLevel;

/// The unique id of a signal: a UUID version 7, so ids sort by creation time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SignalId(uuid::Uuid);

impl SignalId {
    /// A new id, unique and ordered by time.
    pub fn new() -> Self {
        SignalId(uuid::Uuid::now_v7())
    }

    /// The id as 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl Default for SignalId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalId({})", self.0)
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

/// The error returned when a string is not a signal id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a signal id: expected a UUID such as 0192e4a4-8f7c-7cc1-9d1b-3f0e6a1b2c3d")]
pub struct ParseSignalIdError(pub String);

impl FromStr for SignalId {
    type Err = ParseSignalIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s)
            .map(SignalId)
            .map_err(|_| ParseSignalIdError(s.to_owned()))
    }
}

/// One pull of the Andon cord: a problem (or its absence) made visible.
///
/// # JSON form
///
/// The serialized form is stable; fields are added, never renamed or removed:
///
/// ```json
/// {
///   "id": "0192e4a4-8f7c-7cc1-9d1b-3f0e6a1b2c3d",
///   "timestamp": "2026-11-26T23:41:07.123456789Z",
///   "color": "red",
///   "message": "Queue overflow - stop processing",
///   "component": "queue-handler",
///   "trace_id": "trace-123",
///   "attributes": { "queue": "default", "depth": 150 }
/// }
/// ```
///
/// `timestamp` is RFC 3339 in UTC with nanoseconds. `component` and `trace_id` are omitted when
/// unset, `attributes` when empty. Only `color` and `message` are required when deserializing: a
/// missing `id` or `timestamp` is filled in, so clients can post `{"color":"red","message":"…"}`.
///
/// # Example
///
/// ```
/// use andon_core::{AndonSignal, Color};
///
/// let signal = AndonSignal::red("Queue overflow - stop processing")
///     .with_component("queue-handler")
///     .with_trace_id("trace-123")
///     .with_attribute("depth", 150);
/// assert_eq!(signal.color(), Color::Red);
/// assert_eq!(signal.component(), Some("queue-handler"));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AndonSignal {
    #[serde(default)]
    id: SignalId,
    #[serde(default = "SystemTime::now", with = "rfc3339")]
    timestamp: SystemTime,
    color: Color,
    message: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    component: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_id: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, serde_json::Value>,
}

impl AndonSignal {
    /// A signal of the given color, with a new id and the current time.
    pub fn new(color: Color, message: impl Into<Arc<str>>) -> Self {
        AndonSignal {
            id: SignalId::new(),
            timestamp: SystemTime::now(),
            color,
            message: message.into(),
            component: None,
            trace_id: None,
            attributes: BTreeMap::new(),
        }
    }

    /// A RED signal: critical, stop the line.
    pub fn red(message: impl Into<Arc<str>>) -> Self {
        Self::new(Color::Red, message)
    }

    /// A YELLOW signal: a warning.
    pub fn yellow(message: impl Into<Arc<str>>) -> Self {
        Self::new(Color::Yellow, message)
    }

    /// A GREEN signal: normal operation, or a recovery.
    pub fn green(message: impl Into<Arc<str>>) -> Self {
        Self::new(Color::Green, message)
    }

    /// Names the component (the station on the line) that pulled the cord.
    #[must_use]
    pub fn with_component(mut self, component: impl Into<Arc<str>>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Joins the signal to a trace or request. Any string is kept as given; see
    /// the trace crate for how a non-W3C id maps to a trace.
    #[must_use]
    pub fn with_trace_id(mut self, trace_id: impl Into<Arc<str>>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Adds a structured attribute. A later value for the same key replaces the earlier one.
    #[must_use]
    pub fn with_attribute(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the time the signal was raised (by default, when it was created).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: SystemTime) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The unique id.
    pub fn id(&self) -> SignalId {
        self.id
    }

    /// When the signal was raised.
    pub fn timestamp(&self) -> SystemTime {
        self.timestamp
    }

    /// The signal's color: how bad it is, and whether it stops the line (RED).
    pub fn color(&self) -> Color {
        self.color
    }

    /// What the signaller said happened, as given.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The component that raised it, if named.
    pub fn component(&self) -> Option<&str> {
        self.component.as_deref()
    }

    /// The component, or `"unknown"` when none was named: the form used for metric labels
    /// and board stations, which need a value.
    pub fn component_or_unknown(&self) -> &str {
        self.component.as_deref().unwrap_or("unknown")
    }

    /// The trace or correlation id, if given.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// The structured attributes, sorted by key.
    pub fn attributes(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.attributes
    }

    /// The log level this signal is recorded at.
    pub fn log_level(&self) -> LogLevel {
        self.color.log_level()
    }

    /// The timestamp in RFC 3339 form (UTC, nanoseconds), as in the JSON form.
    pub fn timestamp_rfc3339(&self) -> String {
        humantime::format_rfc3339_nanos(self.timestamp).to_string()
    }

    /// The signal as its stable JSON form.
    pub fn to_json(&self) -> String {
        // Serializing this type cannot fail: every field is a string, number or map with string keys.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Debug for AndonSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonSignal")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp_rfc3339())
            .field("color", &self.color)
            .field("message", &self.message)
            .field("component", &self.component)
            .field("trace_id", &self.trace_id)
            .field("attributes", &self.attributes)
            .finish()
    }
}

impl fmt::Display for AndonSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.color.as_str().to_ascii_uppercase())?;
        if let Some(component) = &self.component {
            write!(f, " {component}:")?;
        }
        write!(f, " {}", self.message)
    }
}

/// Serde helpers for RFC 3339 timestamps carried as [`SystemTime`].
pub mod rfc3339 {
    use super::*;

    /// Serializes a time as RFC 3339 in UTC with nanoseconds.
    pub fn serialize<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_rfc3339_nanos(*time))
    }

    /// Parses an RFC 3339 timestamp (any precision, `Z` or an offset).
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
        crate::text_serde::deserialize_parsed(deserializer, parse)
    }

    /// Parses an RFC 3339 timestamp, with a message that says what is expected.
    pub fn parse(text: &str) -> Result<SystemTime, String> {
        humantime::parse_rfc3339_weak(text).map_err(|e| {
            format!("`{text}` is not an RFC 3339 timestamp ({e}): use a form like 2026-11-26T23:41:07.5Z")
        })
    }

    /// An optional time as RFC 3339 (`null` when absent), for
    /// `#[serde(default, with = "andon_core::rfc3339::option")]`.
    pub mod option {
        use std::time::SystemTime;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes a time as [`rfc3339::serialize`](super::serialize) does, and none as
        /// `null`.
        pub fn serialize<S: Serializer>(
            time: &Option<SystemTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            crate::text_serde::serialize_option(time, serializer, super::serialize)
        }

        /// Parses an RFC 3339 timestamp as [`rfc3339::parse`](super::parse) does, or
        /// `null` as none.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<SystemTime>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| super::parse(&text).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builders_set_every_field() {
        let signal = AndonSignal::yellow("slow")
            .with_component("db")
            .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
            .with_attribute("ms", 900)
            .with_attribute("ms", 950);
        assert_eq!(signal.color(), Color::Yellow);
        assert_eq!(signal.message(), "slow");
        assert_eq!(signal.component(), Some("db"));
        assert_eq!(signal.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(signal.attributes().get("ms"), Some(&json!(950)));
        assert_eq!(signal.to_string(), "[YELLOW] db: slow");
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let a = AndonSignal::green("a");
        let b = AndonSignal::green("b");
        assert_ne!(a.id(), b.id());
        assert!(a.id() < b.id());
        let parsed: SignalId = a.id().to_string().parse().unwrap();
        assert_eq!(parsed, a.id());
        assert!("nope".parse::<SignalId>().is_err());
    }

    #[test]
    fn json_round_trip_keeps_everything() {
        let signal = AndonSignal::red("Queue overflow - stop processing\n{\"x\":1}")
            .with_component("queue-handler")
            .with_trace_id("trace-123")
            .with_attribute("depth", 150)
            .with_attribute("nested", json!({"a": [1, 2, "é"]}));
        let text = signal.to_json();
        let back: AndonSignal = serde_json::from_str(&text).unwrap();
        assert_eq!(back, signal);
        // The timestamp keeps nanoseconds.
        assert_eq!(back.timestamp(), signal.timestamp());
    }

    #[test]
    fn json_form_is_stable() {
        let signal = AndonSignal::red("m")
            .with_component("c")
            .with_timestamp(std::time::UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5));
        let value: serde_json::Value = serde_json::from_str(&signal.to_json()).unwrap();
        assert_eq!(value["color"], "red");
        assert_eq!(value["message"], "m");
        assert_eq!(value["component"], "c");
        assert_eq!(value["timestamp"], "2023-11-14T22:13:20.000000005Z");
        assert_eq!(value["id"].as_str().unwrap().len(), 36);
        // Unset optional fields are omitted.
        assert!(value.get("trace_id").is_none());
        assert!(value.get("attributes").is_none());
    }

    #[test]
    fn minimal_json_gets_id_and_time() {
        let signal: AndonSignal =
            serde_json::from_str(r#"{"color":"yellow","message":"disk 85%"}"#).unwrap();
        assert_eq!(signal.color(), Color::Yellow);
        assert!(signal.timestamp() <= SystemTime::now());
    }

    #[test]
    fn bad_json_is_rejected_with_the_reason() {
        let err = serde_json::from_str::<AndonSignal>(r#"{"color":"blue","message":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("blue"), "{err}");
        let err = serde_json::from_str::<AndonSignal>(
            r#"{"color":"red","message":"x","timestamp":"yesterday"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("RFC 3339"), "{err}");
    }

    #[test]
    fn colors_parse_in_any_case() {
        assert_eq!("RED".parse::<Color>().unwrap(), Color::Red);
        assert_eq!(" yellow ".parse::<Color>().unwrap(), Color::Yellow);
        let err = "blue".parse::<Color>().unwrap_err().to_string();
        assert_eq!(err, "unknown signal color `blue`: use red, yellow or green");
        assert!(Color::Red > Color::Yellow && Color::Yellow > Color::Green);
    }
}
