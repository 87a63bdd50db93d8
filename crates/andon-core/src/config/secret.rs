//! Secret values: webhook URLs, routing keys, passwords, tokens; and URLs whose user and
//! password must not be printed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ConfigError;

/// A secret string that never shows itself: `Debug`, `Display` and serialization print
/// `[redacted]`. Read it with [`expose`](Secret::expose) only where it is sent.
///
/// The placeholder itself is not a value: a configuration whose secret is `"[redacted]"` (a
/// printed configuration loaded back) fails validation, naming the key.
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

    /// Whether the value is the placeholder `[redacted]` itself, which is never a real secret.
    pub fn is_placeholder(&self) -> bool {
        self.0.trim() == Self::REDACTED
    }

    /// Replaces every occurrence of the secret in `text` by `[redacted]`: for error messages of
    /// libraries that echo a URL or a key back. The secret is also found JSON-escaped (`\/` for
    /// `/`), as a server echoing a JSON body writes it.
    pub fn redact_in(&self, text: &str) -> String {
        if self.0.is_empty() {
            return text.to_owned();
        }
        let mut text = text.replace(&self.0, Self::REDACTED);
        if self.0.contains('/') {
            text = text.replace(&self.0.replace('/', "\\/"), Self::REDACTED);
        }
        text
    }

    /// `url` with its user and password (`https://user:pass@host/`) replaced by `[redacted]`
    /// (`https://[redacted]@host/`), for every place a URL that is not a secret is printed;
    /// anything else is returned as it is.
    ///
    /// ```
    /// use andon_core::config::Secret;
    ///
    /// assert_eq!(
    ///     Secret::redact_userinfo("http://am:s3cret@alertmanager:9093/x?a=b@c"),
    ///     "http://[redacted]@alertmanager:9093/x?a=b@c"
    /// );
    /// assert_eq!(Secret::redact_userinfo("http://alertmanager:9093"), "http://alertmanager:9093");
    /// ```
    pub fn redact_userinfo(url: &str) -> String {
        match userinfo_range(url) {
            Some((start, end)) => format!("{}{}{}", &url[..start], Self::REDACTED, &url[end..]),
            None => url.to_owned(),
        }
    }

    /// The user and password of `url` (the text between `://` and the last `@` of the
    /// authority), if it has any: what a delivery error must not show.
    pub fn userinfo_of(url: &str) -> Option<Secret> {
        userinfo_range(url).map(|(start, end)| Secret::new(&url[start..end]))
    }
}

/// The byte range of the userinfo of `url` (without the `@`).
fn userinfo_range(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some((start, start + at))
}

/// Refuses the placeholder as a secret's value (a configuration changed in code); `key` is the
/// dotted key of the field.
pub(crate) fn check_not_placeholder(key: String, secret: &Secret) -> Result<(), ConfigError> {
    if secret.is_placeholder() {
        Err(ConfigError::new(key, PLACEHOLDER_MESSAGE))
    } else {
        Ok(())
    }
}

/// Refuses a URL whose user and password are the placeholder (`https://[redacted]@host`), as a
/// printed configuration shows them.
pub(crate) fn check_userinfo_not_placeholder(key: String, url: &str) -> Result<(), ConfigError> {
    match Secret::userinfo_of(url) {
        Some(info) if info.expose().contains(Secret::REDACTED) => {
            Err(ConfigError::new(key, PLACEHOLDER_MESSAGE))
        }
        _ => Ok(()),
    }
}

/// Serializes a URL that is not a secret with its user and password redacted.
pub(crate) fn serialize_url<S: Serializer>(url: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&Secret::redact_userinfo(url))
}

/// Like [`serialize_url`], for an optional URL.
pub(crate) fn serialize_opt_url<S: Serializer>(
    url: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => serialize_url(url, serializer),
        None => serializer.serialize_none(),
    }
}

const PLACEHOLDER_MESSAGE: &str = "is `[redacted]`, the placeholder printed in place of a secret \
     (was a printed configuration loaded back?): write the real value, or \"${VAR}\" to read it \
     from the environment";

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
        let url = Secret::new("https://hooks.example.com/services/T0/B0/XyZ");
        assert_eq!(
            url.redact_in(r#"{"echo":"https:\/\/hooks.example.com\/services\/T0\/B0\/XyZ"}"#),
            r#"{"echo":"[redacted]"}"#,
            "found JSON-escaped too"
        );
    }

    #[test]
    fn the_placeholder_is_not_a_secret_and_the_error_names_the_key() {
        for (text, key) in [
            (
                "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"[redacted]\"\n",
                "alerts.channels.s.webhook_url",
            ),
            (
                "[alerts.channels.pd]\ntype = \"pagerduty\"\nrouting_key = \"[redacted]\"\n",
                "alerts.channels.pd.routing_key",
            ),
            (
                "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nusername = \"u\"\npassword = \"[redacted]\"\n",
                "alerts.channels.m.password",
            ),
            (
                "[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"http://[redacted]@am:9093\"\n",
                "alerts.channels.am.url",
            ),
        ] {
            let err = crate::AndonConfig::from_toml_str(text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{err}");
            assert!(err.to_string().contains("placeholder"), "{err}");
            assert!(err.to_string().contains("${VAR}"), "{err}");
        }
        // A configuration changed in code is checked by `validate`.
        let mut config = crate::AndonConfig::default();
        config.alerts.channels.insert(
            "w".into(),
            crate::config::ChannelConfig::Webhook {
                url: Secret::new("[redacted]"),
                budget_per_minute: None,
            },
        );
        let err = config.validate().unwrap_err();
        assert_eq!(err.key.as_deref(), Some("alerts.channels.w.url"), "{err}");
    }

    #[test]
    fn userinfo_is_found_only_in_the_authority() {
        let cases = [
            ("https://u:p@h:1/x", "https://[redacted]@h:1/x", Some("u:p")),
            ("https://u@h", "https://[redacted]@h", Some("u")),
            ("https://h/p@q", "https://h/p@q", None),
            ("https://h?x=a@b", "https://h?x=a@b", None),
            ("https://a@b@h#f@g", "https://[redacted]@h#f@g", Some("a@b")),
            ("not a url @ all", "not a url @ all", None),
        ];
        for (url, shown, info) in cases {
            assert_eq!(Secret::redact_userinfo(url), shown);
            assert_eq!(
                Secret::userinfo_of(url).as_ref().map(Secret::expose),
                info,
                "{url}"
            );
        }
    }
}
