//! Interop with another OpenTelemetry implementation: headers andon injects are read by the
//! Python OpenTelemetry SDK's W3C propagators, and headers the Python SDK injects are read by
//! andon. Uses the peers' virtualenv (`cargo xtask setup`); skipped loudly when it is missing.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use andon_core::config::TracerConfig;
use andon_trace::{AndonTracer, extract};
use serde_json::Value;

/// Runs `script` with `input` on stdin and parses its stdout as JSON.
fn python(interpreter: &Path, script: &str, input: &str) -> Value {
    let output = andon_tests::run_with_stdin(interpreter, ["-c", script], input);
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const PYTHON_EXTRACTS: &str = r#"
import json, sys
from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

carrier = json.load(sys.stdin)
ctx = TraceContextTextMapPropagator().extract(carrier)
ctx = W3CBaggagePropagator().extract(carrier, context=ctx)
sc = trace.get_current_span(ctx).get_span_context()
print(json.dumps({
    "valid": sc.is_valid,
    "remote": sc.is_remote,
    "trace_id": format(sc.trace_id, "032x"),
    "span_id": format(sc.span_id, "016x"),
    "flags": int(sc.trace_flags),
    "sampled": sc.trace_flags.sampled,
    "tracestate": sc.trace_state.to_header(),
    "baggage": {k: str(v) for k, v in baggage.get_all(ctx).items()},
}))
"#;

const PYTHON_INJECTS: &str = r#"
import json, sys
from opentelemetry import baggage, context, trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

provider = TracerProvider()
tracer = provider.get_tracer("interop")
upstream = SpanContext(
    trace_id=0x0af7651916cd43dd8448eb211c80319c,
    span_id=0xb7ad6b7169203331,
    is_remote=True,
    trace_flags=TraceFlags(1),
    trace_state=TraceState([("python", "t61rcWkgMzE"), ("rojo", "00f067aa0ba902b7")]),
)
ctx = trace.set_span_in_context(NonRecordingSpan(upstream))
ctx = baggage.set_baggage("user", "Amélie,née;=%", context=ctx)
ctx = baggage.set_baggage("spaced", "a b", context=ctx)
ctx = baggage.set_baggage("tenant", "acme", context=ctx)
context.attach(ctx)
with tracer.start_as_current_span("py-client") as span:
    carrier = {}
    CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]).inject(carrier)
    sc = span.get_span_context()
    print(json.dumps({
        "headers": carrier,
        "trace_id": format(sc.trace_id, "032x"),
        "span_id": format(sc.span_id, "016x"),
    }))
"#;

fn disabled_tracer() -> AndonTracer {
    AndonTracer::new(TracerConfig {
        enabled: false,
        ..TracerConfig::default()
    })
    .unwrap()
}

#[test]
fn python_reads_what_andon_injects() {
    let Some(interpreter) = andon_tests::peers_python() else {
        return;
    };
    let tracer = disabled_tracer();
    let incoming = extract(&vec![
        (
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        ),
        ("tracestate".to_owned(), "congo=t61rcWkgMzE".to_owned()),
        ("baggage".to_owned(), "userId=alice".to_owned()),
    ]);
    let server = tracer.start_span_from(&incoming, "server").unwrap();
    tracer.set_tracestate(&server, "andon", "s1").unwrap();
    tracer
        .set_baggage(&server, "note", "50% off, ünïcode")
        .unwrap();
    let client = tracer.start_child_span(&server, "client").unwrap();
    let mut headers = HashMap::new();
    tracer.inject_into(&client, &mut headers).unwrap();

    let seen = python(
        &interpreter,
        PYTHON_EXTRACTS,
        &serde_json::to_string(&headers).unwrap(),
    );
    let ids = tracer.ids(&client).unwrap();
    assert_eq!(seen["valid"], true, "{seen}");
    assert_eq!(seen["remote"], true);
    assert_eq!(seen["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(seen["span_id"], ids.span_id_hex());
    assert_eq!(seen["sampled"], true);
    assert_eq!(seen["tracestate"], "andon=s1,congo=t61rcWkgMzE");
    assert_eq!(seen["baggage"]["userId"], "alice");
    assert_eq!(seen["baggage"]["note"], "50% off, ünïcode");

    // A new root from andon: its random flag (Level 2) does not upset a Level 1 reader.
    let root = tracer.start_span("root").unwrap();
    let mut headers = HashMap::new();
    tracer.inject_into(&root, &mut headers).unwrap();
    assert!(headers["traceparent"].ends_with("-02"), "{headers:?}");
    let seen = python(
        &interpreter,
        PYTHON_EXTRACTS,
        &serde_json::to_string(&headers).unwrap(),
    );
    assert_eq!(seen["valid"], true);
    assert_eq!(seen["trace_id"], tracer.ids(&root).unwrap().trace_id_hex());
    assert_eq!(seen["sampled"], false);
}

#[test]
fn andon_reads_what_python_injects() {
    let Some(interpreter) = andon_tests::peers_python() else {
        return;
    };
    let sent = python(&interpreter, PYTHON_INJECTS, "");
    let headers: HashMap<String, String> = serde_json::from_value(sent["headers"].clone()).unwrap();
    let context = extract(&headers);
    let tp = context
        .traceparent()
        .expect("python's traceparent is valid");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(hex(&tp.trace_id()), sent["trace_id"].as_str().unwrap());
    assert_eq!(hex(&tp.trace_id()), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&tp.parent_id()), sent["span_id"].as_str().unwrap());
    assert!(tp.sampled());
    assert_eq!(
        context.tracestate().header(),
        "python=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
    assert_eq!(context.baggage().get("user"), Some("Amélie,née;=%"));
    // Python encodes a space as `+` (form encoding); the W3C Baggage specification reads `+`
    // as itself, and so does andon (a known divergence of the Python propagator).
    assert_eq!(context.baggage().get("spaced"), Some("a+b"));
    assert_eq!(context.baggage().get("tenant"), Some("acme"));

    // andon continues Python's trace under Python's span.
    let tracer = disabled_tracer();
    let span = tracer.start_span_from(&context, "andon-server").unwrap();
    let out = tracer.propagation_context(&span).unwrap();
    let next = out.traceparent().unwrap();
    assert_eq!(next.trace_id(), tp.trace_id());
    assert_ne!(next.parent_id(), tp.parent_id());
    assert!(next.sampled());
    assert_eq!(out.tracestate(), context.tracestate());
    assert_eq!(out.baggage(), context.baggage());
}
