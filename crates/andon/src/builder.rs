//! `AndonSystemBuilder`: components replaced or added, the line restored from its state file,
//! everything wired into an [`AndonSystem`].

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::{
    AndonConfig, AndonError, AndonSignal, DiagnosticsSource, Line, LineState, SignalSink,
};
use tokio::sync::broadcast;

use crate::board::Board;
use crate::fanout::DEFAULT_PART_DEADLINE;
use crate::state::{LineStore, Restored};
use crate::system::{AndonSystem, Inner};

/// Builds an [`AndonSystem`], with components replaced or added.
#[derive(Default)]
pub struct AndonSystemBuilder {
    pub(crate) config: AndonConfig,
    pub(crate) extra_sinks: Vec<Arc<dyn SignalSink>>,
    pub(crate) diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    pub(crate) line: Option<Line>,
    pub(crate) part_deadline: Option<Duration>,
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

    /// How long a signal's fan-out waits for each part (log, metrics, trace, alert, the sinks
    /// given here) before it skips that part for that signal (default
    /// [`DEFAULT_PART_DEADLINE`](crate::DEFAULT_PART_DEADLINE), 1 s). The parts take a signal at
    /// the same time, so a slow one never delays the others; this bounds how long
    /// [`AndonSystem::signal_problem`] waits for the slowest. Zero is raised to 1 ms.
    #[must_use]
    pub fn with_part_deadline(mut self, deadline: Duration) -> Self {
        self.part_deadline = Some(deadline.max(Duration::from_millis(1)));
        self
    }

    /// Builds the logger from this builder instead of from `[logger]`; its records carry the
    /// tracer's ids unless the builder has a trace context of its own.
    #[cfg(feature = "log")]
    #[cfg_attr(docsrs, doc(cfg(feature = "log")))]
    #[must_use]
    pub fn with_logger(mut self, logger: andon_log::AndonLoggerBuilder) -> Self {
        self.parts.logger = Some(logger);
        self
    }

    /// Builds the metrics from this builder instead of from `[metrics]` (such as one without
    /// an endpoint of its own); the system adds its signal sink and listener slot.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn with_metrics(mut self, metrics: andon_metrics::AndonMetricsBuilder) -> Self {
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

    /// Builds the observer from this builder instead of from `[observer]` (such as one with a
    /// probe of its own); the system adds its signal and metrics sinks.
    #[cfg(feature = "observe")]
    #[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
    #[must_use]
    pub fn with_observer(mut self, observer: andon_observe::AndonObserverBuilder) -> Self {
        self.parts.observer = Some(observer);
        self
    }

    /// Builds the alert manager from this builder instead of from `[alerts]`; the system adds
    /// what it reads and reports to (metrics, diagnostics, sinks, history).
    #[cfg(feature = "alert")]
    #[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
    #[must_use]
    pub fn with_alerts(mut self, alerts: andon_alert::AlertManagerBuilder) -> Self {
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
            part_deadline,
            parts,
        } = self;
        let line_store = config
            .line
            .state_file
            .clone()
            .map(|path| Arc::new(LineStore::new(path)));
        let (line, unreadable) = restore_line(line_store.as_deref(), line);
        let mut wired = crate::wire::build(&config, parts, diagnostics).await?;
        wired.components.parts = crate::wire::shutdown_order(&wired.components, &extra_sinks);
        let mut sinks = wired.sinks;
        sinks.extend(extra_sinks);
        let (events, _) = broadcast::channel(1024);
        let board = Board::new(1000, 1000);
        // A line that starts stopped shows who stopped it.
        if let Some(signal) = line.state().stopping_signal() {
            board.record(signal);
        }
        let inner = Arc::new(Inner {
            line,
            line_store,
            part_deadline: part_deadline.unwrap_or(DEFAULT_PART_DEADLINE),
            stall_reports: Mutex::new(HashMap::new()),
            sinks,
            diagnostics: wired.diagnostics,
            metrics_sink: wired.metrics_sink,
            components: wired.components,
            system_sink: wired.system_sink.clone(),
            history: wired.history,
            board,
            escalation: crate::escalate::YellowEscalation::default(),
            heartbeats: crate::heartbeat::Heartbeats::new(&config),
            events,
            last_diagnostics: Mutex::new(None),
            snapshot_running: Arc::new(AtomicBool::new(false)),
            shut_down: AtomicBool::new(false),
            config,
        });
        let system = AndonSystem::from_inner(inner);
        crate::wire::bind_system(&wired.system_sink, &system);
        crate::wire::start(&system);
        if let Some(metrics) = system.metrics_sink() {
            metrics.describe(
                andon_core::names::LINE_STOPPED,
                "1 while the production line is stopped (jidoka), 0 while it runs",
            );
            metrics.describe(
                crate::fanout::PART_TIMEOUTS,
                crate::fanout::PART_TIMEOUTS_HELP,
            );
            if system.inner.line_store.is_some() {
                metrics.describe(crate::state::STATE_ERRORS, crate::state::STATE_ERRORS_HELP);
                // Present at 0 from the start, so a rule over it has a series to read.
                metrics.add_counter(crate::state::STATE_ERRORS, &[], 0);
            }
        }
        system.line_changed();
        // Fail closed, and loud: the RED that stopped the line is logged, counted and alerted.
        if let Some(red) = unreadable {
            let _ = system.signal_problem(red).await;
        }
        // Heartbeats missed while the system was down are raised now.
        crate::heartbeat::start(&system).await;
        Ok(system)
    }
}

/// The line the system starts with: the one given to the builder or a new one, in the state
/// the state file kept. A file that cannot be read starts the line STOPPED by the RED returned
/// beside it, which the system then raises.
fn restore_line(store: Option<&LineStore>, given: Option<Line>) -> (Line, Option<AndonSignal>) {
    let restored = store.map_or(Restored::Fresh, LineStore::load);
    let (state, unreadable) = match restored {
        Restored::Fresh => (None, None),
        Restored::State(state) => (Some(state), None),
        Restored::Unreadable(why) => {
            // `store` is set whenever the file could be unreadable.
            let path = store
                .map(LineStore::path)
                .unwrap_or(std::path::Path::new(""));
            let red = crate::state::unreadable_red(path, &why);
            (Some(crate::state::stopped_by(red.clone())), Some(red))
        }
    };
    let line = match (given, state) {
        (Some(line), Some(LineState::Stopped { signal, .. })) => {
            line.stop(signal);
            line
        }
        (Some(line), _) => line,
        (None, Some(state)) => Line::with_state(state),
        (None, None) => Line::new(),
    };
    (line, unreadable)
}
