//! OpenTelemetry tracing for andon: spans exported over OTLP, W3C Trace Context and Baggage
//! propagation, and a `tracing` layer so the program's own spans join the same traces.
//!
//! [`AndonTracer`] starts spans through the OpenTelemetry API and hands back cheap `Copy`
//! [`SpanHandle`]s; ended spans are exported in batches by a tokio task over OTLP (gRPC on
//! port 4317 or HTTP/protobuf on 4318), which Jaeger, Tempo and the OpenTelemetry Collector
//! ingest natively. [`extract`] and [`AndonTracer::inject`] carry the trace across services by
//! the W3C Trace Context (Level 2) and Baggage specifications. The tracer is also a
//! [`SignalSink`](andon_core::SignalSink) (a signal becomes a span) and a
//! [`TraceContext`](andon_core::TraceContext) (logs read the current trace and span ids).
//!
//! # The component contract
//!
//! [`AndonTracer`] follows [`andon_core::contract`], like every andon component:
//! [`AndonTracer::builder`] takes the `[tracer]` section, its `with_*` setters take an
//! exporter instead of OTLP, and [`build`](AndonTracerBuilder::build) checks the section and
//! starts the exporter; [`AndonTracer::flush`] exports every ended span and
//! [`AndonTracer::shutdown`] (with a deadline, returning an [`andon_core::ShutdownReport`])
//! also stops the exporter; [`AndonTracer::stats`] returns [`TraceStats`], which implements
//! [`andon_core::Stats`]; and it implements [`andon_core::Component`].
//!
//! # Example
//!
//! ```
//! use andon_core::{AndonSignal, config::TracerConfig};
//! use andon_trace::{AndonTracer, SpanStatus, extract};
//! use serde_json::json;
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), andon_trace::TraceError> {
//!     let config = TracerConfig {
//!         sampling_ratio: 1.0,
//!         otlp_endpoint: "http://127.0.0.1:4317".into(), // a Jaeger or Collector
//!         ..TracerConfig::default()
//!     };
//!     let tracer = AndonTracer::builder(config).build()?; // needs the tokio runtime for export
//!
//!     // A request arrives with a W3C traceparent: continue the caller's trace.
//!     let incoming = http::HeaderMap::from_iter([(
//!         http::header::HeaderName::from_static("traceparent"),
//!         http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
//!     )]);
//!     let request = tracer.start_span_from(&extract(&incoming), "request-processing")?;
//!     tracer.add_span_attribute(&request, "user_id", json!("123"))?;
//!
//!     let query = tracer.start_child_span(&request, "db-query")?;
//!     let outgoing = tracer.inject(&query)?; // headers for the next service
//!     assert!(outgoing["traceparent"].to_str().unwrap().contains("4bf92f3577b34da6a3ce929d0e0e4736"));
//!     tracer.record_signal_on(&query, &AndonSignal::yellow("slow query"))?;
//!     tracer.end_span(&query, SpanStatus::Ok)?;
//!     tracer.end_span(&request, SpanStatus::Ok)?;
//!
//!     // Exports every ended span (here the endpoint is absent: the failure is counted).
//!     let _ = tracer.shutdown(std::time::Duration::from_secs(5)).await;
//!     Ok(())
//! }
//! ```
//!
//! # Crate feature flags
//!
//! This crate has no optional features: OTLP over gRPC (tonic) and over HTTP (reqwest) are
//! both built in, chosen by `tracer.protocol`.
//!
//! # Related crates
//!
//! - `andon-core`: [`TracerConfig`](andon_core::config::TracerConfig), the signal and the traits.
//! - `andon`: the umbrella, whose `AndonSystem` sends every signal here.
//! - `andon-log`: stamps log records with the ids this crate reports as the current span.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod export;
mod propagation;
mod record;
mod sampler;
mod signal;
mod span;
mod stats;
mod tracer;

pub use error::TraceError;
pub use propagation::{
    BAGGAGE, Baggage, BaggageEntry, Extractor, FLAG_RANDOM, FLAG_SAMPLED, Injector, InvalidHeader,
    MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, MAX_TRACESTATE_MEMBERS, PropagationContext,
    TRACEPARENT, TRACESTATE, TraceParent, TraceState, extract,
};
pub use signal::correlation_trace_id;
pub use span::{SpanHandle, SpanStatus};
pub use stats::TraceStats;
pub use tracer::{AndonTracer, AndonTracerBuilder, EnteredSpan};
