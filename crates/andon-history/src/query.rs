//! The read side: signals by time, component and color; an incident's timeline; Pareto by
//! component and by message fingerprint; MTTA and MTTR per component; line downtime per bucket.
//!
//! Every query takes its window (and, where an open interval needs one, `now`) from the caller,
//! so that tests and reports control the clock; times are the records' own timestamps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use andon_core::Color;
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use serde_json::Value;

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
}

/// What a Pareto counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParetoBy {
    /// The signal's component (`unknown` when it had none).
    Component,
    /// The message fingerprint: the message with numbers and ids taken out.
    Fingerprint,
}

impl ParetoBy {
    fn column(self) -> &'static str {
        match self {
            ParetoBy::Component => "COALESCE(component, 'unknown')",
            ParetoBy::Fingerprint => "fingerprint",
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

/// One step of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When.
    #[serde(with = "andon_core::rfc3339")]
    pub at: SystemTime,
    /// `signal`, `alert.fired`, `alert.acknowledged`, `alert.escalated`, `alert.resolved`,
    /// `line.stopped`, `line.resumed` or `diagnostics`.
    pub kind: String,
    /// One human line.
    pub summary: String,
    /// The component, when known.
    pub component: Option<String>,
    /// The trace id, when known: open it in Jaeger.
    pub trace_id: Option<String>,
    /// The record's fields.
    pub detail: Value,
}

/// Everything recorded about one incident, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// The trace id or alert fingerprint asked for.
    pub key: String,
    /// The trace ids involved (open them in Jaeger).
    pub trace_ids: Vec<String>,
    /// The alert fingerprints involved.
    pub fingerprints: Vec<String>,
    /// The steps: signal, alert fired, acknowledged, escalated, resolved, line stopped and
    /// resumed, diagnostics; one page of them (see [`SqliteHistory::timeline_page`]).
    pub entries: Vec<TimelineEntry>,
    /// The offset of the next page, when there are more steps than this page holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// The most steps one page of a [`Timeline`] holds by default (and at most).
pub const TIMELINE_PAGE: usize = 1000;

/// The furthest a timeline may be paged.
pub const MAX_TIMELINE_OFFSET: usize = 10_000;

/// The longest a query may run before it is stopped with [`HistoryError::TooSlow`].
pub const QUERY_BUDGET: Duration = Duration::from_secs(5);

/// Interrupts the statements of a connection when they run past the budget, unless dropped
/// first. Drop it before the connection's lock, so that a late interrupt cannot reach the
/// next query.
struct Budget {
    done: Option<std::sync::mpsc::Sender<()>>,
    watchdog: Option<std::thread::JoinHandle<()>>,
}

impl Budget {
    fn start(connection: &Connection) -> Budget {
        Self::start_with(connection, QUERY_BUDGET)
    }

    fn start_with(connection: &Connection, budget: Duration) -> Budget {
        let handle = connection.get_interrupt_handle();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("andon-history-budget".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    finished.recv_timeout(budget)
                {
                    handle.interrupt();
                }
            })
            .ok();
        Budget {
            done: Some(done),
            watchdog,
        }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}

fn color_list(colors: &[Color]) -> String {
    let names: Vec<String> = colors.iter().map(|c| format!("'{}'", c.as_str())).collect();
    names.join(", ")
}

fn parse_color(text: &str) -> Color {
    text.parse().unwrap_or(Color::Red)
}

fn json_or_empty(text: Option<String>) -> Value {
    text.and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
}

fn stored_signal(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredSignal> {
    Ok(StoredSignal {
        id: row.get(0)?,
        at: from_millis(row.get(1)?),
        color: parse_color(&row.get::<_, String>(2)?),
        component: row.get(3)?,
        message: row.get(4)?,
        fingerprint: row.get(5)?,
        trace_id: row.get(6)?,
        attributes: json_or_empty(row.get(7)?),
    })
}

const SIGNAL_COLUMNS: &str =
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
                ParetoBy::Component => "component",
                ParetoBy::Fingerprint => "fingerprint",
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
        Ok(Pareto {
            by,
            window,
            colors,
            total,
            rows,
        })
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

    /// How long the line was stopped in each `bucket` of `window` (a stop still open counts up
    /// to `now`). Buckets start at multiples of `bucket` since the Unix epoch, so days start at
    /// UTC midnight; the first bucket holds `window.from`.
    pub fn downtime(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
    ) -> Result<Vec<Downtime>, HistoryError> {
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
        let mut buckets: Vec<(i64, u64)> = vec![(0, 0); count];
        let bucket_start = |index: usize| {
            first.saturating_add(
                i64::try_from(index)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(bucket_ms),
            )
        };
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

    /// Downtime per UTC day: [`downtime`](SqliteHistory::downtime) with one-day buckets.
    pub fn downtime_per_day(
        &self,
        window: Window,
        now: SystemTime,
    ) -> Result<Vec<Downtime>, HistoryError> {
        self.downtime(window, Duration::from_secs(86_400), now)
    }

    /// Everything recorded about one incident, found by a trace id or an alert fingerprint:
    /// the signals with that trace id, the alerts they fired (and the alert with that
    /// fingerprint) with every acknowledgement, escalation and resolution, the line stops
    /// those signals caused with the resumption that followed, and their RED diagnostics.
    ///
    /// The first [`TIMELINE_PAGE`] steps; [`timeline_page`](SqliteHistory::timeline_page)
    /// reads the others.
    pub fn timeline(&self, key: &str) -> Result<Timeline, HistoryError> {
        self.timeline_page(key, 0, TIMELINE_PAGE)
    }

    /// One page of [`timeline`](SqliteHistory::timeline): at most `limit` steps (1 to
    /// [`TIMELINE_PAGE`]) after the first `offset` (at most [`MAX_TIMELINE_OFFSET`]), with
    /// [`Timeline::next_offset`] set when more follow. Each kind of record is read only up to
    /// `offset + limit + 1` rows, so a page costs the same however large the incident.
    pub fn timeline_page(
        &self,
        key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Timeline, HistoryError> {
        if !(1..=TIMELINE_PAGE).contains(&limit) || offset > MAX_TIMELINE_OFFSET {
            return Err(HistoryError::Invalid(format!(
                "a timeline page holds 1 to {TIMELINE_PAGE} steps from an offset of at most {MAX_TIMELINE_OFFSET}"
            )));
        }
        // Enough of each kind of record for the page and one more, to know if more follow.
        let rows = offset + limit + 1;
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        let mut trace_ids: BTreeSet<String> = BTreeSet::from([key.to_owned()]);
        let mut fingerprints: BTreeSet<String> = BTreeSet::from([key.to_owned()]);
        // Widen once in each direction: fingerprint -> its trace ids -> their fingerprints.
        let more: Vec<String> = strings(
            &connection,
            "SELECT DISTINCT trace_id FROM alert_events WHERE fingerprint = ?1 AND trace_id IS NOT NULL LIMIT 100",
            &[key],
        )?;
        trace_ids.extend(more);
        let traces: Vec<&str> = trace_ids.iter().map(String::as_str).collect();
        let more = strings(
            &connection,
            &format!(
                "SELECT DISTINCT fingerprint FROM alert_events WHERE trace_id IN ({}) LIMIT 100",
                placeholders(traces.len())
            ),
            &traces,
        )?;
        fingerprints.extend(more);

        let mut entries = Vec::new();
        let mut signal_ids = Vec::new();
        let mut statement = connection.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals WHERE trace_id IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
            placeholders(traces.len())
        ))?;
        for signal in statement.query_map(params_from_iter(&traces), stored_signal)? {
            let signal = signal?;
            signal_ids.push(signal.id.clone());
            entries.push(TimelineEntry {
                at: signal.at,
                kind: "signal".into(),
                summary: format!(
                    "[{}] {}: {}",
                    signal.color.as_str().to_uppercase(),
                    signal.component.as_deref().unwrap_or("unknown"),
                    signal.message
                ),
                component: signal.component.clone(),
                trace_id: signal.trace_id.clone(),
                detail: serde_json::to_value(&signal).unwrap_or(Value::Null),
            });
        }

        let prints: Vec<&str> = fingerprints.iter().map(String::as_str).collect();
        let mut statement = connection.prepare(&format!(
            "SELECT at_ms, fingerprint, rule, severity, component, trace_id, summary, kind, by_whom, note, level
             FROM alert_events WHERE fingerprint IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
            placeholders(prints.len())
        ))?;
        let mut real_fingerprints = BTreeSet::new();
        let alert_rows = statement.query_map(params_from_iter(&prints), |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, Option<String>>(8)?,
                row.get::<_, Option<String>>(9)?,
                row.get::<_, Option<i64>>(10)?,
            ))
        })?;
        for row in alert_rows {
            let (
                at,
                fingerprint,
                rule,
                severity,
                component,
                trace_id,
                summary,
                kind,
                by,
                note,
                level,
            ) = row?;
            real_fingerprints.insert(fingerprint.clone());
            if let Some(trace) = &trace_id {
                trace_ids.insert(trace.clone());
            }
            let what = match kind.as_str() {
                "acknowledged" => format!(
                    "acknowledged by {}{}",
                    by.as_deref().unwrap_or("someone"),
                    note.as_deref()
                        .filter(|n| !n.is_empty())
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
                "escalated" => format!("escalated to level {}", level.unwrap_or(1)),
                other => other.to_owned(),
            };
            entries.push(TimelineEntry {
                at: from_millis(at),
                kind: format!("alert.{kind}"),
                summary: format!("alert {rule} ({severity}) {what}: {summary}"),
                component: component.clone(),
                trace_id: trace_id.clone(),
                detail: serde_json::json!({
                    "fingerprint": fingerprint, "rule": rule, "severity": severity,
                    "by": by, "note": note, "level": level, "summary": summary,
                }),
            });
        }

        if !signal_ids.is_empty() {
            let ids: Vec<&str> = signal_ids.iter().map(String::as_str).collect();
            let mut statement = connection.prepare(&format!(
                "SELECT at_ms, signal_id, component, message FROM line_events
                 WHERE kind = 'stopped' AND signal_id IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
                placeholders(ids.len())
            ))?;
            let stops: Vec<(i64, String, Option<String>, Option<String>)> = statement
                .query_map(params_from_iter(&ids), |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect::<Result<_, _>>()?;
            let mut resume = connection.prepare_cached(
                "SELECT at_ms, by_whom, note FROM line_events
                 WHERE kind = 'resumed' AND at_ms >= ?1 ORDER BY at_ms, seq LIMIT 1",
            )?;
            for (at, signal_id, component, message) in stops {
                entries.push(TimelineEntry {
                    at: from_millis(at),
                    kind: "line.stopped".into(),
                    summary: format!(
                        "line stopped by {}: {}",
                        component.as_deref().unwrap_or("unknown"),
                        message.as_deref().unwrap_or("")
                    ),
                    component: component.clone(),
                    trace_id: None,
                    detail: serde_json::json!({ "signal": signal_id }),
                });
                let resumed = resume
                    .query_map([at], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, Option<String>>(1)?,
                            row.get::<_, Option<String>>(2)?,
                        ))
                    })?
                    .next()
                    .transpose()?;
                if let Some((at, by, note)) = resumed {
                    entries.push(TimelineEntry {
                        at: from_millis(at),
                        kind: "line.resumed".into(),
                        summary: format!(
                            "line resumed by {}{}",
                            by.as_deref().unwrap_or("someone"),
                            note.as_deref()
                                .map(|n| format!(": {n}"))
                                .unwrap_or_default()
                        ),
                        component: None,
                        trace_id: None,
                        detail: serde_json::json!({ "by": by, "note": note }),
                    });
                }
            }
            let mut statement = connection.prepare(&format!(
                "SELECT at_ms, signal_id, health, summary, report FROM diagnostics
                 WHERE signal_id IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
                placeholders(ids.len())
            ))?;
            let diagnostics = statement.query_map(params_from_iter(&ids), |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                ))
            })?;
            for row in diagnostics {
                let (at, signal_id, health, summary, report) = row?;
                entries.push(TimelineEntry {
                    at: from_millis(at),
                    kind: "diagnostics".into(),
                    summary: format!("diagnostics ({health}): {summary}"),
                    component: None,
                    trace_id: None,
                    detail: serde_json::json!({ "signal": signal_id, "report": json_or_empty(report) }),
                });
            }
        }
        entries.sort_by_key(|e| e.at);
        let next_offset = (entries.len() > offset + limit).then_some(offset + limit);
        let entries: Vec<TimelineEntry> = entries.into_iter().skip(offset).take(limit).collect();
        // Only ids that occur in the records are reported.
        let seen_traces: BTreeSet<String> =
            entries.iter().filter_map(|e| e.trace_id.clone()).collect();
        Ok(Timeline {
            key: key.to_owned(),
            trace_ids: trace_ids.intersection(&seen_traces).cloned().collect(),
            fingerprints: real_fingerprints.into_iter().collect(),
            entries,
            next_offset,
        })
    }
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / total as f64).round() / 100.0
    }
}

fn placeholders(n: usize) -> String {
    let marks: Vec<String> = (1..=n.max(1)).map(|i| format!("?{i}")).collect();
    marks.join(", ")
}

fn strings(connection: &Connection, sql: &str, args: &[&str]) -> Result<Vec<String>, HistoryError> {
    let mut statement = connection.prepare(sql)?;
    let rows = statement.query_map(params_from_iter(args), |row| row.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // reason: tests fail loudly

    use andon_core::{AndonSignal, HistoryRecord, HistoryStore};

    use super::*;

    #[test]
    fn a_query_past_its_budget_is_stopped_and_called_too_slow() {
        let connection = Connection::open_in_memory().unwrap();
        let budget = Budget::start_with(&connection, Duration::from_millis(100));
        let endless = connection.query_row(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            [],
            |row| row.get::<_, i64>(0),
        );
        drop(budget);
        match endless.map_err(HistoryError::from) {
            Err(HistoryError::TooSlow { budget }) => assert_eq!(budget, QUERY_BUDGET),
            other => panic!("an endless query must be stopped: {other:?}"),
        }
        // The next query on the connection is not hit by a late interrupt.
        let one: i64 = connection.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
        assert_eq!(one, 1);
    }

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

    #[tokio::test]
    async fn a_long_timeline_is_read_in_pages() {
        let history = SqliteHistory::in_memory().unwrap();
        let start = SystemTime::now() - Duration::from_secs(3600);
        for i in 0..25u64 {
            let signal = AndonSignal::yellow(format!("step {i}"))
                .with_component("db")
                .with_trace_id("t-page")
                .with_timestamp(start + Duration::from_secs(i));
            history.record(HistoryRecord::Signal(signal.into()));
        }
        history.flush().await.unwrap();
        let whole = history.timeline("t-page").unwrap();
        assert_eq!((whole.entries.len(), whole.next_offset), (25, None));
        let mut paged = Vec::new();
        let mut offset = Some(0);
        let mut pages = 0;
        while let Some(from) = offset {
            let page = history.timeline_page("t-page", from, 10).unwrap();
            assert!(page.entries.len() <= 10);
            paged.extend(page.entries);
            offset = page.next_offset;
            pages += 1;
        }
        assert_eq!(pages, 3);
        assert_eq!(
            paged, whole.entries,
            "the pages join into the whole timeline"
        );
        for (offset, limit) in [
            (0, 0),
            (0, TIMELINE_PAGE + 1),
            (MAX_TIMELINE_OFFSET + 1, 10),
        ] {
            assert!(matches!(
                history.timeline_page("t-page", offset, limit),
                Err(HistoryError::Invalid(_))
            ));
        }
        history.shutdown().await.unwrap();
    }
}
