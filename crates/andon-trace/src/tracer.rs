//! [`AndonTracer`]: spans through the OpenTelemetry API, exported over OTLP.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use andon_core::config::{OtlpProtocol, TracerConfig};
use andon_core::{AndonError, AndonSignal, Color, SignalSink, TraceContext, TraceIds};
use opentelemetry::trace::{
    SpanBuilder, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::Tracer as SdkTracer;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span as SdkSpan, SpanExporter};

use crate::error::TraceError;
use crate::export::{self, Counters, ExportControl, QueueSettings, TraceStats};
use crate::propagation::{
    Baggage, FLAG_RANDOM, FLAG_SAMPLED, Injector, PropagationContext, TraceParent, TraceState,
};
use crate::sampler::{AndonIdGenerator, AndonSampler, ratio_keeps, with_forced_record};
use crate::signal::{correlation_trace_id, json_to_otel, signal_attributes};
use crate::span::{Live, SpanHandle, SpanStatus, Table};

static NEXT_TRACER: AtomicU32 = AtomicU32::new(1);

/// The name andon's own spans are reported under (the instrumentation scope).
const SCOPE: &str = "andon-trace";

type SpawnExporter = Box<
    dyn FnOnce(
            QueueSettings,
            Arc<Counters>,
            &tokio::runtime::Handle,
            &Resource,
        ) -> (export::QueueProcessor, ExportControl)
        + Send,
>;

/// Builds an [`AndonTracer`]; [`AndonTracer::new`] is `builder(config).build()`.
#[must_use]
pub struct AndonTracerBuilder {
    config: TracerConfig,
    exporter: Option<SpawnExporter>,
}

impl fmt::Debug for AndonTracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonTracerBuilder")
            .field("service_name", &self.config.service_name)
            .field("custom_exporter", &self.exporter.is_some())
            .finish()
    }
}

impl AndonTracerBuilder {
    /// Sends spans to `exporter` instead of the OTLP exporter the configuration describes
    /// (for example the SDK's in-memory exporter in tests). The queue, batching and counters
    /// stay the same.
    pub fn with_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(Box::new(move |settings, counters, runtime, resource| {
            let mut exporter = exporter;
            exporter.set_resource(resource);
            export::spawn(exporter, settings, counters, runtime)
        }));
        self
    }

    /// Builds the tracer.
    ///
    /// # Errors
    ///
    /// An invalid configuration; with tracing enabled, no tokio runtime on this thread
    /// ([`TraceError::NoRuntime`]) or an exporter that cannot be built.
    pub fn build(self) -> Result<AndonTracer, TraceError> {
        let config = self.config;
        config.validate("tracer")?;
        let resource = resource(&config);
        let settings = QueueSettings {
            max_queue_size: config.max_queue_size,
            max_export_batch_size: config.max_export_batch_size,
            scheduled_delay: Duration::from_millis(config.scheduled_delay_ms),
            export_timeout: Duration::from_millis(config.export_timeout_ms),
        };
        let counters = Arc::new(Counters::default());
        let mut provider = SdkTracerProvider::builder()
            .with_id_generator(AndonIdGenerator::default())
            .with_resource(resource.clone());
        let control = if config.enabled {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| TraceError::NoRuntime)?;
            let spawn = match self.exporter {
                Some(spawn) => spawn,
                None => otlp_exporter(&config, settings.export_timeout)?,
            };
            let (processor, control) = spawn(settings, counters.clone(), &runtime, &resource);
            provider = provider
                .with_span_processor(processor)
                .with_sampler(AndonSampler::new(config.sampling_ratio));
            Some(control)
        } else {
            provider = provider.with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff);
            None
        };
        let provider = provider.build();
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        Ok(AndonTracer {
            inner: Arc::new(Inner {
                id: NEXT_TRACER.fetch_add(1, Ordering::Relaxed),
                ratio: config.sampling_ratio,
                export_timeout: settings.export_timeout,
                config,
                table: Mutex::new(Table::default()),
                counters,
                provider,
                tracer,
                control,
                shut_down: AtomicBool::new(false),
            }),
        })
    }
}

fn otlp_exporter(config: &TracerConfig, timeout: Duration) -> Result<SpawnExporter, TraceError> {
    use opentelemetry_otlp::WithExportConfig;
    let build_error = |e: opentelemetry_otlp::ExporterBuildError| TraceError::Exporter {
        endpoint: config.otlp_endpoint.clone(),
        reason: e.to_string(),
    };
    // The OTLP/HTTP exporter builds a reqwest client, which has no crypto provider of its own
    // when another crate gives it TLS (the workspace's one TLS stack is ring): make ring the
    // process default, unless the application chose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(timeout)
            .build()
            .map_err(build_error)?,
        OtlpProtocol::Http => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(http_traces_url(&config.otlp_endpoint))
            .with_timeout(timeout)
            .build()
            .map_err(build_error)?,
    };
    Ok(Box::new(move |settings, counters, runtime, resource| {
        let mut exporter = exporter;
        exporter.set_resource(resource);
        export::spawn(exporter, settings, counters, runtime)
    }))
}

/// The OTLP/HTTP traces URL: the endpoint as given when it has a path, else `/v1/traces` on it.
pub(crate) fn http_traces_url(endpoint: &str) -> String {
    let after_scheme = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) if after_scheme[i..] != *"/" => endpoint.to_owned(),
        _ => format!("{}/v1/traces", endpoint.trim_end_matches('/')),
    }
}

fn resource(config: &TracerConfig) -> Resource {
    let version = config
        .service_version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", version),
            KeyValue::new("host.name", host_name()),
        ])
        .build()
}

/// The host's name, from the kernel, then `HOSTNAME`/`COMPUTERNAME`, else `unknown`.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .chain(
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

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
/// let tracer = AndonTracer::new(config)?; // inside a tokio runtime
/// let request = tracer.start_span("request-processing")?;
/// tracer.add_span_attribute(&request, "user_id", json!("123"))?;
/// let query = tracer.start_child_span(&request, "db-query")?;
/// tracer.end_span(&query, SpanStatus::Ok)?;
/// tracer.end_span(&request, SpanStatus::Ok)?;
/// tracer.shutdown().await?; // every ended span is exported before this returns
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
    tracer: SdkTracer,
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
    /// The parent's context; `None` for a new root.
    context: Option<SpanContext>,
    remote: bool,
    random: bool,
    tracestate: Option<Arc<TraceState>>,
    baggage: Option<Arc<Baggage>>,
}

impl Parent {
    fn root() -> Self {
        Parent {
            context: None,
            remote: false,
            random: true,
            tracestate: None,
            baggage: None,
        }
    }
}

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
struct Current(SpanHandle);

/// A stand-in for an andon span inside an OpenTelemetry `Context`, so that spans started under
/// it (by andon or by the `tracing` layer) know their local parent.
#[derive(Debug)]
struct Shadow(SpanContext);

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
        self.inner
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
            context: Some(live.context.clone()),
            remote: false,
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
                    remote: true,
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
        self.inner.counters.started.fetch_add(1, Ordering::Relaxed);
        let (context, span) = if sampled && self.inner.control.is_some() {
            let cx = match parent.context {
                None => Context::new(),
                Some(sc) if parent.remote => Context::new().with_remote_span_context(sc),
                Some(sc) => Context::new().with_span(Shadow(sc)),
            };
            let mut builder = SpanBuilder::from_name(name);
            if let Some((attributes, start)) = forced {
                builder = builder.with_attributes(attributes).with_start_time(start);
            }
            let root_id = if cx.has_active_span() {
                None
            } else {
                Some(trace_id)
            };
            let span = with_forced_record(root_id, || {
                self.inner.tracer.build_with_context(builder, &cx)
            });
            (
                opentelemetry::trace::Span::span_context(&span).clone(),
                Some(Box::new(span)),
            )
        } else {
            self.inner
                .counters
                .not_sampled
                .fetch_add(1, Ordering::Relaxed);
            let flags = if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::NOT_SAMPLED
            };
            let state = parent
                .context
                .as_ref()
                .map_or(opentelemetry::trace::TraceState::NONE, |cx| {
                    cx.trace_state().clone()
                });
            let span_id = SpanId::from(fastrand::u64(..).max(1));
            (
                SpanContext::new(trace_id, span_id, flags, false, state),
                None,
            )
        };
        let live = Live {
            context,
            random,
            span,
            tracestate: parent.tracestate,
            baggage: parent.baggage,
            error: None,
        };
        self.table()
            .insert(self.inner.id, live)
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
            if let Some(span) = &mut live.span {
                opentelemetry::trace::Span::set_attribute(&mut **span, attribute);
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
            if let Some(span) = &mut live.span {
                opentelemetry::trace::Span::add_event(&mut **span, name, attributes);
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
        let live = self
            .table()
            .remove(span)
            .ok_or(TraceError::UnknownSpan(*span))?;
        finish(live, status);
        Ok(())
    }

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
                    .with_live(&handle, |l| l.context.span_id() == active)
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
            if let Some(span) = &mut live.span {
                opentelemetry::trace::Span::add_event(&mut **span, "andon.signal", attributes);
                if red {
                    opentelemetry::trace::Span::set_status(
                        &mut **span,
                        Status::error(signal.message().to_owned()),
                    );
                }
            }
        })
    }

    /// Makes the span current on this thread until the guard drops: `record_signal` uses it,
    /// [`TraceContext::current`] reports it (so log records carry its ids), and `tracing` spans
    /// started meanwhile become its children.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn enter(&self, span: &SpanHandle) -> Result<EnteredSpan, TraceError> {
        let context = self.with_live(span, |live| live.context.clone())?;
        let cx = Context::current()
            .with_span(Shadow(context))
            .with_value(Current(*span));
        Ok(EnteredSpan {
            _guard: cx.attach(),
        })
    }

    /// The W3C ids of the span.
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn ids(&self, span: &SpanHandle) -> Result<TraceIds, TraceError> {
        self.with_live(span, |live| TraceIds {
            trace_id: live.context.trace_id().to_bytes(),
            span_id: live.context.span_id().to_bytes(),
        })
    }

    /// Whether the span is recorded (sampled, with tracing enabled).
    ///
    /// # Errors
    ///
    /// [`TraceError::UnknownSpan`] if the span has ended.
    pub fn is_recording(&self, span: &SpanHandle) -> Result<bool, TraceError> {
        self.with_live(span, |live| live.span.is_some())
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
            if live.context.is_sampled() {
                flags |= FLAG_SAMPLED;
            }
            if live.random {
                flags |= FLAG_RANDOM;
            }
            let traceparent = TraceParent::new(
                live.context.trace_id().to_bytes(),
                live.context.span_id().to_bytes(),
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

    /// Spans started and not yet ended.
    pub fn open_spans(&self) -> usize {
        self.table().open()
    }

    /// The counters: started, not sampled, queued, dropped (queue full), exported, failed.
    pub fn stats(&self) -> TraceStats {
        self.inner.counters.snapshot()
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
    pub async fn force_flush(&self) -> Result<(), TraceError> {
        let Some(control) = &self.inner.control else {
            return Ok(());
        };
        self.wait(control.flush()).await
    }

    /// Ends every open span (status unset), exports every ended span, and stops the exporter.
    /// Later calls that start spans return [`TraceError::ShutDown`]; a second shutdown is a
    /// no-op.
    ///
    /// # Errors
    ///
    /// [`TraceError::Timeout`] when the exporter did not finish in time.
    pub async fn shutdown(&self) -> Result<(), TraceError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let open = self.table().drain();
        for live in open {
            finish(live, SpanStatus::Unset);
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
                        remote: false,
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

/// Ends a removed span with its final status.
fn finish(live: Live, status: SpanStatus) {
    let Some(mut span) = live.span else { return };
    let status = match (status, live.error) {
        (SpanStatus::Error(message), _) => SpanStatus::Error(message),
        (_, Some(message)) => SpanStatus::Error(message),
        (status, None) => status,
    };
    end_sdk_span(&mut span, &status);
}

fn end_sdk_span(span: &mut SdkSpan, status: &SpanStatus) {
    use opentelemetry::trace::Span as _;
    if *status != SpanStatus::Unset {
        span.set_status(status.to_otel());
    }
    span.end();
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
        Ok(self.force_flush().await?)
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        Ok(AndonTracer::shutdown(self).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_get_the_traces_path_only_when_they_have_none() {
        assert_eq!(
            http_traces_url("http://localhost:4318"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("http://localhost:4318/"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("https://otel.example/custom/path"),
            "https://otel.example/custom/path"
        );
    }

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
}
