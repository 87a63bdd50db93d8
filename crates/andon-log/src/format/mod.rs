//! Turning one record into bytes, on the caller's thread: the JSON line, the text line and the
//! Cloud Logging line, written into a reused buffer with every string escaped so that nothing a
//! caller passes can end a record early or forge another one.
//!
//! The record and its layouts live here; the pieces they are made of each have a room:
//! [`escape`] (JSON escaping and the bounded message), [`kv`] (key-values, the slog
//! serializer), [`time`] (RFC 3339 and RFC 3164 timestamps) and [`trace`] (a record's trace
//! fields).

mod escape;
mod kv;
mod time;
mod trace;

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use andon_core::{AndonSignal, LogLevel};

use escape::{VecWriter, escape_into, write_bounded};
use kv::KvWriter;
pub(crate) use time::{write_rfc3164_time, write_rfc3339};
pub(crate) use trace::Trace;
use trace::write_hex;

/// A record's message: a plain string or format arguments (slog and `log` hand us these).
#[derive(Clone, Copy)]
pub(crate) enum Msg<'a> {
    /// A string, written quoted and escaped.
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

impl<'a> Loc<'a> {
    /// The location another logging facade (`log`, `tracing`) reports: none without a file;
    /// an unknown line is 0 and an unknown module "".
    pub(crate) fn reported(
        file: Option<&'a str>,
        line: Option<u32>,
        module: Option<&'a str>,
    ) -> Option<Self> {
        file.map(|file| Loc {
            file,
            line: line.unwrap_or(0),
            function: module.unwrap_or(""),
        })
    }
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

impl<'a> Entry<'a> {
    /// A record that came through another logging facade (`log` or `tracing`): written now,
    /// under the logger's `component`, with the facade's key-values `kv`; not a signal, and
    /// sampled like andon's own records.
    pub(crate) fn bridged(
        level: LogLevel,
        message: &'a fmt::Arguments<'a>,
        component: Option<&'a str>,
        location: Option<Loc<'a>>,
        kv: KvFn<'a>,
        tracing: bool,
    ) -> Self {
        Entry {
            level,
            time: SystemTime::now(),
            message: Msg::Args(message),
            component,
            signal: None,
            location,
            fields: &[],
            kv: Some(kv),
            sampled: true,
            tracing,
        }
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
        json_string(buf, b"component", |buf| escape_into(buf, component, true));
    }
    if trace.trace.is_some() {
        json_string(buf, b"trace_id", |buf| trace.write_trace(buf));
    }
    if let Some(span) = trace.span {
        json_string(buf, b"span_id", |buf| write_hex(buf, &span));
    }
    if let Some(correlation) = trace.correlation {
        json_string(buf, b"correlation_id", |buf| {
            escape_into(buf, correlation, true);
        });
    }
    if let Some(signal) = entry.signal {
        let _ = write!(VecWriter(buf), ",\"signal_id\":\"{}\"", signal.id());
        json_string(buf, b"color", |buf| {
            buf.extend_from_slice(signal.color().as_str().as_bytes());
        });
    }
}

/// Appends `,"NAME":"…"` with `value` writing the (already escaped) text between the quotes.
fn json_string(buf: &mut Vec<u8>, name: &[u8], value: impl FnOnce(&mut Vec<u8>)) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name);
    buf.extend_from_slice(b"\":\"");
    value(buf);
    buf.push(b'"');
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
    use andon_core::TraceIds;
    use std::time::{Duration, UNIX_EPOCH};

    use super::trace::is_w3c_trace_id;

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
