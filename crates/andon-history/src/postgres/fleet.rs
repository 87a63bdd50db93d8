//! The fleet's line states: each agent upserts its one row (line state, the stopping signal,
//! its board's URL, its version and a heartbeat stamped with the database's clock), and any
//! agent lists them all. A row whose heartbeat is older than three of its agent's intervals
//! shows [`FleetLine::NoData`]: the agent is gone or cut off, and its last state is not news.

use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::PostgresHistory;
use super::write::text;
use crate::error::HistoryError;
use crate::store::{from_millis, millis};

/// A line's state in the fleet view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FleetLine {
    /// The line runs.
    #[serde(rename = "RUNNING")]
    Running,
    /// A signal stopped the line.
    #[serde(rename = "STOPPED")]
    Stopped,
    /// The agent has not reported for more than three of its intervals: its state is unknown.
    #[serde(rename = "NO DATA")]
    NoData,
}

impl FleetLine {
    /// `RUNNING`, `STOPPED` or `NO DATA`.
    pub fn as_str(self) -> &'static str {
        match self {
            FleetLine::Running => "RUNNING",
            FleetLine::Stopped => "STOPPED",
            FleetLine::NoData => "NO DATA",
        }
    }
}

/// What an agent reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FleetReport {
    /// Whether its line is stopped.
    pub stopped: bool,
    /// The stopping signal's id.
    pub signal_id: Option<String>,
    /// The stopping signal's component.
    pub component: Option<String>,
    /// The stopping signal's message.
    pub message: Option<String>,
    /// When the line stopped.
    pub stopped_at: Option<SystemTime>,
    /// Where its board is.
    pub board_url: Option<String>,
    /// Its andon version.
    pub version: String,
    /// How often it reports.
    pub interval: Duration,
}

/// One agent in the fleet view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetEntry {
    /// Its `[history] instance`.
    pub instance: String,
    /// Its line, or NO DATA when it stopped reporting.
    pub line: FleetLine,
    /// The state it last reported (`RUNNING` or `STOPPED`), also when `line` is NO DATA.
    pub last_state: FleetLine,
    /// The stopping signal's id, when stopped.
    pub signal_id: Option<String>,
    /// The stopping signal's component.
    pub component: Option<String>,
    /// The stopping signal's message.
    pub message: Option<String>,
    /// When the line stopped.
    #[serde(serialize_with = "optional_time")]
    pub stopped_at: Option<SystemTime>,
    /// The URL of the instance's own board, when it published one.
    pub board_url: Option<String>,
    /// Its andon version.
    pub version: String,
    /// When it last reported (the database's clock).
    #[serde(with = "andon_core::rfc3339")]
    pub heartbeat_at: SystemTime,
    /// How long ago that was, in seconds (the database's clock).
    pub age_seconds: f64,
}

fn optional_time<S: serde::Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => andon_core::rfc3339::serialize(t, s),
        None => s.serialize_none(),
    }
}

/// How many of an agent's intervals may pass without a report before it shows NO DATA.
pub const NO_DATA_AFTER_INTERVALS: i64 = 3;

const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

impl PostgresHistory {
    /// Upserts this agent's fleet row, stamped with the database's clock.
    pub async fn report_fleet(&self, report: &FleetReport) -> Result<(), HistoryError> {
        let client = self.client().await?;
        let state = if report.stopped {
            FleetLine::Stopped
        } else {
            FleetLine::Running
        };
        let interval = i64::try_from(report.interval.as_millis()).unwrap_or(i64::MAX);
        client
            .execute(
                &format!(
                    "INSERT INTO fleet (instance, state, signal_id, component, message, stopped_at_ms, board_url, version, interval_ms, heartbeat_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {NOW_MS})
                     ON CONFLICT (instance) DO UPDATE SET
                       state = excluded.state, signal_id = excluded.signal_id, component = excluded.component,
                       message = excluded.message, stopped_at_ms = excluded.stopped_at_ms, board_url = excluded.board_url,
                       version = excluded.version, interval_ms = excluded.interval_ms, heartbeat_at_ms = excluded.heartbeat_at_ms"
                ),
                &[
                    &self.instance(),
                    &state.as_str(),
                    &report.signal_id,
                    &report.component.as_deref().map(text),
                    &report.message.as_deref().map(text),
                    &report.stopped_at.map(millis),
                    &report.board_url,
                    &report.version,
                    &interval,
                ],
            )
            .await
            .map_err(|e| self.query_error(&e))?;
        Ok(())
    }

    /// Every agent of the fleet, by instance name.
    pub async fn fleet(&self) -> Result<Vec<FleetEntry>, HistoryError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT instance, state, signal_id, component, message, stopped_at_ms, board_url, version,
                            interval_ms, heartbeat_at_ms, {NOW_MS} - heartbeat_at_ms
                     FROM fleet ORDER BY instance"
                ),
                &[],
            )
            .await
            .map_err(|e| self.query_error(&e))?;
        Ok(rows
            .iter()
            .map(|row| {
                let last_state = if row.get::<_, String>(1) == FleetLine::Stopped.as_str() {
                    FleetLine::Stopped
                } else {
                    FleetLine::Running
                };
                let interval: i64 = row.get(8);
                let age: i64 = row.get(10);
                let line = if age > interval.saturating_mul(NO_DATA_AFTER_INTERVALS) {
                    FleetLine::NoData
                } else {
                    last_state
                };
                FleetEntry {
                    instance: row.get(0),
                    line,
                    last_state,
                    signal_id: row.get(2),
                    component: row.get(3),
                    message: row.get(4),
                    stopped_at: row.get::<_, Option<i64>>(5).map(from_millis),
                    board_url: row.get(6),
                    version: row.get(7),
                    heartbeat_at: from_millis(row.get(9)),
                    age_seconds: age.max(0) as f64 / 1000.0,
                }
            })
            .collect())
    }
}
