//! The read side: signals by time, component and color; an incident's timeline; Pareto by
//! component and by message fingerprint; MTTA and MTTR per component; line downtime per bucket.
//!
//! Every query takes its window (and, where an open interval needs one, `now`) from the caller,
//! so that tests and reports control the clock; times are the records' own timestamps.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use andon_core::Color;
use serde::Serialize;
use serde_json::Value;

use crate::budget::Budget;
use crate::error::HistoryError;
use crate::schema::HOUR_MS;
use crate::store::{SqliteHistory, from_millis, millis};

/// A half-open time range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The start, included.
    #[serde(with = "andon_core::rfc3339")]
    pub from: SystemTime,
    /// The end, excluded.
    #[serde(with = "andon_core::rfc3339")]
    pub to: SystemTime,
}

impl Window {
    /// `[from, to)`.
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

    pub(crate) fn millis(&self) -> (i64, i64) {
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
    /// Its color.
    pub color: Color,
    /// Its component.
    pub component: Option<String>,
    /// Its message.
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

/// What a Pareto counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParetoBy {
    /// The signal's component (`unknown` when it had none).
    Component,
    /// The message fingerprint: the message with numbers and ids taken out.
    Fingerprint,
    /// The agent that wrote the signal (`[history] instance`): one bar per line of the fleet.
    Instance,
}

impl ParetoBy {
    fn column(self) -> &'static str {
        match self {
            ParetoBy::Component => "COALESCE(component, 'unknown')",
            ParetoBy::Fingerprint => "fingerprint",
            // One SQLite file is one instance; the backend names it.
            ParetoBy::Instance => "'local'",
        }
    }

    /// The key column in `signal_counts` (PostgreSQL's has `instance`).
    pub(crate) fn count_column(self) -> &'static str {
        match self {
            ParetoBy::Component => "component",
            ParetoBy::Fingerprint => "fingerprint",
            ParetoBy::Instance => "instance",
        }
    }
}

/// One bar of a Pareto chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParetoRow {
    /// The component or fingerprint.
    pub key: String,
    /// How many signals.
    pub count: u64,
    /// Its share of all counted signals, in percent.
    pub percent: f64,
    /// Its share plus that of every bar before it, in percent (the Pareto line).
    pub cumulative_percent: f64,
}

/// Counts of problem signals, most frequent first, with cumulative percentages: the few causes
/// behind most stoppages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pareto {
    /// What was counted by.
    pub by: ParetoBy,
    /// Over which time.
    pub window: Window,
    /// Which colors were counted.
    pub colors: Vec<Color>,
    /// Every counted signal.
    pub total: u64,
    /// The bars, by count descending (then key ascending).
    pub rows: Vec<ParetoRow>,
}

/// Response times of one component's alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseTimes {
    /// The alerts' component (`unknown` when their labels named none).
    pub component: String,
    /// Alerts that fired in the window.
    pub fired: u64,
    /// Of those, how many were acknowledged.
    pub acknowledged: u64,
    /// Of those, how many resolved.
    pub resolved: u64,
    /// Of those, how many escalated at least once.
    pub escalated: u64,
    /// Mean time from firing to the first acknowledgement, in seconds.
    pub mtta_seconds: Option<f64>,
    /// Mean time from firing to resolution, in seconds.
    pub mttr_seconds: Option<f64>,
}

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
        let frame = DowntimeFrame::new(window, bucket, now)?;
        let (from, to) = window.millis();
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
        fold_downtime(events.map(|e| e.map_err(HistoryError::from)), &frame)
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

/// The bars of a Pareto from its counts.
pub(crate) fn finish_pareto(
    totals: HashMap<String, u64>,
    by: ParetoBy,
    window: Window,
    colors: Vec<Color>,
) -> Pareto {
    let mut counts: Vec<(String, u64)> = totals.into_iter().filter(|(_, n)| *n > 0).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let mut running = 0;
    let rows = counts
        .into_iter()
        .map(|(key, count)| {
            running += count;
            ParetoRow {
                key,
                count,
                percent: percent(count, total),
                cumulative_percent: percent(running, total),
            }
        })
        .collect();
    Pareto {
        by,
        window,
        colors,
        total,
        rows,
    }
}

/// MTTA and MTTR from alert events ordered by fingerprint, then time: `(fingerprint, at_ms,
/// kind, group)`, where the group is the component (or the instance, for `by=instance`).
pub(crate) fn fold_response_times(
    events: impl Iterator<Item = Result<(String, i64, String, String), HistoryError>>,
    to: i64,
) -> Result<Vec<ResponseTimes>, HistoryError> {
    #[derive(Default)]
    struct Sums {
        fired: u64,
        acknowledged: u64,
        resolved: u64,
        escalated: u64,
        ack_ms: i64,
        resolve_ms: i64,
    }
    // One firing at a time per fingerprint: (fingerprint, fired at, component, acked, escalated).
    struct Open {
        fingerprint: String,
        fired_at: i64,
        component: String,
        acknowledged: bool,
        escalated: bool,
    }
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    let mut open: Option<Open> = None;
    for event in events {
        let (fingerprint, at, kind, component) = event?;
        if open.as_ref().is_some_and(|o| o.fingerprint != fingerprint) {
            open = None;
        }
        match kind.as_str() {
            "fired" => {
                if at < to {
                    sums.entry(component.clone()).or_default().fired += 1;
                    open = Some(Open {
                        fingerprint,
                        fired_at: at,
                        component,
                        acknowledged: false,
                        escalated: false,
                    });
                } else {
                    open = None;
                }
            }
            "acknowledged" => {
                if let Some(o) = open.as_mut().filter(|o| !o.acknowledged) {
                    o.acknowledged = true;
                    let s = sums.entry(o.component.clone()).or_default();
                    s.acknowledged += 1;
                    s.ack_ms += at - o.fired_at;
                }
            }
            "escalated" => {
                if let Some(o) = open.as_mut().filter(|o| !o.escalated) {
                    o.escalated = true;
                    sums.entry(o.component.clone()).or_default().escalated += 1;
                }
            }
            "resolved" => {
                if let Some(o) = open.take() {
                    let s = sums.entry(o.component).or_default();
                    s.resolved += 1;
                    s.resolve_ms += at - o.fired_at;
                }
            }
            _ => {}
        }
    }
    let mean = |total_ms: i64, n: u64| (n > 0).then(|| total_ms as f64 / n as f64 / 1000.0);
    Ok(sums
        .into_iter()
        .map(|(component, s)| ResponseTimes {
            component,
            fired: s.fired,
            acknowledged: s.acknowledged,
            resolved: s.resolved,
            escalated: s.escalated,
            mtta_seconds: mean(s.ack_ms, s.acknowledged),
            mttr_seconds: mean(s.resolve_ms, s.resolved),
        })
        .collect())
}

/// The buckets of a downtime query.
pub(crate) struct DowntimeFrame {
    pub(crate) from: i64,
    pub(crate) end: i64,
    pub(crate) first: i64,
    pub(crate) bucket_ms: i64,
    pub(crate) count: usize,
}

impl DowntimeFrame {
    /// The frame of `window` in buckets of `bucket`, or why it cannot be.
    pub(crate) fn new(
        window: Window,
        bucket: Duration,
        now: SystemTime,
    ) -> Result<Self, HistoryError> {
        let bucket_ms = i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX);
        if bucket_ms < 1000 {
            return Err(HistoryError::Invalid(
                "the downtime bucket must be at least 1s: use \"1h\" or \"1d\"".into(),
            ));
        }
        let (from, to) = window.millis();
        let end = to.min(millis(now).max(from));
        let first = from - from.rem_euclid(bucket_ms);
        // In i128: a bucket of centuries must not overflow the sum.
        let count = (i128::from(to) - i128::from(first) + i128::from(bucket_ms) - 1)
            / i128::from(bucket_ms);
        if count > 100_000 {
            return Err(HistoryError::Invalid(format!(
                "{count} downtime buckets is too many: use a longer bucket or a shorter window"
            )));
        }
        let count = usize::try_from(count).unwrap_or(0);
        Ok(DowntimeFrame {
            from,
            end,
            first,
            bucket_ms,
            count,
        })
    }
}

/// Downtime per bucket from one line's events, ordered by time: `(at_ms, kind)`.
pub(crate) fn fold_downtime(
    events: impl Iterator<Item = Result<(i64, String), HistoryError>>,
    frame: &DowntimeFrame,
) -> Result<Vec<Downtime>, HistoryError> {
    let DowntimeFrame {
        from,
        end,
        first,
        bucket_ms,
        count,
    } = *frame;
    let mut buckets: Vec<(i64, u64)> = vec![(0, 0); count];
    let bucket_start = |index: usize| {
        first.saturating_add(
            i64::try_from(index)
                .unwrap_or(i64::MAX)
                .saturating_mul(bucket_ms),
        )
    };
    let mut add = |start: i64, stop: i64| {
        let (start, stop) = (start.max(from), stop.min(end));
        let mut t = start;
        while t < stop {
            let index = usize::try_from((t - first) / bucket_ms).unwrap_or(usize::MAX);
            let bucket_end = bucket_start(index.saturating_add(1));
            let until = stop.min(bucket_end);
            if let Some(slot) = buckets.get_mut(index) {
                slot.0 += until - t;
            }
            t = until;
        }
    };
    let mut stopped_since: Option<i64> = None;
    let mut stop_starts = Vec::new();
    for event in events {
        let (at, kind) = event?;
        match (kind.as_str(), stopped_since) {
            ("stopped", None) => {
                stopped_since = Some(at);
                if at >= from {
                    stop_starts.push(at);
                }
            }
            ("resumed", Some(since)) => {
                add(since, at);
                stopped_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = stopped_since {
        add(since, end);
    }
    for at in stop_starts {
        if let Some(slot) = usize::try_from((at - first) / bucket_ms)
            .ok()
            .and_then(|i| buckets.get_mut(i))
        {
            slot.1 += 1;
        }
    }
    Ok(buckets
        .into_iter()
        .enumerate()
        .map(|(i, (ms, stops))| Downtime {
            start: from_millis(bucket_start(i)),
            stopped_seconds: ms as f64 / 1000.0,
            stops,
        })
        .collect())
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
