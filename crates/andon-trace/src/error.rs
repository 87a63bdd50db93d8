//! The errors of andon-trace.

use andon_core::ConfigError;

use crate::propagation::InvalidHeader;
use crate::span::SpanHandle;

/// What can go wrong while tracing. Converts into [`AndonError`](andon_core::AndonError) with `?`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The `[tracer]` configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The tracer was created outside a tokio runtime, which the exporter needs.
    #[error(
        "no tokio runtime: create the tracer inside one (for example under #[tokio::main]), because spans are exported by a background task"
    )]
    NoRuntime,

    /// The OTLP exporter could not be built from the configuration.
    #[error(
        "cannot build the otlp exporter for `{endpoint}`: {reason}: check tracer.otlp_endpoint and tracer.protocol"
    )]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// Why the exporter could not be built.
        reason: String,
    },

    /// The span handle was never issued by this tracer, or its span has already ended.
    #[error("span {0} is unknown or already ended: start a new span, and end each span once")]
    UnknownSpan(SpanHandle),

    /// `record_signal` was called outside any entered span.
    #[error(
        "no current span: enter a span with `AndonTracer::enter` first, or use `record_signal_on` with a span handle"
    )]
    NoCurrentSpan,

    /// A flush or shutdown did not finish in time.
    #[error("the exporter did not finish within {timeout_ms} ms: is the otlp endpoint reachable?")]
    Timeout {
        /// How long was waited, in milliseconds.
        timeout_ms: u64,
    },

    /// The tracer was shut down.
    #[error("the tracer is shut down: create a new one to continue")]
    ShutDown,

    /// A baggage or tracestate entry breaks the W3C rules.
    #[error(transparent)]
    InvalidHeader(#[from] InvalidHeader),

    /// A global `tracing` subscriber is already installed, so `init` installed nothing.
    #[error(
        "a global tracing subscriber is already set: add `AndonTracer::layer()` to your own subscriber instead of calling init"
    )]
    SubscriberAlreadySet,
}

andon_core::impl_into_andon_error!(TraceError, "trace");
