//! The serde shape shared by the values andon writes as text, durations (`"5m"`, in
//! [`config::duration`](crate::config::duration)) and times (RFC 3339, in
//! [`rfc3339`](crate::rfc3339)): a value is read as a string and parsed by a function whose
//! error says what is expected, and an `Option` is written as its value or as none.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serializer};

/// Reads a string and parses it with `parse`; its message becomes the serde error, so a bad
/// value in a file is reported with the form it should take.
pub(crate) fn deserialize_parsed<'de, D: Deserializer<'de>, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error> {
    let text = <Cow<'de, str>>::deserialize(deserializer)?;
    parse(&text).map_err(serde::de::Error::custom)
}

/// Writes `Some` with `serialize`, and `None` as none (`null`, or skipped by the caller).
pub(crate) fn serialize_option<S, T, F>(
    value: &Option<T>,
    serializer: S,
    serialize: F,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    F: FnOnce(&T, S) -> Result<S::Ok, S::Error>,
{
    match value {
        Some(value) => serialize(value, serializer),
        None => serializer.serialize_none(),
    }
}
