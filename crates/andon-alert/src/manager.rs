//! The alert manager: evaluates rules, keeps alert states, deduplicates, groups, silences,
//! inhibits and escalates, and hands notifications to the channel tasks.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use andon_core::config::{AlertsConfig, ChannelConfig};
use andon_core::history::{
    AlertEvent as HistoryEvent, AlertEventKind, HistoryRecord, HistoryStore,
};
use andon_core::{
    AlertSeverity, AndonSignal, Color, ConfigError, DiagnosticsSource, Health, LogSink,
    MetricsSink, MetricsSource, SignalSink,
};

use crate::channel::{
    ChannelHandle, ChannelReport, CriticalTracker, Hooks, Job, Settings, is_critical_firing,
};
use crate::clock::{Clock, SystemClock};
use crate::error::AlertError;
use crate::fingerprint::fingerprint;
use crate::notification::{AlertEvent, AlertStatus, Notification};
use crate::outbox::{Outbox, Unfinished};
use crate::rule::{
    AlertChannel, AlertCondition, AlertRule, Comparison, EscalationLevel, Threshold,
};
use crate::silence::{Matcher, Silence};

mod budget;
mod defaults;
mod listen;
mod persist;
mod sink;

/// How long a diagnostics snapshot may take before a CRITICAL notification goes without it.
const DIAGNOSTICS_TIMEOUT: Duration = Duration::from_secs(2);

/// Alert events kept for a slow [`AlertManager::subscribe`] receiver before it lags.
const EVENT_CAPACITY: usize = 1024;

/// The counter of alerts fired, by rule and severity (the metrics recorder's name).
const ALERTS_TOTAL: &str = "andon_alerts_total";

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
    /// Its fingerprint.
    pub fingerprint: String,
    /// Its rule.
    pub rule: String,
    /// Pending or firing.
    pub state: AlertState,
    /// The rule's severity.
    pub severity: AlertSeverity,
    /// Its labels.
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
    /// Signals taken.
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
}

/// The condition tree with its evaluation state.
#[derive(Debug)]
enum Node {
    Threshold {
        threshold: Threshold,
        active: bool,
        history: VecDeque<(SystemTime, f64)>,
        last: Option<f64>,
    },
    Signal {
        color: Color,
        component: Option<String>,
        count: u32,
        window: Duration,
        hits: VecDeque<SystemTime>,
    },
    Health {
        status: andon_core::HealthStatus,
        last: Option<Health>,
    },
    All(Vec<Node>),
    Any(Vec<Node>),
}

impl Node {
    fn new(condition: &AlertCondition) -> Node {
        match condition {
            AlertCondition::QueueDepth { max_depth } => Node::Threshold {
                threshold: Threshold {
                    metric: crate::rule::QUEUE_DEPTH_METRIC.to_owned(),
                    labels: Vec::new(),
                    comparison: Comparison::Above,
                    // Depths are far below 2^53: exact as f64.
                    value: *max_depth as f64,
                    clear: None,
                    rate_over: None,
                },
                active: false,
                history: VecDeque::new(),
                last: None,
            },
            AlertCondition::Threshold(t) => Node::Threshold {
                threshold: t.clone(),
                active: false,
                history: VecDeque::new(),
                last: None,
            },
            AlertCondition::Signal {
                color,
                component,
                count,
                window,
            } => Node::Signal {
                color: *color,
                component: component.clone(),
                count: (*count).max(1),
                window: *window,
                hits: VecDeque::new(),
            },
            AlertCondition::Health { status } => Node::Health {
                status: *status,
                last: None,
            },
            AlertCondition::All(c) => Node::All(c.iter().map(Node::new).collect()),
            AlertCondition::Any(c) => Node::Any(c.iter().map(Node::new).collect()),
        }
    }

    fn eval(
        &mut self,
        now: SystemTime,
        metrics: &dyn MetricsSource,
        health: Option<&Health>,
    ) -> bool {
        match self {
            Node::Threshold {
                threshold: t,
                active,
                history,
                last,
            } => {
                let labels: Vec<(&str, &str)> = t
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let raw = metrics.value(&t.metric, &labels);
                threshold_step(t, active, history, last, now, raw)
            }
            Node::Signal {
                count,
                window,
                hits,
                ..
            } => {
                while hits
                    .front()
                    .is_some_and(|t| now.duration_since(*t).unwrap_or_default() >= *window)
                {
                    hits.pop_front();
                }
                hits.len() >= *count as usize
            }
            Node::Health { status, last } => {
                *last = health.cloned();
                health.is_some_and(|h| h.status >= *status)
            }
            Node::All(nodes) => {
                let mut all = true;
                for n in nodes {
                    all &= n.eval(now, metrics, health);
                }
                all
            }
            Node::Any(nodes) => {
                let mut any = false;
                for n in nodes {
                    any |= n.eval(now, metrics, health);
                }
                any
            }
        }
    }

    /// Evaluates a per-series threshold node with its series' value (`None`: the series is gone).
    fn eval_series(&mut self, now: SystemTime, raw: Option<f64>) -> bool {
        match self {
            Node::Threshold {
                threshold,
                active,
                history,
                last,
            } => threshold_step(threshold, active, history, last, now, raw),
            _ => false,
        }
    }

    /// Records a signal in every matching signal node; true if one matched.
    fn record(&mut self, signal: &AndonSignal, now: SystemTime) -> bool {
        match self {
            Node::Signal {
                color,
                component,
                count,
                hits,
                ..
            } => {
                let matches = signal.color() == *color
                    && component
                        .as_deref()
                        .is_none_or(|c| signal.component() == Some(c));
                if matches {
                    hits.push_back(now);
                    while hits.len() > *count as usize {
                        hits.pop_front();
                    }
                }
                matches
            }
            Node::All(nodes) | Node::Any(nodes) => {
                let mut matched = false;
                for n in nodes {
                    matched |= n.record(signal, now);
                }
                matched
            }
            _ => false,
        }
    }

    /// Whether it holds no state worth keeping (no signals in its window).
    fn is_idle(&self) -> bool {
        match self {
            Node::Signal { hits, .. } => hits.is_empty(),
            Node::All(nodes) | Node::Any(nodes) => nodes.iter().all(Node::is_idle),
            Node::Threshold { .. } | Node::Health { .. } => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Node::Threshold {
                threshold: t,
                last,
                history,
                ..
            } => {
                let mut series = t.metric.clone();
                if !t.labels.is_empty() {
                    let labels: Vec<String> = t
                        .labels
                        .iter()
                        .map(|(k, v)| format!("{k}=\"{v}\""))
                        .collect();
                    series.push_str(&format!("{{{}}}", labels.join(",")));
                }
                let what = if t.rate_over.is_some() {
                    format!("rate({series})")
                } else {
                    series
                };
                match last {
                    Some(v) => format!("{what} = {v} ({} {})", t.comparison.symbol(), t.value),
                    None if history.is_empty() && t.rate_over.is_some() => {
                        format!("{what}: no data")
                    }
                    None => format!("{what}: no data"),
                }
            }
            Node::Signal {
                color,
                component,
                count,
                window,
                hits,
            } => format!(
                "{} of {count} {} signal(s){} within {}",
                hits.len(),
                color.as_str().to_ascii_uppercase(),
                component
                    .as_deref()
                    .map(|c| format!(" of {c}"))
                    .unwrap_or_default(),
                humantime::format_duration(*window)
            ),
            Node::Health { status, last } => match last {
                Some(h) if !h.reasons.is_empty() => {
                    format!("health {:?}: {}", h.status, h.reasons.join("; "))
                }
                Some(h) => format!("health {:?} (alert at {status:?})", h.status),
                None => "health unknown".to_owned(),
            },
            Node::All(nodes) => nodes
                .iter()
                .map(Node::describe)
                .collect::<Vec<_>>()
                .join(" and "),
            Node::Any(nodes) => nodes
                .iter()
                .map(Node::describe)
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// The key of a series among a rule's alerts: its labels, `""` for a series without any.
fn series_key(labels: &[(String, String)]) -> String {
    let mut key = String::new();
    for (k, v) in labels {
        if !key.is_empty() {
            key.push('\u{1f}');
        }
        key.push_str(k);
        key.push('=');
        key.push_str(v);
    }
    key
}

/// The value of series `key` in `values` (sorted by key).
fn series_value(values: &[(String, f64)], key: &str) -> Option<f64> {
    values
        .binary_search_by(|(k, _)| k.as_str().cmp(key))
        .ok()
        .and_then(|at| values.get(at))
        .map(|(_, v)| *v)
}

/// One evaluation of a threshold with the series' current value (`raw`): the value (or rate),
/// then whether it holds, with hysteresis once active.
fn threshold_step(
    t: &Threshold,
    active: &mut bool,
    history: &mut VecDeque<(SystemTime, f64)>,
    last: &mut Option<f64>,
    now: SystemTime,
    raw: Option<f64>,
) -> bool {
    let value = match (raw, t.rate_over) {
        (None, _) => None,
        (Some(v), None) => Some(v),
        (Some(v), Some(window)) => {
            // Event-driven evaluation may run on every update: within a second of the sample
            // before it, the newest sample replaces the last one, so the history stays bounded
            // by the window (a rate needs only its ends).
            let recent = history.len() >= 2
                && history.get(history.len() - 2).is_some_and(|(t0, _)| {
                    now.duration_since(*t0).unwrap_or_default() < RATE_SPACING
                });
            if recent {
                history.pop_back();
            }
            history.push_back((now, v));
            while history.len() > 2
                && history
                    .get(1)
                    .is_some_and(|(t1, _)| now.duration_since(*t1).unwrap_or_default() >= window)
            {
                history.pop_front();
            }
            match (history.front(), history.back()) {
                (Some((t0, v0)), Some((t1, v1))) => {
                    let dt = t1.duration_since(*t0).unwrap_or_default().as_secs_f64();
                    if dt > 0.0 {
                        // A counter reset counts from zero.
                        let delta = if v1 >= v0 { v1 - v0 } else { *v1 };
                        Some(delta / dt)
                    } else {
                        None
                    }
                }
                _ => None,
            }
        }
    };
    *last = value;
    *active = match value {
        None => false,
        Some(v) if *active => match t.clear {
            Some(clear) => t.comparison.still_holds(v, clear),
            None => t.comparison.holds(v, t.value),
        },
        Some(v) => t.comparison.holds(v, t.value),
    };
    *active
}

#[derive(Debug)]
struct Instance {
    node: Node,
    labels: BTreeMap<String, String>,
    fingerprint: String,
    state: AlertState,
    since: SystemTime,
    cleared_at: Option<SystemTime>,
    notified: bool,
    last_notified: Option<SystemTime>,
    notified_channels: BTreeSet<String>,
    unnotified: u64,
    total: u64,
    seq: u64,
    acked: Option<String>,
    escalation_level: usize,
    summary: Option<String>,
    muted: bool,
    /// The trace or correlation id of the signal that made it fire.
    trace_id: Option<String>,
    /// Its estimated size, counted in `Inner::instance_bytes` while it exists (0: not counted).
    bytes: usize,
}

impl Instance {
    fn new(rule: &AlertRule, component: Option<&str>, now: SystemTime) -> Instance {
        let mut labels = rule.labels.clone();
        labels.insert("alertname".to_owned(), rule.name.clone());
        labels.insert("severity".to_owned(), rule.severity.as_str().to_owned());
        let filter = match &rule.condition {
            AlertCondition::Signal { component, .. } => component.as_deref(),
            _ => None,
        };
        if let Some(c) = component.or(filter) {
            labels.insert("component".to_owned(), c.to_owned());
        }
        Instance {
            node: Node::new(&rule.condition),
            fingerprint: fingerprint(&rule.name, &labels),
            labels,
            state: AlertState::Inactive,
            since: now,
            cleared_at: None,
            notified: false,
            last_notified: None,
            notified_channels: BTreeSet::new(),
            unnotified: 0,
            total: 0,
            seq: 0,
            acked: None,
            escalation_level: 0,
            summary: None,
            muted: false,
            trace_id: None,
            bytes: 0,
        }
    }

    /// The alert of one series of a per-series threshold rule: the series' labels are the
    /// alert's (the rule's own labels win), and part of its fingerprint.
    fn for_series(rule: &AlertRule, series: &[(String, String)], now: SystemTime) -> Instance {
        let mut inst = Instance::new(rule, None, now);
        for (k, v) in series {
            inst.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        inst.fingerprint = fingerprint(&rule.name, &inst.labels);
        if let Node::Threshold { threshold, .. } = &mut inst.node {
            threshold.labels = series.to_vec();
        }
        inst
    }

    fn summary(&self, rule: &AlertRule) -> String {
        if let Some(s) = &rule.summary {
            return s.clone();
        }
        match &self.summary {
            Some(s) => format!("{}: {s}", rule.name),
            None => format!("{}: {}", rule.name, self.node.describe()),
        }
    }

    fn event(&self, rule: &AlertRule, status: AlertStatus, now: SystemTime) -> AlertEvent {
        AlertEvent {
            fingerprint: self.fingerprint.clone(),
            rule: rule.name.clone(),
            status,
            severity: rule.severity,
            summary: self.summary(rule),
            labels: self.labels.clone(),
            starts_at: self.since,
            ends_at: (status == AlertStatus::Resolved).then_some(now),
            count: self.unnotified.max(1),
            acknowledged_by: self.acked.clone(),
            trace_id: self.trace_id.clone(),
            trace_url: None,
        }
    }

    fn reset(&mut self) {
        self.state = AlertState::Inactive;
        self.cleared_at = None;
        self.notified = false;
        self.last_notified = None;
        self.notified_channels.clear();
        self.unnotified = 0;
        self.total = 0;
        self.acked = None;
        self.escalation_level = 0;
        self.muted = false;
        self.trace_id = None;
    }
}

/// A rule's alerts by key (the component for per-component rules, `""` otherwise): a sorted
/// vector, so that the usual single alert sits next to its rule's other data.
#[derive(Debug, Default)]
struct Instances(Vec<(String, Instance)>);

impl Instances {
    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    fn values(&self) -> impl Iterator<Item = &Instance> {
        self.0.iter().map(|(_, i)| i)
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Instance> {
        self.0.iter_mut().map(|(_, i)| i)
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Instance)> {
        self.0.iter_mut().map(|(k, i)| (k.as_str(), i))
    }

    fn get(&self, key: &str) -> Option<&Instance> {
        match self.find(key) {
            Ok(at) => self.0.get(at).map(|(_, i)| i),
            Err(_) => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Instance> {
        match self.find(key) {
            Ok(at) => self.0.get_mut(at).map(|(_, i)| i),
            Err(_) => None,
        }
    }

    fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    fn insert(&mut self, key: String, instance: Instance) {
        match self.find(&key) {
            Ok(at) => {
                if let Some(slot) = self.0.get_mut(at) {
                    slot.1 = instance;
                }
            }
            Err(at) => self.0.insert(at, (key, instance)),
        }
    }

    /// Keeps the alerts `keep` says to keep; returns the bytes counted for the others.
    fn retain(&mut self, mut keep: impl FnMut(&str, &Instance) -> bool) -> usize {
        let mut freed = 0;
        self.0.retain(|(k, i)| {
            let kept = keep(k, i);
            if !kept {
                freed += i.bytes;
            }
            kept
        });
        freed
    }
}

#[derive(Debug)]
struct RuleState {
    rule: AlertRule,
    channels: Vec<String>,
    per_component: bool,
    /// A threshold rule: one alert per series of its metric, created when the series crosses.
    series: Option<Threshold>,
    uses_signals: bool,
    instances: Instances,
    group_until: Option<SystemTime>,
    /// The built-in rule (`[alerts] default_rule`), replaced by the first rule added.
    builtin: bool,
    /// The metrics its condition reads, for event-driven evaluation.
    metrics: Vec<String>,
}

/// A notification and the channels it goes to.
#[derive(Debug)]
struct Outgoing {
    notification: Notification,
    channels: Vec<String>,
}

/// Which signal rules a signal can match, by color and component, so that `on_signal` looks at
/// those rules only instead of every rule. Holds indices into [`State::rules`], each bucket in
/// ascending order; every rule that uses signals is in exactly one bucket.
#[derive(Debug, Default)]
struct SignalIndex {
    /// Plain signal conditions, by their color.
    colors: HashMap<Color, ColorBucket>,
    /// Signals inside `all`/`any` combinations: looked at for every signal.
    always: Vec<usize>,
}

/// The plain signal rules of one color.
#[derive(Debug, Default)]
struct ColorBucket {
    /// Rules with a component filter, by that component.
    by_component: HashMap<String, Vec<usize>>,
    /// Rules without a component filter (one alert per component).
    any_component: Vec<usize>,
}

impl SignalIndex {
    /// Records that `condition`'s rule was inserted at `position` of the rules: the indices at
    /// or after it move up by one, then the rule joins its bucket.
    fn insert(&mut self, position: usize, condition: &AlertCondition, rule_count: usize) {
        if position < rule_count {
            let shift = |bucket: &mut Vec<usize>| {
                for i in bucket.iter_mut().filter(|i| **i >= position) {
                    *i += 1;
                }
            };
            shift(&mut self.always);
            for colors in self.colors.values_mut() {
                shift(&mut colors.any_component);
                colors.by_component.values_mut().for_each(shift);
            }
        }
        let bucket = match condition {
            AlertCondition::Signal {
                color, component, ..
            } => {
                let colors = self.colors.entry(*color).or_default();
                match component {
                    Some(c) => colors.by_component.entry(c.clone()).or_default(),
                    None => &mut colors.any_component,
                }
            }
            other if other.uses_signals() => &mut self.always,
            _ => return,
        };
        let at = bucket.partition_point(|i| *i < position);
        bucket.insert(at, position);
    }

    /// The rules `signal` can match, in rule order, into `out` (cleared first).
    fn candidates(&self, signal: &AndonSignal, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(colors) = self.colors.get(&signal.color()) {
            out.extend_from_slice(&colors.any_component);
            if let Some(rules) = signal.component().and_then(|c| colors.by_component.get(c)) {
                out.extend_from_slice(rules);
            }
        }
        // Each rule is in one bucket only: sorting restores rule order, without duplicates.
        out.sort_unstable();
    }
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

/// Grouping across rules (`group_by`): the timing of each group, and what one evaluation pass
/// collected for the groups that are due.
#[derive(Debug, Default)]
struct Groups {
    timing: BTreeMap<String, GroupTiming>,
    batch: BTreeMap<String, (Vec<String>, Vec<AlertEvent>)>,
}

#[derive(Debug, Default)]
struct GroupTiming {
    /// When the group's waiting first notifications go out.
    flush_at: Option<SystemTime>,
    /// When the group was last notified.
    last_sent: Option<SystemTime>,
    /// Notifications sent for the group, for unique keys.
    seq: u64,
}

struct Inner {
    config: AlertsConfig,
    metrics: Arc<dyn MetricsSource>,
    clock: RwLock<Arc<dyn Clock>>,
    diagnostics: RwLock<Option<Arc<dyn DiagnosticsSource>>>,
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
    history: RwLock<Option<Arc<dyn HistoryStore>>>,
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
    trace_ui_url: RwLock<Option<String>>,
    /// Built outside a tokio runtime: the evaluation task (and the built-in `log` channel)
    /// start at the first signal or evaluation.
    start_later: AtomicBool,
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
    /// Builds the manager: starts a task per configured channel (on the current tokio runtime),
    /// adds the configured rules (or, with none, the built-in rule: see
    /// `[alerts] default_rule`), restores the open alerts of `[alerts] state_file`, and replays
    /// what the outbox holds from a previous run.
    ///
    /// A state file that cannot be read or parsed is an error ([`AlertError::State`]), never
    /// a silent start without the alerts it held.
    pub fn new(config: AlertsConfig, metrics: Arc<dyn MetricsSource>) -> Result<Self, AlertError> {
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
        let hooks = Arc::new(Hooks::default());
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
                metrics,
                clock: RwLock::new(Arc::new(SystemClock)),
                diagnostics: RwLock::new(None),
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
                history: RwLock::new(None),
                inline: Mutex::new(HashMap::new()),
                instance_bytes: AtomicUsize::new(0),
                persist,
                restored: Mutex::new(restored),
                listener: listen::Listener::default(),
                start_later: AtomicBool::new(false),
                trace_ui_url: RwLock::new(None),
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
        Ok(manager)
    }

    /// Uses `clock` instead of the system clock (for tests and simulations). The configured
    /// silences without a `starts_at` start at the new clock's now.
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        *self.inner.clock.write().unwrap_or_else(|e| e.into_inner()) = clock;
        // Validated in `new`: the same configuration cannot fail here.
        let _ = self.load_config_silences();
        self
    }

    /// (Re)loads `[[alerts.silences]]` as silences `config-0`, `config-1`, ...; those without
    /// `starts_at` start now.
    fn load_config_silences(&self) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut loaded = Vec::new();
        for (index, config) in self.inner.config.silences.iter().enumerate() {
            let (starts_at, ends_at) = config.window(now, &format!("alerts.silences.{index}"))?;
            loaded.push(Silence {
                id: format!("config-{index}"),
                matchers: config
                    .matchers
                    .iter()
                    .map(|m| {
                        if m.equal {
                            Matcher::eq(&m.name, &m.value)
                        } else {
                            Matcher::ne(&m.name, &m.value)
                        }
                    })
                    .collect(),
                starts_at,
                ends_at,
                created_by: config.created_by.clone(),
                comment: config.comment.clone(),
            });
        }
        let mut state = self.inner.lock_state();
        state.silences.retain(|s| !s.id.starts_with("config-"));
        state.silences.extend(loaded);
        Ok(())
    }

    /// Takes a diagnostics snapshot for CRITICAL notifications and reads health for health rules.
    #[must_use]
    pub fn with_diagnostics(self, diagnostics: Arc<dyn DiagnosticsSource>) -> Self {
        *self
            .inner
            .diagnostics
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(diagnostics);
        self
    }

    /// Links every notified alert's trace id to a trace UI (`[tracer] ui_url`, such as
    /// `http://localhost:16686` for Jaeger): each [`AlertEvent`](crate::AlertEvent) carries
    /// `trace_url`, `<ui_url>/trace/<mapped W3C id>`, which Slack shows as a link, PagerDuty as
    /// a `links` entry, email as a plain URL line, and webhook and file payloads as a field.
    /// `ui_url` is expected checked by [`TracerConfig::validate`](andon_core::config::TracerConfig::validate).
    #[must_use]
    pub fn with_trace_ui_url(self, ui_url: impl Into<String>) -> Self {
        *self
            .inner
            .trace_ui_url
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(ui_url.into());
        self
    }

    /// Records every alert state change (fired, acknowledged, escalated, resolved) in `store`
    /// as [`HistoryRecord::Alert`]; `record` is called under the manager's lock, so the store
    /// must only enqueue (as [`HistoryStore`] requires).
    #[must_use]
    pub fn with_history(self, store: Arc<dyn HistoryStore>) -> Self {
        *self
            .inner
            .history
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(store);
        self
    }

    /// A stream of alert state changes (fired, acknowledged, escalated, resolved), in the
    /// order they happened. Sending never waits: a receiver that falls more than 1024 events
    /// behind gets [`RecvError::Lagged`](tokio::sync::broadcast::error::RecvError::Lagged)
    /// and continues from the oldest kept event.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<HistoryEvent> {
        self.inner.events.subscribe()
    }

    /// Raises signals about alerting itself: YELLOW when a channel fails persistently, RED when
    /// every channel of a critical alert failed, GREEN when a failing channel recovers.
    #[must_use]
    pub fn with_signal_sink(self, sink: Arc<dyn SignalSink>) -> Self {
        *self
            .inner
            .hooks
            .self_sink
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(sink);
        self
    }

    /// Reports delivery counters (`andon_alert_notifications_total{channel,outcome}`,
    /// `andon_alert_retries_total`), latencies (`andon_alert_delivery_seconds`), alerts fired
    /// (`andon_alerts_total{rule,severity}`, once per alert that fires) and alerts dropped over
    /// the byte budget (`andon_alert_instances_dropped_total{rule}`).
    #[must_use]
    pub fn with_metrics_sink(self, sink: Arc<dyn MetricsSink>) -> Self {
        sink.describe(
            "andon_alert_notifications_total",
            "Alert notifications by channel and outcome (sent, failed).",
        );
        sink.describe(
            "andon_alert_retries_total",
            "Retried alert deliveries by channel.",
        );
        sink.describe(
            "andon_alert_delivery_seconds",
            "Time to deliver an alert notification, retries included.",
        );
        sink.describe(ALERTS_TOTAL, "Alerts fired, by rule and severity.");
        sink.describe(
            budget::DROPPED_TOTAL,
            "New alerts not created because the open alerts were over [alerts] max_instance_bytes, by rule.",
        );
        *self
            .inner
            .hooks
            .metrics
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(sink);
        self
    }

    /// Writes the notifications of `log` channels (the built-in one among them) as records of
    /// this log, such as andon's logger; until one is set they go to standard error as JSON
    /// lines.
    #[must_use]
    pub fn with_log_sink(self, sink: Arc<dyn LogSink>) -> Self {
        *self
            .inner
            .hooks
            .log
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(sink);
        self
    }

    /// Adds a rule; its inline channels are started, named by their place
    /// (`rules.NAME.channels.INDEX`). The first rule added replaces the built-in rule of
    /// `[alerts] default_rule`. Open alerts of this rule restored from `[alerts] state_file`
    /// join it.
    pub fn add_rule(&self, rule: AlertRule) -> Result<(), AlertError> {
        let mut channels = Vec::new();
        self.check_new_rule(&rule)?;
        for (index, channel) in rule.channels.iter().enumerate() {
            let key = format!("rules.{}.channels.{index}", rule.name);
            channels.push(self.inner.ensure_channel(channel, &key)?);
        }
        self.insert_rule(rule, channels, false)
    }

    /// Refuses a rule without a name or with the name of one already added.
    fn check_new_rule(&self, rule: &AlertRule) -> Result<(), AlertError> {
        if rule.name.trim().is_empty() {
            return Err(ConfigError::new("alerts.rules.name", "must not be empty").into());
        }
        let state = self.inner.lock_state();
        if state
            .rules
            .iter()
            .any(|r| r.rule.name == rule.name && !r.builtin)
        {
            return Err(AlertError::DuplicateRule(rule.name.clone()));
        }
        Ok(())
    }

    /// Adds a rule whose channels are started; a rule that is not `builtin` replaces the
    /// built-in one.
    fn insert_rule(
        &self,
        rule: AlertRule,
        channels: Vec<String>,
        builtin: bool,
    ) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut state = self.inner.lock_state();
        if state
            .rules
            .iter()
            .any(|r| r.rule.name == rule.name && !r.builtin)
        {
            return Err(AlertError::DuplicateRule(rule.name));
        }
        if !builtin && state.rules.iter().any(|r| r.builtin) {
            self.inner.remove_builtin(&mut state, &channels);
        }
        let per_component = matches!(
            rule.condition,
            AlertCondition::Signal {
                component: None,
                ..
            }
        );
        let series = match &rule.condition {
            AlertCondition::Threshold(t) => Some(t.clone()),
            AlertCondition::QueueDepth { .. } => match Node::new(&rule.condition) {
                Node::Threshold { threshold, .. } => Some(threshold),
                _ => None,
            },
            _ => None,
        };
        let mut instances = Instances::default();
        if !per_component && series.is_none() {
            instances.insert(String::new(), Instance::new(&rule, None, now));
        }
        // Critical rules come first: an evaluation then knows what they inhibit before it
        // reaches the others, in one pass.
        let position = if rule.severity == AlertSeverity::Critical {
            state
                .rules
                .iter()
                .position(|r| r.rule.severity != AlertSeverity::Critical)
                .unwrap_or(state.rules.len())
        } else {
            state.rules.len()
        };
        let rule_count = state.rules.len();
        state
            .signal_index
            .insert(position, &rule.condition, rule_count);
        state.rules.insert(
            position,
            RuleState {
                uses_signals: rule.condition.uses_signals(),
                metrics: listen::metrics_of(&rule.condition),
                rule,
                channels,
                per_component,
                series,
                instances,
                group_until: None,
                builtin,
            },
        );
        self.inner.attach_restored(&mut state, position);
        drop(state);
        self.inner.replay_deferred();
        Ok(())
    }

    /// Replaces the escalation levels.
    pub fn set_escalation(&self, levels: Vec<EscalationLevel>) -> Result<(), AlertError> {
        let mut resolved = Vec::new();
        for (number, level) in levels.into_iter().enumerate() {
            let mut names = Vec::new();
            for (index, channel) in level.channels.iter().enumerate() {
                let key = format!("escalation.{number}.channels.{index}");
                names.push(self.inner.ensure_channel(channel, &key)?);
            }
            resolved.push((names, level.after));
        }
        self.inner.lock_state().escalation = resolved;
        Ok(())
    }

    /// Evaluates every rule now and sends what is due: first notifications, repeats,
    /// escalations and resolutions.
    pub async fn check_and_fire_alerts(&self) -> Result<(), AlertError> {
        self.evaluate(None).await
    }

    /// Evaluates the rules that read one of `only`'s metrics (every rule with `None`) and
    /// sends what is due.
    async fn evaluate(&self, only: Option<&[String]>) -> Result<(), AlertError> {
        if self.inner.shut_down.load(Ordering::Relaxed) {
            return Err(AlertError::ShutDown);
        }
        if !self.inner.config.enabled {
            return Ok(());
        }
        self.start_deferred();
        if only.is_none() {
            self.inner
                .counters
                .evaluations
                .fetch_add(1, Ordering::Relaxed);
            // Every rule is in by the first full evaluation: what no rule claimed is skipped.
            self.skip_unclaimed();
        }
        let now = self.inner.now();
        let health = self.inner.diagnostics().and_then(|d| d.last_health());
        let outgoing = {
            let mut state = self.inner.lock_state();
            let State {
                rules,
                silences,
                escalation,
                groups,
                ..
            } = &mut *state;
            // A partial evaluation knows what the rules it skips inhibit from their state.
            let mut inhibitors = match only {
                Some(_) => self.inner.inhibitors_of(rules),
                None => HashSet::new(),
            };
            let mut outgoing = Vec::new();
            // Critical rules come first (see `add_rule`), so what they inhibit is known when
            // the others are ticked.
            // One buffer for every rule's series values: most rules have one series.
            let mut scratch = Vec::new();
            for rs in rules.iter_mut() {
                if only.is_some_and(|names| !rs.metrics.iter().any(|m| names.contains(m))) {
                    continue;
                }
                let critical = rs.rule.severity == AlertSeverity::Critical;
                let values = match &rs.series {
                    Some(t) => {
                        self.inner
                            .series_values(t, &rs.rule, &mut rs.instances, now, &mut scratch);
                        Some(scratch.as_slice())
                    }
                    None => None,
                };
                for (key, inst) in rs.instances.iter_mut() {
                    let holds = match values {
                        Some(values) => {
                            let raw = series_value(values, key);
                            inst.node.eval_series(now, raw)
                        }
                        None => inst
                            .node
                            .eval(now, self.inner.metrics.as_ref(), health.as_ref()),
                    };
                    self.inner
                        .transition(&rs.rule, &mut rs.group_until, inst, holds, now);
                    let inhibits =
                        critical && self.inner.config.inhibit && inst.state == AlertState::Firing;
                    if let Some(c) = inhibits.then(|| inst.labels.get("component")).flatten() {
                        inhibitors.insert(c.clone());
                    }
                }
                self.inner.tick_rule(
                    rs,
                    silences,
                    escalation,
                    groups,
                    &inhibitors,
                    now,
                    &mut outgoing,
                );
                if let (Some(t), Some(values)) = (&rs.series, values) {
                    // Resolved series are forgotten (series come and go); a rate keeps the
                    // history of every series still there.
                    let rate = t.rate_over.is_some();
                    let freed = rs.instances.retain(|key, i| {
                        i.state != AlertState::Inactive
                            || (rate && series_value(values, key).is_some())
                    });
                    self.inner
                        .instance_bytes
                        .fetch_sub(freed, Ordering::Relaxed);
                }
            }
            self.inner.flush_groups(groups, now, &mut outgoing);
            outgoing
        };
        self.inner.send(outgoing).await;
        self.persist_if_dirty();
        Ok(())
    }

    /// Acknowledges the open alerts with this fingerprint, or every open alert of this rule:
    /// escalation stops and an ACKNOWLEDGED notification goes to the channels notified so far.
    /// Returns how many alerts were acknowledged.
    pub fn acknowledge(
        &self,
        fingerprint_or_rule: &str,
        who: &str,
        note: &str,
    ) -> Result<usize, AlertError> {
        let now = self.inner.now();
        let by = if note.is_empty() {
            who.to_owned()
        } else {
            format!("{who}: {note}")
        };
        let mut outgoing = Vec::new();
        let mut acknowledged = 0;
        {
            let mut state = self.inner.lock_state();
            for rs in &mut state.rules {
                let by_rule = rs.rule.name == fingerprint_or_rule;
                for inst in rs.instances.values_mut() {
                    if inst.state == AlertState::Inactive
                        || !(by_rule || inst.fingerprint == fingerprint_or_rule)
                    {
                        continue;
                    }
                    inst.acked = Some(by.clone());
                    acknowledged += 1;
                    self.inner.emit(
                        &rs.rule,
                        inst,
                        AlertEventKind::Acknowledged {
                            by: who.to_owned(),
                            note: note.to_owned(),
                        },
                        now,
                    );
                    if inst.notified {
                        let event = inst.event(&rs.rule, AlertStatus::Acknowledged, now);
                        let channels = inst.notified_channels.iter().cloned().collect();
                        outgoing.push(Outgoing {
                            notification: self.inner.notification(
                                &rs.rule,
                                vec![event],
                                AlertStatus::Acknowledged,
                                0,
                                &format!("a{}", inst.seq),
                                now,
                            ),
                            channels,
                        });
                        inst.seq += 1;
                    }
                }
            }
        }
        if acknowledged == 0 {
            return Err(AlertError::UnknownAlert(fingerprint_or_rule.to_owned()));
        }
        self.inner.dispatch(outgoing);
        self.persist_if_dirty();
        Ok(acknowledged)
    }

    /// Mutes alerts matching every matcher for `duration` from now; returns the silence's id.
    pub fn add_silence(
        &self,
        matchers: Vec<Matcher>,
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> String {
        let now = self.inner.now();
        let id = format!(
            "silence-{}",
            self.inner.next_silence.fetch_add(1, Ordering::Relaxed)
        );
        self.inner.lock_state().silences.push(Silence {
            id: id.clone(),
            matchers,
            starts_at: now,
            ends_at: now + duration,
            created_by: created_by.to_owned(),
            comment: comment.to_owned(),
        });
        id
    }

    /// Ends a silence now.
    pub fn expire_silence(&self, id: &str) -> Result<(), AlertError> {
        let now = self.inner.now();
        let mut state = self.inner.lock_state();
        match state.silences.iter_mut().find(|s| s.id == id) {
            Some(s) => {
                s.ends_at = now;
                Ok(())
            }
            None => Err(AlertError::UnknownSilence(id.to_owned())),
        }
    }

    /// The silences that have not expired.
    pub fn silences(&self) -> Vec<Silence> {
        let now = self.inner.now();
        self.inner
            .lock_state()
            .silences
            .iter()
            .filter(|s| s.ends_at > now)
            .cloned()
            .collect()
    }

    /// The pending and firing alerts.
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        let now = self.inner.now();
        let state = self.inner.lock_state();
        let inhibitors = self.inner.inhibitors(&state);
        let mut out = Vec::new();
        for rs in &state.rules {
            for inst in rs.instances.values() {
                if inst.state == AlertState::Inactive {
                    continue;
                }
                out.push(OpenAlert {
                    fingerprint: inst.fingerprint.clone(),
                    rule: rs.rule.name.clone(),
                    state: inst.state,
                    severity: rs.rule.severity,
                    labels: inst.labels.clone(),
                    summary: inst.summary(&rs.rule),
                    since: inst.since,
                    count: inst.total,
                    acknowledged_by: inst.acked.clone(),
                    silenced: state.silences.iter().any(|s| s.mutes(&inst.labels, now)),
                    inhibited: self.inner.inhibited(&rs.rule, inst, &inhibitors),
                    escalation_level: u32::try_from(inst.escalation_level).unwrap_or(u32::MAX),
                    trace_id: inst.trace_id.clone(),
                });
            }
        }
        out
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

    /// Starts the background evaluation: `check_and_fire_alerts` every `evaluation_interval`
    /// until shutdown. Needs a tokio runtime.
    pub fn spawn_evaluation(&self) -> tokio::task::JoinHandle<()> {
        let manager = self.clone();
        let interval = self.inner.config.evaluation_interval;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                if manager.check_and_fire_alerts().await.is_err() {
                    break;
                }
            }
        })
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
        self.clock.read().unwrap_or_else(|e| e.into_inner()).now()
    }

    fn diagnostics(&self) -> Option<Arc<dyn DiagnosticsSource>> {
        self.diagnostics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read_channels(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, ChannelHandle>> {
        self.channels.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The name of the channel: a named one is looked up; an inline one is named `key` (its
    /// place, such as `rules.high-queue.channels.0`) and started, or restarted when its
    /// configuration changed.
    fn ensure_channel(&self, channel: &AlertChannel, key: &str) -> Result<String, AlertError> {
        match channel.inline_config() {
            None => {
                let AlertChannel::Named(name) = channel else {
                    return Err(ConfigError::new(
                        "alerts.channels",
                        "an inline channel has no configuration",
                    )
                    .into());
                };
                if self.read_channels().contains_key(name) {
                    Ok(name.clone())
                } else {
                    let known: Vec<String> = self.read_channels().keys().cloned().collect();
                    Err(ConfigError::new(
                        format!("alerts.channels.{name}"),
                        format!(
                            "unknown channel `{name}`: define it under [alerts.channels.{name}]{}",
                            if known.is_empty() {
                                String::new()
                            } else {
                                format!(" or use one of {}", known.join(", "))
                            }
                        ),
                    )
                    .into())
                }
            }
            Some(config) => {
                let name = key.to_owned();
                config.validate(&format!("alerts.{name}"))?;
                let mut inline = self.inline.lock().unwrap_or_else(|e| e.into_inner());
                if inline.get(&name) == Some(&config) && self.read_channels().contains_key(&name) {
                    return Ok(name);
                }
                let handle = ChannelHandle::spawn(&name, &config, self.settings.clone())?;
                self.channels
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.clone(), handle);
                inline.insert(name.clone(), config);
                Ok(name)
            }
        }
    }

    /// Queues what the outbox held for channels that exist now.
    fn replay_deferred(&self) {
        let mut deferred = self.deferred.lock().unwrap_or_else(|e| e.into_inner());
        if deferred.is_empty() {
            return;
        }
        let channels = self.read_channels();
        deferred.retain(|u| match channels.get(&u.channel) {
            Some(handle) => {
                handle.enqueue(Job {
                    notification: Arc::new(u.notification.clone()),
                    outbox_key: u.key.clone(),
                    critical: false,
                });
                self.counters.replayed.fetch_add(1, Ordering::Relaxed);
                false
            }
            None => true,
        });
    }

    /// Moves an instance through inactive → pending → firing → inactive (resolved).
    fn transition(
        &self,
        rule: &AlertRule,
        group_until: &mut Option<SystemTime>,
        inst: &mut Instance,
        holds: bool,
        now: SystemTime,
    ) {
        let elapsed = |since: SystemTime| now.duration_since(since).unwrap_or_default();
        let (for_, keep_firing_for) = (rule.for_, rule.keep_firing_for);
        if holds {
            inst.cleared_at = None;
            match inst.state {
                AlertState::Inactive => {
                    inst.since = now;
                    inst.state = AlertState::Pending;
                    inst.unnotified = inst.unnotified.max(1);
                    inst.total = inst.total.max(1);
                }
                AlertState::Pending | AlertState::Firing => {}
            }
            if inst.state == AlertState::Pending && elapsed(inst.since) >= for_ {
                inst.state = AlertState::Firing;
                inst.since = now;
                self.emit(rule, inst, AlertEventKind::Fired, now);
                if let Some(metrics) = self
                    .hooks
                    .metrics
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                {
                    metrics.add_counter(
                        ALERTS_TOTAL,
                        &[("rule", &rule.name), ("severity", rule.severity.as_str())],
                        1,
                    );
                }
                if !self.config.group_wait.is_zero() && group_until.is_none() {
                    *group_until = Some(now + self.config.group_wait);
                }
            }
        } else {
            match inst.state {
                AlertState::Inactive => {}
                AlertState::Pending => inst.reset(),
                AlertState::Firing => {
                    let cleared = *inst.cleared_at.get_or_insert(now);
                    if elapsed(cleared) >= keep_firing_for {
                        // Resolved: `tick` sends the notification and resets.
                        inst.state = AlertState::Inactive;
                        inst.cleared_at = Some(cleared);
                        self.emit(rule, inst, AlertEventKind::Resolved, now);
                    }
                }
            }
        }
    }

    /// The current value of every series of a per-series threshold rule, by key; adds the
    /// alerts of series that cross the threshold (of every series, for a rate).
    fn series_values(
        &self,
        t: &Threshold,
        rule: &AlertRule,
        instances: &mut Instances,
        now: SystemTime,
        values: &mut Vec<(String, f64)>,
    ) {
        values.clear();
        for sample in self.metrics.samples(&t.metric) {
            if !t.labels.iter().all(|(k, v)| sample.label(k) == Some(v)) {
                continue;
            }
            let key = series_key(&sample.labels);
            let wanted = t.rate_over.is_some() || t.comparison.holds(sample.value, t.value);
            if wanted && !instances.contains_key(&key) {
                let mut inst = Instance::for_series(rule, &sample.labels, now);
                if self.admit(rule, &mut inst) {
                    instances.insert(key.clone(), inst);
                }
            }
            values.push((key, sample.value));
        }
        if values.len() > 1 {
            values.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }

    /// Publishes a state change to subscribers and the history store; never waits.
    fn emit(&self, rule: &AlertRule, inst: &Instance, kind: AlertEventKind, now: SystemTime) {
        self.changed();
        let history = self
            .history
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
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

    fn inhibitors(&self, state: &State) -> HashSet<String> {
        self.inhibitors_of(&state.rules)
    }

    /// The components whose firing critical alerts inhibit warnings, among `rules`.
    fn inhibitors_of(&self, rules: &[RuleState]) -> HashSet<String> {
        let mut set = HashSet::new();
        if !self.config.inhibit {
            return set;
        }
        for rs in rules {
            if rs.rule.severity != AlertSeverity::Critical {
                continue;
            }
            for inst in rs.instances.values() {
                let firing = inst.state == AlertState::Firing;
                if let Some(c) = firing.then(|| inst.labels.get("component")).flatten() {
                    set.insert(c.clone());
                }
            }
        }
        set
    }

    fn inhibited(&self, rule: &AlertRule, inst: &Instance, inhibitors: &HashSet<String>) -> bool {
        !inhibitors.is_empty()
            && rule.severity < AlertSeverity::Critical
            && inst
                .labels
                .get("component")
                .is_some_and(|c| inhibitors.contains(c))
    }

    fn notification(
        &self,
        rule: &AlertRule,
        alerts: Vec<AlertEvent>,
        status: AlertStatus,
        escalation_level: u32,
        tag: &str,
        now: SystemTime,
    ) -> Notification {
        let first = alerts.first();
        let starts = first
            .map(|a| {
                a.starts_at
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
            })
            .unwrap_or_default();
        let key = format!(
            "{}-{}-{starts}-{tag}",
            first.map(|a| a.fingerprint.as_str()).unwrap_or("none"),
            match status {
                AlertStatus::Firing => "firing",
                AlertStatus::Acknowledged => "acknowledged",
                AlertStatus::Resolved => "resolved",
            }
        );
        let count: u64 = alerts.iter().map(|a| a.count).sum();
        let mut title = String::new();
        if escalation_level > 0 {
            title.push_str(&format!("[ESCALATION {escalation_level}]"));
        }
        title.push_str(&format!("[{}:{}] ", status.upper(), rule.severity));
        match alerts.as_slice() {
            [one] => title.push_str(&one.summary),
            many => title.push_str(&format!("{} ({} alerts)", rule.name, many.len())),
        }
        if count > 1 {
            title.push_str(&format!(" (×{count})"));
        }
        Notification {
            key,
            status,
            severity: rule.severity,
            title,
            alerts,
            escalation_level,
            digest: false,
            diagnostics: None,
            snapshot: None,
            created_at: now,
        }
    }

    /// Works out what is due: resolutions, grouped first notifications, repeats, escalations;
    /// of the rules at indices `only` (ascending, no duplicates), else of every rule.
    fn tick(&self, state: &mut State, now: SystemTime, only: Option<&[usize]>) -> Vec<Outgoing> {
        let inhibitors = self.inhibitors(state);
        let State {
            rules,
            silences,
            escalation,
            groups,
            ..
        } = state;
        let mut outgoing = Vec::new();
        let mut tick = |rs: &mut RuleState| {
            self.tick_rule(
                rs,
                silences,
                escalation,
                groups,
                &inhibitors,
                now,
                &mut outgoing,
            );
        };
        match only {
            None => rules.iter_mut().for_each(&mut tick),
            // `only` is ascending (rule order), without duplicates.
            Some(only) => {
                for index in only {
                    if let Some(rs) = rules.get_mut(*index) {
                        tick(rs);
                    }
                }
            }
        }
        self.flush_groups(groups, now, &mut outgoing);
        outgoing
    }

    /// The group of an alert going to `channels` with `labels`: the channels and the values
    /// of the `group_by` labels.
    fn group_key(&self, channels: &[String], labels: &BTreeMap<String, String>) -> String {
        let mut key = channels.join(",");
        for label in &self.config.group_by {
            key.push('\u{1f}');
            key.push_str(labels.get(label).map_or("", String::as_str));
        }
        key
    }

    /// Whether the first notification of an alert of group `key` is due now; opens the group
    /// (due after `group_wait`, or `group_interval` after its last notification) if needed.
    fn group_due(&self, groups: &mut Groups, key: &str, now: SystemTime) -> bool {
        let group = match groups.timing.get_mut(key) {
            Some(g) => g,
            None => groups.timing.entry(key.to_owned()).or_default(),
        };
        let flush_at = *group.flush_at.get_or_insert_with(|| match group.last_sent {
            Some(last) if now < last + self.config.group_interval => {
                last + self.config.group_interval
            }
            _ => now + self.config.group_wait,
        });
        now >= flush_at
    }

    /// One notification per group that collected alerts in this pass; forgets groups that
    /// have been quiet for `group_interval`.
    fn flush_groups(&self, groups: &mut Groups, now: SystemTime, outgoing: &mut Vec<Outgoing>) {
        if self.config.group_by.is_empty() {
            return;
        }
        for (key, (channels, alerts)) in std::mem::take(&mut groups.batch) {
            let group = groups.timing.entry(key.clone()).or_default();
            group.flush_at = None;
            group.last_sent = Some(now);
            group.seq += 1;
            outgoing.push(Outgoing {
                notification: self.group_notification(&key, alerts, group.seq, now),
                channels,
            });
        }
        let interval = self.config.group_interval;
        for group in groups.timing.values_mut() {
            // Due with nothing to send: its alerts resolved or were muted while it waited.
            if group.flush_at.is_some_and(|f| f <= now) {
                group.flush_at = None;
            }
        }
        groups
            .timing
            .retain(|_, g| g.flush_at.is_some() || g.last_sent.is_some_and(|l| now < l + interval));
    }

    /// The firing notification of a group: its alerts, of any rule.
    fn group_notification(
        &self,
        key: &str,
        alerts: Vec<AlertEvent>,
        seq: u64,
        now: SystemTime,
    ) -> Notification {
        let severity = alerts
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(AlertSeverity::Warning);
        let starts = alerts
            .first()
            .map(|a| {
                a.starts_at
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
            })
            .unwrap_or_default();
        let mut title = format!("[FIRING:{severity}] ");
        match alerts.as_slice() {
            [one] => {
                title.push_str(&one.summary);
                if one.count > 1 {
                    title.push_str(&format!(" (×{})", one.count));
                }
            }
            many => {
                let by: Vec<String> = self
                    .config
                    .group_by
                    .iter()
                    .filter_map(|l| many[0].labels.get(l).map(|v| format!("{l}={v}")))
                    .collect();
                let mut rules: Vec<&str> = many.iter().map(|a| a.rule.as_str()).collect();
                rules.dedup();
                title.push_str(&format!("{} alerts", many.len()));
                if !by.is_empty() {
                    title.push_str(&format!(" for {}", by.join(", ")));
                }
                title.push_str(&format!(": {}", rules.join(", ")));
            }
        }
        Notification {
            key: format!(
                "group-{:016x}-{starts}-g{seq}",
                crate::fingerprint::fnv1a(key.as_bytes())
            ),
            status: AlertStatus::Firing,
            severity,
            title,
            alerts,
            escalation_level: 0,
            digest: false,
            diagnostics: None,
            snapshot: None,
            created_at: now,
        }
    }

    /// What is due for one rule.
    #[allow(clippy::too_many_arguments)] // reason: the disjoint parts of the locked state
    fn tick_rule(
        &self,
        rs: &mut RuleState,
        silences: &[Silence],
        escalation: &[(Vec<String>, Duration)],
        groups: &mut Groups,
        inhibitors: &HashSet<String>,
        now: SystemTime,
        outgoing: &mut Vec<Outgoing>,
    ) {
        let repeat = rs
            .rule
            .repeat_interval
            .unwrap_or(self.config.repeat_interval);
        let grouping = !self.config.group_by.is_empty();
        let group_open = rs.group_until.is_some_and(|g| now < g);
        let mut firing = Vec::new();
        let mut resolved: BTreeMap<Vec<String>, Vec<AlertEvent>> = BTreeMap::new();
        for inst in rs.instances.values_mut() {
            if inst.state == AlertState::Inactive && inst.cleared_at.is_some() {
                if inst.notified {
                    let channels: Vec<String> = inst.notified_channels.iter().cloned().collect();
                    resolved.entry(channels).or_default().push(inst.event(
                        &rs.rule,
                        AlertStatus::Resolved,
                        now,
                    ));
                }
                inst.reset();
                continue;
            }
            if inst.state != AlertState::Firing {
                continue;
            }
            let muted = silences.iter().any(|s| s.mutes(&inst.labels, now))
                || (self.config.inhibit && self.inhibited(&rs.rule, inst, inhibitors));
            if muted {
                if !inst.muted {
                    inst.muted = true;
                    self.counters.suppressed.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            inst.muted = false;
            let due = if inst.notified {
                inst.last_notified
                    .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= repeat)
            } else if grouping {
                let key = self.group_key(&rs.channels, &inst.labels);
                self.group_due(groups, &key, now)
            } else {
                !group_open
            };
            if due {
                firing.push(inst.fingerprint.clone());
            }
            // Escalation: the next level when unacknowledged long enough.
            let next_level = if rs.rule.escalate && inst.notified && inst.acked.is_none() {
                escalation.get(inst.escalation_level)
            } else {
                None
            };
            if let Some((channels, _)) = next_level {
                let after: Duration = escalation
                    .iter()
                    .take(inst.escalation_level + 1)
                    .map(|(_, a)| *a)
                    .sum();
                if now.duration_since(inst.since).unwrap_or_default() >= after {
                    inst.escalation_level += 1;
                    let level = u32::try_from(inst.escalation_level).unwrap_or(u32::MAX);
                    self.emit(&rs.rule, inst, AlertEventKind::Escalated { level }, now);
                    let event = inst.event(&rs.rule, AlertStatus::Firing, now);
                    inst.notified_channels.extend(channels.iter().cloned());
                    outgoing.push(Outgoing {
                        notification: self.notification(
                            &rs.rule,
                            vec![event],
                            AlertStatus::Firing,
                            level,
                            &format!("e{level}"),
                            now,
                        ),
                        channels: channels.clone(),
                    });
                }
            }
        }
        if !firing.is_empty() {
            let mut events = Vec::new();
            let mut tag = String::new();
            for inst in rs.instances.values_mut() {
                if !firing.contains(&inst.fingerprint) {
                    continue;
                }
                let event = inst.event(&rs.rule, AlertStatus::Firing, now);
                if grouping {
                    let key = self.group_key(&rs.channels, &inst.labels);
                    groups
                        .batch
                        .entry(key)
                        .or_insert_with(|| (rs.channels.clone(), Vec::new()))
                        .1
                        .push(event);
                } else {
                    events.push(event);
                }
                if tag.is_empty() {
                    tag = format!("f{}", inst.seq);
                }
                inst.seq += 1;
                inst.notified = true;
                inst.last_notified = Some(now);
                inst.unnotified = 0;
                inst.notified_channels.extend(rs.channels.iter().cloned());
            }
            rs.group_until = None;
            if !events.is_empty() {
                outgoing.push(Outgoing {
                    notification: self.notification(
                        &rs.rule,
                        events,
                        AlertStatus::Firing,
                        0,
                        &tag,
                        now,
                    ),
                    channels: rs.channels.clone(),
                });
            }
        } else if !group_open {
            rs.group_until = None;
        }
        if rs.per_component {
            // Alerts of components that went quiet are forgotten: components are unbounded.
            let freed = rs
                .instances
                .retain(|_, i| i.state != AlertState::Inactive || !i.node.is_idle());
            self.instance_bytes.fetch_sub(freed, Ordering::Relaxed);
        }
        for (channels, events) in resolved {
            let tag = format!("r{}", events.len());
            outgoing.push(Outgoing {
                notification: self.notification(
                    &rs.rule,
                    events,
                    AlertStatus::Resolved,
                    0,
                    &tag,
                    now,
                ),
                channels,
            });
        }
    }

    /// Attaches diagnostics to CRITICAL firing notifications, then dispatches.
    async fn send(&self, mut outgoing: Vec<Outgoing>) {
        if outgoing.is_empty() {
            return;
        }
        if let Some(diagnostics) = self.diagnostics() {
            let wants = outgoing.iter().any(|o| is_critical_firing(&o.notification));
            if wants {
                let (summary, snapshot) =
                    match tokio::time::timeout(DIAGNOSTICS_TIMEOUT, diagnostics.snapshot()).await {
                        // The whole report travels with the alert (issue 15.5).
                        Ok(Ok(report)) => (
                            report.summary,
                            Some(report.details).filter(|d| !d.is_null()),
                        ),
                        Ok(Err(e)) => (format!("diagnostics failed: {e}"), None),
                        Err(_) => ("diagnostics timed out".to_owned(), None),
                    };
                for o in &mut outgoing {
                    if is_critical_firing(&o.notification) {
                        o.notification.diagnostics = Some(summary.clone());
                        o.notification.snapshot = snapshot.clone();
                    }
                }
            }
        }
        self.dispatch(outgoing);
    }

    /// Records each notification in the outbox and queues it on its channels; never waits.
    /// Returns how many channel queues took a notification.
    fn dispatch(&self, outgoing: Vec<Outgoing>) -> usize {
        if !outgoing.is_empty() {
            // Which channels were notified, and when, is part of the persisted state.
            self.changed();
        }
        let mut queued = 0;
        let channels = self.read_channels();
        let trace_ui_url = self
            .trace_ui_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for o in outgoing {
            let mut notification = o.notification;
            if let Some(ui_url) = &trace_ui_url {
                notification.link_traces(ui_url);
            }
            let notification = Arc::new(notification);
            self.counters.notifications.fetch_add(1, Ordering::Relaxed);
            let critical = is_critical_firing(&notification);
            let handles: Vec<&ChannelHandle> = o
                .channels
                .iter()
                .filter_map(|name| channels.get(name))
                .collect();
            if critical {
                self.settings
                    .critical
                    .register(&notification.key, handles.len());
            }
            for handle in handles {
                let outbox_key = format!("{}@{}", notification.key, handle.name);
                if let Some(outbox) = &self.outbox {
                    outbox.pending(&outbox_key, &handle.name, &notification);
                }
                if handle.enqueue(Job {
                    notification: Arc::clone(&notification),
                    outbox_key,
                    critical,
                }) {
                    queued += 1;
                }
            }
        }
        queued
    }
}

/// Validates the section through the whole configuration's checks.
fn validate_config(config: &AlertsConfig) -> Result<(), ConfigError> {
    andon_core::AndonConfig {
        alerts: config.clone(),
        ..Default::default()
    }
    .validate()
}

impl From<&ChannelConfig> for AlertChannel {
    fn from(config: &ChannelConfig) -> Self {
        AlertChannel::Config(config.clone())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

    use super::*;

    fn signal_rule(name: &str, color: Color, component: Option<&str>) -> AlertRule {
        AlertRule {
            name: name.to_owned(),
            condition: signal_condition(color, component),
            severity: AlertSeverity::Warning,
            ..Default::default()
        }
    }

    fn signal_condition(color: Color, component: Option<&str>) -> AlertCondition {
        AlertCondition::Signal {
            color,
            component: component.map(str::to_owned),
            count: 1,
            window: Duration::from_secs(60),
        }
    }

    /// The open alerts as (rule, component label), sorted.
    fn open(manager: &AlertManager) -> Vec<(String, Option<String>)> {
        let mut open: Vec<_> = manager
            .open_alerts()
            .into_iter()
            .map(|a| (a.rule, a.labels.get("component").cloned()))
            .collect();
        open.sort();
        open
    }

    fn pair(rule: &str, component: Option<&str>) -> (String, Option<String>) {
        (rule.to_owned(), component.map(str::to_owned))
    }

    #[tokio::test]
    async fn with_many_signal_rules_only_the_matching_ones_fire() {
        let manager =
            AlertManager::new(AlertsConfig::default(), Arc::new(andon_core::Noop)).unwrap();
        for i in 0..1_000 {
            let component = format!("c{i}");
            manager
                .add_rule(signal_rule(
                    &format!("rule-{i}"),
                    Color::Red,
                    Some(&component),
                ))
                .unwrap();
        }
        manager
            .add_rule(signal_rule("any-red", Color::Red, None))
            .unwrap();
        manager
            .add_rule(signal_rule("yellow-c500", Color::Yellow, Some("c500")))
            .unwrap();
        // Critical rules go in front of the others: every index behind them moves.
        for (name, color) in [
            ("critical-red-c500", Color::Red),
            ("critical-yellow", Color::Yellow),
        ] {
            manager
                .add_rule(AlertRule {
                    severity: AlertSeverity::Critical,
                    ..signal_rule(name, color, Some("c500"))
                })
                .unwrap();
        }
        // Signals inside combinations are looked at for every signal.
        for (name, component) in [("combo-c500", "c500"), ("combo-c1", "c1")] {
            manager
                .add_rule(AlertRule {
                    name: name.to_owned(),
                    condition: AlertCondition::Any(vec![
                        signal_condition(Color::Red, Some(component)),
                        AlertCondition::QueueDepth { max_depth: 1 << 40 },
                    ]),
                    ..Default::default()
                })
                .unwrap();
        }

        manager
            .on_signal(&AndonSignal::red("down").with_component("c500"))
            .await
            .unwrap();
        assert_eq!(
            open(&manager),
            vec![
                pair("any-red", Some("c500")),
                pair("combo-c500", None),
                pair("critical-red-c500", Some("c500")),
                pair("rule-500", Some("c500")),
            ]
        );
        // Only the rules that can match are looked at, in rule order: the two RED rules of
        // c500, the rule without a component filter, and the two combinations.
        let names: Vec<String> = {
            let mut candidates = Vec::new();
            let state = manager.inner.lock_state();
            state.signal_index.candidates(
                &AndonSignal::red("down").with_component("c500"),
                &mut candidates,
            );
            candidates
                .iter()
                .map(|i| state.rules[*i].rule.name.clone())
                .collect()
        };
        assert_eq!(
            names,
            [
                "critical-red-c500",
                "rule-500",
                "any-red",
                "combo-c500",
                "combo-c1"
            ]
        );

        // A RED without a component: only the rule without a component filter.
        manager.on_signal(&AndonSignal::red("down")).await.unwrap();
        // A GREEN matches nothing.
        manager
            .on_signal(&AndonSignal::green("fine").with_component("c7"))
            .await
            .unwrap();
        // A YELLOW of c500: the YELLOW rules of c500 only.
        manager
            .on_signal(&AndonSignal::yellow("slow").with_component("c500"))
            .await
            .unwrap();
        assert_eq!(
            open(&manager),
            vec![
                pair("any-red", None),
                pair("any-red", Some("c500")),
                pair("combo-c500", None),
                pair("critical-red-c500", Some("c500")),
                pair("critical-yellow", Some("c500")),
                pair("rule-500", Some("c500")),
                pair("yellow-c500", Some("c500")),
            ]
        );
        assert_eq!(manager.stats().signals, 4);
    }
}
