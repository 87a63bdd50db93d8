//! The write side of andon's memory (the K of MAPE-K): what happened, as records a history store
//! keeps for root-cause analysis. Core defines the records and the [`HistoryStore`] trait; a crate
//! such as `andon-history` implements it (SQLite), the umbrella and the alert manager feed it.
//!
//! Recording is fire-and-forget from the caller's point of view: [`HistoryStore::record`] must
//! not block (enqueue and return) and must not fail the caller; a store that cannot keep up or
//! cannot write counts what it lost and makes that visible itself.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::component::DiagnosticsReport;
use crate::error::AndonError;
use crate::severity::{AlertSeverity, Color};
use crate::signal::{AndonSignal, SignalId};

/// What happened to an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertEventKind {
    /// The alert started firing (pending -> firing). A silence or an inhibition may mute its
    /// notification; the event is recorded all the same, so every `Resolved` has its `Fired`.
    Fired,
    /// Someone acknowledged it.
    Acknowledged {
        /// Who acknowledged it.
        by: String,
        /// Their note (may be empty).
        note: String,
    },
    /// Nobody acknowledged it in time: the next escalation level was notified.
    Escalated {
        /// The escalation level now notified (1 is the first level after the rule's own
        /// channels).
        level: u32,
    },
    /// Its condition cleared (after any `keep_firing_for`): a RESOLVED notification was sent.
    Resolved,
}

impl AlertEventKind {
    /// A short stable name: `fired`, `acknowledged`, `escalated`, `resolved`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            AlertEventKind::Fired => "fired",
            AlertEventKind::Acknowledged { .. } => "acknowledged",
            AlertEventKind::Escalated { .. } => "escalated",
            AlertEventKind::Resolved => "resolved",
        }
    }
}

/// One state change of one alert, identified by its fingerprint (rule + labels): what the
/// history records and the alert manager publishes to subscribers.
///
/// How a notification shows an alert to people (status, count, links) is a different thing:
/// andon-alert's `NotifiedAlert`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// When it happened (the alert manager's clock).
    #[serde(with = "crate::signal::rfc3339")]
    pub at: SystemTime,
    /// The alert's fingerprint (also the dedup key sent to receivers).
    pub fingerprint: String,
    /// The rule's name.
    pub rule: String,
    /// The rule's severity.
    pub severity: AlertSeverity,
    /// The component the alert is about, when its labels name one.
    pub component: Option<String>,
    /// The trace or correlation id of the signal that fired it, when it came from a signal.
    pub trace_id: Option<String>,
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// What the alert saw last, one line.
    pub summary: String,
    /// What happened to the alert: fired, resolved, acknowledged, escalated, ...
    pub kind: AlertEventKind,
}

/// The line stopped or resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineEvent {
    /// A signal stopped the line.
    Stopped {
        /// When the line stopped.
        #[serde(with = "crate::signal::rfc3339")]
        at: SystemTime,
        /// The signal that stopped it.
        signal: SignalId,
        /// Its component, if any.
        component: Option<String>,
        /// The stopping signal's message.
        message: String,
    },
    /// Someone resumed it.
    Resumed {
        /// When the line was resumed.
        #[serde(with = "crate::signal::rfc3339")]
        at: SystemTime,
        /// Who resumed it.
        by: String,
        /// Their note, if any.
        note: Option<String>,
    },
}

impl LineEvent {
    /// When it happened.
    pub fn at(&self) -> SystemTime {
        match self {
            LineEvent::Stopped { at, .. } | LineEvent::Resumed { at, .. } => *at,
        }
    }
}

/// One thing worth remembering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum HistoryRecord {
    /// A signal was raised.
    Signal(Arc<AndonSignal>),
    /// An alert changed state.
    Alert(AlertEvent),
    /// The line stopped or resumed.
    Line(LineEvent),
    /// A heartbeat checked in or missed its deadline.
    Heartbeat(crate::heartbeat::HeartbeatEvent),
    /// The diagnostics snapshot taken for a RED signal.
    Diagnostics {
        /// The RED signal it was taken for.
        signal: SignalId,
        /// The host and process snapshot taken when the signal came.
        report: Arc<DiagnosticsReport>,
    },
}

/// The response times of one group of alerts (a component's, or an agent's in a fleet): how
/// many fired in a window and how fast they were acknowledged and resolved. What a history
/// store answers for MTTA/MTTR and what `GET /v1/history/mttr` returns, one type for both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseTimes {
    /// The alerts' component (`unknown` when their labels named none), or the instance when
    /// grouped by instance.
    pub component: String,
    /// Alerts that fired in the window.
    pub fired: u64,
    /// Of those, how many were acknowledged.
    pub acknowledged: u64,
    /// Of those, how many resolved.
    pub resolved: u64,
    /// Of those, how many escalated at least once.
    pub escalated: u64,
    /// Mean time from firing to the first acknowledgement, in seconds; `None` (`null`) when
    /// none was acknowledged.
    pub mtta_seconds: Option<f64>,
    /// Mean time from firing to resolution, in seconds; `None` (`null`) when none resolved.
    pub mttr_seconds: Option<f64>,
}

/// A half-open time range `[from, to)`, written as RFC 3339: what a history query reads, and
/// what its answer says it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The start, included.
    #[serde(with = "crate::rfc3339")]
    pub from: SystemTime,
    /// The end, excluded.
    #[serde(with = "crate::rfc3339")]
    pub to: SystemTime,
}

impl Window {
    /// The window `[from, to)`: from included, to excluded.
    pub fn between(from: SystemTime, to: SystemTime) -> Self {
        Window { from, to }
    }

    /// The `length` before `now`: `[now - length, now)`.
    pub fn last(length: Duration, now: SystemTime) -> Self {
        Window {
            from: now
                .checked_sub(length)
                .filter(|from| *from >= SystemTime::UNIX_EPOCH)
                .unwrap_or(SystemTime::UNIX_EPOCH),
            to: now,
        }
    }
}

/// What a Pareto counts by (`component`, `fingerprint` or `instance` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParetoBy {
    /// The signal's component (`unknown` when it had none).
    Component,
    /// The message fingerprint: the message with numbers and ids taken out.
    Fingerprint,
    /// The agent that wrote the signal (`[history] instance`): one bar per line of the fleet.
    Instance,
}

/// One bar of a Pareto chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoRow {
    /// The component, fingerprint or instance.
    pub key: String,
    /// How many signals.
    pub count: u64,
    /// Its share of all counted signals, in percent.
    pub percent: f64,
    /// Its share plus that of every bar before it, in percent (the Pareto line).
    pub cumulative_percent: f64,
}

/// Counts of problem signals, most frequent first, with cumulative percentages: the few causes
/// behind most stoppages. What a history store answers for a Pareto and what
/// `GET /v1/history/pareto` returns, one type for both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pareto {
    /// What was counted by.
    pub by: ParetoBy,
    /// Over which time (the one asked for, cut to what the history keeps).
    pub window: Window,
    /// Which colors were counted.
    pub colors: Vec<Color>,
    /// Every counted signal.
    pub total: u64,
    /// The bars, by count descending (then key ascending).
    pub rows: Vec<ParetoRow>,
}

/// Keeps [`HistoryRecord`]s. Implementations enqueue in `record` (never block, never fail the
/// caller) and write in the background; `flush` waits until everything accepted so far is
/// durable.
#[async_trait]
pub trait HistoryStore: Send + Sync + fmt::Debug {
    /// Takes one record. Must return quickly; a full queue or a failing store counts the loss
    /// rather than blocking.
    fn record(&self, record: HistoryRecord);

    /// Makes everything accepted so far durable.
    async fn flush(&self) -> Result<(), AndonError> {
        Ok(())
    }

    /// Flushes and stops the background writer; later records are counted as dropped.
    async fn shutdown(&self) -> Result<(), AndonError> {
        self.flush().await
    }
}

impl HistoryStore for crate::component::Noop {
    fn record(&self, _record: HistoryRecord) {}
}
