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
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::component::DiagnosticsReport;
use crate::error::AndonError;
use crate::severity::AlertSeverity;
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
