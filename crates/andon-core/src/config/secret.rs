//! Secret values: webhook URLs, routing keys, passwords, tokens.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string that never shows itself: `Debug`, `Display` and serialization print
/// `[redacted]`. Read it with [`expose`](Secret::expose) only where it is sent.
///
/// ```
/// use andon_core::config::Secret;
///
/// let key = Secret::new("R0UT1NG-KEY");
/// assert_eq!(format!("{key:?} {key}"), "[redacted] [redacted]");
/// assert_eq!(key.expose(), "R0UT1NG-KEY");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The text shown in place of a secret.
    pub const REDACTED: &'static str = "[redacted]";

    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place it is sent.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the secret in `text` by `[redacted]`: for error messages of
    /// libraries that echo a URL or a key back.
    pub fn redact_in(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.0, Self::REDACTED)
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_itself() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.to_string(), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(
            s.redact_in("POST https://x/hunter2 failed"),
            "POST https://x/[redacted] failed"
        );
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug only
        struct Holder {
            key: Secret,
        }
        assert!(!format!("{:?}", Holder { key: s }).contains("hunter2"));
    }
}
