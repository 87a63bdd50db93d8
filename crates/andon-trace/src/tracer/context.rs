//! The current span and what travels with a span: entering a span on a thread, the W3C
//! headers injected for outgoing requests, baggage and tracestate.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use andon_core::{TraceContext, TraceIds};
use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue};

use crate::error::TraceError;
use crate::propagation::{FLAG_RANDOM, FLAG_SAMPLED, Injector, PropagationContext, TraceParent};
use crate::span::SpanHandle;

use super::AndonTracer;

/// A span made current on this thread by [`AndonTracer::enter`]; leaving it restores the
/// previous one. It stays on the thread that entered it.
#[must_use = "the span is current only while this guard lives"]
pub struct EnteredSpan {
    _guard: ContextGuard,
}

impl fmt::Debug for EnteredSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnteredSpan")
    }
}

/// Marks the andon span that [`AndonTracer::enter`] made current.
#[derive(Debug, Clone, Copy)]
pub(super) struct Current(pub(super) SpanHandle);

/// A stand-in for an andon span inside an OpenTelemetry `Context`, so that spans started under
/// it (by andon or by the `tracing` layer) know their local parent.
#[derive(Debug)]
pub(super) struct Shadow(pub(super) SpanContext);

impl opentelemetry::trace::Span for Shadow {
    fn add_event_with_timestamp<T>(&mut self, _: T, _: SystemTime, _: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn span_context(&self) -> &SpanContext {
        &self.0
    }
    fn is_recording(&self) -> bool {
        false
    }
    fn set_attribute(&mut self, _: KeyValue) {}
    fn set_status(&mut self, _: Status) {}
    fn update_name<T>(&mut self, _: T)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn add_link(&mut self, _: SpanContext, _: Vec<KeyValue>) {}
    fn end_with_timestamp(&mut self, _: SystemTime) {}
}

impl AndonTracer {
    /// Makes the span current on this thread until the guard drops: `record_signal` uses it,
    /// [`TraceContext::current`] reports it (so log records carry its ids), and `tracing` spans
    /// started meanwhile become its children.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn enter(&self, span: &SpanHandle) -> Result<EnteredSpan, TraceError> {
        let context = self.with_live(span, |live| live.context().clone())?;
        let cx = Context::current()
            .with_span(Shadow(context))
            .with_value(Current(*span));
        Ok(EnteredSpan {
            _guard: cx.attach(),
        })
    }

    /// The context to send with a request made on behalf of `span`: its trace id, the span as
    /// the parent, the sampled and random flags, the tracestate and the baggage.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn propagation_context(&self, span: &SpanHandle) -> Result<PropagationContext, TraceError> {
        self.with_live(span, |live| {
            let mut flags = 0;
            if live.context().is_sampled() {
                flags |= FLAG_SAMPLED;
            }
            if live.random {
                flags |= FLAG_RANDOM;
            }
            let traceparent = TraceParent::new(
                live.context().trace_id().to_bytes(),
                live.context().span_id().to_bytes(),
                flags,
            )
            .ok();
            PropagationContext::new(
                traceparent,
                live.tracestate.as_deref().cloned().unwrap_or_default(),
                live.baggage.as_deref().cloned().unwrap_or_default(),
            )
        })
    }

    /// The `traceparent`, `tracestate` and `baggage` headers for a request made on behalf of
    /// `span`.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn inject(&self, span: &SpanHandle) -> Result<http::HeaderMap, TraceError> {
        Ok(self.propagation_context(span)?.to_header_map())
    }

    /// Writes the span's headers into any carrier (a `HashMap`, a `BTreeMap`, …).
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn inject_into(
        &self,
        span: &SpanHandle,
        carrier: &mut impl Injector,
    ) -> Result<(), TraceError> {
        self.propagation_context(span)?.inject(carrier);
        Ok(())
    }

    /// Sets a baggage entry on the span; spans started under it afterwards, and requests it
    /// makes, carry it.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`]; [`TraceError::InvalidHeader`] for a key that is not an HTTP
    /// token or a baggage over the W3C limits.
    pub fn set_baggage(&self, span: &SpanHandle, key: &str, value: &str) -> Result<(), TraceError> {
        self.with_live(span, |live| {
            Arc::make_mut(live.baggage.get_or_insert_with(Arc::default)).set(key, value)
        })?
        .map_err(TraceError::from)
    }

    /// The value of baggage entry `key` on the span.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn baggage(&self, span: &SpanHandle, key: &str) -> Result<Option<String>, TraceError> {
        self.with_live(span, |live| {
            live.baggage
                .as_ref()
                .and_then(|b| b.get(key))
                .map(str::to_owned)
        })
    }

    /// Sets this service's `tracestate` entry on the span (moved to the left, as the W3C
    /// specification asks of a changed entry); spans started under it afterwards carry it.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`]; [`TraceError::InvalidHeader`] for an invalid key or value.
    pub fn set_tracestate(
        &self,
        span: &SpanHandle,
        key: &str,
        value: &str,
    ) -> Result<(), TraceError> {
        self.with_live(span, |live| {
            Arc::make_mut(live.tracestate.get_or_insert_with(Arc::default)).insert(key, value)
        })?
        .map_err(TraceError::from)
    }
}

impl TraceContext for AndonTracer {
    fn current(&self) -> Option<TraceIds> {
        let cx = Context::current();
        let span = cx.span();
        let sc = span.span_context();
        (sc.is_valid() && sc.is_sampled()).then(|| TraceIds {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
        })
    }
}
