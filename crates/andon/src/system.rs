//! `AndonSystem`: one signal fanned out to every enabled component, the line, and an orderly
//! shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{
    AndonConfig, AndonError, AndonSignal, Color, DiagnosticsReport, DiagnosticsSource,
    HistoryRecord, HistoryStore, Line, LineEvent, LineState, MetricsSink, SignalId, SignalSink,
};
use tokio::sync::broadcast;

use crate::board::{Board, BoardSnapshot};
use crate::error::{PartFailure, ShutdownError, SignalError};

/// A RED within this long of the last diagnostics snapshot shares it instead of taking its own.
const DIAGNOSTICS_REUSED_FOR: Duration = Duration::from_secs(1);

/// How long [`AndonSystem::shutdown`] waits for each component by default.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Something that happened in the system, for live views (the agent's event stream).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SystemEvent {
    /// A signal was raised.
    Signal(Arc<AndonSignal>),
    /// The line stopped or resumed.
    Line(LineState),
    /// A diagnostics snapshot was taken for a RED signal.
    Diagnostics(Arc<DiagnosticsReport>),
    /// An alert fired, was acknowledged, escalated or resolved (with the `alert` feature and
    /// `[alerts] enabled`).
    Alert(Arc<andon_core::history::AlertEvent>),
}

/// What [`AndonSystem::signal_problem`] did with a signal.
#[derive(Debug, Clone)]
pub struct SignalOutcome {
    /// The signal's id.
    pub id: SignalId,
    /// Whether this signal stopped the line.
    pub stopped_line: bool,
    /// Whether this signal resumed the line (`auto_resume_on_green`).
    pub resumed_line: bool,
    /// The components that took the signal, in order.
    pub delivered_to: Vec<&'static str>,
}

/// The whole andon system: every enabled component wired together, and the line.
///
/// Cloning is cheap and every clone is the same system.
///
/// ```no_run
/// use andon::{AndonConfig, AndonSignal, AndonSystem};
///
/// # async fn run() -> Result<(), andon::AndonError> {
/// let system = AndonSystem::new(AndonConfig::default()).await?;
/// let signal = AndonSignal::red("Queue overflow - stop processing")
///     .with_component("queue-handler")
///     .with_trace_id("trace-123");
/// system.signal_problem(signal).await?;
/// assert!(!system.line().is_running());
/// system.line().resume("alice", Some("queue drained"));
/// system.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AndonSystem {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: AndonConfig,
    pub(crate) line: Line,
    /// Components that take every signal, in fan-out (and shutdown) order.
    pub(crate) sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) metrics_sink: Option<Arc<dyn MetricsSink>>,
    pub(crate) components: crate::wire::Components,
    system_sink: Arc<crate::wire::DeferredSink>,
    /// Where signals, line changes and RED diagnostics are remembered (`[history]`).
    history: Option<Arc<dyn HistoryStore>>,
    board: Board,
    escalation: crate::escalate::YellowEscalation,
    events: broadcast::Sender<SystemEvent>,
    last_diagnostics: Mutex<Option<Arc<DiagnosticsReport>>>,
    /// A RED's snapshot is being taken: REDs meanwhile share it instead of queueing their own.
    snapshot_running: Arc<AtomicBool>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for AndonSystem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AndonSystem")
            .field(
                "sinks",
                &self
                    .inner
                    .sinks
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>(),
            )
            .field("diagnostics", &self.inner.diagnostics.is_some())
            .field("line", &self.inner.line)
            .finish_non_exhaustive()
    }
}

impl AndonSystem {
    /// Builds every component the configuration enables (and the crate features allow), wires
    /// them, and starts their background tasks. Needs a tokio runtime.
    pub async fn new(config: AndonConfig) -> Result<Self, AndonError> {
        Self::builder().with_config(config).build().await
    }

    /// A builder, to replace or add components.
    pub fn builder() -> AndonSystemBuilder {
        AndonSystemBuilder::default()
    }

    /// Pulls the cord.
    ///
    /// For every enabled component: logs the signal at its level (RED = CRITICAL), records the
    /// metric, creates a span, evaluates alert rules; for RED, a diagnostics snapshot is taken in
    /// the background (one at a time; REDs raised while one is taken, or within a second of the
    /// last, share it). A signal whose color and component the `[line]` section names stops the
    /// line first, so workers halt at once; the signal then carries `line.stopped = true`.
    /// With `[line] escalate_yellow_after`, a YELLOW from a component that may stop the line
    /// becomes a RED that stops it unless a GREEN from that component (or
    /// [`acknowledge_yellow`](AndonSystem::acknowledge_yellow)) comes first.
    ///
    /// One component failing does not stop the others: the error lists which parts failed. Slow
    /// work (sending alerts, exporting spans, the snapshot) happens off the caller's path.
    pub async fn signal_problem(&self, signal: AndonSignal) -> Result<SignalOutcome, SignalError> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(SignalError::ShutDown);
        }
        let mut signal = signal;
        let mut stopped_line = false;
        let mut resumed_line = false;
        if inner.config.line.stops(signal.color(), signal.component()) {
            signal = signal.with_attribute("line.stopped", true);
            let shared = Arc::new(signal.clone());
            stopped_line = inner.line.stop(Arc::clone(&shared));
            if stopped_line {
                self.line_changed();
                self.remember(|| {
                    HistoryRecord::Line(LineEvent::Stopped {
                        at: std::time::SystemTime::now(),
                        signal: shared.id(),
                        component: shared.component().map(str::to_owned),
                        message: shared.message().to_owned(),
                    })
                });
            }
        } else if signal.color() == Color::Green && inner.config.line.auto_resume_on_green {
            let stopped_by_same = inner
                .line
                .state()
                .stopping_signal()
                .is_some_and(|s| s.component() == signal.component());
            if stopped_by_same {
                let by = format!("auto-resume: GREEN from {}", signal.component_or_unknown());
                resumed_line = inner.line.resume(by.clone(), Some(signal.message()));
                if resumed_line {
                    self.line_changed();
                    self.remember(|| {
                        HistoryRecord::Line(LineEvent::Resumed {
                            at: std::time::SystemTime::now(),
                            by,
                            note: Some(signal.message().to_owned()),
                        })
                    });
                }
            }
        }

        inner
            .escalation
            .observe(&signal, &inner.config.line, Arc::downgrade(inner));

        let mut failures = Vec::new();
        let mut delivered_to = Vec::with_capacity(inner.sinks.len());
        for sink in &inner.sinks {
            match sink.on_signal(&signal).await {
                Ok(()) => delivered_to.push(sink.name()),
                Err(error) => failures.push(PartFailure {
                    component: sink.name(),
                    error,
                }),
            }
        }

        let id = signal.id();
        let is_red = signal.color() == Color::Red;
        let shared = Arc::new(signal);
        inner.board.record(&shared);
        self.remember(|| HistoryRecord::Signal(Arc::clone(&shared)));
        let _ = inner.events.send(SystemEvent::Signal(Arc::clone(&shared)));
        if is_red {
            self.snapshot_in_background(id);
        }

        if failures.is_empty() {
            Ok(SignalOutcome {
                id,
                stopped_line,
                resumed_line,
                delivered_to,
            })
        } else {
            Err(SignalError::Partial {
                outcome: SignalOutcome {
                    id,
                    stopped_line,
                    resumed_line,
                    delivered_to,
                },
                failures,
            })
        }
    }

    /// The production line: workers call `checkpoint()` or `wait_until_running()` on it.
    pub fn line(&self) -> &Line {
        &self.inner.line
    }

    /// Resumes the line and makes the resumption visible (a GREEN signal from `line`).
    pub async fn resume_line(&self, by: &str, note: Option<&str>) -> Result<bool, SignalError> {
        let resumed = self.inner.line.resume(by, note);
        if resumed {
            self.line_changed();
            self.remember(|| {
                HistoryRecord::Line(LineEvent::Resumed {
                    at: std::time::SystemTime::now(),
                    by: by.to_owned(),
                    note: note.map(str::to_owned),
                })
            });
            let mut signal = AndonSignal::green(format!(
                "line resumed by {by}{}",
                note.map(|n| format!(": {n}")).unwrap_or_default()
            ))
            .with_component("line")
            .with_attribute("resumed_by", by);
            if let Some(note) = note {
                signal = signal.with_attribute("note", note);
            }
            self.signal_problem(signal).await?;
        }
        Ok(resumed)
    }

    /// Acknowledges the YELLOW of `component` that `[line] escalate_yellow_after` is timing:
    /// someone is on it, so it will not escalate to a RED that stops the line (a GREEN from the
    /// component does the same). Whether a YELLOW was waiting.
    pub fn acknowledge_yellow(&self, component: &str) -> bool {
        self.inner.escalation.disarm(component)
    }

    /// The timer of an unhandled YELLOW ran out: raise the RED it escalates to.
    pub(crate) async fn escalate_yellow(&self, yellow: Arc<AndonSignal>, after: Duration) {
        if !self
            .inner
            .escalation
            .claim(yellow.component_or_unknown(), yellow.id())
        {
            return;
        }
        // The RED is logged, counted, traced, alerted and stops the line like any other; a
        // part that fails is already reported by its own component.
        let _ = self
            .signal_problem(crate::escalate::escalated_red(&yellow, after))
            .await;
    }

    /// The configuration the system runs with.
    pub fn config(&self) -> &AndonConfig {
        &self.inner.config
    }

    /// The board: the line and every station's light.
    pub fn board(&self) -> BoardSnapshot {
        BoardSnapshot {
            line: self.inner.line.state(),
            stations: self.inner.board.stations(),
        }
    }

    /// The most recent signals, newest first.
    pub fn recent_signals(&self, limit: usize) -> Vec<Arc<AndonSignal>> {
        self.inner.board.recent(limit)
    }

    /// Live events: signals, line changes, diagnostics, alert changes. A slow receiver misses old events
    /// (it is told how many) rather than slowing the system.
    pub fn subscribe(&self) -> broadcast::Receiver<SystemEvent> {
        self.inner.events.subscribe()
    }

    /// The diagnostics snapshot taken for the last RED signal.
    pub fn last_diagnostics(&self) -> Option<Arc<DiagnosticsReport>> {
        self.inner
            .last_diagnostics
            .lock()
            .ok()
            .and_then(|d| d.clone())
    }

    /// The diagnostics to show a reader, if an observer is enabled. With the built-in
    /// observer: its latest scheduled check (`taken_at` tells its age; a fresh measurement only
    /// before the first check), so that reads, however many, never re-sample the host nor
    /// shorten the window the next health check judges by. A source given to the builder is
    /// asked for a snapshot.
    pub async fn diagnostics(&self) -> Option<Result<DiagnosticsReport, AndonError>> {
        let source = self.inner.diagnostics.as_ref()?;
        #[cfg(feature = "observe")]
        if let Some(observer) = self.inner.components.observer.as_ref().filter(|observer| {
            // The built-in observer is the source (not one given to the builder).
            std::ptr::addr_eq(Arc::as_ptr(observer), Arc::as_ptr(source))
        }) {
            return Some(observer.current_report().await.map_err(AndonError::from));
        }
        Some(source.snapshot().await)
    }

    /// A signal sink that pulls this system's cord: for components that raise signals of their
    /// own (metric thresholds, observer health, failing alert channels). It holds the system
    /// weakly, so it does not keep a shut-down system alive.
    pub fn as_sink(&self) -> Arc<dyn SignalSink> {
        self.inner.system_sink.clone()
    }

    /// Flushes and stops every component, in the order logs, spans, metrics, alerts, then the
    /// history (so that the last alert changes are kept), each within
    /// [`DEFAULT_SHUTDOWN_DEADLINE`]. Signals raised afterwards are refused.
    pub async fn shutdown(&self) -> Result<(), ShutdownError> {
        self.shutdown_within(DEFAULT_SHUTDOWN_DEADLINE).await
    }

    /// [`shutdown`](AndonSystem::shutdown) with a deadline per component.
    pub async fn shutdown_within(&self, deadline: Duration) -> Result<(), ShutdownError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.escalation.disarm_all();
        self.inner.components.stop_background().await;
        let mut failures = Vec::new();
        for sink in &self.inner.sinks {
            match tokio::time::timeout(deadline, sink.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(PartFailure {
                    component: sink.name(),
                    error,
                }),
                Err(_) => failures.push(PartFailure {
                    component: sink.name(),
                    error: AndonError::component(
                        sink.name(),
                        format!("did not shut down within {deadline:?}; what it held may be lost"),
                    ),
                }),
            }
        }
        // Last, so that the alert manager's final changes are in it.
        if let Some(history) = &self.inner.history {
            match tokio::time::timeout(deadline, history.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => failures.push(PartFailure {
                    component: "history",
                    error,
                }),
                Err(_) => failures.push(PartFailure {
                    component: "history",
                    error: AndonError::component(
                        "history",
                        format!(
                            "did not flush within {deadline:?}; records still queued may be lost"
                        ),
                    ),
                }),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(ShutdownError { failures })
        }
    }

    /// Hands a record to the history store, if there is one (it only enqueues).
    fn remember(&self, record: impl FnOnce() -> HistoryRecord) {
        if let Some(history) = &self.inner.history {
            history.record(record());
        }
    }

    fn line_changed(&self) {
        let state = self.inner.line.state();
        if let Some(metrics) = &self.inner.metrics_sink {
            metrics.set_gauge(
                "andon_line_stopped",
                &[],
                if state.is_running() { 0.0 } else { 1.0 },
            );
        }
        let _ = self.inner.events.send(SystemEvent::Line(state));
    }

    fn snapshot_in_background(&self, signal: SignalId) {
        let Some(source) = self.inner.diagnostics.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // A RED storm shares recent diagnostics: measuring the host for every RED would keep a
        // core busy with it and slow the callers it is meant to help.
        if let Some(recent) = self.last_diagnostics().filter(|d| {
            d.taken_at
                .elapsed()
                .is_ok_and(|age| age < DIAGNOSTICS_REUSED_FOR)
        }) {
            if let Some(history) = &self.inner.history {
                history.record(HistoryRecord::Diagnostics {
                    signal,
                    report: recent,
                });
            }
            return;
        }
        // One snapshot at a time: a storm of REDs must not queue a measurement each.
        let running = Arc::clone(&self.inner.snapshot_running);
        if running.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let result = source.snapshot().await;
            running.store(false, Ordering::Release);
            let Ok(report) = result else {
                return;
            };
            let Some(inner) = weak.upgrade() else {
                return;
            };
            let report = Arc::new(report);
            if let Ok(mut last) = inner.last_diagnostics.lock() {
                *last = Some(Arc::clone(&report));
            }
            if let Some(history) = &inner.history {
                history.record(HistoryRecord::Diagnostics {
                    signal,
                    report: Arc::clone(&report),
                });
            }
            let _ = inner.events.send(SystemEvent::Diagnostics(report));
        });
    }

    /// The logger, when the `log` feature is on.
    #[cfg(feature = "log")]
    #[cfg_attr(docsrs, doc(cfg(feature = "log")))]
    pub fn logger(&self) -> Option<&andon_log::AndonLogger> {
        self.inner.components.logger.as_deref()
    }

    /// The metrics, when the `metrics` feature is on and `[metrics] enabled`.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(&self) -> Option<&andon_metrics::AndonMetrics> {
        self.inner.components.metrics.as_deref()
    }

    /// The tracer, when the `trace` feature is on and `[tracer] enabled`.
    #[cfg(feature = "trace")]
    #[cfg_attr(docsrs, doc(cfg(feature = "trace")))]
    pub fn tracer(&self) -> Option<&andon_trace::AndonTracer> {
        self.inner.components.tracer.as_deref()
    }

    /// The observer, when the `observe` feature is on and `[observer] enabled`.
    #[cfg(feature = "observe")]
    #[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
    pub fn observer(&self) -> Option<&andon_observe::AndonObserver> {
        self.inner.components.observer.as_deref()
    }

    /// The alert manager, when the `alert` feature is on and `[alerts] enabled`.
    #[cfg(feature = "alert")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
    pub fn alerts(&self) -> Option<&andon_alert::AlertManager> {
        self.inner.components.alerts.as_deref()
    }

    /// The sender of [`subscribe`](AndonSystem::subscribe)'s events, for the wiring.
    #[allow(dead_code)] // reason: used by the wiring of the `alert` feature only
    pub(crate) fn events(&self) -> broadcast::Sender<SystemEvent> {
        self.inner.events.clone()
    }

    /// The history store, when the `history` feature is on and `[history] enabled` (or one was
    /// given to the builder): query it for Pareto, MTTA/MTTR, downtime and timelines.
    #[cfg(feature = "history")]
    #[cfg_attr(docsrs, doc(cfg(feature = "history")))]
    pub fn history(&self) -> Option<&andon_history::SqliteHistory> {
        self.inner.components.history.as_deref()
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        AndonSystem { inner }
    }

    pub(crate) fn components(&self) -> &crate::wire::Components {
        &self.inner.components
    }

    #[cfg(any(feature = "log", feature = "trace"))]
    pub(crate) fn metrics_sink(&self) -> Option<Arc<dyn MetricsSink>> {
        self.inner.metrics_sink.clone()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AndonSystem")
    }
}

/// Builds an [`AndonSystem`], with components replaced or added.
#[derive(Default)]
pub struct AndonSystemBuilder {
    pub(crate) config: AndonConfig,
    pub(crate) extra_sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) line: Option<Line>,
    pub(crate) parts: crate::wire::Parts,
}

impl std::fmt::Debug for AndonSystemBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AndonSystemBuilder")
            .field("extra_sinks", &self.extra_sinks)
            .finish_non_exhaustive()
    }
}

impl AndonSystemBuilder {
    /// The configuration (default: `AndonConfig::default()`).
    #[must_use]
    pub fn with_config(mut self, config: AndonConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds a sink that receives every signal after the built-in components (a history store,
    /// a test probe, your own integration).
    #[must_use]
    pub fn with_sink(mut self, sink: Arc<dyn SignalSink>) -> Self {
        self.extra_sinks.push(sink);
        self
    }

    /// Uses `source` for diagnostics instead of the built-in observer.
    #[must_use]
    pub fn with_diagnostics(mut self, source: Arc<dyn DiagnosticsSource>) -> Self {
        self.diagnostics = Some(source);
        self
    }

    /// Shares an existing line (for several systems, or a line created before the system).
    #[must_use]
    pub fn with_line(mut self, line: Line) -> Self {
        self.line = Some(line);
        self
    }

    /// Uses this logger instead of building one from `[logger]`.
    #[cfg(feature = "log")]
    #[cfg_attr(docsrs, doc(cfg(feature = "log")))]
    #[must_use]
    pub fn with_logger(mut self, logger: andon_log::AndonLogger) -> Self {
        self.parts.logger = Some(logger);
        self
    }

    /// Uses these metrics instead of building them from `[metrics]`.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn with_metrics(mut self, metrics: andon_metrics::AndonMetrics) -> Self {
        self.parts.metrics = Some(metrics);
        self
    }

    /// Uses this tracer instead of building one from `[tracer]`.
    #[cfg(feature = "trace")]
    #[cfg_attr(docsrs, doc(cfg(feature = "trace")))]
    #[must_use]
    pub fn with_tracer(mut self, tracer: andon_trace::AndonTracer) -> Self {
        self.parts.tracer = Some(tracer);
        self
    }

    /// Uses this observer instead of building one from `[observer]`.
    #[cfg(feature = "observe")]
    #[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
    #[must_use]
    pub fn with_observer(mut self, observer: andon_observe::AndonObserver) -> Self {
        self.parts.observer = Some(observer);
        self
    }

    /// Uses this alert manager instead of building one from `[alerts]`.
    #[cfg(feature = "alert")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
    #[must_use]
    pub fn with_alerts(mut self, alerts: andon_alert::AlertManager) -> Self {
        self.parts.alerts = Some(alerts);
        self
    }

    /// Uses this history store instead of opening one from `[history]`.
    #[cfg(feature = "history")]
    #[cfg_attr(docsrs, doc(cfg(feature = "history")))]
    #[must_use]
    pub fn with_history(mut self, history: andon_history::SqliteHistory) -> Self {
        self.parts.history = Some(history);
        self
    }

    /// Builds and wires every component.
    pub async fn build(self) -> Result<AndonSystem, AndonError> {
        self.config.validate()?;
        let AndonSystemBuilder {
            config,
            extra_sinks,
            diagnostics,
            line,
            parts,
        } = self;
        let wired = crate::wire::build(&config, parts, diagnostics).await?;
        let mut sinks = wired.sinks;
        sinks.extend(extra_sinks);
        let (events, _) = broadcast::channel(1024);
        let inner = Arc::new(Inner {
            line: line.unwrap_or_default(),
            sinks,
            diagnostics: wired.diagnostics,
            metrics_sink: wired.metrics_sink,
            components: wired.components,
            system_sink: wired.system_sink.clone(),
            history: wired.history,
            board: Board::new(1000, 1000),
            escalation: crate::escalate::YellowEscalation::default(),
            events,
            last_diagnostics: Mutex::new(None),
            snapshot_running: Arc::new(AtomicBool::new(false)),
            shut_down: AtomicBool::new(false),
            config,
        });
        wired.system_sink.bind(&inner);
        let system = AndonSystem::from_inner(inner);
        crate::wire::start(&system, system.as_sink());
        if let Some(metrics) = &system.inner.metrics_sink {
            metrics.describe(
                "andon_line_stopped",
                "1 while the production line is stopped (jidoka), 0 while it runs",
            );
            metrics.set_gauge("andon_line_stopped", &[], 0.0);
        }
        Ok(system)
    }
}
