//! The `baggage` header (W3C Baggage): key/value entries with properties, percent-encoded.

use andon_core::hex;

use super::{
    BAGGAGE, InvalidHeader, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, join_members, trim_ows,
};

/// Whether `b` is an RFC 7230 `tchar`, the characters of a baggage key.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn valid_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Whether `b` may appear unencoded in a baggage value (`baggage-octet`).
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|&h| hex::digit_value(h))?;
            let lo = bytes.get(i + 2).and_then(|&l| hex::digit_value(l))?;
            out.push((hi << 4) | lo);
            i += 3;
        } else if is_baggage_octet(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

fn percent_encode(value: &str, out: &mut String) {
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            let [hi, lo] = hex::byte_digits(b, hex::UPPER);
            out.push('%');
            out.push(char::from(hi));
            out.push(char::from(lo));
        }
    }
}

/// Validates the `;`-separated properties of a baggage member and returns them normalised as
/// `;key` or `;key=value`.
fn parse_properties<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut out = String::new();
    for property in parts {
        let property = trim_ows(property);
        match property.split_once('=') {
            None => {
                if !valid_token(property) {
                    return None;
                }
                out.push(';');
                out.push_str(property);
            }
            Some((key, value)) => {
                let (key, value) = (trim_ows(key), trim_ows(value));
                if !valid_token(key) || percent_decode(value).is_none() {
                    return None;
                }
                out.push(';');
                out.push_str(key);
                out.push('=');
                out.push_str(value);
            }
        }
    }
    Some(out)
}

/// One baggage entry: a key, its (decoded) value, and its properties as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaggageEntry {
    key: String,
    value: String,
    properties: String,
}

impl BaggageEntry {
    /// The entry's key, as sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value, percent-decoded.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The properties as written (`;p1;p2=v`), empty when there are none.
    pub fn properties(&self) -> &str {
        &self.properties
    }

    fn encoded(&self) -> String {
        let mut out = String::with_capacity(self.key.len() + self.value.len() + 1);
        out.push_str(&self.key);
        out.push('=');
        percent_encode(&self.value, &mut out);
        out.push_str(&self.properties);
        out
    }
}

/// W3C Baggage: key-value pairs carried along a trace, at most 64 entries and 8192 bytes.
///
/// ```
/// use andon_trace::Baggage;
///
/// let mut baggage = Baggage::parse(["userId=alice, serverNode=DF%2028;region=eu"]);
/// assert_eq!(baggage.get("serverNode"), Some("DF 28"));
/// baggage.set("isProduction", "false")?;
/// assert_eq!(baggage.header(), "userId=alice,serverNode=DF%2028;region=eu,isProduction=false");
/// # Ok::<(), andon_trace::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Baggage {
    entries: Vec<BaggageEntry>,
}

impl Baggage {
    /// Parses and merges every `baggage` header value. Invalid members are skipped; members
    /// beyond 64 or past 8192 bytes are dropped whole. A later value for a key replaces the
    /// earlier one, unless it would take the baggage past 8192 bytes.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut baggage = Baggage::default();
        let mut bytes = 0usize;
        for value in values {
            for member in value.split(',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                let mut parts = member.split(';');
                let Some((key, value)) = parts.next().and_then(|kv| kv.split_once('=')) else {
                    continue;
                };
                let (key, value) = (trim_ows(key), trim_ows(value));
                if !valid_token(key) {
                    continue;
                }
                let Some(value) = percent_decode(value) else {
                    continue;
                };
                let Some(properties) = parse_properties(parts) else {
                    continue;
                };
                let entry = BaggageEntry {
                    key: key.to_owned(),
                    value,
                    properties,
                };
                if let Some(old) = baggage.entries.iter_mut().find(|e| e.key == entry.key) {
                    // A replacement counts against the byte limit too (found by fuzzing: a
                    // later, longer value for an existing key could pass 8192 bytes).
                    let (was, will) = (old.encoded().len(), entry.encoded().len());
                    if bytes - was + will <= MAX_BAGGAGE_BYTES {
                        bytes = bytes - was + will;
                        *old = entry;
                    }
                    continue;
                }
                let size = entry.encoded().len() + usize::from(!baggage.entries.is_empty());
                if baggage.entries.len() == MAX_BAGGAGE_MEMBERS || bytes + size > MAX_BAGGAGE_BYTES
                {
                    continue;
                }
                bytes += size;
                baggage.entries.push(entry);
            }
        }
        baggage
    }

    /// Sets `key` to `value` (any text; it is percent-encoded on the wire), keeping the
    /// entry's place when the key exists.
    ///
    /// # Errors
    ///
    /// A key that is not an HTTP token, or a baggage that would pass 64 entries or 8192 bytes;
    /// the baggage is left unchanged.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), InvalidHeader> {
        if !valid_token(key) {
            return Err(InvalidHeader::new(
                BAGGAGE,
                "a key is an HTTP token: letters, digits and !#$%&'*+-.^_`|~",
            ));
        }
        let mut next = self.clone();
        let entry = BaggageEntry {
            key: key.to_owned(),
            value: value.to_owned(),
            properties: String::new(),
        };
        match next.entries.iter_mut().find(|e| e.key == key) {
            Some(old) => *old = entry,
            None => next.entries.push(entry),
        }
        if next.entries.len() > MAX_BAGGAGE_MEMBERS || next.header().len() > MAX_BAGGAGE_BYTES {
            return Err(InvalidHeader::new(
                BAGGAGE,
                "baggage is limited to 64 entries and 8192 bytes: remove an entry first",
            ));
        }
        *self = next;
        Ok(())
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let index = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(index).value)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.entries.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The header value, values percent-encoded.
    pub fn header(&self) -> String {
        join_members(&self.entries, |out, entry| out.push_str(&entry.encoded()))
    }
}
