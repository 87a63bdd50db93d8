//! The wiring: a table of small build functions, one per component, each reading its config
//! section and the parts built before it from one [`WireContext`]. The only place that knows the
//! concrete component types; every component is built through its builder (the
//! [`andon_core::contract`]), so nothing is bound on a built component afterwards. The two late
//! bindings there are go through [`Deferred`] slots: the system (built last) and the alert
//! manager (built after the metrics it reads).
//!
//! | from | through | to |
//! |---|---|---|
//! | tracer | `TraceContext` | logger (records carry the active span's ids) |
//! | metrics | `MetricsSource` | alert rules (gauge and counter conditions) |
//! | metrics | `MetricsSink` | observer gauges, history counters, alert delivery counters, `andon_line_stopped` |
//! | observer | `DiagnosticsSource` | alert manager (snapshot on CRITICAL), the system (snapshot on RED) |
//! | the system | `SignalSink` (a `Deferred` slot bound once the system exists) | metric thresholds, observer health changes, failing alert channels |
//! | history | `HistoryStore` | the system (signals, line stops and resumes, RED diagnostics), alert manager (alert changes) |
//! | alert manager | `subscribe()` | the system's live events (`SystemEvent::Alert`) |
//! | every component | `Component::stats().export(MetricsSink)` every second | `andon_log_records_total{outcome}`, `andon_trace_spans_total{outcome}`, `andon_metrics_series`, `andon_observer_checks_total{outcome}`, `andon_alert_manager_events_total{event}`, `andon_history_records_total{outcome}`, … (drops visible on /metrics) |
//! | logger | `LogSink` | the alert manager's built-in `log` channel (alert records in andon's own log) |
//! | alert manager | `MetricsListener` (a `Deferred` slot bound once the manager exists) | the metrics recorder (metric and queue-depth rules react to an update, not the next tick) |
//! | metrics | `endpoint_notice()` | stderr and a WARNING record when the endpoint's port was taken and another was used |
//! | every component | `Component` | the system's shutdown, in order: alert, observe, log, metrics, trace, added sinks, history |

use std::sync::Arc;
use std::time::Duration;

use andon_core::{
    AndonConfig, AndonError, Component, Deferred, DiagnosticsSource, HistoryStore, MetricsSink,
    SignalSink,
};

pub(crate) use crate::lifecycle::{bind_system, shutdown_order};
use crate::system::AndonSystem;

/// The typed components of a running system, for `AndonSystem`'s accessors, and every one of
/// them as a [`Component`] for the lifecycle.
#[derive(Debug, Default)]
pub(crate) struct Components {
    #[cfg(feature = "log")]
    pub(crate) logger: Option<Arc<andon_log::AndonLogger>>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<Arc<andon_metrics::AndonMetrics>>,
    #[cfg(feature = "trace")]
    pub(crate) tracer: Option<Arc<andon_trace::AndonTracer>>,
    #[cfg(feature = "observe")]
    pub(crate) observer: Option<Arc<andon_observe::AndonObserver>>,
    #[cfg(feature = "alert")]
    pub(crate) alerts: Option<Arc<andon_alert::AlertManager>>,
    #[cfg(feature = "history")]
    pub(crate) history: Option<Arc<andon_history::HistoryBackend>>,
    /// Every component, and every sink added to the builder, in shutdown order (see
    /// `lifecycle::shutdown_order`).
    pub(crate) parts: Vec<Arc<dyn Component>>,
    /// Publishes every component's `stats()` once a second.
    self_metrics_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Components {
    /// Stops the system's own background task (the self-metrics export) before the
    /// components shut down; each component stops its own tasks in its `shutdown`.
    pub(crate) fn stop_background(&self) {
        if let Some(handle) = self
            .self_metrics_task
            .lock()
            .ok()
            .and_then(|mut h| h.take())
        {
            handle.abort();
        }
    }
}

/// Components given to the system's builder instead of being built from the config: the
/// builders of those the system wires (it adds its sinks and slots, then builds them), and the
/// built logger, tracer and history store, which need nothing from the system.
#[derive(Default)]
pub(crate) struct Parts {
    #[cfg(feature = "log")]
    pub(crate) logger: Option<andon_log::AndonLoggerBuilder>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<andon_metrics::AndonMetricsBuilder>,
    #[cfg(feature = "trace")]
    pub(crate) tracer: Option<andon_trace::AndonTracer>,
    #[cfg(feature = "observe")]
    pub(crate) observer: Option<andon_observe::AndonObserverBuilder>,
    #[cfg(feature = "alert")]
    pub(crate) alerts: Option<andon_alert::AlertManagerBuilder>,
    #[cfg(feature = "history")]
    pub(crate) history: Option<andon_history::SqliteHistory>,
}

/// What the wiring hands the system.
pub(crate) struct Wired {
    pub(crate) sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) metrics_sink: Option<Arc<dyn MetricsSink>>,
    pub(crate) components: Components,
    /// The system as its components' signal sink, bound by [`bind_system`] once it exists.
    pub(crate) system_sink: Arc<Deferred<dyn SignalSink>>,
    pub(crate) history: Option<Arc<dyn HistoryStore>>,
}

/// What one build function reads (the config, the parts built before it) and adds to.
struct WireContext<'a> {
    /// The whole configuration: each build function reads its own section (none is built
    /// without a component feature).
    #[cfg_attr(
        not(any(
            feature = "log",
            feature = "metrics",
            feature = "trace",
            feature = "observe",
            feature = "alert",
            feature = "history"
        )),
        expect(
            dead_code,
            reason = "read by the build functions, none with no component feature"
        )
    )]
    config: &'a AndonConfig,
    /// Where components raise signals of their own: the system, built after them.
    system_sink: Arc<Deferred<dyn SignalSink>>,
    /// The metrics recorder's listener: the alert manager, built after the metrics.
    #[cfg(feature = "metrics")]
    listener: Arc<Deferred<dyn andon_core::MetricsListener>>,
    components: Components,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    metrics_sink: Option<Arc<dyn MetricsSink>>,
    history: Option<Arc<dyn HistoryStore>>,
}

impl WireContext<'_> {
    /// What the build functions made, for the system; the context is left empty.
    fn finish(&mut self) -> Wired {
        Wired {
            sinks: fan_out(&self.components),
            diagnostics: self.diagnostics.take(),
            metrics_sink: self.metrics_sink.take(),
            components: std::mem::take(&mut self.components),
            system_sink: self.system_sink.clone(),
            history: self.history.take(),
        }
    }
}

/// Builds the enabled components, each from its section and the parts built before it:
/// trace, log, metrics, observe, history, alert.
pub(crate) async fn build(
    config: &AndonConfig,
    parts: Parts,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
) -> Result<Wired, AndonError> {
    let Parts {
        #[cfg(feature = "log")]
        logger,
        #[cfg(feature = "metrics")]
        metrics,
        #[cfg(feature = "trace")]
        tracer,
        #[cfg(feature = "observe")]
        observer,
        #[cfg(feature = "alert")]
        alerts,
        #[cfg(feature = "history")]
        history,
    } = parts;
    let mut ctx = WireContext {
        config,
        system_sink: Arc::new(Deferred::new()),
        #[cfg(feature = "metrics")]
        listener: Arc::new(Deferred::new()),
        components: Components::default(),
        diagnostics,
        metrics_sink: None,
        history: None,
    };
    #[cfg(feature = "trace")]
    build_tracer(&mut ctx, tracer)?;
    #[cfg(feature = "log")]
    build_logger(&mut ctx, logger)?;
    #[cfg(feature = "metrics")]
    build_metrics(&mut ctx, metrics).await?;
    #[cfg(feature = "observe")]
    build_observer(&mut ctx, observer)?;
    #[cfg(feature = "history")]
    build_history(&mut ctx, history).await?;
    #[cfg(feature = "alert")]
    build_alerts(&mut ctx, alerts)?;
    Ok(ctx.finish())
}

/// The tracer: given, or from `[tracer]` when enabled.
#[cfg(feature = "trace")]
fn build_tracer(
    ctx: &mut WireContext<'_>,
    given: Option<andon_trace::AndonTracer>,
) -> Result<(), AndonError> {
    let section = &ctx.config.tracer;
    let Some(tracer) = given_or_enabled(given.map(Ok), section.enabled, || {
        andon_trace::AndonTracer::builder(section.clone()).build()
    })
    .transpose()?
    else {
        return Ok(());
    };
    ctx.components.tracer = Some(Arc::new(tracer));
    Ok(())
}

/// The logger: the given builder, or one from `[logger]` (with `RUST_LOG` / `ANDON_LOG` said
/// once at start-up under the `tracing` feature); its records carry the tracer's ids unless the
/// given builder has a trace context of its own.
#[cfg(feature = "log")]
fn build_logger(
    ctx: &mut WireContext<'_>,
    given: Option<andon_log::AndonLoggerBuilder>,
) -> Result<(), AndonError> {
    let builder = match given {
        Some(builder) => builder,
        #[cfg(not(feature = "tracing"))]
        None => andon_log::AndonLogger::builder(ctx.config.logger.clone()),
        #[cfg(feature = "tracing")]
        None => andon_log::AndonLogger::builder(ctx.config.logger.clone()).with_env_directives()?,
    };
    #[cfg(feature = "trace")]
    let builder = match &ctx.components.tracer {
        Some(tracer) => builder.with_default_trace_context(tracer.clone()),
        None => builder,
    };
    ctx.components.logger = Some(Arc::new(builder.build()?));
    Ok(())
}

/// The metrics: the given builder, or one from `[metrics]` when enabled; threshold signals go
/// to the system, updates of watched metrics to the alert manager (both bound later).
#[cfg(feature = "metrics")]
async fn build_metrics(
    ctx: &mut WireContext<'_>,
    given: Option<andon_metrics::AndonMetricsBuilder>,
) -> Result<(), AndonError> {
    let section = &ctx.config.metrics;
    let Some(builder) = given_or_enabled(given, section.enabled, || {
        andon_metrics::AndonMetrics::builder(section.clone())
    }) else {
        return Ok(());
    };
    let metrics = builder
        .with_signal_sink(ctx.system_sink.clone())
        .with_metrics_listener(ctx.listener.clone())
        .build()?;
    // The configured port was taken and another one is served: say which, where a person
    // starting the program looks (stderr) and in the log.
    if let Some(notice) = metrics.endpoint_notice() {
        eprintln!("{notice}");
        #[cfg(feature = "log")]
        if let Some(logger) = &ctx.components.logger {
            let _ = logger.warn(notice).await;
        }
    }
    let metrics = Arc::new(metrics);
    ctx.metrics_sink = Some(metrics.clone());
    ctx.components.metrics = Some(metrics);
    Ok(())
}

/// The observer: the given builder, or one from `[observer]` when enabled; its gauges go to
/// the metrics, its health changes to the system, and it is the diagnostics source unless the
/// system's builder was given one.
#[cfg(feature = "observe")]
fn build_observer(
    ctx: &mut WireContext<'_>,
    given: Option<andon_observe::AndonObserverBuilder>,
) -> Result<(), AndonError> {
    let section = &ctx.config.observer;
    let Some(builder) = given_or_enabled(given, section.enabled, || {
        andon_observe::AndonObserver::builder(section.clone())
    }) else {
        return Ok(());
    };
    let builder = builder.with_signal_sink(ctx.system_sink.clone());
    let builder = with_part(builder, &ctx.metrics_sink, |b, m| b.with_metrics_sink(m));
    let observer = Arc::new(builder.build()?);
    if ctx.diagnostics.is_none() {
        ctx.diagnostics = Some(observer.clone());
    }
    ctx.components.observer = Some(observer);
    Ok(())
}

/// The history: the given SQLite store, or the backend `[history]` asks for when enabled
/// (SQLite, or PostgreSQL when `url` is set), counting through the metrics.
#[cfg(feature = "history")]
async fn build_history(
    ctx: &mut WireContext<'_>,
    given: Option<andon_history::SqliteHistory>,
) -> Result<(), AndonError> {
    let history = match given {
        Some(store) => andon_history::HistoryBackend::Sqlite {
            store,
            instance: andon_history::instance_of(&ctx.config.history),
        },
        None if ctx.config.history.enabled => {
            let builder = andon_history::HistoryBackend::builder(ctx.config.history.clone());
            with_part(builder, &ctx.metrics_sink, |b, m| b.with_metrics_sink(m))
                .build()
                .await?
        }
        None => return Ok(()),
    };
    let history = Arc::new(history);
    ctx.history = Some(history.clone());
    ctx.components.history = Some(history);
    Ok(())
}

/// The alert manager: the given builder, or one from `[alerts]` when enabled, reading the
/// metrics and given every part it reports to; a built-in rule per heartbeat; then bound as
/// the metrics recorder's listener (after the rules are in: its metric names are read then).
#[cfg(feature = "alert")]
fn build_alerts(
    ctx: &mut WireContext<'_>,
    given: Option<andon_alert::AlertManagerBuilder>,
) -> Result<(), AndonError> {
    let section = &ctx.config.alerts;
    let Some(builder) = given_or_enabled(given, section.enabled, || {
        andon_alert::AlertManager::builder(section.clone())
    }) else {
        return Ok(());
    };
    let builder = builder.with_signal_sink(ctx.system_sink.clone());
    #[cfg(feature = "metrics")]
    let builder = with_part(builder, &ctx.components.metrics, |b, m| {
        b.with_metrics_source(m)
    });
    let builder = with_part(builder, &ctx.diagnostics, |b, d| b.with_diagnostics(d));
    let builder = with_part(builder, &ctx.metrics_sink, |b, m| b.with_metrics_sink(m));
    let builder = with_part(builder, &ctx.history, |b, h| b.with_history(h));
    // `[tracer] ui_url`: notifications link each trace to the trace UI.
    let builder = with_part(builder, &ctx.config.tracer.ui_url, |b, u| {
        b.with_trace_ui_url(u)
    });
    // The built-in `log` channel writes its alert records into andon's own log.
    #[cfg(feature = "log")]
    let builder = with_part(builder, &ctx.components.logger, |b, l| b.with_log_sink(l));
    let alerts = builder.build()?;
    // A built-in rule per heartbeat, beside `red-signal`: open while it is down.
    let heartbeats: Vec<(String, andon_core::AlertSeverity)> = ctx
        .config
        .heartbeats
        .iter()
        .map(|h| {
            let severity = match h.color {
                andon_core::Color::Red => andon_core::AlertSeverity::Critical,
                _ => andon_core::AlertSeverity::Warning,
            };
            (h.name.clone(), severity)
        })
        .collect();
    alerts.add_heartbeat_rules(&heartbeats)?;
    let alerts = Arc::new(alerts);
    // Metric and queue-depth rules react when their gauge changes, not on the next tick.
    #[cfg(feature = "metrics")]
    if ctx.components.metrics.is_some() {
        let _ = ctx.listener.bind(alerts.clone());
    }
    ctx.components.alerts = Some(alerts);
    Ok(())
}

/// The part given to the system's builder, else the one `make` builds from its section when
/// the section is enabled, else none (the component is off).
#[cfg(any(
    feature = "metrics",
    feature = "trace",
    feature = "observe",
    feature = "alert"
))]
fn given_or_enabled<T>(given: Option<T>, enabled: bool, make: impl FnOnce() -> T) -> Option<T> {
    given.or_else(|| enabled.then(make))
}

/// `builder` given a part built before it (the metrics sink, the history store, …) through
/// `with` when that part exists, else as it is.
#[cfg(any(feature = "observe", feature = "history", feature = "alert"))]
fn with_part<B, P: Clone>(builder: B, part: &Option<P>, with: impl FnOnce(B, P) -> B) -> B {
    match part {
        Some(part) => with(builder, part.clone()),
        None => builder,
    }
}

/// A built component as one of the system's signal sinks.
#[cfg(any(
    feature = "log",
    feature = "metrics",
    feature = "trace",
    feature = "alert"
))]
fn as_sink<T: SignalSink + 'static>(part: &Option<Arc<T>>) -> Option<Arc<dyn SignalSink>> {
    part.clone().map(|part| part as Arc<dyn SignalSink>)
}

/// The components that take every signal, in fan-out order: log, metrics, trace, alert.
fn fan_out(components: &Components) -> Vec<Arc<dyn SignalSink>> {
    let sinks: &[Option<Arc<dyn SignalSink>>] = &[
        #[cfg(feature = "log")]
        as_sink(&components.logger),
        #[cfg(feature = "metrics")]
        as_sink(&components.metrics),
        #[cfg(feature = "trace")]
        as_sink(&components.tracer),
        #[cfg(feature = "alert")]
        as_sink(&components.alerts),
    ];
    let _ = components;
    sinks.iter().flatten().cloned().collect()
}

/// How often every component's counters (its `stats()`) are published as metrics.
const SELF_METRICS_INTERVAL: Duration = Duration::from_secs(1);

/// Starts background work once the system exists: the export of every component's counters
/// (its [`Component::stats`], once a second), the observer's scheduled checks, the alert
/// manager's periodic evaluation (each stopped by its component's shutdown), and the
/// forwarding of alert changes to the system's live events.
pub(crate) fn start(system: &AndonSystem) {
    let components = system.components();
    if let Some(metrics) = system.metrics_sink() {
        // Every part's `stats()`, the same way: each metric name of a `Stats` line is written
        // here and nowhere else (the counters some components push as events happen have
        // names of their own, such as `andon_alert_notifications_total`).
        let reported: Vec<Arc<dyn Component>> = components.parts.clone();
        if !reported.is_empty() {
            for part in &reported {
                part.stats().describe_to(metrics.as_ref());
            }
            let handle = tokio::spawn(async move {
                let mut tick = tokio::time::interval(SELF_METRICS_INTERVAL);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    for part in &reported {
                        part.stats().export(metrics.as_ref());
                    }
                }
            });
            if let Ok(mut slot) = components.self_metrics_task.lock() {
                *slot = Some(handle);
            }
        }
    }
    #[cfg(feature = "observe")]
    if let Some(observer) = &components.observer {
        observer.start();
    }
    #[cfg(feature = "alert")]
    if let Some(alerts) = &components.alerts {
        // Periodic rule evaluation, owned by the manager (its shutdown stops it).
        alerts.start();
        // Alert state changes join the system's live events; the forwarding ends with the
        // alert manager.
        let mut changes = alerts.subscribe();
        let events = system.events();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match changes.recv().await {
                    Ok(change) => {
                        let _ = events.send(crate::SystemEvent::Alert(Arc::new(change)));
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }
}
