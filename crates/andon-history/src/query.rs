//! The read side: signals by time, component and color; an incident's timeline; Pareto by
//! component and by message fingerprint; MTTA and MTTR per component; line downtime per bucket.
//!
//! Every query takes its window (and, where an open interval needs one, `now`) from the caller,
//! so that tests and reports control the clock; times are the records' own timestamps.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use andon_core::Color;
use serde::Serialize;
use serde_json::Value;

use crate::budget::Budget;
use crate::error::HistoryError;
pub(crate) use crate::fold::{DowntimeFrame, finish_pareto, fold_downtime, fold_response_times};
use crate::schema::HOUR_MS;
use crate::store::{SqliteHistory, from_millis, millis};

/// The window, the Pareto and its parts: andon-core's, shared with the agent's API, which
/// answers with them.
pub use andon_core::history::{Pareto, ParetoBy, ParetoRow, Window};

/// A [`Window`] as the stores keep time: Unix milliseconds, from included, to excluded.
pub(crate) trait WindowMillis {
    /// `(from, to)` in Unix milliseconds.
    fn millis(&self) -> (i64, i64);
}

impl WindowMillis for Window {
    fn millis(&self) -> (i64, i64) {
        (millis(self.from), millis(self.to))
    }
}

/// Which signals [`SqliteHistory::signals`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalQuery {
    /// The time range.
    pub window: Window,
    /// Only this component.
    pub component: Option<String>,
    /// Only this color.
    pub color: Option<Color>,
    /// At most this many, newest first.
    pub limit: usize,
}

impl SignalQuery {
    /// Every signal in `window`, at most 1000.
    pub fn new(window: Window) -> Self {
        SignalQuery {
            window,
            component: None,
            color: None,
            limit: 1000,
        }
    }

    /// Only signals from `component`.
    #[must_use]
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Only signals of `color`.
    #[must_use]
    pub fn color(mut self, color: Color) -> Self {
        self.color = Some(color);
        self
    }

    /// At most `limit`.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// A signal as the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSignal {
    /// The signal's id.
    pub id: String,
    /// When it was raised.
    #[serde(with = "andon_core::rfc3339")]
    pub at: SystemTime,
    /// The signal's color.
    pub color: Color,
    /// The component that raised it, if it named one.
    pub component: Option<String>,
    /// What the signal said.
    pub message: String,
    /// Its message without numbers and ids (see [`fingerprint`](crate::fingerprint)).
    pub fingerprint: String,
    /// Its trace id: open it in Jaeger.
    pub trace_id: Option<String>,
    /// Its attributes (an object; empty when it had none).
    pub attributes: Value,
    /// The agent that wrote it (its `[history] instance`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// The SQL a [`ParetoBy`] counts by.
pub(crate) trait ParetoColumns {
    /// The key expression over `signals`.
    fn column(self) -> &'static str;
    /// The key column in `signal_counts` (PostgreSQL's has `instance`).
    fn count_column(self) -> &'static str;
}

impl ParetoColumns for ParetoBy {
    fn column(self) -> &'static str {
        match self {
            ParetoBy::Component => "COALESCE(component, 'unknown')",
            ParetoBy::Fingerprint => "fingerprint",
            // One SQLite file is one instance; the backend names it.
            ParetoBy::Instance => "'local'",
        }
    }

    fn count_column(self) -> &'static str {
        match self {
            ParetoBy::Component => "component",
            ParetoBy::Fingerprint => "fingerprint",
            ParetoBy::Instance => "instance",
        }
    }
}

/// Response times of one component's (or instance's) alerts: andon-core's, shared with the
/// agent's API.
pub use andon_core::history::ResponseTimes;

/// Line downtime within one bucket of time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Downtime {
    /// The bucket's start (UTC, a multiple of the bucket length since the Unix epoch: midnight
    /// for days).
    #[serde(with = "andon_core::rfc3339")]
    pub start: SystemTime,
    /// How long the line was stopped within the bucket (and the window), in seconds.
    pub stopped_seconds: f64,
    /// How many stops began within the bucket.
    pub stops: u64,
}

fn color_list(colors: &[Color]) -> String {
    let names: Vec<String> = colors.iter().map(|c| format!("'{}'", c.as_str())).collect();
    names.join(", ")
}

pub(crate) fn parse_color(text: &str) -> Color {
    text.parse().unwrap_or(Color::Red)
}

pub(crate) fn json_or_empty(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
}

pub(crate) fn stored_signal(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSignal> {
    Ok(StoredSignal {
        id: row.get(0)?,
        at: from_millis(row.get(1)?),
        color: parse_color(&row.get::<_, String>(2)?),
        component: row.get(3)?,
        message: row.get(4)?,
        fingerprint: row.get(5)?,
        trace_id: row.get(6)?,
        attributes: json_or_empty(row.get(7)?),
        instance: None,
    })
}

pub(crate) const SIGNAL_COLUMNS: &str =
    "id, at_ms, color, component, message, fingerprint, trace_id, attributes";

impl SqliteHistory {
    /// Signals in a time range, optionally of one component and one color, newest first.
    pub fn signals(&self, query: &SignalQuery) -> Result<Vec<StoredSignal>, HistoryError> {
        let (from, to) = query.window.millis();
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        // One statement per filter, so that SQLite reads the component's or the color's index
        // (a `?3 IS NULL OR component = ?3` would scan the whole window).
        let filter = match (&query.component, &query.color) {
            (None, None) => "",
            (Some(_), None) => "AND component = ?3 AND ?4 IS NULL",
            (None, Some(_)) => "AND ?3 IS NULL AND color = ?4",
            (Some(_), Some(_)) => "AND component = ?3 AND color = ?4",
        };
        let unused = if filter.is_empty() {
            "AND ?3 IS NULL AND ?4 IS NULL"
        } else {
            ""
        };
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals
             WHERE at_ms >= ?1 AND at_ms < ?2 {filter} {unused}
             ORDER BY at_ms DESC, seq DESC LIMIT ?5"
        ))?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(
            rusqlite::params![
                from,
                to,
                query.component,
                query.color.map(Color::as_str),
                limit
            ],
            stored_signal,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many signals the history holds in all.
    pub fn signal_count(&self) -> Result<u64, HistoryError> {
        let connection = self.reader();
        let count: i64 = connection.query_row("SELECT count(*) FROM signals", [], |r| r.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// A Pareto of the signals of `colors` in `window`, by component or by message fingerprint.
    /// With no colors, RED and YELLOW (the problems) are counted.
    pub fn pareto(
        &self,
        window: Window,
        by: ParetoBy,
        colors: &[Color],
    ) -> Result<Pareto, HistoryError> {
        let colors: Vec<Color> = if colors.is_empty() {
            vec![Color::Red, Color::Yellow]
        } else {
            colors.to_vec()
        };
        let (from, to) = window.millis();
        let colors_sql = color_list(&colors);
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut add = |sql: &str, lo: i64, hi: i64| -> Result<(), HistoryError> {
            let mut statement = connection.prepare_cached(sql)?;
            let rows = statement.query_map([lo, hi], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (key, n) = row?;
                *totals.entry(key).or_insert(0) += u64::try_from(n).unwrap_or(0);
            }
            Ok(())
        };
        let raw = format!(
            "SELECT {key}, count(*) FROM signals
             WHERE at_ms >= ?1 AND at_ms < ?2 AND color IN ({colors_sql}) GROUP BY 1",
            key = by.column(),
        );
        // Whole hours from the hourly counts; the ragged ends from the signals themselves.
        let first_hour = from.div_euclid(HOUR_MS) + i64::from(from.rem_euclid(HOUR_MS) != 0);
        let end_hour = to.div_euclid(HOUR_MS);
        if first_hour < end_hour {
            let key = match by {
                ParetoBy::Instance => "'local'",
                other => other.count_column(),
            };
            add(
                &format!(
                    "SELECT {key}, sum(n) FROM signal_counts
                     WHERE hour >= ?1 AND hour < ?2 AND color IN ({colors_sql}) GROUP BY 1"
                ),
                first_hour,
                end_hour,
            )?;
            add(&raw, from, first_hour * HOUR_MS)?;
            add(&raw, end_hour * HOUR_MS, to)?;
        } else {
            add(&raw, from, to)?;
        }
        Ok(finish_pareto(totals, by, window, colors))
    }

    /// MTTA and MTTR per component, over the alerts that fired in `window`, sorted by
    /// component. An alert that fires again after resolving counts once per firing; the first
    /// acknowledgement and the resolution after each firing are what count.
    pub fn response_times(&self, window: Window) -> Result<Vec<ResponseTimes>, HistoryError> {
        let (from, to) = window.millis();
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        let mut statement = connection.prepare_cached(
            "SELECT fingerprint, at_ms, kind, COALESCE(component, 'unknown') FROM alert_events
             WHERE fingerprint IN (SELECT DISTINCT fingerprint FROM alert_events
                                   WHERE kind = 'fired' AND at_ms >= ?1 AND at_ms < ?2)
               AND at_ms >= ?1
             ORDER BY fingerprint, at_ms, seq",
        )?;
        let events = statement.query_map([from, to], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
            ))
        })?;
        fold_response_times(events.map(|e| e.map_err(HistoryError::from)), to)
    }

    /// How long the line was stopped in each `bucket` of `window` (a stop still open counts up
    /// to `now`). Buckets start at multiples of `bucket` since the Unix epoch, so days start at
    /// UTC midnight; the first bucket holds `window.from`.
    pub fn downtime(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
    ) -> Result<Vec<Downtime>, HistoryError> {
        self.downtime_in(&DowntimeFrame::new(window, bucket, now)?)
    }

    /// Downtime in the buckets of `frame`.
    pub(crate) fn downtime_in(&self, frame: &DowntimeFrame) -> Result<Vec<Downtime>, HistoryError> {
        let (from, to) = frame.window();
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        let mut statement = connection.prepare_cached(
            "SELECT at_ms, kind FROM line_events
             WHERE at_ms >= COALESCE((SELECT max(at_ms) FROM line_events WHERE at_ms < ?1 AND kind = 'stopped'), ?1)
               AND at_ms < ?2
             ORDER BY at_ms, seq",
        )?;
        let events = statement.query_map([from, to], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
        fold_downtime(events.map(|e| e.map_err(HistoryError::from)), frame)
    }

    /// Downtime per UTC day: [`downtime`](SqliteHistory::downtime) with one-day buckets.
    pub fn downtime_per_day(
        &self,
        window: Window,
        now: SystemTime,
    ) -> Result<Vec<Downtime>, HistoryError> {
        self.downtime(window, Duration::from_secs(86_400), now)
    }
}

pub(crate) fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // reason: tests fail loudly

    use super::*;

    #[test]
    fn huge_windows_and_buckets_neither_overflow_nor_go_before_1970() {
        let now = SystemTime::now();
        let window = Window::last(Duration::from_secs(u64::MAX / 4), now);
        assert_eq!(window.from, SystemTime::UNIX_EPOCH);
        let history = SqliteHistory::in_memory().unwrap();
        let buckets = history
            .downtime(window, Duration::from_secs(u64::MAX / 4), now)
            .unwrap();
        assert_eq!(buckets.len(), 1);
        assert!(matches!(
            history.downtime(window, Duration::from_secs(1), now),
            Err(HistoryError::Invalid(_))
        ));
    }
}
