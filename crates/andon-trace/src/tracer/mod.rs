//! [`AndonTracer`]: spans through the OpenTelemetry API, exported over OTLP.
//!
//! The span table and the span calls live here; `builder.rs` builds the tracer, `context.rs`
//! carries spans across threads and requests, `signals.rs` turns signals into spans.

mod builder;
mod context;
mod signals;

pub use builder::AndonTracerBuilder;
pub use context::EnteredSpan;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use andon_core::config::TracerConfig;
use andon_core::{ShutdownReport, TraceIds};
use andon_runtime::lock;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::trace::Tracer as SdkTracer;

use crate::error::TraceError;
use crate::export::{Counters, ExportControl};
use crate::propagation::{Baggage, PropagationContext, TraceState};
use crate::record::Record;
use crate::sampler::ratio_keeps;
use crate::signal::json_to_otel;
use crate::span::{Live, SpanHandle, SpanStatus, Table};
use crate::stats::TraceStats;

static NEXT_TRACER: AtomicU32 = AtomicU32::new(1);

/// The name andon's own spans are reported under (the instrumentation scope).
const SCOPE: &str = "andon-trace";

/// OpenTelemetry tracing for andon: spans with cheap handles, exported in batches over OTLP
/// (gRPC or HTTP), W3C Trace Context and Baggage propagation, and signals as spans.
///
/// Cloning is cheap and shares the tracer. With `enabled = true` the tracer must be created
/// inside a tokio runtime: the batch exporter runs there as a task, off the callers' threads.
/// Span calls themselves are synchronous and never block on the network.
///
/// ```
/// use andon_core::config::TracerConfig;
/// use andon_trace::{AndonTracer, SpanStatus};
/// use serde_json::json;
///
/// # async fn run() -> Result<(), andon_trace::TraceError> {
/// let config = TracerConfig { sampling_ratio: 1.0, ..TracerConfig::default() };
/// let tracer = AndonTracer::builder(config).build()?; // inside a tokio runtime
/// let request = tracer.start_span("request-processing")?;
/// tracer.add_span_attribute(&request, "user_id", json!("123"))?;
/// let query = tracer.start_child_span(&request, "db-query")?;
/// tracer.end_span(&query, SpanStatus::Ok)?;
/// tracer.end_span(&request, SpanStatus::Ok)?;
/// let report = tracer.shutdown(std::time::Duration::from_secs(5)).await;
/// assert!(report.is_complete()); // every ended span is exported before this returns
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AndonTracer {
    inner: Arc<Inner>,
}

struct Inner {
    id: u32,
    config: TracerConfig,
    ratio: f64,
    export_timeout: Duration,
    table: Mutex<Table>,
    counters: Arc<Counters>,
    provider: SdkTracerProvider,
    /// The SDK tracer, for the `tracing` layer's spans (andon's own spans are not SDK spans).
    tracer: SdkTracer,
    /// The instrumentation scope andon's own spans are exported under (the SDK tracer's).
    scope: InstrumentationScope,
    control: Option<ExportControl>,
    shut_down: AtomicBool,
}

impl fmt::Debug for AndonTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The endpoint is left out: it may carry credentials.
        f.debug_struct("AndonTracer")
            .field("service_name", &self.inner.config.service_name)
            .field("enabled", &self.inner.config.enabled)
            .field("sampling_ratio", &self.inner.ratio)
            .field("protocol", &self.inner.config.protocol)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Where a new span hangs.
struct Parent {
    /// The parent's context (remote when it came with a request); `None` for a new root.
    context: Option<SpanContext>,
    random: bool,
    tracestate: Option<Arc<TraceState>>,
    baggage: Option<Arc<Baggage>>,
}

impl Parent {
    fn root() -> Self {
        Parent {
            context: None,
            random: true,
            tracestate: None,
            baggage: None,
        }
    }
}

impl AndonTracer {
    /// A tracer for `config`. With `enabled = true` it must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// See [`AndonTracerBuilder::build`].
    pub fn new(config: TracerConfig) -> Result<Self, TraceError> {
        Self::builder(config).build()
    }

    /// A builder, to choose another exporter.
    pub fn builder(config: TracerConfig) -> AndonTracerBuilder {
        AndonTracerBuilder {
            config,
            exporter: None,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table inconsistent (every update is
        // a single assignment), so a poisoned lock is still usable.
        lock(&self.inner.table)
    }

    fn check_handle(&self, handle: &SpanHandle) -> Result<(), TraceError> {
        if handle.tracer == self.inner.id {
            Ok(())
        } else {
            Err(TraceError::UnknownSpan(*handle))
        }
    }

    fn with_live<T>(
        &self,
        handle: &SpanHandle,
        f: impl FnOnce(&mut Live) -> T,
    ) -> Result<T, TraceError> {
        self.check_handle(handle)?;
        let mut table = self.table();
        let live = table
            .get_mut(handle)
            .ok_or(TraceError::UnknownSpan(*handle))?;
        Ok(f(live))
    }

    fn parent_of(&self, handle: &SpanHandle) -> Result<Parent, TraceError> {
        self.with_live(handle, |live| Parent {
            context: Some(live.context().clone()),
            random: live.random,
            tracestate: live.tracestate.clone(),
            baggage: live.baggage.clone(),
        })
    }

    /// Starts a new trace with a root span named `name`, sampled by `sampling_ratio`.
    ///
    /// # Errors
    ///
    /// [`TraceError::ShutDown`] after [`shutdown`](Self::shutdown).
    pub fn start_span(&self, name: impl Into<Cow<'static, str>>) -> Result<SpanHandle, TraceError> {
        self.start(name.into(), Parent::root(), None, None)
    }

    /// Starts a span under `parent`, in the same trace, sampled as the parent was.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if `parent` has ended; [`TraceError::ShutDown`].
    pub fn start_child_span(
        &self,
        parent: &SpanHandle,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<SpanHandle, TraceError> {
        let parent = self.parent_of(parent)?;
        self.start(name.into(), parent, None, None)
    }

    /// Starts a span under a caller's context received with a request (see
    /// [`extract`](crate::extract)): the caller's trace id, its sampled and random flags, its
    /// tracestate and baggage. Without a valid traceparent it starts a new trace that still
    /// carries the baggage.
    ///
    /// # Errors
    ///
    /// [`TraceError::ShutDown`].
    pub fn start_span_from(
        &self,
        remote: &PropagationContext,
        name: impl Into<Cow<'static, str>>,
    ) -> Result<SpanHandle, TraceError> {
        let baggage = (!remote.baggage().is_empty()).then(|| Arc::new(remote.baggage().clone()));
        let parent = match remote.traceparent() {
            Some(tp) => {
                let otel_state =
                    opentelemetry::trace::TraceState::from_key_value(remote.tracestate().iter())
                        .unwrap_or_default();
                Parent {
                    context: Some(SpanContext::new(
                        TraceId::from_bytes(tp.trace_id()),
                        SpanId::from_bytes(tp.parent_id()),
                        TraceFlags::new(tp.flags()),
                        true,
                        otel_state,
                    )),
                    random: tp.random(),
                    tracestate: (!remote.tracestate().is_empty())
                        .then(|| Arc::new(remote.tracestate().clone())),
                    baggage,
                }
            }
            None => Parent {
                baggage,
                ..Parent::root()
            },
        };
        self.start(name.into(), parent, None, None)
    }

    /// Starts a span. `forced` records it whatever the sampler says (signals); `root_trace_id`
    /// fixes the trace id of a root.
    fn start(
        &self,
        name: Cow<'static, str>,
        parent: Parent,
        root_trace_id: Option<([u8; 16], bool)>,
        forced: Option<(Vec<KeyValue>, SystemTime)>,
    ) -> Result<SpanHandle, TraceError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(TraceError::ShutDown);
        }
        let (trace_id, random) = match (&parent.context, root_trace_id) {
            (Some(cx), _) => (cx.trace_id(), parent.random),
            (None, Some((id, random))) => (TraceId::from_bytes(id), random),
            (None, None) => (TraceId::from(fastrand::u128(..).max(1)), true),
        };
        let sampled = forced.is_some()
            || match &parent.context {
                Some(cx) => cx.is_sampled(),
                None => ratio_keeps(self.inner.ratio, trace_id.to_bytes()),
            };
        let state = parent
            .context
            .as_ref()
            .map_or(opentelemetry::trace::TraceState::NONE, |cx| {
                cx.trace_state().clone()
            });
        let span_id = SpanId::from(fastrand::u64(..).max(1));
        let (flags, record) = if sampled && self.inner.control.is_some() {
            // Recorded as the SDK records a span it samples: the parent's flags, sampled, and
            // the parent's tracestate.
            let flags = parent
                .context
                .as_ref()
                .filter(|cx| cx.is_valid())
                .map_or(TraceFlags::default(), SpanContext::trace_flags)
                .with_sampled(true);
            let (attributes, start) = match forced {
                Some((attributes, start)) => (Some(attributes), Some(start)),
                None => (None, None),
            };
            let record = Record::new(parent.context.as_ref(), name, start, attributes);
            (flags, Some(record))
        } else if sampled {
            (TraceFlags::SAMPLED, None)
        } else {
            (TraceFlags::NOT_SAMPLED, None)
        };
        let (tracestate, baggage) = (parent.tracestate, parent.baggage);
        // The span is built in its slot, under the table's lock as a span's end is, rather
        // than built first and moved in.
        self.table()
            .insert_with(self.inner.id, || Live {
                context: SpanContext::new(trace_id, span_id, flags, false, state),
                random,
                record,
                tracestate,
                baggage,
                error: None,
            })
            .ok_or(TraceError::ShutDown)
    }

    /// Sets attribute `key` of the span to a JSON value (strings, numbers, booleans and arrays of
    /// one of them keep their type; other values are sent as JSON text).
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn add_span_attribute(
        &self,
        span: &SpanHandle,
        key: impl Into<String>,
        value: serde_json::Value,
    ) -> Result<(), TraceError> {
        let attribute = KeyValue::new(key.into(), json_to_otel(&value));
        self.with_live(span, |live| {
            if let Some(record) = &mut live.record {
                record.set_attribute(attribute);
            }
        })
    }

    /// Adds an event (a timestamped log line) with attributes to the span.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn add_event<K: Into<String>>(
        &self,
        span: &SpanHandle,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = (K, serde_json::Value)>,
    ) -> Result<(), TraceError> {
        let name = name.into();
        let attributes: Vec<KeyValue> = attributes
            .into_iter()
            .map(|(k, v)| KeyValue::new(k.into(), json_to_otel(&v)))
            .collect();
        self.with_live(span, |live| {
            if let Some(record) = &mut live.record {
                record.add_event(name, attributes);
            }
        })
    }

    /// Ends the span with `status`; its handle becomes invalid. A span marked as failed by a
    /// RED signal ends as an error even when `status` is `Ok`.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has already ended.
    pub fn end_span(&self, span: &SpanHandle, status: SpanStatus) -> Result<(), TraceError> {
        self.check_handle(span)?;
        // The span ends where it lies, under the table's lock, rather than moved out first.
        // Ending only hands the span to the export queue (`try_send`), so the lock is held
        // briefly and never across I/O.
        self.table()
            .end_with(span, |live| self.finish(live, status))
            .ok_or(TraceError::UnknownSpan(*span))
    }

    /// The W3C ids of the span.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn ids(&self, span: &SpanHandle) -> Result<TraceIds, TraceError> {
        self.with_live(span, |live| TraceIds {
            trace_id: live.context().trace_id().to_bytes(),
            span_id: live.context().span_id().to_bytes(),
        })
    }

    /// Whether the span is recorded (sampled, with tracing enabled).
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn is_recording(&self, span: &SpanHandle) -> Result<bool, TraceError> {
        self.with_live(span, |live| live.record.is_some())
    }

    /// Spans started and not yet ended.
    pub fn open_spans(&self) -> usize {
        self.table().open()
    }

    /// The counters: started, not sampled, queued, dropped (queue full), exported, failed.
    pub fn stats(&self) -> TraceStats {
        let started = self.table().started();
        self.inner.counters.snapshot(started)
    }

    /// The `tracing` layer that sends the user's own `tracing` spans into the same traces,
    /// sampled by the same rule, through the same exporter. Add it to your subscriber, or call
    /// [`init`](Self::init) when you have none.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing_core::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.inner.tracer.clone())
    }

    /// Installs a global `tracing` subscriber made of a registry and [`layer`](Self::layer).
    ///
    /// # Errors
    ///
    /// [`TraceError::SubscriberAlreadySet`] when the program already set one; nothing is
    /// changed then, and the existing subscriber keeps working: add [`layer`](Self::layer) to it.
    pub fn init(&self) -> Result<(), TraceError> {
        use tracing_subscriber::layer::SubscriberExt;
        if tracing::dispatcher::has_been_set() {
            return Err(TraceError::SubscriberAlreadySet);
        }
        let subscriber = tracing_subscriber::registry().with(self.layer());
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| TraceError::SubscriberAlreadySet)
    }

    /// Exports every span ended so far and waits for the exporter's answer.
    ///
    /// # Errors
    ///
    /// [`TraceError::Timeout`] when the exporter did not finish in time.
    pub async fn flush(&self) -> Result<(), TraceError> {
        let Some(control) = &self.inner.control else {
            return Ok(());
        };
        self.wait(control.flush()).await
    }

    /// Ends every open span (status unset), exports every ended span, and stops the exporter,
    /// within `deadline` (and within twice `export_timeout`, whichever comes first). Later
    /// calls that start spans return [`TraceError::ShutDown`]; a second shutdown reports
    /// complete at once. An exporter that did not finish in time is said in the report.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        match tokio::time::timeout(deadline, self.stop()).await {
            Ok(Ok(())) => ShutdownReport::complete("trace"),
            Ok(Err(error)) => ShutdownReport::incomplete("trace", 0, error.to_string()),
            Err(_) => ShutdownReport::timed_out("trace", 0, deadline),
        }
    }

    /// The shutdown itself, bounded only by the exporter's timeouts.
    async fn stop(&self) -> Result<(), TraceError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let open = self.table().drain();
        for mut live in open {
            self.finish(&mut live, SpanStatus::Unset);
        }
        let result = match &self.inner.control {
            Some(control) => self.wait(control.shutdown()).await,
            None => Ok(()),
        };
        let _ = self.inner.provider.shutdown();
        result
    }

    async fn wait(&self, done: impl std::future::Future<Output = bool>) -> Result<(), TraceError> {
        // The batch being sent may take `export_timeout`, and so may the rest of the queue.
        let limit = self.inner.export_timeout.saturating_mul(2);
        match tokio::time::timeout(limit, done).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TraceError::ShutDown),
            Err(_) => Err(TraceError::Timeout {
                timeout_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}

impl AndonTracer {
    /// Ends a recorded span with its final status and hands it to the export queue, as the
    /// SDK's span processor receives an ended span. The slot keeps the rest until it is freed.
    #[inline]
    fn finish(&self, live: &mut Live, status: SpanStatus) {
        let Some(mut record) = live.record.take() else {
            return;
        };
        let status = match (status, live.error.take()) {
            (SpanStatus::Error(message), _) => SpanStatus::Error(message),
            (_, Some(message)) => SpanStatus::Error(message),
            (status, None) => status,
        };
        if status != SpanStatus::Unset {
            record.set_status(status.into_otel());
        }
        if let Some(control) = &self.inner.control {
            let context = std::mem::replace(&mut live.context, SpanContext::NONE);
            control.enqueue(record.into_span_data(context, &self.inner.scope));
        }
    }
}

andon_core::impl_component!(AndonTracer, "trace");

#[cfg(test)]
mod tests;
