//! Signals on traces: a signal as a span of its own, or as an event on the current span; the
//! tracer as a [`SignalSink`].

use andon_core::{AndonError, AndonSignal, Color, SignalSink};
use opentelemetry::Context;
use opentelemetry::trace::{Status, TraceContextExt};

use crate::error::TraceError;
use crate::signal::{correlation_trace_id, signal_attributes};
use crate::span::{SpanHandle, SpanStatus};

use super::context::Current;
use super::{AndonTracer, Parent};

impl AndonTracer {
    /// Puts `signal` as an `andon.signal` event on the current span: the one entered with
    /// [`enter`](Self::enter), or else the current `tracing` span when the layer is installed.
    /// A RED signal also marks the span as an error.
    ///
    /// # Errors
    ///
    /// [`TraceError::NoCurrentSpan`] outside any entered span.
    pub fn record_signal(&self, signal: &AndonSignal) -> Result<(), TraceError> {
        let cx = Context::current();
        if let Some(Current(handle)) = cx.get::<Current>().copied() {
            let active = cx.span().span_context().span_id();
            if handle.tracer == self.inner.id
                && self
                    .with_live(&handle, |l| l.context().span_id() == active)
                    .unwrap_or(false)
            {
                return self.record_signal_on(&handle, signal);
            }
        }
        if cx.span().span_context().is_valid() {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let current = tracing::Span::current();
            if !current.is_none() {
                current.add_event("andon.signal", signal_attributes(signal));
                if signal.color() == Color::Red {
                    current.set_status(Status::error(signal.message().to_owned()));
                }
                return Ok(());
            }
        }
        Err(TraceError::NoCurrentSpan)
    }

    /// Puts `signal` as an `andon.signal` event on `span`; RED also marks it as an error.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn record_signal_on(
        &self,
        span: &SpanHandle,
        signal: &AndonSignal,
    ) -> Result<(), TraceError> {
        let attributes = signal_attributes(signal);
        let red = signal.color() == Color::Red;
        self.with_live(span, |live| {
            if red {
                live.error = Some(signal.message().to_owned());
            }
            if let Some(record) = &mut live.record {
                record.add_event("andon.signal", attributes);
                if red {
                    record.set_status(Status::error(signal.message().to_owned()));
                }
            }
        })
    }

    /// Records `signal` as a span of its own (named `andon.signal`, starting at the signal's
    /// time), always recorded when tracing is enabled whatever the sampling ratio. Its trace is
    /// the signal's trace id when given (mapped by [`correlation_trace_id`], the original kept as
    /// `andon.correlation_id` when it is not a W3C id), else the current span's trace, else a
    /// new one. RED ends it as an error.
    ///
    /// # Errors
    ///
    /// [`TraceError::ShutDown`].
    pub fn signal_span(&self, signal: &AndonSignal) -> Result<SpanHandle, TraceError> {
        let attributes = signal_attributes(signal);
        let forced = Some((attributes, signal.timestamp()));
        let handle = match signal.trace_id() {
            Some(id) => self.start(
                "andon.signal".into(),
                Parent::root(),
                Some((correlation_trace_id(id), false)),
                forced,
            )?,
            None => {
                let cx = Context::current();
                let current = cx.span().span_context().clone();
                let parent = match cx.get::<Current>().copied() {
                    Some(Current(h)) if h.tracer == self.inner.id => {
                        self.parent_of(&h).unwrap_or_else(|_| Parent::root())
                    }
                    _ if current.is_valid() => Parent {
                        context: Some(current),
                        random: false,
                        tracestate: None,
                        baggage: None,
                    },
                    _ => Parent::root(),
                };
                self.start("andon.signal".into(), parent, None, forced)?
            }
        };
        Ok(handle)
    }
}

#[andon_core::async_trait]
impl SignalSink for AndonTracer {
    fn name(&self) -> &'static str {
        "trace"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        let handle = self.signal_span(signal)?;
        let status = if signal.color() == Color::Red {
            SpanStatus::Error(signal.message().to_owned())
        } else {
            SpanStatus::Unset
        };
        self.end_span(&handle, status)?;
        Ok(())
    }

    async fn flush(&self) -> Result<(), AndonError> {
        Ok(AndonTracer::flush(self).await?)
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        Ok(self.stop().await?)
    }
}
