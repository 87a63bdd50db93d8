//! End to end with a real OTLP receiver (the harness's, on loopback): a RED signal's span carries
//! the trace id its JSON log line carries, a non-W3C id is mapped and kept as the correlation
//! id, and `shutdown()` loses nothing: every sink holds exactly what was sent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::Duration;

use andon::trace::correlation_trace_id;
use andon::{AndonSignal, AndonSystem, Color};
use andon_tests::otlp::{OtlpReceiver, ReceivedSpan};

mod support;
use support::{alerts_path, full_config, log_path, read_lines};

/// Bounds a broken run only: the receiver answers in milliseconds.
const WAIT: Duration = Duration::from_secs(20);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn span_of<'a>(spans: &'a [ReceivedSpan], message: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.attribute("andon.message").as_deref() == Some(message))
        .unwrap_or_else(|| panic!("no span for {message:?} among {} spans", spans.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_signal_is_one_trace_in_the_log_and_at_the_receiver() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = receiver.grpc_endpoint();
    let config = full_config(dir.path(), andon_tests::free_port(), Some(&endpoint));
    let system = AndonSystem::new(config).await.unwrap();

    let w3c = "4bf92f3577b34da6a3ce929d0e0e4736";
    let outcome = system
        .signal_problem(
            AndonSignal::red("Payment gateway down")
                .with_component("checkout")
                .with_trace_id(w3c),
        )
        .await
        .unwrap();
    assert_eq!(outcome.delivered_to, ["log", "metrics", "trace", "alert"]);
    system
        .signal_problem(
            AndonSignal::red("Queue overflow - stop processing")
                .with_component("queue-handler")
                .with_trace_id("trace-123"),
        )
        .await
        .unwrap();
    // The other forms a caller may send: W3C hex in upper case, and a UUID.
    let upper = "4BF92F3577B34DA6A3CE929D0E0E4737";
    let uuid = "4bf92f35-77b3-4da6-a3ce-929d0e0e4738";
    for (message, id) in [("Upper-case trace id", upper), ("UUID trace id", uuid)] {
        system
            .signal_problem(AndonSignal::yellow(message).with_trace_id(id))
            .await
            .unwrap();
    }

    // Spans leave off the caller's path; they arrive without a flush.
    let spans = receiver.wait_for_spans(4, WAIT).await;
    // The tracer's own counters reach /metrics: exported spans, and none dropped.
    let metrics = system.metrics().unwrap();
    let exported = andon_tests::wait_for(WAIT, || {
        let body = metrics.render();
        let value = |outcome: &str| {
            body.lines()
                .find(|l| {
                    l.starts_with(&format!("andon_trace_spans_total{{outcome=\"{outcome}\"}}"))
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        assert_eq!(value("dropped"), Some(0.0), "{body}");
        value("exported").filter(|n| *n >= 2.0)
    });
    assert!(
        exported.is_some(),
        "andon_trace_spans_total{{outcome=\"exported\"}} never reached 2"
    );
    system.shutdown().await.unwrap();
    let records = read_lines(&log_path(dir.path()));
    let record = |message: &str| {
        records
            .iter()
            .find(|r| r["message"] == message)
            .unwrap_or_else(|| panic!("no log record {message:?}: {records:#?}"))
    };

    // A W3C trace id: the same id in the log line and on the span.
    let logged = record("Payment gateway down");
    assert_eq!(logged["level"], "CRITICAL");
    assert_eq!(logged["trace_id"], w3c);
    let span = span_of(&spans, "Payment gateway down");
    assert_eq!(span.trace_id(), w3c);
    assert_eq!(span.trace_id(), logged["trace_id"].as_str().unwrap());
    assert_eq!(span.attribute("andon.correlation_id"), None);
    assert_eq!(span.attribute("andon.color").as_deref(), Some("red"));
    assert_eq!(span.attribute("line.stopped").as_deref(), Some("true"));

    // Not a W3C trace id as given: the span is in the trace it maps to, deterministically, and
    // the log line carries that same trace id (logs and traces join), with the id as given kept
    // as the correlation id. Never an invalid trace id.
    let logged = record("Queue overflow - stop processing");
    assert_eq!(logged["correlation_id"], "trace-123");
    let span = span_of(&spans, "Queue overflow - stop processing");
    assert_eq!(span.trace_id(), hex(&correlation_trace_id("trace-123")));
    assert_eq!(
        logged["trace_id"].as_str(),
        Some(span.trace_id().as_str()),
        "{logged}"
    );
    for (message, id, expected) in [
        (
            "Upper-case trace id",
            upper,
            "4bf92f3577b34da6a3ce929d0e0e4737",
        ),
        ("UUID trace id", uuid, "4bf92f3577b34da6a3ce929d0e0e4738"),
    ] {
        let logged = record(message);
        let span = span_of(&spans, message);
        assert_eq!(span.trace_id(), expected, "{message}");
        assert_eq!(logged["trace_id"], expected, "{logged}");
        assert_eq!(logged["correlation_id"], id, "{logged}");
    }
    assert_eq!(
        span.attribute("andon.correlation_id").as_deref(),
        Some("trace-123")
    );
    assert_eq!(
        span.attribute("andon.component").as_deref(),
        Some("queue-handler")
    );

    // The alert carries the same ids.
    let alerts = read_lines(&alerts_path(dir.path()));
    let text = serde_json::Value::Array(alerts).to_string();
    assert!(text.contains(w3c), "{text}");
    assert!(text.contains("trace-123"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_loses_nothing_that_was_accepted() {
    const PER_COLOR: usize = 40;
    let receiver = OtlpReceiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = receiver.grpc_endpoint();
    let mut config = full_config(dir.path(), andon_tests::free_port(), Some(&endpoint));
    // Exports wait longer than the test takes: only shutdown's flush can deliver them.
    config.tracer.scheduled_delay_ms = 60_000;
    let system = AndonSystem::new(config).await.unwrap();

    // Each RED from its own component: one alert each, none merged with another.
    let mut sent = 0;
    for i in 0..PER_COLOR {
        for (color, signal) in [
            (Color::Red, AndonSignal::red(format!("red {i}"))),
            (Color::Yellow, AndonSignal::yellow(format!("yellow {i}"))),
            (Color::Green, AndonSignal::green(format!("green {i}"))),
        ] {
            let component = format!("loss-{color}-{i}");
            system
                .signal_problem(signal.with_component(component))
                .await
                .unwrap();
            sent += 1;
        }
    }
    system.shutdown().await.unwrap();

    let ours = |component: Option<&str>| component.is_some_and(|c| c.starts_with("loss-"));
    let logged = read_lines(&log_path(dir.path()))
        .iter()
        .filter(|r| ours(r["component"].as_str()))
        .count();
    let spans = receiver
        .spans()
        .iter()
        .filter(|s| ours(s.attribute("andon.component").as_deref()))
        .count();
    let alerts = read_lines(&alerts_path(dir.path()));
    let alerted = alerts
        .iter()
        .filter(|n| ours(n["alerts"][0]["labels"]["component"].as_str()))
        .count();
    assert_eq!(
        (logged, spans, alerted),
        (sent, sent, PER_COLOR),
        "log records, spans and alert notifications against {sent} signals sent, {PER_COLOR} of them RED"
    );
}
