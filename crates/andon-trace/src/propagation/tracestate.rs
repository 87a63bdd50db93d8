//! The `tracestate` header: vendor entries, most recently changed first.

use super::{InvalidHeader, MAX_TRACESTATE_MEMBERS, TRACESTATE, join_members, trim_ows};

/// A `keychar` of the Level 2 grammar: `a-z`, `0-9`, `_`, `-`, `*`, `/` and `@`.
fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
}

/// Whether `key` is a valid tracestate key by the W3C Trace Context Level 2 grammar,
/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`: 1 to 256 characters, starting with a
/// lower-case letter or a digit. A Level 1 `tenant@system` key (a tenant of up to 241
/// characters, a system of up to 14) is one such key; so is `foo@`, while `@foo` is not.
fn valid_tracestate_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.iter().all(|&b| is_key_char(b))
}

/// Whether `value` is a valid tracestate value: 1 to 256 printable ASCII characters except
/// `,` and `=`, not ending in a space.
fn valid_tracestate_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    (1..=256).contains(&bytes.len())
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        && bytes.last() != Some(&b' ')
}

/// Checks one `key=value` member.
fn check_member(key: &str, value: &str) -> Result<(), InvalidHeader> {
    if !valid_tracestate_key(key) {
        return Err(InvalidHeader::new(
            TRACESTATE,
            "a key is 1 to 256 lower-case letters, digits and `_-*/@`, starting with a letter or a digit",
        ));
    }
    if !valid_tracestate_value(value) {
        return Err(InvalidHeader::new(
            TRACESTATE,
            "a value is 1 to 256 printable ASCII characters except `,` and `=`, not ending in a space",
        ));
    }
    Ok(())
}

/// A W3C `tracestate`: vendor entries, most recently changed first, at most 32.
///
/// ```
/// use andon_trace::TraceState;
///
/// let mut state = TraceState::parse(["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"])?;
/// state.insert("congo", "new")?; // a changed entry moves to the left
/// assert_eq!(state.header(), "congo=new,rojo=00f067aa0ba902b7");
/// assert!(TraceState::parse(["Upper=1"]).is_err());
/// # Ok::<(), andon_trace::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceState {
    entries: Vec<(String, String)>,
}

impl TraceState {
    /// Parses and merges every `tracestate` header value, in the order received (the W3C rule
    /// for several header fields: they are one list, joined by commas). Empty members and spaces
    /// or tabs around members are allowed. A key that appears again (`foo=1,foo=2`, within or
    /// across headers) keeps its first, leftmost entry, the most recent position; the later
    /// duplicate is dropped and every other entry is kept.
    ///
    /// # Errors
    ///
    /// A member without `=`, an invalid key (such as one starting with `@`) or value, or more
    /// than 32 members: the whole tracestate is then to be discarded.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Self, InvalidHeader> {
        let mut entries: Vec<(String, String)> = Vec::new();
        for value in values {
            for member in value.split(',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                let (key, value) = member
                    .split_once('=')
                    .ok_or(InvalidHeader::new(TRACESTATE, "every member is KEY=VALUE"))?;
                check_member(key, value)?;
                if entries.iter().any(|(k, _)| k == key) {
                    // Keep the leftmost entry: dropping the rest would break every vendor.
                    continue;
                }
                if entries.len() == MAX_TRACESTATE_MEMBERS {
                    return Err(InvalidHeader::new(TRACESTATE, "more than 32 members"));
                }
                entries.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(TraceState { entries })
    }

    /// Sets `key` to `value` and moves the entry to the left (the W3C rule for a changed entry).
    /// When that makes 33 entries, the rightmost is dropped.
    ///
    /// # Errors
    ///
    /// An invalid key or value; the state is left unchanged.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), InvalidHeader> {
        check_member(key, value)?;
        self.entries.retain(|(k, _)| k != key);
        self.entries.insert(0, (key.to_owned(), value.to_owned()));
        self.entries.truncate(MAX_TRACESTATE_MEMBERS);
        Ok(())
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The entries, leftmost first.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header value: `key=value` pairs joined by commas.
    pub fn header(&self) -> String {
        join_members(&self.entries, |out, (k, v)| {
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        })
    }
}
