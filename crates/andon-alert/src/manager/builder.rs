//! [`AlertManagerBuilder`]: everything the manager reads and reports to, given before it is
//! built (the [`andon_core::contract`] every component follows), so that nothing changes on a
//! manager already shared.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, RwLock};

use andon_core::config::AlertsConfig;
use andon_core::history::HistoryStore;
use andon_core::{DiagnosticsSource, LogSink, MetricsSink, MetricsSource, Noop, SignalSink};

use super::{
    ALERTS_TOTAL, AlertManager, Counters, EVENT_CAPACITY, Inner, State, budget, listen, persist,
    validate_config, watchdog,
};
use crate::channel::{ChannelHandle, CriticalTracker, Hooks, Settings};
use crate::error::AlertError;
use crate::outbox::Outbox;
use crate::rule::{AlertChannel, AlertRule, EscalationLevel};
use andon_runtime::{Clock, SystemClock};

/// Builds an [`AlertManager`] from its `[alerts]` section and the parts it works with.
///
/// ```
/// use std::sync::Arc;
/// use andon_alert::AlertManager;
/// use andon_core::config::AlertsConfig;
/// use andon_core::Noop;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), andon_alert::AlertError> {
/// let alerts = AlertManager::builder(AlertsConfig::default())
///     .with_metrics_source(Arc::new(Noop)) // what metric rules read
///     .with_signal_sink(Arc::new(Noop))    // where alerting's own trouble is signalled
///     .build()?;
/// assert_eq!(alerts.stats().signals, 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AlertManagerBuilder {
    config: AlertsConfig,
    metrics_source: Arc<dyn MetricsSource>,
    clock: Arc<dyn Clock>,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    signal_sink: Option<Arc<dyn SignalSink>>,
    metrics_sink: Option<Arc<dyn MetricsSink>>,
    history: Option<Arc<dyn HistoryStore>>,
    log_sink: Option<Arc<dyn LogSink>>,
    trace_ui_url: Option<String>,
}

impl AlertManagerBuilder {
    pub(super) fn new(config: AlertsConfig) -> Self {
        AlertManagerBuilder {
            config,
            metrics_source: Arc::new(Noop),
            clock: Arc::new(SystemClock),
            diagnostics: None,
            signal_sink: None,
            metrics_sink: None,
            history: None,
            log_sink: None,
            trace_ui_url: None,
        }
    }

    /// Where metric and queue-depth rules read their gauges and counters (the metrics
    /// recorder in andon); without one every metric reads as absent.
    pub fn with_metrics_source(mut self, source: Arc<dyn MetricsSource>) -> Self {
        self.metrics_source = source;
        self
    }

    /// Uses `clock` instead of the system clock (for tests and simulations); the configured
    /// silences without a `starts_at` start at its now.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Takes a diagnostics snapshot for CRITICAL notifications and reads health for health
    /// rules.
    pub fn with_diagnostics(mut self, diagnostics: Arc<dyn DiagnosticsSource>) -> Self {
        self.diagnostics = Some(diagnostics);
        self
    }

    /// Raises signals about alerting itself: YELLOW when a channel fails persistently, RED when
    /// every channel of a critical alert failed, GREEN when a failing channel recovers.
    pub fn with_signal_sink(mut self, sink: Arc<dyn SignalSink>) -> Self {
        self.signal_sink = Some(sink);
        self
    }

    /// Reports delivery counters (`andon_alert_notifications_total{channel,outcome}`,
    /// `andon_alert_retries_total`), latencies (`andon_alert_delivery_seconds`), alerts fired
    /// (`andon_alerts_total{rule,severity}`, once per alert that fires) and alerts dropped over
    /// the byte budget (`andon_alert_instances_dropped_total{rule}`).
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics_sink = Some(sink);
        self
    }

    /// Records every alert state change (fired, acknowledged, escalated, resolved) in `store`
    /// as [`HistoryRecord::Alert`](andon_core::history::HistoryRecord::Alert); `record` is
    /// called under the manager's lock, so the store must only enqueue (as [`HistoryStore`]
    /// requires).
    pub fn with_history(mut self, store: Arc<dyn HistoryStore>) -> Self {
        self.history = Some(store);
        self
    }

    /// Writes the notifications of `log` channels (the built-in one among them) as records of
    /// this log, such as andon's logger; without one they go to standard error as JSON lines.
    pub fn with_log_sink(mut self, sink: Arc<dyn LogSink>) -> Self {
        self.log_sink = Some(sink);
        self
    }

    /// Links every notified alert's trace id to a trace UI (`[tracer] ui_url`, such as
    /// `http://localhost:16686` for Jaeger): each [`NotifiedAlert`](crate::NotifiedAlert) carries
    /// `trace_url`, `<ui_url>/trace/<mapped W3C id>`, which Slack shows as a link, PagerDuty as
    /// a `links` entry, email as a plain URL line, and webhook and file payloads as a field.
    /// `ui_url` is expected checked by the `[tracer]` section's
    /// [`validate`](andon_core::SectionConfig::validate).
    pub fn with_trace_ui_url(mut self, ui_url: impl Into<String>) -> Self {
        self.trace_ui_url = Some(ui_url.into());
        self
    }

    /// Builds the manager: starts a task per configured channel (on the current tokio runtime),
    /// adds the configured rules (or, with none, the built-in rule: see
    /// `[alerts] default_rule`), restores the open alerts of `[alerts] state_file`, and replays
    /// what the outbox holds from a previous run. The periodic evaluation starts with
    /// [`AlertManager::start`], as the observer's checks start with its `start`.
    ///
    /// # Errors
    ///
    /// [`AlertError::Config`] for an invalid section; a state file that cannot be read or
    /// parsed is an error ([`AlertError::State`]), never a silent start without the alerts it
    /// held; an outbox that cannot be opened is one too.
    pub fn build(self) -> Result<AlertManager, AlertError> {
        let config = self.config;
        validate_config(&config)?;
        let (persist, restored) = match &config.state_file {
            Some(path) => {
                let (persist, restored) = persist::Persist::open(path)?;
                (Some(persist), restored)
            }
            None => (None, Vec::new()),
        };
        let (outbox, unfinished) = match &config.outbox_path {
            Some(path) => {
                let (outbox, unfinished) = Outbox::open(path)?;
                (Some(Arc::new(outbox)), unfinished)
            }
            None => (None, Vec::new()),
        };
        if let Some(sink) = &self.metrics_sink {
            describe(sink.as_ref());
        }
        let hooks = Arc::new(Hooks {
            self_sink: self.signal_sink,
            metrics: self.metrics_sink,
            log: self.log_sink,
        });
        let settings = Settings {
            timeout: config.timeout,
            max_retries: config.max_retries,
            retry_backoff: config.retry_backoff,
            queue_capacity: config.queue_capacity,
            failure_threshold: config.failure_threshold,
            alert_valid_for: config.repeat_interval + config.evaluation_interval * 4,
            outbox: outbox.clone(),
            hooks: Arc::clone(&hooks),
            critical: Arc::new(CriticalTracker::default()),
        };
        let mut channels = BTreeMap::new();
        for (name, channel) in &config.channels {
            channels.insert(
                name.clone(),
                ChannelHandle::spawn(name, channel, settings.clone())?,
            );
        }
        let manager = AlertManager {
            inner: Arc::new(Inner {
                metrics: self.metrics_source,
                clock: self.clock,
                diagnostics: self.diagnostics,
                hooks,
                settings,
                channels: RwLock::new(channels),
                deferred: Mutex::new(unfinished),
                outbox,
                state: Mutex::new(State::default()),
                counters: Counters::default(),
                next_silence: AtomicU64::new(1),
                shut_down: AtomicBool::new(false),
                in_snapshot: AtomicU64::new(0),
                events: tokio::sync::broadcast::channel(EVENT_CAPACITY).0,
                history: self.history,
                inline: Mutex::new(HashMap::new()),
                instance_bytes: AtomicUsize::new(0),
                persist,
                restored: Mutex::new(restored),
                listener: listen::Listener::default(),
                start_later: AtomicBool::new(false),
                evaluation: Mutex::new(None),
                trace_ui_url: self.trace_ui_url,
                watchdog: Arc::default(),
                config,
            }),
        };
        let levels = manager
            .inner
            .config
            .escalation
            .iter()
            .map(|l| EscalationLevel {
                channels: l
                    .channels
                    .iter()
                    .cloned()
                    .map(AlertChannel::Named)
                    .collect(),
                after: l.after.unwrap_or(manager.inner.config.escalate_after),
            })
            .collect();
        manager.set_escalation(levels)?;
        manager.load_config_silences()?;
        for rule in &manager.inner.config.rules {
            manager.add_rule(AlertRule::from_config(rule))?;
        }
        if manager.inner.config.rules.is_empty() && manager.inner.config.default_rule {
            manager.add_default_rule()?;
        }
        manager.inner.replay_deferred();
        manager.start_listening();
        manager.start_watchdog()?;
        Ok(manager)
    }
}

/// Says what each metric the manager reports means.
fn describe(sink: &dyn MetricsSink) {
    sink.describe(
        andon_core::names::ALERT_NOTIFICATIONS,
        "Alert notifications by channel and outcome (sent, failed).",
    );
    sink.describe(
        andon_core::names::ALERT_RETRIES,
        "Retried alert deliveries by channel.",
    );
    sink.describe(
        andon_core::names::ALERT_DELIVERY_DURATION,
        "Time to deliver an alert notification, retries included.",
    );
    sink.describe(ALERTS_TOTAL, "Alerts fired, by rule and severity.");
    sink.describe(
        watchdog::FAILURES_TOTAL,
        "Watchdog alerts ([alerts.watchdog]) that could not be sent, by Alertmanager channel.",
    );
    sink.describe(
        budget::DROPPED_TOTAL,
        "New alerts not created because the open alerts were over [alerts] max_instance_bytes, by rule.",
    );
}
