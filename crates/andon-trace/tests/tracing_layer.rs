//! The `tracing` integration: the program's own `tracing` spans join andon's traces and reach
//! the same OTLP receiver; `init` installs the layer once and then refuses, instead of fighting
//! the subscriber that is already set. (Its own test binary: it sets the global subscriber.)

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use andon_core::config::TracerConfig;
use andon_core::{AndonSignal, TraceContext};
use andon_tests::otlp::{OtlpReceiver, status::StatusCode};
use andon_trace::{AndonTracer, SpanStatus, TraceError};

#[tokio::test]
async fn user_tracing_spans_join_andon_traces_and_init_never_fights() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let tracer = AndonTracer::new(TracerConfig {
        sampling_ratio: 1.0,
        otlp_endpoint: receiver.grpc_endpoint(),
        ..TracerConfig::default()
    })
    .unwrap();
    tracer.init().unwrap();
    // A second install (by us or anyone) is refused with advice, and changes nothing.
    let err = tracer.init().unwrap_err();
    assert!(matches!(err, TraceError::SubscriberAlreadySet));
    assert!(err.to_string().contains("layer()"), "{err}");

    let request = tracer.start_span("request-processing").unwrap();
    let (user_ids, request_ids) = {
        let _entered = tracer.enter(&request).unwrap();
        let user_span = tracing::info_span!("user-work", order = 42);
        let _in_user_span = user_span.enter();
        // A signal recorded inside the user's span lands on it.
        tracer
            .record_signal(&AndonSignal::red("payment refused"))
            .unwrap();
        let current = TraceContext::current(&tracer);
        (current, tracer.ids(&request).unwrap())
    };
    tracer.end_span(&request, SpanStatus::Ok).unwrap();
    // A user span outside any andon span is a root of its own trace, sampled by the same rule.
    tracing::info_span!("background").in_scope(|| {});
    assert!(
        tracer
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );

    let spans = receiver.spans();
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(spans.len(), 3, "{names:?}");
    let andon = spans
        .iter()
        .find(|s| s.name() == "request-processing")
        .unwrap();
    let user = spans.iter().find(|s| s.name() == "user-work").unwrap();
    let background = spans.iter().find(|s| s.name() == "background").unwrap();
    assert_eq!(user.trace_id(), andon.trace_id());
    assert_eq!(user.parent_span_id(), andon.span_id());
    assert_eq!(user.attribute("order").as_deref(), Some("42"));
    assert_eq!(user.event_names(), ["andon.signal"]);
    assert_eq!(user.status_code(), StatusCode::Error);
    assert_eq!(background.parent_span_id(), "");
    assert_ne!(background.trace_id(), andon.trace_id());
    // Inside the user's span, logs would carry the user span's ids, in andon's trace.
    let user_ids = user_ids.unwrap();
    assert_eq!(user_ids.trace_id_hex(), andon.trace_id());
    assert_eq!(user_ids.span_id_hex(), user.span_id());
    assert_eq!(request_ids.span_id_hex(), andon.span_id());
}
