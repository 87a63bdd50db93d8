//! Durations in configuration, written the human way: `"30s"`, `"5m"`, `"4h"`, `"1h 30m"`,
//! `"250ms"`.

use std::time::Duration;

use serde::{Deserializer, Serializer};

/// Serializes a duration as humantime text (`"5m"`).
pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*value))
}

/// Parses humantime text (`"5m"`, `"1h 30m"`); the error says what is expected.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    crate::text_serde::deserialize_parsed(deserializer, parse)
}

/// Parses a duration with a message naming the accepted forms.
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}): write a number and a unit, like \"250ms\", \"30s\", \"5m\" or \"4h\"")
    })
}

/// The same for `Option<Duration>`.
pub mod option {
    use super::*;

    /// Serializes `Some` as humantime text; `None` is skipped by the caller.
    pub fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        crate::text_serde::serialize_option(value, serializer, super::serialize)
    }

    /// Parses humantime text into `Some`.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_human_forms_and_explains_bad_ones() {
        assert_eq!(super::parse("5m").unwrap().as_secs(), 300);
        assert_eq!(super::parse("1h 30m").unwrap().as_secs(), 5400);
        assert_eq!(super::parse("250ms").unwrap().as_millis(), 250);
        let err = super::parse("five").unwrap_err();
        assert!(err.contains("like \"250ms\""), "{err}");
    }
}
