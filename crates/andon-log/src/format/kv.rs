//! Key-values in a record's layout: the slog serializer of every andon record, keeping numbers
//! and booleans as JSON types, quoting text values where the text layout needs it, and writing a
//! key named like one of andon's own fields as `kv_NAME`.

use std::fmt::{self, Write as _};

use super::escape::{VecWriter, escape_into, write_bounded};
use super::{Layout, Msg};

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
    pub(super) fn new(buf: &'b mut Vec<u8>, layout: Layout, max: usize) -> Self {
        KvWriter { buf, layout, max }
    }

    pub(super) fn key(&mut self, key: &str) {
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

    pub(super) fn str_value(&mut self, value: &str) {
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

    pub(super) fn json_value(&mut self, value: &serde_json::Value) {
        match (self.layout, value) {
            (Layout::Text, serde_json::Value::String(s)) => self.str_value(s),
            _ => {
                // Writing JSON into a Vec cannot fail.
                let _ = serde_json::to_writer(&mut *self.buf, value);
            }
        }
    }
}

/// The `slog::Serializer` methods of the narrower numbers, one per type: each writes its value
/// as the wider type it converts into without loss (`u8` as `u64`, `f32` as `f64`).
macro_rules! emit_widened {
    ($($emit:ident($narrow:ty) => $wide_emit:ident($wide:ty)),+ $(,)?) => {$(
        fn $emit(&mut self, key: slog::Key, val: $narrow) -> slog::Result {
            self.$wide_emit(key, <$wide>::from(val))
        }
    )+};
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

    emit_widened! {
        emit_u8(u8) => emit_u64(u64),
        emit_i8(i8) => emit_i64(i64),
        emit_u16(u16) => emit_u64(u64),
        emit_i16(i16) => emit_i64(i64),
        emit_u32(u32) => emit_u64(u64),
        emit_i32(i32) => emit_i64(i64),
        emit_f32(f32) => emit_f64(f64),
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
