//! The tracer's unit tests: span calls that need the table or the private `start`.

use super::*;
use andon_core::AndonError;

#[test]
fn a_disabled_tracer_needs_no_runtime_and_still_propagates() {
    let tracer = AndonTracer::new(TracerConfig {
        enabled: false,
        ..TracerConfig::default()
    })
    .unwrap();
    let remote = crate::extract(&vec![(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
    )]);
    let span = tracer.start_span_from(&remote, "x").unwrap();
    assert!(!tracer.is_recording(&span).unwrap());
    let tp = *tracer
        .propagation_context(&span)
        .unwrap()
        .traceparent()
        .unwrap();
    assert_eq!(tp.trace_id(), remote.traceparent().unwrap().trace_id());
    assert_ne!(tp.parent_id(), remote.traceparent().unwrap().parent_id());
    assert_eq!(tp.flags(), 0x03);
    tracer.end_span(&span, SpanStatus::Ok).unwrap();
}

#[test]
fn enabled_tracing_outside_a_runtime_is_an_error_that_says_what_to_do() {
    let err = AndonTracer::new(TracerConfig::default()).unwrap_err();
    assert!(matches!(err, TraceError::NoRuntime));
    assert!(err.to_string().contains("tokio runtime"));
    let err = AndonTracer::new(TracerConfig {
        sampling_ratio: 2.0,
        ..TracerConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().starts_with("tracer.sampling_ratio"),
        "{err}"
    );
    let andon: AndonError = err.into();
    assert!(matches!(andon, AndonError::Config(_)));
}

/// Keeps every exported span.
#[derive(Debug, Default, Clone)]
struct Keep(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for Keep {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

// Was a test of the thread-local hints that made the SDK record a span with the trace id
// andon chose; andon now records its spans itself, so the same promise is tested here.
#[tokio::test]
async fn a_chosen_root_trace_id_is_recorded_and_used_only_once() {
    let keep = Keep::default();
    let tracer = AndonTracer::builder(TracerConfig {
        sampling_ratio: 0.0,
        ..TracerConfig::default()
    })
    .with_exporter(keep.clone())
    .build()
    .unwrap();
    let chosen = [7; 16];
    let forced = Some((vec![KeyValue::new("k", "v")], SystemTime::UNIX_EPOCH));
    let signal = tracer
        .start(
            "andon.signal".into(),
            Parent::root(),
            Some((chosen, false)),
            forced,
        )
        .unwrap();
    let next = tracer.start_span("next").unwrap();
    assert!(tracer.is_recording(&signal).unwrap());
    assert!(!tracer.is_recording(&next).unwrap(), "the ratio is 0");
    assert_eq!(tracer.ids(&signal).unwrap().trace_id, chosen);
    assert_ne!(tracer.ids(&next).unwrap().trace_id, chosen);
    tracer.end_span(&signal, SpanStatus::Ok).unwrap();
    tracer.end_span(&next, SpanStatus::Ok).unwrap();
    tracer.flush().await.unwrap();
    let spans = keep.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.span_context.trace_id().to_bytes(), chosen);
    assert!(span.span_context.is_sampled());
    assert_eq!(span.start_time, SystemTime::UNIX_EPOCH);
    assert_eq!(span.attributes, vec![KeyValue::new("k", "v")]);
    assert_eq!(span.status, opentelemetry::trace::Status::Ok);
    assert_eq!(span.parent_span_id, SpanId::INVALID);
    assert_eq!(span.instrumentation_scope.name(), SCOPE);
}
