//! Spans exported to a real OTLP receiver (the official protocol definitions, served over gRPC
//! by tonic and over HTTP by axum on loopback): what a collector or Jaeger receives.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use andon_core::config::{OtlpProtocol, TracerConfig};
use andon_core::{AndonSignal, SignalSink, TraceContext};
use andon_tests::otlp::{OtlpReceiver, ReceivedSpan, Transport, status::StatusCode};
use andon_trace::{AndonTracer, SpanStatus, TraceError, correlation_trace_id, extract};
use serde_json::json;

/// Generous: the receiver answers in milliseconds; this only bounds a broken run.
const WAIT: Duration = Duration::from_secs(20);

fn config(endpoint: String, protocol: OtlpProtocol) -> TracerConfig {
    TracerConfig {
        service_name: "checkout".into(),
        service_version: Some("2.4.1".into()),
        sampling_ratio: 1.0,
        otlp_endpoint: endpoint,
        protocol,
        ..TracerConfig::default()
    }
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans.iter().find(|s| s.name() == name).unwrap_or_else(|| {
        panic!(
            "no span named {name} in {:?}",
            spans.iter().map(ReceivedSpan::name).collect::<Vec<_>>()
        )
    })
}

async fn parent_child_round_trip(protocol: OtlpProtocol) {
    let receiver = OtlpReceiver::start().await.unwrap();
    let endpoint = match protocol {
        OtlpProtocol::Grpc => receiver.grpc_endpoint(),
        OtlpProtocol::Http => receiver.http_endpoint(),
    };
    let tracer = AndonTracer::new(config(endpoint, protocol)).unwrap();

    let request = tracer.start_span("request-processing").unwrap();
    tracer
        .add_span_attribute(&request, "user_id", json!("123"))
        .unwrap();
    tracer
        .add_span_attribute(&request, "items", json!(3))
        .unwrap();
    tracer
        .add_span_attribute(&request, "express", json!(true))
        .unwrap();
    tracer
        .add_span_attribute(&request, "tags", json!(["a", "b"]))
        .unwrap();
    let query = tracer.start_child_span(&request, "db-query").unwrap();
    tracer
        .add_event(&query, "cache-miss", [("key", json!("user:123"))])
        .unwrap();
    tracer
        .end_span(&query, SpanStatus::Error("timeout after 3 s".into()))
        .unwrap();
    tracer.end_span(&request, SpanStatus::Ok).unwrap();
    let ids = (tracer.stats().spans_started, tracer.stats().spans_queued);
    assert_eq!(ids, (2, 2));

    tracer.flush().await.unwrap();
    let spans = receiver.wait_for_spans(2, WAIT).await;
    assert_eq!(spans.len(), 2, "{spans:?}");
    let expected_transport = match protocol {
        OtlpProtocol::Grpc => Transport::Grpc,
        OtlpProtocol::Http => Transport::Http,
    };
    assert!(spans.iter().all(|s| s.transport == expected_transport));

    let root = by_name(&spans, "request-processing");
    let child = by_name(&spans, "db-query");
    assert_eq!(root.parent_span_id(), "");
    assert_eq!(child.parent_span_id(), root.span_id());
    assert_eq!(child.trace_id(), root.trace_id());
    assert_ne!(child.span_id(), root.span_id());

    assert_eq!(root.attribute("user_id").as_deref(), Some("123"));
    assert_eq!(root.attribute("items").as_deref(), Some("3"));
    assert_eq!(root.attribute("express").as_deref(), Some("true"));
    assert_eq!(root.attribute("tags").as_deref(), Some("[a,b]"));
    assert_eq!(root.status_code(), StatusCode::Ok);
    assert_eq!(child.status_code(), StatusCode::Error);
    assert_eq!(child.status_message(), "timeout after 3 s");
    assert_eq!(child.event_names(), ["cache-miss"]);
    assert_eq!(
        child.event_attribute("cache-miss", "key").as_deref(),
        Some("user:123")
    );

    for span in [root, child] {
        assert_eq!(
            span.resource_attribute("service.name").as_deref(),
            Some("checkout")
        );
        assert_eq!(
            span.resource_attribute("service.version").as_deref(),
            Some("2.4.1")
        );
        assert!(
            span.resource_attribute("host.name")
                .is_some_and(|h| !h.is_empty())
        );
        assert_eq!(span.scope, "andon-trace");
    }

    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let stats = tracer.stats();
    assert_eq!(
        (
            stats.spans_exported,
            stats.spans_dropped,
            stats.spans_failed
        ),
        (2, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_real_receiver_over_grpc() {
    parent_child_round_trip(OtlpProtocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_a_real_receiver_over_http() {
    parent_child_round_trip(OtlpProtocol::Http).await;
}

#[tokio::test]
async fn shutdown_exports_every_ended_span_and_ends_open_ones() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(TracerConfig {
        // A long delay: only the shutdown can send these spans in time.
        scheduled_delay_ms: 3_600_000,
        max_export_batch_size: 7,
        ..config(receiver.grpc_endpoint(), OtlpProtocol::Grpc)
    })
    .unwrap();
    for i in 0..50 {
        let span = tracer.start_span(format!("job-{i}")).unwrap();
        tracer.end_span(&span, SpanStatus::Ok).unwrap();
    }
    let open = tracer.start_span("still-open").unwrap();
    assert_eq!(tracer.open_spans(), 1);
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    // Everything is there as soon as shutdown returns.
    let spans = receiver.spans();
    assert_eq!(spans.len(), 51);
    assert!(spans.iter().any(|s| s.name() == "still-open"));
    assert_eq!(tracer.stats().spans_exported, 51);
    // After shutdown: errors, not panics.
    assert!(matches!(
        tracer.start_span("late"),
        Err(TraceError::ShutDown)
    ));
    assert!(matches!(
        tracer.end_span(&open, SpanStatus::Ok),
        Err(TraceError::UnknownSpan(_))
    ));
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn an_ended_or_foreign_handle_is_an_error_not_a_panic() {
    let tracer = AndonTracer::new(TracerConfig {
        enabled: false,
        ..TracerConfig::default()
    })
    .unwrap();
    let other = AndonTracer::new(TracerConfig {
        enabled: false,
        ..TracerConfig::default()
    })
    .unwrap();
    let span = tracer.start_span("a").unwrap();
    tracer.end_span(&span, SpanStatus::Ok).unwrap();
    let err = tracer.end_span(&span, SpanStatus::Ok).unwrap_err();
    assert!(
        err.to_string().contains("unknown or already ended"),
        "{err}"
    );
    assert!(tracer.add_span_attribute(&span, "k", json!(1)).is_err());
    assert!(tracer.start_child_span(&span, "b").is_err());
    assert!(tracer.inject(&span).is_err());
    // The slot is reused by the next span: the old handle still does not reach it.
    let next = tracer.start_span("c").unwrap();
    assert!(tracer.end_span(&span, SpanStatus::Ok).is_err());
    let foreign = other.start_span("d").unwrap();
    assert!(tracer.end_span(&foreign, SpanStatus::Ok).is_err());
    tracer.end_span(&next, SpanStatus::Ok).unwrap();
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(TracerConfig {
        max_queue_size: 10,
        max_export_batch_size: 10,
        scheduled_delay_ms: 3_600_000,
        ..config(receiver.grpc_endpoint(), OtlpProtocol::Grpc)
    })
    .unwrap();
    // On this current-thread runtime the exporter task cannot run during the loop.
    for _ in 0..25 {
        let span = tracer.start_span("burst").unwrap();
        tracer.end_span(&span, SpanStatus::Unset).unwrap();
    }
    let stats = tracer.stats();
    assert_eq!((stats.spans_queued, stats.spans_dropped), (10, 15));
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    assert_eq!(receiver.spans().len(), 10);
    assert_eq!(tracer.stats().spans_exported, 10);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_and_counted() {
    for protocol in [OtlpProtocol::Grpc, OtlpProtocol::Http] {
        let receiver = OtlpReceiver::start().await.unwrap();
        let endpoint = match protocol {
            OtlpProtocol::Grpc => receiver.grpc_endpoint(),
            OtlpProtocol::Http => receiver.http_endpoint(),
        };
        let tracer = AndonTracer::new(config(endpoint, protocol)).unwrap();
        // An overloaded collector: the export is retried and succeeds.
        receiver.fail_next(1, true);
        let span = tracer.start_span("retried").unwrap();
        tracer.end_span(&span, SpanStatus::Ok).unwrap();
        tracer.flush().await.unwrap();
        assert_eq!(receiver.spans().len(), 1, "{protocol:?}");
        assert_eq!(receiver.requests(), 2, "{protocol:?}");
        assert_eq!(tracer.stats().spans_exported, 1);
        assert_eq!(tracer.stats().export_errors, 0);

        // A refusal that must not be retried: the span is counted as failed, nothing panics.
        receiver.fail_next(1, false);
        let span = tracer.start_span("lost").unwrap();
        tracer.end_span(&span, SpanStatus::Ok).unwrap();
        tracer.flush().await.unwrap();
        let stats = tracer.stats();
        assert_eq!(
            (stats.spans_failed, stats.export_errors),
            (1, 1),
            "{protocol:?}"
        );
        assert_eq!(receiver.spans().len(), 1);
        assert!(
            tracer
                .shutdown(std::time::Duration::from_secs(30))
                .await
                .is_complete()
        );
    }
}

#[tokio::test]
async fn sampling_follows_the_ratio_and_the_parent() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(TracerConfig {
        sampling_ratio: 0.0,
        ..config(receiver.grpc_endpoint(), OtlpProtocol::Grpc)
    })
    .unwrap();
    // Ratio 0: new traces are not recorded, and neither are their children.
    let root = tracer.start_span("dropped").unwrap();
    let child = tracer.start_child_span(&root, "dropped-child").unwrap();
    assert!(!tracer.is_recording(&root).unwrap());
    assert!(!tracer.is_recording(&child).unwrap());
    let headers = tracer.inject(&child).unwrap();
    assert!(headers["traceparent"].to_str().unwrap().ends_with("-02"));
    // A caller that sampled its trace is followed (parent-based).
    let sampled = extract(&vec![(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    )]);
    let kept = tracer.start_span_from(&sampled, "kept").unwrap();
    assert!(tracer.is_recording(&kept).unwrap());
    for span in [child, root, kept] {
        tracer.end_span(&span, SpanStatus::Ok).unwrap();
    }
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name(), "kept");
    assert_eq!(spans[0].trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(spans[0].parent_span_id(), "00f067aa0ba902b7");
    let stats = tracer.stats();
    assert_eq!((stats.spans_started, stats.spans_not_sampled), (3, 2));
}

#[tokio::test]
async fn signals_become_spans_joined_to_their_trace() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(TracerConfig {
        // Signals are recorded whatever the ratio.
        sampling_ratio: 0.0,
        ..config(receiver.grpc_endpoint(), OtlpProtocol::Grpc)
    })
    .unwrap();
    let sink: &dyn SignalSink = &tracer;
    let red = AndonSignal::red("Queue overflow - stop processing")
        .with_component("queue-handler")
        .with_trace_id("trace-123")
        .with_attribute("depth", 150);
    sink.on_signal(&red).await.unwrap();
    let yellow = AndonSignal::yellow("slow").with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736");
    sink.on_signal(&yellow).await.unwrap();
    sink.shutdown().await.unwrap();

    let spans = receiver.spans();
    assert_eq!(spans.len(), 2);
    let red_span = spans
        .iter()
        .find(|s| s.attribute("andon.color").as_deref() == Some("red"))
        .unwrap();
    assert_eq!(red_span.name(), "andon.signal");
    let mapped: String = correlation_trace_id("trace-123")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(red_span.trace_id(), mapped);
    assert_eq!(
        red_span.attribute("andon.correlation_id").as_deref(),
        Some("trace-123")
    );
    assert_eq!(
        red_span.attribute("andon.component").as_deref(),
        Some("queue-handler")
    );
    assert_eq!(
        red_span.attribute("andon.message").as_deref(),
        Some("Queue overflow - stop processing")
    );
    assert_eq!(red_span.attribute("depth").as_deref(), Some("150"));
    assert_eq!(red_span.status_code(), StatusCode::Error);
    assert_eq!(
        red_span.status_message(),
        "Queue overflow - stop processing"
    );
    assert_eq!(
        red_span.span.start_time_unix_nano,
        red.timestamp()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    );

    let yellow_span = spans
        .iter()
        .find(|s| s.attribute("andon.color").as_deref() == Some("yellow"))
        .unwrap();
    assert_eq!(yellow_span.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(yellow_span.attribute("andon.correlation_id"), None);
    assert_eq!(yellow_span.status_code(), StatusCode::Unset);
    // Refused after shutdown, through the trait too.
    assert!(sink.on_signal(&red).await.is_err());
}

#[tokio::test]
async fn record_signal_marks_the_current_span_and_logs_see_its_ids() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(config(receiver.grpc_endpoint(), OtlpProtocol::Grpc)).unwrap();
    let span = tracer.start_span("handler").unwrap();
    assert!(matches!(
        tracer.record_signal(&AndonSignal::red("x")),
        Err(TraceError::NoCurrentSpan)
    ));
    assert_eq!(TraceContext::current(&tracer), None);
    {
        let _entered = tracer.enter(&span).unwrap();
        // The logger's view: the ids of the entered span.
        assert_eq!(
            TraceContext::current(&tracer),
            Some(tracer.ids(&span).unwrap())
        );
        tracer
            .record_signal(&AndonSignal::yellow("queue at 80%"))
            .unwrap();
        tracer
            .record_signal(&AndonSignal::red("queue full").with_component("q"))
            .unwrap();
    }
    assert_eq!(TraceContext::current(&tracer), None);
    // RED wins over a later Ok.
    tracer.end_span(&span, SpanStatus::Ok).unwrap();
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let spans = receiver.spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].event_names(), ["andon.signal", "andon.signal"]);
    assert_eq!(
        spans[0]
            .event_attribute("andon.signal", "andon.color")
            .as_deref(),
        Some("yellow")
    );
    assert_eq!(spans[0].status_code(), StatusCode::Error);
    assert_eq!(spans[0].status_message(), "queue full");
}

#[tokio::test]
async fn baggage_and_tracestate_travel_with_the_trace() {
    let tracer = AndonTracer::new(TracerConfig {
        enabled: false,
        ..TracerConfig::default()
    })
    .unwrap();
    let incoming = extract(&vec![
        (
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
        ),
        (
            "tracestate".to_owned(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned(),
        ),
        ("baggage".to_owned(), "userId=alice".to_owned()),
    ]);
    let server = tracer.start_span_from(&incoming, "server").unwrap();
    assert_eq!(
        tracer.baggage(&server, "userId").unwrap().as_deref(),
        Some("alice")
    );
    tracer.set_baggage(&server, "tenant", "acme corp").unwrap();
    tracer.set_tracestate(&server, "andon", "s1").unwrap();
    let client = tracer.start_child_span(&server, "client").unwrap();
    // Set after the child started: the child does not see it.
    tracer.set_baggage(&server, "late", "1").unwrap();
    let headers = tracer.inject(&client).unwrap();
    let ids = tracer.ids(&client).unwrap();
    assert_eq!(
        headers["traceparent"],
        format!(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-03",
            ids.span_id_hex()
        )
    );
    assert_eq!(
        headers["tracestate"],
        "andon=s1,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    );
    assert_eq!(headers["baggage"], "userId=alice,tenant=acme%20corp");
    assert!(tracer.set_baggage(&client, "bad key", "v").is_err());
}

/// An exporter that notes when each batch arrives, on tokio's (paused) clock.
#[derive(Debug, Clone, Default)]
struct Recording(std::sync::Arc<std::sync::Mutex<Vec<(tokio::time::Instant, usize)>>>);

impl opentelemetry_sdk::trace::SpanExporter for Recording {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0
            .lock()
            .unwrap()
            .push((tokio::time::Instant::now(), batch.len()));
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn an_ended_span_is_exported_within_the_500_ms_budget_without_a_flush() {
    let exporter = Recording::default();
    let tracer = AndonTracer::builder(TracerConfig {
        sampling_ratio: 1.0,
        ..TracerConfig::default()
    })
    .with_exporter(exporter.clone())
    .build()
    .unwrap();
    // Let the export task start.
    tokio::task::yield_now().await;
    let ended_at = tokio::time::Instant::now();
    let span = tracer.start_span("request-processing").unwrap();
    tracer.end_span(&span, SpanStatus::Ok).unwrap();
    // The paused clock jumps to each timer: no real waiting, no flaky timing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let exports = exporter.0.lock().unwrap().clone();
    assert_eq!(exports.len(), 1, "{exports:?}");
    assert_eq!(exports[0].1, 1);
    let latency = exports[0].0 - ended_at;
    assert!(
        latency <= Duration::from_millis(200),
        "exported {latency:?} after the span ended (scheduled_delay_ms is 200)"
    );
    assert_eq!(tracer.stats().spans_exported, 1);
}
