//! `AndonSystem`: one signal fanned out to every enabled component, the line, and an orderly
//! shutdown.
//!
//! The system's handle, its shared state and the raise path live here; the fan-out and its
//! stall reports in `deliver`, the line's stops, resumptions and YELLOW escalation in `line`,
//! the RED diagnostics snapshots in `diagnostics`, and the components' accessors in
//! `components`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::{
    AndonConfig, AndonError, AndonSignal, Color, DiagnosticsReport, DiagnosticsSource,
    HistoryRecord, HistoryStore, Line, LineState, MetricsSink, SignalId, SignalSink,
};
use tokio::sync::broadcast;

use crate::board::Board;
use crate::builder::AndonSystemBuilder;
use crate::error::SignalError;
use crate::fanout::{Detached, SkippedPart};
use crate::state::LineStore;

mod components;
mod deliver;
mod diagnostics;
mod handle;
mod line;

pub(crate) use handle::WeakSystem;

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
    /// The system as its components' signal sink (bound once the system exists).
    pub(crate) system_sink: Arc<andon_core::Deferred<dyn SignalSink>>,
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
            .observe(&signal, &inner.config.line, self.downgrade());
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

    /// The configuration the system runs with.
    pub fn config(&self) -> &AndonConfig {
        &self.inner.config
    }

    /// Live events: signals, line changes, diagnostics, alert changes. A slow receiver misses old events
    /// (it is told how many) rather than slowing the system.
    pub fn subscribe(&self) -> broadcast::Receiver<SystemEvent> {
        self.inner.events.subscribe()
    }

    /// A signal sink that pulls this system's cord: for components that raise signals of their
    /// own (metric thresholds, observer health, failing alert channels). It holds the system
    /// weakly, so it does not keep a shut-down system alive.
    pub fn as_sink(&self) -> Arc<dyn SignalSink> {
        self.inner.system_sink.clone()
    }

    /// Hands a record to the history store, if there is one (it only enqueues).
    pub(crate) fn remember(&self, record: impl FnOnce() -> HistoryRecord) {
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

    /// The sender of [`subscribe`](AndonSystem::subscribe)'s events, for the wiring.
    #[allow(dead_code)] // reason: used by the wiring of the `alert` feature only
    pub(crate) fn events(&self) -> broadcast::Sender<SystemEvent> {
        self.inner.events.clone()
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        AndonSystem { inner }
    }

    pub(crate) fn components(&self) -> &crate::wire::Components {
        &self.inner.components
    }

    /// Where the system counts its own metrics, if anywhere.
    pub(crate) fn metrics_sink(&self) -> Option<Arc<dyn MetricsSink>> {
        self.inner.metrics_sink.clone()
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AndonSystem")
    }
}
