//! Links from a signal's trace id to a trace UI (`[tracer] ui_url`, such as a Jaeger UI).
//!
//! A signal's trace id is either a W3C trace id or any other correlation string such as
//! `trace-123`; spans carry the W3C id it maps to ([`w3c_trace_id`]), so that mapped id is what
//! a trace UI knows and what every link names. The mapping lives here, below every component:
//! andon-trace names spans with it, and the alert channels, the agent's `andon alerts`, its
//! history timelines and its board link with it.

/// The W3C trace id a signal's trace id (`AndonSignal::trace_id`) stands for.
///
/// - 32 hex digits (any case) that are not all zero: that trace id, so a signal raised with
///   the id of a running trace joins it.
/// - A UUID in its 36-character hyphenated form: its 16 bytes, so a request id that is a UUID
///   is its own trace id.
/// - Anything else (such as `trace-123`): the 128-bit FNV-1a hash of its UTF-8 bytes (offset
///   basis `0x6c62272e07bb014262b821756295c58d`, prime `2^88 + 0x13b`), big-endian, with the
///   last byte set to 1 if the hash is zero. The same id always maps to the same trace, in
///   every process and version.
///
/// ```
/// use andon_core::w3c_trace_id;
///
/// let id = w3c_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736");
/// assert_eq!(id[0], 0x4b);
/// assert_eq!(w3c_trace_id("trace-123"), w3c_trace_id("trace-123"));
/// assert_ne!(w3c_trace_id("trace-123"), w3c_trace_id("trace-124"));
/// ```
pub fn w3c_trace_id(id: &str) -> [u8; 16] {
    if let Some(bytes) = parse_hex_trace_id(id) {
        return bytes;
    }
    if id.len() == 36 {
        let compact: String = id.chars().filter(|&c| c != '-').collect();
        let hyphens_in_place = id
            .char_indices()
            .filter(|&(_, c)| c == '-')
            .map(|(i, _)| i)
            .eq([8, 13, 18, 23]);
        if let Some(bytes) = parse_hex_trace_id(&compact).filter(|_| hyphens_in_place) {
            return bytes;
        }
    }
    fnv1a_128(id.as_bytes())
}

/// [`w3c_trace_id`] as 32 lowercase hex digits, the form trace UIs and `traceparent` use.
///
/// ```
/// assert_eq!(
///     andon_core::w3c_trace_id_hex("4BF92F3577B34DA6A3CE929D0E0E4736"),
///     "4bf92f3577b34da6a3ce929d0e0e4736"
/// );
/// ```
pub fn w3c_trace_id_hex(id: &str) -> String {
    crate::hex::encode(&w3c_trace_id(id))
}

/// The link to a trace in a trace UI: `ui_url` (a checked `[tracer] ui_url`, any trailing `/`
/// dropped), then `/trace/`, then the mapped W3C id of `trace_id` ([`w3c_trace_id_hex`]).
///
/// ```
/// use andon_core::{trace_url, w3c_trace_id_hex};
///
/// assert_eq!(
///     trace_url("http://localhost:16686/", "4bf92f3577b34da6a3ce929d0e0e4736"),
///     "http://localhost:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
/// );
/// // A correlation id links to the trace its spans are in.
/// let url = trace_url("https://jaeger.example.com/ui", "trace-123");
/// assert_eq!(url, format!("https://jaeger.example.com/ui/trace/{}", w3c_trace_id_hex("trace-123")));
/// ```
pub fn trace_url(ui_url: &str, trace_id: &str) -> String {
    format!(
        "{}/trace/{}",
        ui_url.trim_end_matches('/'),
        w3c_trace_id_hex(trace_id)
    )
}

/// Why `ui_url` cannot be a trace UI's address, if it cannot: it must be an `http://` or
/// `https://` URL with a host, and hold only characters that stay literal in an HTML
/// attribute, a Slack `<url|text>` link and a plain-text line (no space, quote, `<`, `>`,
/// `|`, backslash, and no `?` or `#`, since `/trace/<id>` is appended to it).
pub(crate) fn ui_url_problem(ui_url: &str) -> Option<String> {
    let rest = ui_url
        .strip_prefix("http://")
        .or_else(|| ui_url.strip_prefix("https://"));
    let Some(rest) = rest else {
        return Some(format!(
            "`{ui_url}` is not an http:// or https:// URL: give the trace UI's address, such as \"http://localhost:16686\" for Jaeger"
        ));
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Some(format!(
            "`{ui_url}` has no host: give the trace UI's address, such as \"http://localhost:16686\""
        ));
    }
    if let Some(bad) = ui_url.chars().find(|c| {
        !c.is_ascii_graphic()
            || matches!(
                c,
                '"' | '\'' | '<' | '>' | '|' | '\\' | '`' | '{' | '}' | '^'
            )
    }) {
        return Some(format!(
            "`{}` holds {bad:?}, which a link cannot carry as is: percent-encode it",
            ui_url.escape_debug()
        ));
    }
    if ui_url.contains(['?', '#']) {
        return Some(format!(
            "`{ui_url}` has a query or fragment: give the address the trace UI's `/trace/<id>` pages are under, such as \"http://localhost:16686\""
        ));
    }
    None
}

/// Whether `id` is a W3C trace id as given (32 hex digits, not all zero).
pub fn is_w3c_trace_id(id: &str) -> bool {
    parse_hex_trace_id(id).is_some()
}

fn parse_hex_trace_id(id: &str) -> Option<[u8; 16]> {
    if id.len() != 32 {
        return None;
    }
    let value = u128::from_str_radix(id, 16).ok()?;
    (value != 0 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| value.to_be_bytes())
}

fn fnv1a_128(bytes: &[u8]) -> [u8; 16] {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = (1 << 88) + 0x13b;
    let mut hash = OFFSET;
    for &b in bytes {
        hash ^= u128::from(b);
        hash = hash.wrapping_mul(PRIME);
    }
    let mut out = hash.to_be_bytes();
    if hash == 0 {
        out[15] = 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_map_deterministically() {
        let w3c = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            w3c_trace_id(w3c),
            u128::from_str_radix(w3c, 16).unwrap().to_be_bytes()
        );
        let uuid = "0192e4a4-8f7c-7cc1-9d1b-3f0e6a1b2c3d";
        assert_eq!(w3c_trace_id_hex(uuid), "0192e4a48f7c7cc19d1b3f0e6a1b2c3d");
        // The documented FNV-1a 128: the empty string hashes to the offset basis.
        assert_eq!(w3c_trace_id_hex(""), "6c62272e07bb014262b821756295c58d");
        // A pinned value, so links made by one version open the trace in the next.
        assert_eq!(
            w3c_trace_id_hex("trace-123"),
            format!("{:032x}", u128::from_be_bytes(fnv1a_128(b"trace-123")))
        );
        // The same values the board's JavaScript computes (crates/andon-agent/assets/board.js).
        assert_eq!(
            w3c_trace_id_hex("trace-123"),
            "0087bf8f84066cb56e77f4a2079b36c7"
        );
        assert_eq!(
            w3c_trace_id_hex("héllo ✓"),
            "97c72df9eb45c762bbdbb2b42695dc97"
        );
        assert_eq!(
            w3c_trace_id_hex(&"0".repeat(32)),
            "4bae73afc703da1fcce51065d5c9ef0d"
        );
        assert!(!is_w3c_trace_id("+bf92f3577b34da6a3ce929d0e0e4736"));
    }

    #[test]
    fn links_use_the_mapped_id_under_the_ui_url() {
        let hex = w3c_trace_id_hex("trace-123");
        assert_eq!(hex.len(), 32);
        assert_ne!(hex, "trace-123");
        assert_eq!(
            trace_url("http://127.0.0.1:16686", "trace-123"),
            format!("http://127.0.0.1:16686/trace/{hex}")
        );
        assert_eq!(
            trace_url(
                "https://ops.example.com/jaeger//",
                "ABCDEF0123456789ABCDEF0123456789"
            ),
            "https://ops.example.com/jaeger/trace/abcdef0123456789abcdef0123456789"
        );
        // Hostile correlation ids never reach the link: it holds only hex.
        let url = trace_url("http://j", "\"><script>alert(1)</script>|x");
        assert!(
            url["http://j/trace/".len()..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
        );
    }

    #[test]
    fn only_plain_http_urls_are_ui_urls() {
        for good in [
            "http://localhost:16686",
            "https://jaeger.example.com/",
            "https://ops.example.com/jaeger",
        ] {
            assert_eq!(ui_url_problem(good), None, "{good}");
        }
        for (bad, says) in [
            ("javascript:alert(1)", "is not an http:// or https:// URL"),
            ("localhost:16686", "is not an http:// or https:// URL"),
            ("ftp://x", "is not an http:// or https:// URL"),
            ("http://", "has no host"),
            ("https:///trace", "has no host"),
            ("http://j/\"onmouseover=x", "holds '\"'"),
            ("http://j/a b", "holds ' '"),
            ("http://j/a|b", "holds '|'"),
            ("http://j/>", "holds '>'"),
            ("http://j/\n", "holds '\\n'"),
            ("http://j/?q=1", "has a query or fragment"),
            ("http://j/#/", "has a query or fragment"),
        ] {
            let problem = ui_url_problem(bad).unwrap_or_default();
            assert!(problem.contains(says), "{bad:?}: {problem:?}");
        }
    }
}
