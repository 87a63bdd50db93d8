//! The alert manager: evaluates rules, keeps alert states, deduplicates, groups, silences,
//! inhibits and escalates, and hands notifications to the channel tasks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use andon_core::config::{AlertsConfig, ChannelConfig};
use andon_core::history::{
    AlertEvent as HistoryEvent, AlertEventKind, HistoryRecord, HistoryStore,
};
use andon_core::{AlertSeverity, ConfigError, DiagnosticsSource, MetricsSource};

use crate::channel::{ChannelHandle, ChannelReport, Hooks, Settings};
use crate::outbox::{Outbox, Unfinished};
use crate::rule::{AlertChannel, AlertRule};
use crate::silence::Silence;
use andon_runtime::{Clock, lock, read, write};

mod budget;
mod builder;
mod condition;
mod defaults;
pub use defaults::HEARTBEAT_DOWN_METRIC;
mod deliver;
mod evaluate;
mod group;
mod index;
mod inhibit;
mod instance;
mod listen;
mod open;
mod persist;
mod rules;
mod schedule;
mod shutdown;
mod silences;
mod sink;
mod watchdog;

pub use builder::AlertManagerBuilder;
use condition::{Node, series_key, series_value};
use group::Groups;
use index::SignalIndex;
use instance::{Instance, Instances, RuleState};
pub use shutdown::DEFAULT_SHUTDOWN_DEADLINE;
pub use watchdog::WATCHDOG_ALERT;

/// How long a diagnostics snapshot may take before a CRITICAL notification goes without it.
const DIAGNOSTICS_TIMEOUT: Duration = Duration::from_secs(2);

/// Alert events kept for a slow [`AlertManager::subscribe`] receiver before it lags.
const EVENT_CAPACITY: usize = 1024;

/// The counter of alerts fired, by rule and severity (the metrics recorder's name).
const ALERTS_TOTAL: &str = andon_core::names::ALERTS;

/// The shortest time between two kept samples of a rate's history.
const RATE_SPACING: Duration = Duration::from_secs(1);

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertState {
    /// The condition does not hold.
    Inactive,
    /// The condition holds, not yet for the rule's `for` duration.
    Pending,
    /// The alert fires.
    Firing,
}

/// An open (pending or firing) alert, for boards and acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAlert {
    /// The alert's identity: a hash of its rule and labels, stable across restarts; acknowledge and
    /// silence by it.
    pub fingerprint: String,
    /// The name of the rule that opened it.
    pub rule: String,
    /// Pending or firing.
    pub state: AlertState,
    /// The rule's severity.
    pub severity: AlertSeverity,
    /// The labels that tell this alert from the rule's other alerts (such as `component`).
    pub labels: BTreeMap<String, String>,
    /// What it saw last.
    pub summary: String,
    /// Since when it is pending or firing.
    pub since: SystemTime,
    /// Occurrences since it became active.
    pub count: u64,
    /// Who acknowledged it, and the note.
    pub acknowledged_by: Option<String>,
    /// Whether a silence mutes it.
    pub silenced: bool,
    /// Whether a firing critical alert of the same component inhibits it.
    pub inhibited: bool,
    /// The highest escalation level notified.
    pub escalation_level: u32,
    /// The trace or correlation id of the signal that fired it, verbatim.
    pub trace_id: Option<String>,
}

/// The alert manager's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Signals the manager took in (every color).
    pub signals: u64,
    /// Rule evaluations run.
    pub evaluations: u64,
    /// Notifications created (each goes to one or more channels).
    pub notifications: u64,
    /// Signals folded into an existing notification's count instead of a new one.
    pub deduplicated: u64,
    /// Times a due notification was muted by a silence or an inhibition.
    pub suppressed: u64,
    /// Notifications replayed from the outbox on start.
    pub replayed: u64,
    /// Outbox records that could not be written, or read at start (lines skipped as corrupt).
    pub outbox_errors: u64,
    /// New alerts not created because the open alerts would have gone over
    /// `[alerts] max_instance_bytes`.
    pub instances_dropped: u64,
    /// Open alerts restored from `[alerts] state_file` on start.
    pub restored: u64,
    /// Open alerts of the state file not restored (their rule is gone, or they do not fit it).
    pub restore_skipped: u64,
    /// Writes of `[alerts] state_file` that failed.
    pub state_errors: u64,
    /// Channel deliveries unfinished when a shutdown reached its deadline (left in the outbox
    /// for the next start when there is one).
    pub left_at_shutdown: u64,
    /// Watchdog alerts sent to an Alertmanager channel (`[alerts.watchdog]`).
    pub watchdog_sent: u64,
    /// Watchdog alerts that could not be sent (also `andon_alert_watchdog_failures_total`).
    pub watchdog_failures: u64,
}

#[derive(Debug, Default)]
struct Counters {
    signals: AtomicU64,
    evaluations: AtomicU64,
    notifications: AtomicU64,
    deduplicated: AtomicU64,
    suppressed: AtomicU64,
    replayed: AtomicU64,
    instances_dropped: AtomicU64,
    restored: AtomicU64,
    restore_skipped: AtomicU64,
    left_at_shutdown: AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<RuleState>,
    /// The signal rules of `rules` by color and component; kept in step with `rules`.
    signal_index: SignalIndex,
    silences: Vec<Silence>,
    escalation: Vec<(Vec<String>, Duration)>,
    groups: Groups,
}

struct Inner {
    config: AlertsConfig,
    metrics: Arc<dyn MetricsSource>,
    clock: Arc<dyn Clock>,
    diagnostics: Option<Arc<dyn DiagnosticsSource>>,
    hooks: Arc<Hooks>,
    settings: Settings,
    channels: RwLock<BTreeMap<String, ChannelHandle>>,
    deferred: Mutex<Vec<Unfinished>>,
    outbox: Option<Arc<Outbox>>,
    state: Mutex<State>,
    counters: Counters,
    next_silence: AtomicU64,
    shut_down: AtomicBool,
    /// Notifications waiting for a diagnostics snapshot before they are queued.
    in_snapshot: AtomicU64,
    /// Alert state changes, for [`AlertManager::subscribe`].
    events: tokio::sync::broadcast::Sender<HistoryEvent>,
    /// Where alert state changes are recorded, if anywhere.
    history: Option<Arc<dyn HistoryStore>>,
    /// The configuration of each inline channel, by name (its key).
    inline: Mutex<HashMap<String, ChannelConfig>>,
    /// The estimated bytes of the alerts of per-component and per-series rules.
    instance_bytes: AtomicUsize,
    /// `[alerts] state_file`: where open alerts are kept across a restart.
    persist: Option<persist::Persist>,
    /// Open alerts read from the state file whose rule is not added yet.
    restored: Mutex<Vec<persist::SavedAlert>>,
    /// Metrics changed since the last event-driven evaluation.
    listener: listen::Listener,
    /// `[tracer] ui_url`: where notifications link trace ids to.
    trace_ui_url: Option<String>,
    /// The watchdog's counters (`[alerts.watchdog]`).
    watchdog: Arc<watchdog::WatchdogStats>,
    /// Built outside a tokio runtime: the event-driven evaluation task (and the built-in
    /// `log` channel) start at the first signal or evaluation.
    start_later: AtomicBool,
    /// The periodic evaluation [`AlertManager::start`] started, stopped by a shutdown or with
    /// the last clone of the manager.
    evaluation: Mutex<Option<schedule::Evaluation>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertManager")
            .field("channels", &self.read_channels().keys().collect::<Vec<_>>())
            .field("rules", &self.state.try_lock().map(|s| s.rules.len()).ok())
            .field("outbox", &self.outbox.as_ref().map(|o| o.path().to_owned()))
            .finish_non_exhaustive()
    }
}

/// Evaluates alert rules and delivers notifications; cheap to clone (all clones share state).
///
/// See the crate documentation for an example.
#[derive(Debug, Clone)]
pub struct AlertManager {
    inner: Arc<Inner>,
}

impl AlertManager {
    /// A builder for a manager of `config` (the `[alerts]` section): give it what the manager
    /// reads and reports to with its `with_*` setters, then [`build`](AlertManagerBuilder::build)
    /// it. See [`andon_core::contract`] for the shape every component shares.
    pub fn builder(config: AlertsConfig) -> AlertManagerBuilder {
        AlertManagerBuilder::new(config)
    }

    /// A stream of alert state changes (fired, acknowledged, escalated, resolved), in the
    /// order they happened. Sending never waits: a receiver that falls more than 1024 events
    /// behind gets [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged)
    /// and continues from the oldest kept event.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<HistoryEvent> {
        self.inner.events.subscribe()
    }

    /// The manager's counters.
    pub fn stats(&self) -> AlertStats {
        let c = &self.inner.counters;
        AlertStats {
            signals: c.signals.load(Ordering::Relaxed),
            evaluations: c.evaluations.load(Ordering::Relaxed),
            notifications: c.notifications.load(Ordering::Relaxed),
            deduplicated: c.deduplicated.load(Ordering::Relaxed),
            suppressed: c.suppressed.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            outbox_errors: self.inner.outbox.as_ref().map_or(0, |o| o.errors()),
            instances_dropped: c.instances_dropped.load(Ordering::Relaxed),
            restored: c.restored.load(Ordering::Relaxed),
            restore_skipped: c.restore_skipped.load(Ordering::Relaxed),
            state_errors: self.inner.persist.as_ref().map_or(0, |p| p.errors()),
            left_at_shutdown: c.left_at_shutdown.load(Ordering::Relaxed),
            watchdog_sent: self.inner.watchdog.sent.load(Ordering::Relaxed),
            watchdog_failures: self.inner.watchdog.failures.load(Ordering::Relaxed),
        }
    }

    /// Every channel's delivery counters.
    pub fn channel_reports(&self) -> Vec<ChannelReport> {
        self.inner
            .read_channels()
            .values()
            .map(ChannelHandle::report)
            .collect()
    }

    /// Waits until every channel has finished what it was given (delivered or given up on),
    /// at most `within`; returns whether everything finished.
    pub async fn flush_within(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let pending: u64 = self
                .inner
                .read_channels()
                .values()
                .map(ChannelHandle::pending)
                .sum::<u64>()
                + self.inner.in_snapshot.load(Ordering::Relaxed);
            if pending == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn flush_budget(&self) -> Duration {
        let c = &self.inner.config;
        (c.timeout * (c.max_retries + 1) + Duration::from_secs(5)).min(Duration::from_secs(120))
    }
}

impl Inner {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }

    fn diagnostics(&self) -> Option<Arc<dyn DiagnosticsSource>> {
        self.diagnostics.clone()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn read_channels(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ChannelHandle>> {
        read(&self.channels)
    }

    fn write_channels(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, ChannelHandle>> {
        write(&self.channels)
    }

    /// Publishes a state change to subscribers and the history store; never waits.
    fn emit(&self, rule: &AlertRule, inst: &Instance, kind: AlertEventKind, now: SystemTime) {
        self.changed();
        let history = self.history.clone();
        if history.is_none() && self.events.receiver_count() == 0 {
            return;
        }
        let event = HistoryEvent {
            at: now,
            fingerprint: inst.fingerprint.clone(),
            rule: rule.name.clone(),
            severity: rule.severity,
            component: inst.labels.get("component").cloned(),
            trace_id: inst.trace_id.clone(),
            labels: inst.labels.clone(),
            summary: inst.summary(rule),
            kind,
        };
        if let Some(store) = history {
            store.record(HistoryRecord::Alert(event.clone()));
        }
        // No receiver is not an error; a lagging receiver loses the oldest events itself.
        let _ = self.events.send(event);
    }
}

/// Takes what `mutex` holds, leaving the default; a poisoned lock still gives its value.
fn take_locked<T: Default>(mutex: &Mutex<T>) -> T {
    std::mem::take(&mut *lock(mutex))
}

/// Validates the section on its own, as loading a file does.
fn validate_config(config: &AlertsConfig) -> Result<(), ConfigError> {
    andon_core::SectionConfig::validate(config)
}

impl From<&ChannelConfig> for AlertChannel {
    fn from(config: &ChannelConfig) -> Self {
        AlertChannel::Config(config.clone())
    }
}
