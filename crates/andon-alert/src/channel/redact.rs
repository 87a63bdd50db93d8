//! What a delivery error may show. A failing receiver's answer goes into `last_error` and into
//! the YELLOW signal a failing channel raises (the board, live events, history, logs), so it is
//! cut down to its status and a short reason, and no part of a secret survives in it.

use andon_core::config::Secret;

/// The longest reason kept from a receiver's answer, in characters.
const REASON_MAX: usize = 120;
/// A word sharing this many consecutive characters with a secret is hidden.
const FRAGMENT: usize = 8;
/// A word this long of letters and digits mixed looks like a key or a token and is hidden.
const TOKEN: usize = 20;

/// Hides the secrets of one channel in the texts it reports.
#[derive(Debug, Default, Clone)]
pub(crate) struct Redactor {
    /// Every secret and, for a URL, its path, its query and its user and password.
    parts: Vec<String>,
}

impl Redactor {
    /// A redactor for the channel's secrets and the URLs it posts to (a URL is not a secret,
    /// but its user and password are).
    pub(crate) fn new(secrets: &[&Secret], urls: &[&str]) -> Self {
        let mut parts = Vec::new();
        for secret in secrets {
            let value = secret.expose();
            if value.is_empty() {
                continue;
            }
            parts.push(value.to_owned());
            if let Some((_, rest)) = value.split_once("://") {
                if let Some(at) = rest.find('/') {
                    parts.push(rest[at..].to_owned());
                }
                if let Some((_, query)) = rest.split_once('?') {
                    parts.push(query.to_owned());
                }
            }
        }
        for url in secrets
            .iter()
            .map(|s| s.expose())
            .chain(urls.iter().copied())
        {
            if let Some(info) = Secret::userinfo_of(url) {
                parts.push(info.expose().to_owned());
                if let Some((_, password)) = info.expose().split_once(':') {
                    parts.push(password.to_owned());
                }
            }
        }
        parts.retain(|p| p.len() > 1);
        // Longest first, so that a whole secret is replaced before its parts.
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Redactor { parts }
    }

    /// `text` with every secret, whole or in part, replaced by `[redacted]`: the whole value
    /// (also JSON-escaped), a URL's path and query, and any word that shares
    /// eight characters in a row with one of them or looks like a token.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for part in &self.parts {
            text = Secret::new(part.as_str()).redact_in(&text);
        }
        let words: Vec<String> = text
            .split_whitespace()
            .map(|word| {
                if word.contains(Secret::REDACTED) && word.len() == Secret::REDACTED.len() {
                    word.to_owned()
                } else if self.shares_a_fragment(word) || looks_like_a_token(word) {
                    Secret::REDACTED.to_owned()
                } else if word.contains("://") {
                    Secret::redact_userinfo(word)
                } else {
                    word.to_owned()
                }
            })
            .collect();
        words.join(" ")
    }

    fn shares_a_fragment(&self, word: &str) -> bool {
        self.parts.iter().any(|part| {
            let chars: Vec<char> = part.chars().collect();
            chars.len() >= FRAGMENT
                && chars
                    .windows(FRAGMENT)
                    .any(|w| word.contains(&w.iter().collect::<String>()))
        })
    }
}

fn looks_like_a_token(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    word.chars().count() >= TOKEN
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_alphabetic())
        && !word.contains("://")
}

/// A short reason from a receiver's answer: the `message`, `error`, `errors` or `status` of a
/// JSON answer, or the first line of a short text answer; none for markup (an HTML error page)
/// or anything else. Control characters are dropped, and the reason is cut to 120 characters.
pub(crate) fn short_reason(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let reason = if body.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        json_reason(&value)?
    } else if body.contains('<') {
        return None;
    } else {
        body.lines().next()?.to_owned()
    };
    let clean: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.is_empty() {
        return None;
    }
    Some(cut(&clean, REASON_MAX))
}

fn json_reason(value: &serde_json::Value) -> Option<String> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let mut out: Vec<String> = Vec::new();
    for field in ["message", "error", "error_description", "status"] {
        match value.get(field) {
            Some(serde_json::Value::Object(inner)) => {
                if let Some(m) = inner.get("message").and_then(text) {
                    out.push(m);
                }
            }
            Some(v) => out.extend(text(v)),
            None => {}
        }
        if !out.is_empty() {
            break;
        }
    }
    if let Some(errors) = value.get("errors").and_then(|e| e.as_array()) {
        out.extend(errors.iter().filter_map(text).take(3));
    }
    (!out.is_empty()).then(|| out.join(": "))
}

/// At most `max` characters, `…` marking a cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_secret_is_hidden_whole_by_its_path_and_query_and_in_part() {
        let url = Secret::new("https://hooks.example.com/services/T0/B0/XyZ?token=abc123");
        let redactor = Redactor::new(&[&url], &[]);
        let echoed = "POST /services/T0/B0/XyZ?token=abc123 failed; query token=abc123; \
                      url https://hooks.example.com/services/T0/B0/XyZ?token=abc123 \
                      part services/T0/B0 escaped https:\\/\\/hooks.example.com\\/services\\/T0\\/B0\\/XyZ?token=abc123";
        let shown = redactor.redact(echoed);
        for part in ["XyZ", "abc123", "T0/B0", "services"] {
            assert!(!shown.contains(part), "{part} in {shown}");
        }
        assert!(shown.starts_with("POST [redacted] failed"), "{shown}");
        let key = Secret::new("R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12");
        let redactor = Redactor::new(&[&key], &[]);
        assert_eq!(
            redactor.redact("key R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12 refused"),
            "key [redacted] refused"
        );
        assert_eq!(
            redactor.redact("key 'R0UT1NGKEYR0UT1N…' refused"),
            "key [redacted] refused",
            "a cut secret is still hidden"
        );
    }

    #[test]
    fn user_and_password_of_a_plain_url_are_hidden() {
        let redactor = Redactor::new(&[], &["http://am:Pa55w0rd-long@127.0.0.1:9093"]);
        let shown = redactor.redact(
            "denied for am:Pa55w0rd-long, password Pa55w0rd-long, at http://x:y@127.0.0.1:9093/api",
        );
        assert!(!shown.contains("Pa55w0rd"), "{shown}");
        assert!(
            shown.contains("http://[redacted]@127.0.0.1:9093/api"),
            "{shown}"
        );
    }

    #[test]
    fn a_reason_is_short_text_or_a_json_message_never_markup() {
        assert_eq!(
            short_reason("invalid event: summary missing").as_deref(),
            Some("invalid event: summary missing")
        );
        assert_eq!(
            short_reason(
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}"#
            )
            .as_deref(),
            Some("Event object is invalid: Length of 'routing_key' is incorrect")
        );
        assert_eq!(short_reason("no_text\n\nmore").as_deref(), Some("no_text"));
        assert_eq!(
            short_reason("<html><body><script>alert(1)</script></body></html>"),
            None
        );
        assert_eq!(short_reason("{\"echo\": {\"body\": 1}}"), None);
        assert_eq!(short_reason(""), None);
        let long = "x ".repeat(400);
        assert_eq!(short_reason(&long).unwrap().chars().count(), 120);
        assert_eq!(
            short_reason("bad\u{1b}[31m\u{7}value").as_deref(),
            Some("bad [31m value")
        );
    }

    #[test]
    fn token_like_words_are_hidden() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact("auth dXNlcjpwYXNzd29yZDEyMzQ1Ng9 refused for channel_not_found"),
            "auth [redacted] refused for channel_not_found"
        );
    }
}
