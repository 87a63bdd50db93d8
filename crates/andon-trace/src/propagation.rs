//! W3C Trace Context (Level 2) and W3C Baggage: parsing, validation and formatting of the
//! `traceparent`, `tracestate` and `baggage` headers, over `http::HeaderMap` and plain maps.
//!
//! The rules follow <https://www.w3.org/TR/trace-context-2/> and <https://www.w3.org/TR/baggage/>:
//! an invalid `traceparent` starts a new trace and drops the `tracestate`; an invalid
//! `tracestate` is discarded without touching `traceparent`; an invalid baggage member is
//! skipped and the others are kept.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use crate::error::InvalidHeader;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";
/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// The `sampled` trace flag (`01`): the caller may have recorded this trace.
pub const FLAG_SAMPLED: u8 = 0x01;
/// The Level 2 `random` trace flag (`02`): the rightmost 7 bytes of the trace id are random.
pub const FLAG_RANDOM: u8 = 0x02;

/// Most `tracestate` members allowed by the W3C specification.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Most baggage members propagated (the W3C Baggage minimum every platform must carry).
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// Most bytes of a `baggage` header propagated (the W3C Baggage minimum).
pub const MAX_BAGGAGE_BYTES: usize = 8192;

/// Reads headers from a carrier. Header names are matched without regard to case.
pub trait Extractor {
    /// Every value of header `name`, in the order received; empty when absent.
    fn values(&self, name: &str) -> Vec<Cow<'_, str>>;
}

/// Writes headers into a carrier.
pub trait Injector {
    /// Sets header `name` (given in lower case) to `value`, replacing any earlier value.
    fn set(&mut self, name: &str, value: String);
}

impl Extractor for http::HeaderMap {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        // HeaderMap names are lower case, so the lookup ignores the sender's case.
        self.get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
            .collect()
    }
}

impl Injector for http::HeaderMap {
    fn set(&mut self, name: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for BTreeMap<String, String> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl Extractor for Vec<(String, String)> {
    fn values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| Cow::Borrowed(v.as_str()))
            .collect()
    }
}

impl Injector for Vec<(String, String)> {
    fn set(&mut self, name: &str, value: String) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }
}

/// Optional whitespace (OWS) as HTTP defines it: spaces and tabs.
fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes lower-case hex into `out`; `None` on any other character.
fn decode_lower_hex(text: &[u8], out: &mut [u8]) -> Option<()> {
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(())
}

pub(crate) fn write_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// A parsed `traceparent`: trace id, parent (span) id and trace flags.
///
/// ```
/// use andon_trace::TraceParent;
///
/// let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?;
/// assert!(tp.sampled() && tp.random());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
/// // A future version is read by its first four fields and written back as version 00.
/// let future = TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra")?;
/// assert_eq!(future.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), andon_trace::InvalidHeader>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// A traceparent from its parts. Only the sampled and random bits of `flags` are kept.
    ///
    /// # Errors
    ///
    /// An all-zero trace id or parent id is invalid.
    pub fn new(trace_id: [u8; 16], parent_id: [u8; 8], flags: u8) -> Result<Self, InvalidHeader> {
        if trace_id == [0; 16] {
            return Err(InvalidHeader::new(TRACEPARENT, "the trace id is all zero"));
        }
        if parent_id == [0; 8] {
            return Err(InvalidHeader::new(TRACEPARENT, "the parent id is all zero"));
        }
        Ok(TraceParent {
            trace_id,
            parent_id,
            flags: flags & (FLAG_SAMPLED | FLAG_RANDOM),
        })
    }

    /// Parses one `traceparent` value; spaces and tabs around it are ignored.
    ///
    /// # Errors
    ///
    /// Version `ff`, a version-00 value that is not exactly four fields, wrong field lengths,
    /// characters other than lower-case hex, and an all-zero trace or parent id.
    pub fn parse(value: &str) -> Result<Self, InvalidHeader> {
        const ERR_FORMAT: InvalidHeader = InvalidHeader::new(
            TRACEPARENT,
            "expected VERSION-TRACEID-PARENTID-FLAGS in lower-case hex (2-32-16-2 digits)",
        );
        let bytes = trim_ows(value).as_bytes();
        if bytes.len() < 55 {
            return Err(ERR_FORMAT);
        }
        let mut version = [0u8; 1];
        decode_lower_hex(&bytes[0..2], &mut version).ok_or(ERR_FORMAT)?;
        if version[0] == 0xff {
            return Err(InvalidHeader::new(TRACEPARENT, "version ff is forbidden"));
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return Err(ERR_FORMAT);
        }
        if version[0] == 0 && bytes.len() != 55 {
            return Err(InvalidHeader::new(
                TRACEPARENT,
                "version 00 has exactly four fields and no trailing data",
            ));
        }
        if bytes.len() > 55 && bytes[55] != b'-' {
            return Err(InvalidHeader::new(
                TRACEPARENT,
                "fields of a future version must follow the flags after a `-`",
            ));
        }
        let mut trace_id = [0u8; 16];
        let mut parent_id = [0u8; 8];
        let mut flags = [0u8; 1];
        decode_lower_hex(&bytes[3..35], &mut trace_id).ok_or(ERR_FORMAT)?;
        decode_lower_hex(&bytes[36..52], &mut parent_id).ok_or(ERR_FORMAT)?;
        decode_lower_hex(&bytes[53..55], &mut flags).ok_or(ERR_FORMAT)?;
        Self::new(trace_id, parent_id, flags[0])
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The parent (caller's span) id.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace flags: [`FLAG_SAMPLED`] and [`FLAG_RANDOM`] bits.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the sampled flag is set.
    pub fn sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }

    /// Whether the Level 2 random flag is set.
    pub fn random(&self) -> bool {
        self.flags & FLAG_RANDOM != 0
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::with_capacity(55);
        out.push_str("00-");
        write_hex(&mut out, &self.trace_id);
        out.push('-');
        write_hex(&mut out, &self.parent_id);
        out.push('-');
        write_hex(&mut out, &[self.flags]);
        f.write_str(&out)
    }
}

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
        let mut out = String::new();
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

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
            let hi = bytes.get(i + 1).and_then(|&h| hex_digit_any_case(h))?;
            let lo = bytes.get(i + 2).and_then(|&l| hex_digit_any_case(l))?;
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

fn hex_digit_any_case(b: u8) -> Option<u8> {
    hex_value(b.to_ascii_lowercase())
}

fn percent_encode(value: &str, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if is_baggage_octet(b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
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
    /// The key.
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
        let mut out = String::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&entry.encoded());
        }
        out
    }
}

/// The trace context received with a request: the caller's `traceparent` (if valid), its
/// `tracestate` and the baggage. Start spans under it with
/// [`AndonTracer::start_span_from`](crate::AndonTracer::start_span_from).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropagationContext {
    traceparent: Option<TraceParent>,
    tracestate: TraceState,
    baggage: Baggage,
}

impl PropagationContext {
    /// A context from its parts. A tracestate without a traceparent is dropped.
    pub fn new(traceparent: Option<TraceParent>, tracestate: TraceState, baggage: Baggage) -> Self {
        let tracestate = if traceparent.is_some() {
            tracestate
        } else {
            TraceState::default()
        };
        PropagationContext {
            traceparent,
            tracestate,
            baggage,
        }
    }

    /// The caller's traceparent; `None` when absent or invalid (a new trace starts).
    pub fn traceparent(&self) -> Option<&TraceParent> {
        self.traceparent.as_ref()
    }

    /// The caller's tracestate (empty when invalid, or when there is no valid traceparent).
    pub fn tracestate(&self) -> &TraceState {
        &self.tracestate
    }

    /// The baggage.
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// Writes `traceparent` (version 00), `tracestate` and `baggage`, leaving out what is empty.
    pub fn inject(&self, carrier: &mut impl Injector) {
        if let Some(tp) = &self.traceparent {
            carrier.set(TRACEPARENT, tp.to_string());
            if !self.tracestate.is_empty() {
                carrier.set(TRACESTATE, self.tracestate.header());
            }
        }
        if !self.baggage.is_empty() {
            carrier.set(BAGGAGE, self.baggage.header());
        }
    }

    /// The context as an `http::HeaderMap`.
    pub fn to_header_map(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        self.inject(&mut headers);
        headers
    }
}

/// Reads the W3C trace context and baggage from `carrier`, following the specifications: more
/// than one `traceparent` or an invalid one starts a new trace and drops the tracestate; an
/// invalid tracestate is discarded on its own; invalid baggage members are skipped.
///
/// ```
/// use std::collections::HashMap;
/// use andon_trace::extract;
///
/// let headers = HashMap::from([
///     ("TraceParent".to_owned(), " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t".to_owned()),
///     ("tracestate".to_owned(), "rojo=00f067aa0ba902b7".to_owned()),
/// ]);
/// let context = extract(&headers);
/// assert!(context.traceparent().unwrap().sampled());
/// assert_eq!(context.tracestate().get("rojo"), Some("00f067aa0ba902b7"));
/// ```
pub fn extract(carrier: &impl Extractor) -> PropagationContext {
    let parents = carrier.values(TRACEPARENT);
    let traceparent = match parents.as_slice() {
        [one] => TraceParent::parse(one).ok(),
        _ => None,
    };
    let tracestate = if traceparent.is_some() {
        let values = carrier.values(TRACESTATE);
        TraceState::parse(values.iter().map(|v| v.as_ref())).unwrap_or_default()
    } else {
        TraceState::default()
    };
    let values = carrier.values(BAGGAGE);
    let baggage = Baggage::parse(values.iter().map(|v| v.as_ref()));
    PropagationContext {
        traceparent,
        tracestate,
        baggage,
    }
}
