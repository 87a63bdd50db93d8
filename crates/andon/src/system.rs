//! `AndonSystem`: one signal fanned out to every enabled component, the line, and an orderly
//! shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::{
    AndonConfig, AndonError, AndonSignal, Color, DiagnosticsReport, DiagnosticsSource,
    HistoryRecord, HistoryStore, Line, LineDecision, LineEvent, LinePolicy, LineState, MetricsSink,
    SignalId, SignalSink,
};
use tokio::sync::broadcast;

use crate::board::{Board, BoardSnapshot};
use crate::builder::AndonSystemBuilder;
use crate::error::{PartFailure, SignalError};
use crate::fanout::{Delivery, Detached, SkippedPart};
use crate::state::LineStore;

/// A RED within this long of the last diagnostics snapshot shares it instead of taking its own.
const DIAGNOSTICS_REUSED_FOR: Duration = Duration::from_secs(1);

/// A part that keeps missing its deadline is reported by a YELLOW at most this often.
const STALL_REPORTED_EVERY: Duration = Duration::from_secs(60);

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
    /// The parts that took the signal and did their work, in fan-out order.
    pub delivered_to: Vec<&'static str>,
    /// The parts that took the signal but had nothing to do, with the reason (the alert manager
    /// when no rule matched).
    pub skipped: Vec<SkippedPart>,
    /// The parts that did not take the signal within their deadline
    /// ([`AndonSystemBuilder::with_part_deadline`]) and were skipped for it; each is also a
    /// failure of the [`SignalError::Partial`] error, counted in
    /// `andon_signal_part_timeouts_total{part}` and reported by a YELLOW from `andon`.
    pub timed_out: Vec<&'static str>,
}

/// What the fan-out of one signal did.
struct Fanned {
    id: SignalId,
    delivery: Delivery,
}

impl Fanned {
    fn into_result(
        self,
        stopped_line: bool,
        resumed_line: bool,
    ) -> Result<SignalOutcome, SignalError> {
        let Delivery {
            delivered_to,
            skipped,
            timed_out,
            failures,
        } = self.delivery;
        let outcome = SignalOutcome {
            id: self.id,
            stopped_line,
            resumed_line,
            delivered_to,
            skipped,
            timed_out,
        };
        if failures.is_empty() {
            Ok(outcome)
        } else {
            Err(SignalError::Partial { outcome, failures })
        }
    }
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
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: AndonConfig,
    pub(crate) line: Line,
    /// Where the line's state is kept across restarts (`[line] state_file`).
    pub(crate) line_store: Option<Arc<LineStore>>,
    /// How long the fan-out waits for each part.
    pub(crate) part_deadline: Duration,
    /// When each part that missed its deadline was last reported.
    pub(crate) stall_reports: Mutex<HashMap<&'static str, Instant>>,
    /// Components that take every signal, in fan-out (and shutdown) order.
    pub(crate) sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) metrics_sink: Option<Arc<dyn MetricsSink>>,
    pub(crate) components: crate::wire::Components,
    pub(crate) system_sink: Arc<crate::wire::DeferredSink>,
    /// Where signals, line changes and RED diagnostics are remembered (`[history]`).
    pub(crate) history: Option<Arc<dyn HistoryStore>>,
    pub(crate) board: Board,
    pub(crate) escalation: crate::escalate::YellowEscalation,
    /// `[[heartbeats]]`: their clocks and the task that watches them.
    pub(crate) heartbeats: crate::heartbeat::Heartbeats,
    pub(crate) events: broadcast::Sender<SystemEvent>,
    pub(crate) last_diagnostics: Mutex<Option<Arc<DiagnosticsReport>>>,
    /// A RED's snapshot is being taken: REDs meanwhile share it instead of queueing their own.
    pub(crate) snapshot_running: Arc<AtomicBool>,
    pub(crate) shut_down: AtomicBool,
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
    /// last, share it) and `andon_failures_total{component}` counts one failure. A signal whose
    /// color and component the `[line]` section names stops the line first, so workers halt at
    /// once; the signal then carries `line.stopped = true`, and with `[line] state_file` the stop
    /// is on disk before this returns. With `[line] escalate_yellow_after`, a YELLOW from a
    /// component that may stop the line becomes a RED that stops it unless a GREEN from that
    /// component (or [`acknowledge_yellow`](AndonSystem::acknowledge_yellow)) comes first.
    ///
    /// The parts take the signal at the same time, each within its deadline
    /// ([`AndonSystemBuilder::with_part_deadline`], default
    /// [`DEFAULT_PART_DEADLINE`](crate::DEFAULT_PART_DEADLINE)): a log sink nobody reads
    /// does not hold up the alert. One part failing or missing its deadline does not stop the
    /// others: the error lists which parts failed. Once the line has changed, the board, the
    /// history, the live events and every part get the signal even if the caller stops waiting.
    /// Slow work (sending alerts, exporting spans, the snapshot) happens off the caller's path.
    pub async fn signal_problem(&self, signal: AndonSignal) -> Result<SignalOutcome, SignalError> {
        self.raise_with_stop(signal, None).await
    }

    /// [`signal_problem`](AndonSystem::signal_problem), with `stop_line` deciding whether the
    /// signal stops the line instead of `[line]` when it is set (`[[heartbeats]] stop_line`).
    pub(crate) async fn raise_with_stop(
        &self,
        signal: AndonSignal,
        stop_line: Option<bool>,
    ) -> Result<SignalOutcome, SignalError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(SignalError::ShutDown);
        }
        // Everything up to the fan-out is synchronous, so a caller that is dropped cannot leave a
        // changed line unannounced; the fan-out itself finishes even if the caller is dropped.
        let (signal, stopped_line, resumed_line) = self.apply_to_line(signal, stop_line);
        let inner = &self.inner;
        inner
            .escalation
            .observe(&signal, &inner.config.line, Arc::downgrade(inner));
        let shared = Arc::new(signal);
        inner.board.record(&shared);
        self.remember(|| HistoryRecord::Signal(Arc::clone(&shared)));
        let _ = inner.events.send(SystemEvent::Signal(Arc::clone(&shared)));
        if shared.color() == Color::Red {
            // `andon_failures_total{component}` is counted by the metrics recorder, which
            // takes every signal.
            self.snapshot_in_background(shared.id());
        }
        let system = self.clone();
        Detached::new(async move {
            system
                .deliver(shared, stopped_line || resumed_line)
                .await
                .into_result(stopped_line, resumed_line)
        })
        .await
    }

    /// Stops or resumes the line as the `[line]` policy decides for `signal`
    /// ([`LinePolicy::decide_with`]; `stop_line` is a heartbeat's own `stop_line`, overriding
    /// `[line]`), and announces it.
    fn apply_to_line(
        &self,
        mut signal: AndonSignal,
        stop_line: Option<bool>,
    ) -> (AndonSignal, bool, bool) {
        let inner = &self.inner;
        let mut stopped_line = false;
        let mut resumed_line = false;
        let decision = inner.line.inspect(|state| {
            LinePolicy::decide_with(&inner.config.line, state, &signal, stop_line)
        });
        match decision {
            LineDecision::Stop => {
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
            }
            LineDecision::Resume { by } => {
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
            LineDecision::Leave => {}
        }
        (signal, stopped_line, resumed_line)
    }

    /// The fan-out, with the line's state written to disk at the same time when it changed.
    async fn deliver(&self, signal: Arc<AndonSignal>, line_changed: bool) -> Fanned {
        let inner = &self.inner;
        let (mut delivery, saved) = tokio::join!(
            crate::fanout::deliver(&inner.sinks, &signal, inner.part_deadline),
            async {
                match &inner.line_store {
                    Some(store) if line_changed => store.save_off_thread(&inner.line).await,
                    _ => Ok(()),
                }
            }
        );
        if let Err(error) = saved {
            delivery.failures.push(PartFailure {
                component: "line",
                error,
            });
        }
        for part in &delivery.timed_out {
            self.report_stall(part, &signal);
        }
        Fanned {
            id: signal.id(),
            delivery,
        }
    }

    /// Counts a part that missed its deadline and, at most once a minute per part, says so with
    /// a YELLOW from `andon` (raised in the background: it goes through the same parts).
    fn report_stall(&self, part: &'static str, signal: &AndonSignal) {
        let inner = &self.inner;
        if let Some(metrics) = &inner.metrics_sink {
            metrics.add_counter(crate::fanout::PART_TIMEOUTS, &[("part", part)], 1);
        }
        let now = Instant::now();
        let due = inner.stall_reports.lock().is_ok_and(|mut reports| {
            let due = reports
                .get(part)
                .is_none_or(|last| now.duration_since(*last) >= STALL_REPORTED_EVERY);
            if due {
                reports.insert(part, now);
            }
            due
        });
        if !due || inner.shut_down.load(Ordering::Acquire) {
            return;
        }
        let yellow = AndonSignal::yellow(format!(
            "the {part} part did not take {} signal {} within {:?} and was skipped for it; the other parts went on (see andon_signal_part_timeouts_total)",
            signal.color(),
            signal.id(),
            inner.part_deadline
        ))
        .with_component("andon")
        .with_attribute(andon_core::line_policy::SELF_REPORT, true)
        .with_attribute("part", part)
        .with_attribute("signal", signal.id().to_string());
        let system = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = system.signal_problem(yellow).await;
            });
        }
    }

    /// The production line: workers call `checkpoint()` or `wait_until_running()` on it.
    pub fn line(&self) -> &Line {
        &self.inner.line
    }

    /// Resumes the line and makes the resumption visible (a GREEN signal from `line`).
    ///
    /// With `[line] state_file`, the resumption is on disk before this returns; if it cannot
    /// be written, the error says so (the line runs in this process, but would start stopped
    /// after a restart).
    pub async fn resume_line(&self, by: &str, note: Option<&str>) -> Result<bool, SignalError> {
        let resumed = self.inner.line.resume(by, note);
        if resumed {
            let saved = match &self.inner.line_store {
                Some(store) => {
                    let store = Arc::clone(store);
                    let line = self.inner.line.clone();
                    Detached::new(async move { store.save_off_thread(&line).await }).await
                }
                None => Ok(()),
            };
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
            let delivered = self.signal_problem(signal).await;
            match (delivered, saved) {
                (delivered, Ok(())) => {
                    delivered?;
                }
                (Ok(outcome), Err(error)) => {
                    return Err(SignalError::Partial {
                        outcome,
                        failures: vec![PartFailure {
                            component: "line",
                            error,
                        }],
                    });
                }
                (
                    Err(SignalError::Partial {
                        outcome,
                        mut failures,
                    }),
                    Err(error),
                ) => {
                    failures.push(PartFailure {
                        component: "line",
                        error,
                    });
                    return Err(SignalError::Partial { outcome, failures });
                }
                (Err(other), Err(_)) => return Err(other),
            }
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
            .signal_problem(LinePolicy::escalated_red(&yellow, after))
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

    /// Hands a record to the history store, if there is one (it only enqueues).
    fn remember(&self, record: impl FnOnce() -> HistoryRecord) {
        if let Some(history) = &self.inner.history {
            history.record(record());
        }
    }

    pub(crate) fn line_changed(&self) {
        let state = self.inner.line.state();
        if let Some(metrics) = &self.inner.metrics_sink {
            metrics.set_gauge(
                andon_core::names::LINE_STOPPED,
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
    pub fn history(&self) -> Option<&andon_history::HistoryBackend> {
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
