//! A record's trace fields (`trace_id`, `span_id`, `correlation_id`), resolved once from the
//! active span and the signal's own trace id for every layout.

use andon_core::TraceIds;

/// The trace fields of a record, resolved once for every format.
#[derive(Clone, Copy, Default)]
pub(crate) struct Trace<'a> {
    pub(super) trace: Option<TraceHex<'a>>,
    pub(super) span: Option<[u8; 8]>,
    pub(super) correlation: Option<&'a str>,
}

/// A trace id to write: bytes to hex-encode, or a W3C id already in its text form.
#[derive(Clone, Copy)]
pub(super) enum TraceHex<'a> {
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

    /// Writes the trace id as 32 lower-case hex digits.
    pub(super) fn write_trace(&self, buf: &mut Vec<u8>) {
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

/// Whether `text` is the lower-case hex of `bytes`.
fn hex_equals(bytes: &[u8; 16], text: &str) -> bool {
    let mut hex = Vec::with_capacity(32);
    write_hex(&mut hex, bytes);
    hex == text.as_bytes()
}

/// Appends `bytes` as lower-case hex.
pub(super) fn write_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        buf.extend_from_slice(&andon_core::hex::byte_digits(b, andon_core::hex::LOWER));
    }
}
