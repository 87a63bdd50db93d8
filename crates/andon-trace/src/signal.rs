//! Signals on traces: how a signal's trace id maps to a W3C trace id, and how JSON attribute
//! values become OpenTelemetry values.

use andon_core::AndonSignal;
use opentelemetry::{Array, KeyValue, StringValue, Value};

/// The W3C trace id a signal's trace id (`AndonSignal::trace_id`) stands for.
///
/// - 32 hex digits (any case) that are not all zero: that trace id, so a signal raised with
///   the id of a running trace joins it.
/// - A UUID in its 36-character hyphenated form: its 16 bytes, so a request id that is a UUID
///   is its own trace id.
/// - Anything else (such as `trace-123`): the 128-bit FNV-1a hash of its UTF-8 bytes (offset
///   basis `0x6c62272e07bb014262b821756295c58d`, prime `2^88 + 0x13b`), big-endian, with the
///   last byte set to 1 if the hash is zero. The same id always maps to the same trace, in
///   every process and version, and the original string is kept on the span as the attribute
///   `andon.correlation_id`.
///
/// ```
/// use andon_trace::correlation_trace_id;
///
/// let id = correlation_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736");
/// assert_eq!(id[0], 0x4b);
/// assert_eq!(correlation_trace_id("trace-123"), correlation_trace_id("trace-123"));
/// assert_ne!(correlation_trace_id("trace-123"), correlation_trace_id("trace-124"));
/// ```
pub fn correlation_trace_id(id: &str) -> [u8; 16] {
    // The mapping lives in andon-core, so trace links (`[tracer] ui_url`) name the same id.
    andon_core::w3c_trace_id(id)
}

/// A JSON value as an OpenTelemetry attribute value: strings, booleans and numbers as
/// themselves, arrays of one primitive type as arrays, anything else as its JSON text.
pub(crate) fn json_to_otel(value: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match value {
        J::String(s) => Value::String(s.clone().into()),
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::I64(i),
            (None, Some(f)) if n.is_f64() => Value::F64(f),
            _ => Value::String(n.to_string().into()),
        },
        J::Array(items) => {
            json_array(items).unwrap_or_else(|| Value::String(value.to_string().into()))
        }
        J::Null | J::Object(_) => Value::String(value.to_string().into()),
    }
}

fn json_array(items: &[serde_json::Value]) -> Option<Value> {
    use serde_json::Value as J;
    let array = match items.first()? {
        J::String(_) => every(items, |v| {
            v.as_str().map(|s| StringValue::from(s.to_owned()))
        })
        .map(Array::String),
        J::Bool(_) => every(items, J::as_bool).map(Array::Bool),
        J::Number(_) if items.iter().all(|v| v.as_i64().is_some()) => {
            every(items, J::as_i64).map(Array::I64)
        }
        J::Number(_) => every(items, J::as_f64).map(Array::F64),
        _ => None,
    };
    array.map(Value::Array)
}

/// Every item read as one primitive type, or `None` when one of them is of another.
fn every<T>(
    items: &[serde_json::Value],
    read: impl Fn(&serde_json::Value) -> Option<T>,
) -> Option<Vec<T>> {
    items.iter().map(read).collect()
}

/// The attributes describing a signal, as put on its span or event.
pub(crate) fn signal_attributes(signal: &AndonSignal) -> Vec<KeyValue> {
    let mut attributes = Vec::with_capacity(6 + signal.attributes().len());
    attributes.push(KeyValue::new("andon.signal.id", signal.id().to_string()));
    attributes.push(KeyValue::new("andon.color", signal.color().as_str()));
    attributes.push(KeyValue::new("andon.message", signal.message().to_owned()));
    attributes.push(KeyValue::new(
        "andon.log_level",
        signal.log_level().to_string(),
    ));
    if let Some(component) = signal.component() {
        attributes.push(KeyValue::new("andon.component", component.to_owned()));
    }
    if let Some(id) = signal
        .trace_id()
        .filter(|id| !andon_core::is_w3c_trace_id(id))
    {
        attributes.push(KeyValue::new("andon.correlation_id", id.to_owned()));
    }
    for (key, value) in signal.attributes() {
        attributes.push(KeyValue::new(key.clone(), json_to_otel(value)));
    }
    attributes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_keep_their_types() {
        assert_eq!(json_to_otel(&json!("x")), Value::String("x".into()));
        assert_eq!(json_to_otel(&json!(7)), Value::I64(7));
        assert_eq!(json_to_otel(&json!(1.5)), Value::F64(1.5));
        assert_eq!(json_to_otel(&json!(true)), Value::Bool(true));
        assert_eq!(
            json_to_otel(&json!(u64::MAX)),
            Value::String(u64::MAX.to_string().into())
        );
        assert_eq!(
            json_to_otel(&json!([1, 2])),
            Value::Array(Array::I64(vec![1, 2]))
        );
        assert_eq!(
            json_to_otel(&json!([1, 2.5])),
            Value::Array(Array::F64(vec![1.0, 2.5]))
        );
        assert_eq!(
            json_to_otel(&json!([1, "a"])),
            Value::String("[1,\"a\"]".into())
        );
        assert_eq!(
            json_to_otel(&json!({"a": 1})),
            Value::String("{\"a\":1}".into())
        );
        assert_eq!(json_to_otel(&json!(null)), Value::String("null".into()));
    }
}
