//! Turning one record into bytes, on the caller's thread: the JSON line, the text line and the
//! Cloud Logging line, written into a reused buffer with every string escaped so that nothing a
//! caller passes can end a record early or forge another one.

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use andon_core::{AndonSignal, LogLevel, TraceIds};

/// A record's message: a plain string or format arguments (slog and `log` hand us these).
#[derive(Clone, Copy)]
pub(crate) enum Msg<'a> {
    /// A string.
    Str(&'a str),
    /// Format arguments, formatted straight into the buffer.
    Args(&'a fmt::Arguments<'a>),
}

/// Where in the source a record was written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Loc<'a> {
    pub(crate) file: &'a str,
    pub(crate) line: u32,
    pub(crate) function: &'a str,
}

/// Writes a record's key-values into a slog serializer.
pub(crate) type KvFn<'a> = &'a dyn Fn(&mut dyn slog::Serializer) -> slog::Result;

/// One record, before formatting.
pub(crate) struct Entry<'a> {
    pub(crate) level: LogLevel,
    pub(crate) time: SystemTime,
    pub(crate) message: Msg<'a>,
    pub(crate) component: Option<&'a str>,
    pub(crate) signal: Option<&'a AndonSignal>,
    pub(crate) location: Option<Loc<'a>>,
    /// Key-values with their JSON types (a [`LogEntry`](andon_core::LogEntry)'s fields).
    pub(crate) fields: &'a [(String, serde_json::Value)],
    pub(crate) kv: Option<KvFn<'a>>,
    /// Whether sampling may leave the record out: true for ordinary records, false for
    /// signals and entries written through [`LogSink`](andon_core::LogSink).
    pub(crate) sampled: bool,
    /// A `tracing` event: filtered by the directives, not by andon's own level.
    pub(crate) tracing: bool,
}

/// The trace fields of a record, resolved once for every format.
#[derive(Clone, Copy, Default)]
pub(crate) struct Trace<'a> {
    trace: Option<TraceHex<'a>>,
    span: Option<[u8; 8]>,
    correlation: Option<&'a str>,
}

#[derive(Clone, Copy)]
enum TraceHex<'a> {
    Bytes([u8; 16]),
    Str(&'a str),
}

impl<'a> Trace<'a> {
    /// The trace fields of a record. A signal's own trace id wins over the active span's: a W3C
    /// id as given (32 lower-case hex digits) is the `trace_id`; any other form (upper-case hex,
    /// a UUID, a free-form id such as `trace-123`) is mapped the way andon-trace maps it for the
    /// signal's span ([`andon_core::w3c_trace_id`]), so the record's `trace_id` is the span's,
    /// and the id as given is kept as `correlation_id`. Logs and traces join on every form.
    pub(crate) fn resolve(active: Option<TraceIds>, signal_trace: Option<&'a str>) -> Self {
        match signal_trace {
            Some(id) if is_w3c_trace_id(id) => Trace {
                trace: Some(TraceHex::Str(id)),
                // The active span belongs to the record only when it is in the same trace.
                span: active
                    .filter(|a| hex_equals(&a.trace_id, id))
                    .map(|a| a.span_id),
                correlation: None,
            },
            Some(id) => {
                let mapped = andon_core::w3c_trace_id(id);
                Trace {
                    trace: Some(TraceHex::Bytes(mapped)),
                    span: active.filter(|a| a.trace_id == mapped).map(|a| a.span_id),
                    correlation: Some(id),
                }
            }
            None => Trace {
                trace: active.map(|a| TraceHex::Bytes(a.trace_id)),
                span: active.map(|a| a.span_id),
                correlation: None,
            },
        }
    }

    fn write_trace(&self, buf: &mut Vec<u8>) {
        match self.trace {
            Some(TraceHex::Bytes(bytes)) => write_hex(buf, &bytes),
            Some(TraceHex::Str(text)) => buf.extend_from_slice(text.as_bytes()),
            None => {}
        }
    }
}

/// Whether `id` is a W3C trace id: 32 lower-case hex digits, not all zero.
pub(crate) fn is_w3c_trace_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id.bytes().any(|b| b != b'0')
}

fn hex_equals(bytes: &[u8; 16], text: &str) -> bool {
    let mut hex = Vec::with_capacity(32);
    write_hex(&mut hex, bytes);
    hex == text.as_bytes()
}

fn write_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        buf.push(DIGITS[usize::from(b >> 4)]);
        buf.push(DIGITS[usize::from(b & 0x0f)]);
    }
}

thread_local! {
    /// The last second this thread formatted, and its `YYYY-MM-DDTHH:MM:SS` text: records
    /// mostly share their second, so the calendar arithmetic runs once a second.
    static SECOND: std::cell::Cell<(u64, [u8; 19])> = const { std::cell::Cell::new((u64::MAX, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch.
fn date_time(secs: u64) -> [u8; 19] {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00";
    put_digits(&mut out[0..4], year.min(9999));
    put_digits(&mut out[5..7], month);
    put_digits(&mut out[8..10], day);
    put_digits(&mut out[11..13], rem / 3600);
    put_digits(&mut out[14..16], rem % 3600 / 60);
    put_digits(&mut out[17..19], rem % 60);
    out
}

/// Fills `slot` with the low decimal digits of `value`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        // `value % 10` is below 10.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes `time` as RFC 3339 in UTC with `digits` (6 or 9) fractional digits.
pub(crate) fn write_rfc3339(buf: &mut Vec<u8>, time: SystemTime, digits: u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let prefix = SECOND
        .try_with(|cache| {
            let (cached, text) = cache.get();
            if cached == secs {
                text
            } else {
                let text = date_time(secs);
                cache.set((secs, text));
                text
            }
        })
        .unwrap_or_else(|_| date_time(secs));
    buf.extend_from_slice(&prefix);
    let mut frac = *b".000000000Z";
    if digits >= 9 {
        put_digits(&mut frac[1..10], u64::from(since.subsec_nanos()));
        buf.extend_from_slice(&frac);
    } else {
        put_digits(&mut frac[1..7], u64::from(since.subsec_micros()));
        buf.extend_from_slice(&frac[..7]);
        buf.push(b'Z');
    }
}

/// Writes `time` the RFC 3164 way: `Nov 26 23:41:07` (UTC).
pub(crate) fn write_rfc3164_time(buf: &mut Vec<u8>, time: SystemTime) {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (_, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let index = usize::try_from(month.saturating_sub(1))
        .unwrap_or(0)
        .min(11);
    buf.extend_from_slice(MONTHS[index]);
    buf.push(b' ');
    if day < 10 {
        buf.push(b' ');
        push_num(buf, day, 1);
    } else {
        push_num(buf, day, 2);
    }
    buf.push(b' ');
    push_num(buf, rem / 3600, 2);
    buf.push(b':');
    push_num(buf, rem % 3600 / 60, 2);
    buf.push(b':');
    push_num(buf, rem % 60, 2);
}

/// Pushes `value` in decimal, without the formatting machinery.
fn push_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // `value % 10` is below 10.
        digits[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Pushes `value` as exactly `width` decimal digits (zero-padded, high digits cut).
fn push_num(buf: &mut Vec<u8>, mut value: u64, width: usize) {
    let start = buf.len();
    buf.resize(start + width, b'0');
    for slot in buf[start..].iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// Year, month and day of the civil (proleptic Gregorian) calendar for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Howard Hinnant's algorithm, for non-negative day numbers.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// For each byte: 0 = copied as is, 1 = `\uXXXX`, else the letter after a backslash.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        table[i] = 1;
        i += 1;
    }
    table[0x7f] = 1;
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Whether any of the 8 bytes in `word` may need escaping: below 0x20, `"`, `\\` or DEL.
/// Exact for "none": a word that passes is copied as is.
fn word_needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (below_space
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        | has_zero(word ^ (ONES * 0x7f)))
        != 0
}

/// Appends `text` escaped for a JSON string (without the quotes). With `quotes` false (text
/// lines), `"` is left alone; control characters and backslashes are always escaped, so the
/// result never holds a raw newline.
pub(crate) fn escape_into(buf: &mut Vec<u8>, text: &str, quotes: bool) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Skip 8 clean bytes at a time; look at bytes one by one only where one may need it.
        let mut word = [b' '; 8];
        let rest = bytes.get(i..).unwrap_or_default();
        let take = rest.len().min(8);
        word[..take].copy_from_slice(&rest[..take]);
        if !word_needs_escape(u64::from_le_bytes(word)) {
            i += take;
            continue;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            let code = ESCAPE[usize::from(b)];
            if code != 0 && (b != b'"' || quotes) {
                buf.extend_from_slice(&bytes[start..i]);
                if code == 1 {
                    const DIGITS: &[u8; 16] = b"0123456789abcdef";
                    buf.extend_from_slice(b"\\u00");
                    buf.push(DIGITS[usize::from(b >> 4)]);
                    buf.push(DIGITS[usize::from(b & 0x0f)]);
                } else {
                    buf.push(b'\\');
                    buf.push(code);
                }
                start = i + 1;
            }
            i += 1;
        }
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// A `fmt::Write` that escapes into the buffer and keeps at most `left` bytes of the text,
/// cut at a character boundary; `total` counts everything it was given.
struct Bounded<'b> {
    buf: &'b mut Vec<u8>,
    left: usize,
    total: usize,
    quotes: bool,
}

impl fmt::Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        if self.left == 0 {
            return Ok(());
        }
        if s.len() <= self.left {
            escape_into(self.buf, s, self.quotes);
            self.left -= s.len();
        } else {
            let mut cut = self.left;
            while cut > 0 && !s.is_char_boundary(cut) {
                cut -= 1;
            }
            escape_into(self.buf, &s[..cut], self.quotes);
            self.left = 0;
        }
        Ok(())
    }
}

/// Writes `message` escaped, cut to `max` bytes with a marker naming the full size.
fn write_bounded(buf: &mut Vec<u8>, message: Msg<'_>, max: usize, quotes: bool) {
    let mut out = Bounded {
        buf,
        left: max,
        total: 0,
        quotes,
    };
    match message {
        Msg::Str(s) => {
            let _ = out.write_str(s);
        }
        Msg::Args(args) => match args.as_str() {
            Some(s) => {
                let _ = out.write_str(s);
            }
            None => {
                let _ = out.write_fmt(*args);
            }
        },
    }
    if out.total > max {
        let total = out.total;
        let _ = write!(VecWriter(out.buf), "… [truncated: {total} bytes]");
    }
}

/// `fmt::Write` straight into a byte buffer, for text we produce ourselves (no escaping needed).
struct VecWriter<'b>(&'b mut Vec<u8>);

impl fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The record layouts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Layout {
    /// andon's JSON line.
    Json,
    /// A readable line of text.
    Text,
    /// Google Cloud Logging's structured JSON.
    Cloud,
}

/// Field names that andon writes itself; a caller's key-value with the same name is written
/// as `kv_NAME` so that it cannot shadow them.
fn reserved(layout: Layout, key: &str) -> bool {
    match layout {
        Layout::Json | Layout::Text => matches!(
            key,
            "timestamp"
                | "level"
                | "message"
                | "component"
                | "trace_id"
                | "span_id"
                | "correlation_id"
                | "signal_id"
                | "color"
        ),
        Layout::Cloud => {
            matches!(key, "severity" | "message" | "time" | "trace_id")
                || key.starts_with("logging.googleapis.com/")
        }
    }
}

/// Writes key-values in a layout; the slog serializer of every andon record.
pub(crate) struct KvWriter<'b> {
    buf: &'b mut Vec<u8>,
    layout: Layout,
    max: usize,
}

impl<'b> KvWriter<'b> {
    fn new(buf: &'b mut Vec<u8>, layout: Layout, max: usize) -> Self {
        KvWriter { buf, layout, max }
    }

    fn key(&mut self, key: &str) {
        let prefix: &[u8] = if reserved(self.layout, key) {
            b"kv_"
        } else {
            b""
        };
        match self.layout {
            Layout::Json | Layout::Cloud => {
                self.buf.extend_from_slice(b",\"");
                self.buf.extend_from_slice(prefix);
                escape_into(self.buf, key, true);
                self.buf.extend_from_slice(b"\":");
            }
            Layout::Text => {
                self.buf.push(b' ');
                self.buf.extend_from_slice(prefix);
                escape_into(self.buf, key, true);
                self.buf.push(b'=');
            }
        }
    }

    fn str_value(&mut self, value: &str) {
        let quote = match self.layout {
            Layout::Json | Layout::Cloud => true,
            Layout::Text => {
                value.is_empty()
                    || value
                        .bytes()
                        .any(|b| b <= b' ' || b == b'"' || b == b'=' || b == 0x7f)
            }
        };
        if quote {
            self.buf.push(b'"');
        }
        write_bounded(self.buf, Msg::Str(value), self.max, quote);
        if quote {
            self.buf.push(b'"');
        }
    }

    fn args_value(&mut self, value: &fmt::Arguments<'_>) {
        if let Some(s) = value.as_str() {
            return self.str_value(s);
        }
        self.buf.push(b'"');
        write_bounded(self.buf, Msg::Args(value), self.max, true);
        self.buf.push(b'"');
    }

    fn raw(&mut self, value: fmt::Arguments<'_>) {
        let _ = VecWriter(self.buf).write_fmt(value);
    }

    fn json_value(&mut self, value: &serde_json::Value) {
        match (self.layout, value) {
            (Layout::Text, serde_json::Value::String(s)) => self.str_value(s),
            _ => {
                // Writing JSON into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *self.buf, value);
            }
        }
    }
}

impl slog::Serializer for KvWriter<'_> {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        self.key(key);
        self.args_value(val);
        Ok(())
    }

    fn emit_str(&mut self, key: slog::Key, val: &str) -> slog::Result {
        self.key(key);
        self.str_value(val);
        Ok(())
    }

    fn emit_char(&mut self, key: slog::Key, val: char) -> slog::Result {
        self.key(key);
        self.str_value(val.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }

    fn emit_bool(&mut self, key: slog::Key, val: bool) -> slog::Result {
        self.key(key);
        self.buf
            .extend_from_slice(if val { b"true" } else { b"false" });
        Ok(())
    }

    fn emit_unit(&mut self, key: slog::Key) -> slog::Result {
        self.key(key);
        self.buf.extend_from_slice(b"null");
        Ok(())
    }

    fn emit_none(&mut self, key: slog::Key) -> slog::Result {
        self.emit_unit(key)
    }

    fn emit_u8(&mut self, key: slog::Key, val: u8) -> slog::Result {
        self.emit_u64(key, u64::from(val))
    }
    fn emit_i8(&mut self, key: slog::Key, val: i8) -> slog::Result {
        self.emit_i64(key, i64::from(val))
    }
    fn emit_u16(&mut self, key: slog::Key, val: u16) -> slog::Result {
        self.emit_u64(key, u64::from(val))
    }
    fn emit_i16(&mut self, key: slog::Key, val: i16) -> slog::Result {
        self.emit_i64(key, i64::from(val))
    }
    fn emit_u32(&mut self, key: slog::Key, val: u32) -> slog::Result {
        self.emit_u64(key, u64::from(val))
    }
    fn emit_i32(&mut self, key: slog::Key, val: i32) -> slog::Result {
        self.emit_i64(key, i64::from(val))
    }
    fn emit_usize(&mut self, key: slog::Key, val: usize) -> slog::Result {
        self.key(key);
        push_u64(self.buf, val as u64);
        Ok(())
    }
    fn emit_isize(&mut self, key: slog::Key, val: isize) -> slog::Result {
        self.emit_i64(key, val as i64)
    }

    fn emit_u64(&mut self, key: slog::Key, val: u64) -> slog::Result {
        self.key(key);
        push_u64(self.buf, val);
        Ok(())
    }

    fn emit_i64(&mut self, key: slog::Key, val: i64) -> slog::Result {
        self.key(key);
        if val < 0 {
            self.buf.push(b'-');
        }
        push_u64(self.buf, val.unsigned_abs());
        Ok(())
    }

    fn emit_f32(&mut self, key: slog::Key, val: f32) -> slog::Result {
        self.emit_f64(key, f64::from(val))
    }

    fn emit_f64(&mut self, key: slog::Key, val: f64) -> slog::Result {
        self.key(key);
        if val.is_finite() {
            self.raw(format_args!("{val}"));
        } else {
            // JSON has no NaN or infinity: they are written as strings.
            self.buf.push(b'"');
            self.raw(format_args!("{val}"));
            self.buf.push(b'"');
        }
        Ok(())
    }
}

/// Writes one record in `layout`, ending with a newline.
///
/// `project` is the Cloud Logging project for the trace field. Errors from a caller's
/// key-value (a `Display` that fails) end the key-values early but still close the record.
pub(crate) fn write_record(
    buf: &mut Vec<u8>,
    entry: &Entry<'_>,
    trace: &Trace<'_>,
    layout: Layout,
    max_message: usize,
    project: Option<&str>,
) {
    match layout {
        Layout::Json => write_json(buf, entry, trace, max_message),
        Layout::Text => write_text(buf, entry, trace, max_message),
        Layout::Cloud => write_cloud(buf, entry, trace, max_message, project),
    }
    let mut kv = KvWriter::new(buf, layout, max_message);
    if let Some(signal) = entry.signal {
        for (key, value) in signal.attributes() {
            kv.key(key);
            kv.json_value(value);
        }
    }
    for (key, value) in entry.fields {
        kv.key(key);
        kv.json_value(value);
    }
    if let Some(f) = entry.kv {
        let _ = f(&mut kv);
    }
    if layout != Layout::Text {
        buf.push(b'}');
    }
    buf.push(b'\n');
}

fn write_json(buf: &mut Vec<u8>, entry: &Entry<'_>, trace: &Trace<'_>, max: usize) {
    buf.extend_from_slice(b"{\"timestamp\":\"");
    write_rfc3339(buf, entry.time, 9);
    buf.extend_from_slice(b"\",\"level\":\"");
    buf.extend_from_slice(entry.level.as_str().as_bytes());
    buf.extend_from_slice(b"\",\"message\":\"");
    write_bounded(buf, entry.message, max, true);
    buf.push(b'"');
    if let Some(component) = entry.component {
        buf.extend_from_slice(b",\"component\":\"");
        escape_into(buf, component, true);
        buf.push(b'"');
    }
    if trace.trace.is_some() {
        buf.extend_from_slice(b",\"trace_id\":\"");
        trace.write_trace(buf);
        buf.push(b'"');
    }
    if let Some(span) = trace.span {
        buf.extend_from_slice(b",\"span_id\":\"");
        write_hex(buf, &span);
        buf.push(b'"');
    }
    if let Some(correlation) = trace.correlation {
        buf.extend_from_slice(b",\"correlation_id\":\"");
        escape_into(buf, correlation, true);
        buf.push(b'"');
    }
    if let Some(signal) = entry.signal {
        let _ = write!(VecWriter(buf), ",\"signal_id\":\"{}\"", signal.id());
        buf.extend_from_slice(b",\"color\":\"");
        buf.extend_from_slice(signal.color().as_str().as_bytes());
        buf.push(b'"');
    }
}

fn write_text(buf: &mut Vec<u8>, entry: &Entry<'_>, trace: &Trace<'_>, max: usize) {
    write_rfc3339(buf, entry.time, 9);
    buf.push(b' ');
    buf.extend_from_slice(entry.level.as_str().as_bytes());
    buf.push(b' ');
    if let Some(component) = entry.component {
        buf.push(b'[');
        escape_into(buf, component, false);
        buf.extend_from_slice(b"] ");
    }
    write_bounded(buf, entry.message, max, false);
    if trace.trace.is_some() {
        buf.extend_from_slice(b" trace_id=");
        trace.write_trace(buf);
    }
    if let Some(span) = trace.span {
        buf.extend_from_slice(b" span_id=");
        write_hex(buf, &span);
    }
    if let Some(correlation) = trace.correlation {
        buf.extend_from_slice(b" correlation_id=");
        KvWriter::new(buf, Layout::Text, max).str_value(correlation);
    }
    if let Some(signal) = entry.signal {
        let _ = write!(
            VecWriter(buf),
            " signal_id={} color={}",
            signal.id(),
            signal.color()
        );
    }
}

fn write_cloud(
    buf: &mut Vec<u8>,
    entry: &Entry<'_>,
    trace: &Trace<'_>,
    max: usize,
    project: Option<&str>,
) {
    buf.extend_from_slice(b"{\"severity\":\"");
    buf.extend_from_slice(entry.level.as_str().as_bytes());
    buf.extend_from_slice(b"\",\"message\":\"");
    write_bounded(buf, entry.message, max, true);
    buf.extend_from_slice(b"\",\"time\":\"");
    write_rfc3339(buf, entry.time, 9);
    buf.push(b'"');
    if trace.trace.is_some() {
        match project {
            Some(project) => {
                buf.extend_from_slice(b",\"logging.googleapis.com/trace\":\"projects/");
                escape_into(buf, project, true);
                buf.extend_from_slice(b"/traces/");
            }
            None => buf.extend_from_slice(b",\"trace_id\":\""),
        }
        trace.write_trace(buf);
        buf.push(b'"');
    }
    if let Some(span) = trace.span {
        buf.extend_from_slice(b",\"logging.googleapis.com/spanId\":\"");
        write_hex(buf, &span);
        buf.extend_from_slice(b"\",\"logging.googleapis.com/trace_sampled\":true");
    }
    let has_labels =
        entry.component.is_some() || entry.signal.is_some() || trace.correlation.is_some();
    if has_labels {
        buf.extend_from_slice(b",\"logging.googleapis.com/labels\":{");
        let mut first = true;
        let mut label = |buf: &mut Vec<u8>, name: &str, value: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            buf.push(b'"');
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"\":\"");
            escape_into(buf, value, true);
            buf.push(b'"');
        };
        if let Some(component) = entry.component {
            label(buf, "component", component);
        }
        if let Some(signal) = entry.signal {
            label(buf, "signal_id", &signal.id().to_string());
            label(buf, "color", signal.color().as_str());
        }
        if let Some(correlation) = trace.correlation {
            label(buf, "correlation_id", correlation);
        }
        buf.push(b'}');
    }
    if let Some(loc) = entry.location {
        buf.extend_from_slice(b",\"logging.googleapis.com/sourceLocation\":{\"file\":\"");
        escape_into(buf, loc.file, true);
        // The API's LogEntrySourceLocation.line is an int64, which JSON carries as a string.
        let _ = write!(VecWriter(buf), "\",\"line\":\"{}\"", loc.line);
        if !loc.function.is_empty() {
            buf.extend_from_slice(b",\"function\":\"");
            escape_into(buf, loc.function, true);
            buf.push(b'"');
        }
        buf.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    fn entry(message: &str) -> Entry<'_> {
        Entry {
            level: LogLevel::Warning,
            time: at(1_700_000_000, 5_000),
            message: Msg::Str(message),
            component: None,
            signal: None,
            location: None,
            fields: &[],
            kv: None,
            sampled: true,
            tracing: false,
        }
    }

    fn json(entry: &Entry<'_>, trace: &Trace<'_>) -> serde_json::Value {
        let mut buf = Vec::new();
        write_record(&mut buf, entry, trace, Layout::Json, 64, None);
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&buf).unwrap()
    }

    #[test]
    fn escaping_agrees_with_serde_json_for_every_byte_position() {
        let specials = ["\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "✓", "a"];
        for len in 0..20 {
            for special in specials {
                for pos in 0..=len {
                    let mut text = "x".repeat(len);
                    text.insert_str(pos, special);
                    let mut buf = vec![b'"'];
                    escape_into(&mut buf, &text, true);
                    buf.push(b'"');
                    let back: String = serde_json::from_slice(&buf).unwrap();
                    assert_eq!(back, text);
                    assert!(!buf.iter().any(|&b| b < 0x20 || b == 0x7f), "{text:?}");
                }
            }
        }
        assert!(!word_needs_escape(u64::from_le_bytes(*b"abcdefgh")));
        assert!(!word_needs_escape(u64::from_le_bytes(*b"\xc3\xa9 !#[]~")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"abcdefg\"")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"\x7fbcdefgh")));
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut buf = Vec::new();
        write_rfc3339(&mut buf, at(1_700_000_000, 5), 9);
        assert_eq!(buf, b"2023-11-14T22:13:20.000000005Z");
        buf.clear();
        write_rfc3339(&mut buf, at(951_782_400, 123_456_789), 6); // 2000-02-29
        assert_eq!(buf, b"2000-02-29T00:00:00.123456Z");
        buf.clear();
        write_rfc3164_time(&mut buf, at(1_700_000_000, 0));
        assert_eq!(buf, b"Nov 14 22:13:20");
        buf.clear();
        write_rfc3164_time(&mut buf, at(1_699_000_000, 0));
        assert_eq!(buf, b"Nov  3 08:26:40");
        // Every day for 400 years agrees with humantime.
        for day in (0..146_097u64).step_by(7) {
            let t = at(day * 86_400 + 3_723, 0);
            buf.clear();
            write_rfc3339(&mut buf, t, 9);
            let expected = humantime_like(t);
            assert_eq!(String::from_utf8_lossy(&buf), expected);
        }
    }

    fn humantime_like(t: SystemTime) -> String {
        // The signal's own RFC 3339 form, from andon-core, as the reference.
        andon_core::AndonSignal::green("x")
            .with_timestamp(t)
            .timestamp_rfc3339()
    }

    #[test]
    fn a_forged_record_stays_inside_the_message() {
        let evil = "ok\n{\"level\":\"CRITICAL\",\"message\":\"forged\"}\r\u{1b}[31m\u{0}\\";
        let value = json(&entry(evil), &Trace::default());
        assert_eq!(value["message"], evil);
        assert_eq!(value["level"], "WARNING");
        let mut text = Vec::new();
        write_record(
            &mut text,
            &entry(evil),
            &Trace::default(),
            Layout::Text,
            1024,
            None,
        );
        assert_eq!(text.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(!text.contains(&0x1b));
    }

    #[test]
    fn long_messages_are_cut_at_a_char_boundary_with_a_marker() {
        let long = "é".repeat(100); // 200 bytes
        let value = json(&entry(&long), &Trace::default());
        let message = value["message"].as_str().unwrap();
        assert!(message.starts_with(&"é".repeat(32)), "{message}");
        assert!(message.ends_with("… [truncated: 200 bytes]"), "{message}");
        let args = format_args!("{}{}", "a".repeat(40), "b".repeat(40));
        let mut e = entry("");
        e.message = Msg::Args(&args);
        let value = json(&e, &Trace::default());
        assert_eq!(
            value["message"],
            format!(
                "{}{}… [truncated: 80 bytes]",
                "a".repeat(40),
                "b".repeat(24)
            )
        );
    }

    #[test]
    fn key_values_keep_their_types_and_cannot_shadow_fields() {
        let kv = |s: &mut dyn slog::Serializer| -> slog::Result {
            s.emit_u64("count", 3)?;
            s.emit_i32("delta", -2)?;
            s.emit_i64("min", i64::MIN)?;
            s.emit_u64("max", u64::MAX)?;
            s.emit_usize("zero", 0)?;
            s.emit_f64("ratio", 0.5)?;
            s.emit_f64("nan", f64::NAN)?;
            s.emit_bool("ok", true)?;
            s.emit_none("nothing")?;
            s.emit_str("level", "forged")?;
            s.emit_arguments("args", &format_args!("{}-{}", 1, "\n"))
        };
        let mut e = entry("m");
        e.kv = Some(&kv);
        let value = json(&e, &Trace::default());
        assert_eq!(value["count"], 3);
        assert_eq!(value["delta"], -2);
        assert_eq!(value["min"], i64::MIN);
        assert_eq!(value["max"], u64::MAX);
        assert_eq!(value["zero"], 0);
        assert_eq!(value["ratio"], 0.5);
        assert_eq!(value["nan"], "NaN");
        assert_eq!(value["ok"], true);
        assert!(value["nothing"].is_null());
        assert_eq!(value["level"], "WARNING");
        assert_eq!(value["kv_level"], "forged");
        assert_eq!(value["args"], "1-\n");
    }

    #[test]
    fn signals_carry_their_id_color_and_trace() {
        let hex = "4bf92f3577b34da6a3ce929d0e0e4736";
        let signal = AndonSignal::red("stop")
            .with_component("queue")
            .with_trace_id(hex)
            .with_attribute("depth", 150);
        let mut e = entry("stop");
        e.signal = Some(&signal);
        e.component = signal.component();
        let value = json(&e, &Trace::resolve(None, signal.trace_id()));
        assert_eq!(value["trace_id"], hex);
        assert_eq!(value["signal_id"], signal.id().to_string());
        assert_eq!(value["color"], "red");
        assert_eq!(value["component"], "queue");
        assert_eq!(value["depth"], 150);
        assert!(value.get("correlation_id").is_none());

        let active = TraceIds {
            trace_id: [1; 16],
            span_id: [2; 8],
        };
        // A free-form id is mapped as the signal's span maps it, and kept as given beside it;
        // the active span of another trace is not the record's.
        let value = json(&e, &Trace::resolve(Some(active), Some("trace-123")));
        assert_eq!(value["correlation_id"], "trace-123");
        assert_eq!(value["trace_id"], andon_core::w3c_trace_id_hex("trace-123"));
        assert!(value.get("span_id").is_none());
        // Upper-case hex and a UUID name the same W3C trace, in lower case.
        let upper = hex.to_uppercase();
        let value = json(&e, &Trace::resolve(None, Some(&upper)));
        assert_eq!(value["trace_id"], hex);
        assert_eq!(value["correlation_id"], upper.as_str());
        let uuid = "4bf92f35-77b3-4da6-a3ce-929d0e0e4736";
        let value = json(&e, &Trace::resolve(None, Some(uuid)));
        assert_eq!(value["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(value["correlation_id"], uuid);
        // The active span inside the signal's (mapped) trace stays on the record.
        let inside = TraceIds {
            trace_id: andon_core::w3c_trace_id("trace-123"),
            span_id: [2; 8],
        };
        let value = json(&e, &Trace::resolve(Some(inside), Some("trace-123")));
        assert_eq!(value["span_id"], "02".repeat(8));
        // Without a signal trace id the active span is the record's.
        let value = json(&e, &Trace::resolve(Some(active), None));
        assert_eq!(value["trace_id"], "01".repeat(16));
        assert_eq!(value["span_id"], "02".repeat(8));
        // A signal in another trace does not take the active span.
        let value = json(&e, &Trace::resolve(Some(active), Some(hex)));
        assert_eq!(value["trace_id"], hex);
        assert!(value.get("span_id").is_none());
        assert!(!is_w3c_trace_id(&"0".repeat(32)));
        assert!(!is_w3c_trace_id(&hex.to_uppercase()));
    }

    #[test]
    fn cloud_records_use_googles_field_names() {
        let active = TraceIds {
            trace_id: [0xab; 16],
            span_id: [0xcd; 8],
        };
        let mut e = entry("disk 91%");
        e.component = Some("disk");
        e.location = Some(Loc {
            file: "src/main.rs",
            line: 42,
            function: "app::check",
        });
        let mut buf = Vec::new();
        write_record(
            &mut buf,
            &e,
            &Trace::resolve(Some(active), None),
            Layout::Cloud,
            1024,
            Some("my-project"),
        );
        let value: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(value["severity"], "WARNING");
        assert_eq!(value["message"], "disk 91%");
        assert_eq!(value["time"], "2023-11-14T22:13:20.000005000Z");
        assert_eq!(
            value["logging.googleapis.com/trace"],
            format!("projects/my-project/traces/{}", "ab".repeat(16))
        );
        assert_eq!(value["logging.googleapis.com/spanId"], "cd".repeat(8));
        assert_eq!(value["logging.googleapis.com/labels"]["component"], "disk");
        let loc = &value["logging.googleapis.com/sourceLocation"];
        assert_eq!(loc["file"], "src/main.rs");
        assert_eq!(loc["line"], "42");
        assert_eq!(loc["function"], "app::check");
    }

    #[test]
    fn text_lines_are_readable() {
        let kv = |s: &mut dyn slog::Serializer| -> slog::Result {
            s.emit_str("path", "/a b")?;
            s.emit_str("user", "alice")
        };
        let mut e = entry("request \"served\"");
        e.component = Some("web");
        e.kv = Some(&kv);
        let mut buf = Vec::new();
        write_record(&mut buf, &e, &Trace::default(), Layout::Text, 1024, None);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2023-11-14T22:13:20.000005000Z WARNING [web] request \"served\" path=\"/a b\" user=alice\n"
        );
    }
}
