//! The wiring: which component is built from which config section, and which core trait of one
//! feeds which other. The only place that knows the concrete component types.
//!
//! | from | through | to |
//! |---|---|---|
//! | tracer | `TraceContext` | logger (records carry the active span's ids) |
//! | metrics | `MetricsSource` | alert rules (gauge and counter conditions) |
//! | metrics | `MetricsSink` | observer gauges, alert delivery counters, `andon_line_stopped` |
//! | observer | `DiagnosticsSource` | alert manager (snapshot on CRITICAL), the system (snapshot on RED) |
//! | the system | `SignalSink` | metric thresholds, observer health changes, failing alert channels |
//! | history | `HistoryStore` | the system (signals, line stops and resumes, RED diagnostics), alert manager (alert changes) |
//! | alert manager | `subscribe()` | the system's live events (`SystemEvent::Alert`) |
//! | logger, tracer | `stats().export(MetricsSink)` every second | `andon_log_records{outcome}`, `andon_trace_spans{outcome}` (drops visible on /metrics) |
//! | logger | `LogSink` | the alert manager's built-in `log` channel (alert records in andon's own log) |
//! | alert manager | `MetricsListener` | the metrics recorder (metric and queue-depth rules react to an update, not the next tick) |
//! | metrics | `endpoint_notice()` | stderr and a WARNING record when the endpoint's port was taken and another was used |

use std::sync::{Arc, OnceLock};

use andon_core::{
    AndonConfig, AndonError, AndonSignal, DiagnosticsSource, HistoryStore, MetricsSink, SignalSink,
    async_trait,
};

use crate::system::{AndonSystem, WeakSystem};

/// The typed components of a running system, for `AndonSystem`'s accessors.
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
    #[cfg(feature = "observe")]
    observer_task: std::sync::Mutex<Option<andon_observe::ObserverHandle>>,
    #[cfg(feature = "alert")]
    pub(crate) alerts: Option<Arc<andon_alert::AlertManager>>,
    #[cfg(feature = "alert")]
    evaluation_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Publishes the logger's and tracer's own counters as metrics.
    self_metrics_task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    #[cfg(feature = "history")]
    pub(crate) history: Option<Arc<andon_history::HistoryBackend>>,
}

impl Components {
    /// Stops background tasks (scheduled checks, rule evaluation) before the flush.
    pub(crate) async fn stop_background(&self) {
        if let Some(handle) = self
            .self_metrics_task
            .lock()
            .ok()
            .and_then(|mut h| h.take())
        {
            handle.abort();
        }
        #[cfg(feature = "observe")]
        {
            let handle = self.observer_task.lock().ok().and_then(|mut h| h.take());
            if let Some(handle) = handle {
                handle.stop().await;
            }
        }
        #[cfg(feature = "alert")]
        {
            let handle = self.evaluation_task.lock().ok().and_then(|mut h| h.take());
            if let Some(handle) = handle {
                handle.abort();
            }
        }
    }
}

/// Components given to the builder instead of being built from the config.
#[derive(Default)]
pub(crate) struct Parts {
    #[cfg(feature = "log")]
    pub(crate) logger: Option<andon_log::AndonLogger>,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Option<andon_metrics::AndonMetrics>,
    #[cfg(feature = "trace")]
    pub(crate) tracer: Option<andon_trace::AndonTracer>,
    #[cfg(feature = "observe")]
    pub(crate) observer: Option<andon_observe::AndonObserver>,
    #[cfg(feature = "alert")]
    pub(crate) alerts: Option<andon_alert::AlertManager>,
    #[cfg(feature = "history")]
    pub(crate) history: Option<andon_history::SqliteHistory>,
}

pub(crate) struct Wired {
    pub(crate) sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) metrics_sink: Option<Arc<dyn MetricsSink>>,
    pub(crate) components: Components,
    pub(crate) system_sink: Arc<DeferredSink>,
    pub(crate) history: Option<Arc<dyn HistoryStore>>,
}

/// A sink that forwards to the system once it exists: components that raise signals of their
/// own are built before the system they report to.
#[derive(Debug, Default)]
pub(crate) struct DeferredSink {
    system: OnceLock<WeakSystem>,
}

impl DeferredSink {
    pub(crate) fn bind(&self, system: &AndonSystem) {
        let _ = self.system.set(system.downgrade());
    }
}

#[async_trait]
impl SignalSink for DeferredSink {
    fn name(&self) -> &'static str {
        "system"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        let Some(system) = self.system.get().and_then(WeakSystem::upgrade) else {
            return Err(AndonError::ShutDown {
                component: "system",
            });
        };
        system
            .signal_problem(signal.clone())
            .await
            .map(|_| ())
            .map_err(AndonError::from)
    }
}

/// Builds the enabled components, in fan-out order: log, metrics, trace, alert.
#[allow(unused_mut, unused_variables, unused_assignments)] // which bindings are used depends on the features
pub(crate) async fn build(
    config: &AndonConfig,
    parts: Parts,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
) -> Result<Wired, AndonError> {
    let system_sink = Arc::new(DeferredSink::default());
    let mut sinks: Vec<Arc<dyn SignalSink>> = Vec::new();
    let mut components = Components::default();
    let mut metrics_sink: Option<Arc<dyn MetricsSink>> = None;
    let mut metrics_source: Arc<dyn andon_core::MetricsSource> = Arc::new(andon_core::Noop);
    let mut diagnostics = diagnostics;
    let mut history: Option<Arc<dyn HistoryStore>> = None;

    #[cfg(feature = "trace")]
    let tracer: Option<Arc<andon_trace::AndonTracer>> = match parts.tracer {
        Some(tracer) => Some(Arc::new(tracer)),
        None if config.tracer.enabled => Some(Arc::new(andon_trace::AndonTracer::new(
            config.tracer.clone(),
        )?)),
        None => None,
    };

    #[cfg(feature = "log")]
    {
        let logger = match parts.logger {
            Some(logger) => logger,
            #[cfg(not(feature = "tracing"))]
            None => andon_log::AndonLogger::new(config.logger.clone())?,
            // RUST_LOG / ANDON_LOG override `[logger] level`, said once at start-up.
            #[cfg(feature = "tracing")]
            None => andon_log::AndonLogger::builder(config.logger.clone())
                .with_env_directives()?
                .build()?,
        };
        #[cfg(feature = "trace")]
        if let Some(tracer) = &tracer {
            let context: Arc<dyn andon_core::TraceContext> = tracer.clone();
            // A logger given to the builder may carry its own context already: keep it.
            let _ = logger.set_trace_context(context);
        }
        let logger = Arc::new(logger);
        sinks.push(logger.clone());
        components.logger = Some(logger);
    }

    #[cfg(feature = "metrics")]
    {
        let metrics = match parts.metrics {
            Some(metrics) => Some(metrics),
            None if config.metrics.enabled => {
                Some(andon_metrics::AndonMetrics::new(config.metrics.clone())?)
            }
            None => None,
        };
        if let Some(metrics) = metrics {
            // The configured port was taken and another one is served: say which, where a
            // person starting the program looks (stderr) and in the log.
            if let Some(notice) = metrics.endpoint_notice() {
                eprintln!("{notice}");
                #[cfg(feature = "log")]
                if let Some(logger) = &components.logger {
                    let _ = logger.warn(notice).await;
                }
            }
            metrics.set_signal_sink(Some(system_sink.clone()));
            let metrics = Arc::new(metrics);
            sinks.push(metrics.clone());
            metrics_sink = Some(metrics.clone());
            metrics_source = metrics.clone();
            components.metrics = Some(metrics);
        }
    }

    #[cfg(feature = "trace")]
    if let Some(tracer) = tracer {
        sinks.push(tracer.clone());
        components.tracer = Some(tracer);
    }

    #[cfg(feature = "observe")]
    {
        let observer = match parts.observer {
            Some(observer) => Some(observer),
            None if config.observer.enabled => {
                Some(andon_observe::AndonObserver::new(config.observer.clone())?)
            }
            None => None,
        };
        if let Some(mut observer) = observer {
            if let Some(metrics) = &metrics_sink {
                observer = observer.with_metrics_sink(metrics.clone());
            }
            let observer = Arc::new(observer);
            if diagnostics.is_none() {
                diagnostics = Some(observer.clone());
            }
            components.observer = Some(observer);
        }
    }

    #[cfg(feature = "history")]
    {
        let store = match parts.history {
            Some(store) => Some(andon_history::HistoryBackend::Sqlite {
                store,
                instance: andon_history::instance_of(&config.history),
            }),
            // SQLite, or PostgreSQL when [history] url is set (issue 19).
            None if config.history.enabled => Some(
                andon_history::HistoryBackend::open(&config.history, metrics_sink.clone()).await?,
            ),
            None => None,
        };
        if let Some(store) = store {
            let store = Arc::new(store);
            history = Some(store.clone());
            components.history = Some(store);
        }
    }

    #[cfg(feature = "alert")]
    {
        let alerts = match parts.alerts {
            Some(alerts) => Some(alerts),
            None if config.alerts.enabled => Some(andon_alert::AlertManager::new(
                config.alerts.clone(),
                metrics_source.clone(),
            )?),
            None => None,
        };
        if let Some(mut alerts) = alerts {
            // A built-in rule per heartbeat, beside `red-signal`: open while it is down.
            let heartbeats: Vec<(String, andon_core::AlertSeverity)> = config
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
            alerts = alerts.with_signal_sink(system_sink.clone());
            if let Some(source) = &diagnostics {
                alerts = alerts.with_diagnostics(source.clone());
            }
            if let Some(metrics) = &metrics_sink {
                alerts = alerts.with_metrics_sink(metrics.clone());
            }
            if let Some(store) = &history {
                alerts = alerts.with_history(store.clone());
            }
            // `[tracer] ui_url`: notifications link each trace to the trace UI.
            if let Some(ui_url) = &config.tracer.ui_url {
                alerts = alerts.with_trace_ui_url(ui_url.clone());
            }
            // The built-in `log` channel writes its alert records into andon's own log.
            #[cfg(feature = "log")]
            if let Some(logger) = &components.logger {
                let log: Arc<dyn andon_core::LogSink> = logger.clone();
                alerts = alerts.with_log_sink(log);
            }
            let alerts = Arc::new(alerts);
            // Metric and queue-depth rules react when their gauge changes, not on the next tick
            // (after the rules are in: the listener's metric names are read once).
            #[cfg(feature = "metrics")]
            if let Some(metrics) = &components.metrics {
                let listener: Arc<dyn andon_core::MetricsListener> = alerts.clone();
                metrics.set_metrics_listener(Some(listener));
            }
            sinks.push(alerts.clone());
            components.alerts = Some(alerts);
        }
    }

    Ok(Wired {
        sinks,
        diagnostics,
        metrics_sink,
        components,
        system_sink,
        history,
    })
}

/// Starts background tasks once the system exists: scheduled observer checks and periodic
/// rule evaluation, both reporting to the system.
/// How often the logger's and tracer's counters are published as metrics.
#[cfg(any(feature = "log", feature = "trace"))]
const SELF_METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

#[allow(unused_variables)] // which bindings are used depends on the features
pub(crate) fn start(system: &AndonSystem, sink: Arc<dyn SignalSink>) {
    let components = system.components();
    #[cfg(any(feature = "log", feature = "trace"))]
    if let Some(metrics) = system.metrics_sink() {
        #[cfg(feature = "log")]
        let logger = components.logger.clone();
        #[cfg(feature = "trace")]
        let tracer = components.tracer.clone();
        #[cfg(feature = "log")]
        if logger.is_some() {
            andon_log::LogStats::describe(metrics.as_ref());
        }
        #[cfg(feature = "trace")]
        if tracer.is_some() {
            andon_trace::TraceStats::describe(metrics.as_ref());
        }
        let handle = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SELF_METRICS_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                #[cfg(feature = "log")]
                if let Some(logger) = &logger {
                    logger.stats().export(metrics.as_ref());
                }
                #[cfg(feature = "trace")]
                if let Some(tracer) = &tracer {
                    tracer.stats().export(metrics.as_ref());
                }
            }
        });
        if let Ok(mut slot) = components.self_metrics_task.lock() {
            *slot = Some(handle);
        }
    }
    #[cfg(feature = "observe")]
    if let Some(observer) = &components.observer {
        let handle = observer.start(sink.clone());
        if let Ok(mut slot) = components.observer_task.lock() {
            *slot = Some(handle);
        }
    }
    #[cfg(feature = "alert")]
    if let Some(alerts) = &components.alerts {
        let handle = alerts.spawn_evaluation();
        if let Ok(mut slot) = components.evaluation_task.lock() {
            *slot = Some(handle);
        }
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
