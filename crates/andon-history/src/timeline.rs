//! The timeline of one incident: every record about a trace id or an alert fingerprint, in time
//! order, read in pages.

use std::time::SystemTime;

use rusqlite::{Connection, params_from_iter};
use serde::Serialize;
use serde_json::Value;

use crate::budget::Budget;
use crate::error::HistoryError;
use crate::query::{SIGNAL_COLUMNS, stored_signal};
use crate::store::SqliteHistory;
use crate::timeline_rows::{AlertRow, Incident};

/// One step of an incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When it happened.
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

impl SqliteHistory {
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
        let rows = page_rows(offset, limit)?;
        Ok(self.incident(key, rows)?.page(offset, limit))
    }

    /// The records of the incident `key`, at most `rows` of each kind.
    pub(crate) fn incident(&self, key: &str, rows: usize) -> Result<Incident, HistoryError> {
        let connection = self.reader();
        let _budget = Budget::start(&connection);
        let mut incident = Incident::new(key);
        // Widen once in each direction: fingerprint -> its trace ids -> their fingerprints.
        let more: Vec<String> = strings(
            &connection,
            "SELECT DISTINCT trace_id FROM alert_events WHERE fingerprint = ?1 AND trace_id IS NOT NULL LIMIT 100",
            &[key],
        )?;
        incident.trace_ids.extend(more);
        let traces: Vec<&str> = incident.trace_ids.iter().map(String::as_str).collect();
        let more = strings(
            &connection,
            &format!(
                "SELECT DISTINCT fingerprint FROM alert_events WHERE trace_id IN ({}) LIMIT 100",
                placeholders(traces.len())
            ),
            &traces,
        )?;
        incident.fingerprints.extend(more);

        let mut signal_ids = Vec::new();
        let mut statement = connection.prepare(&format!(
            "SELECT {SIGNAL_COLUMNS} FROM signals WHERE trace_id IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
            placeholders(traces.len())
        ))?;
        for signal in statement.query_map(params_from_iter(&traces), stored_signal)? {
            let signal = signal?;
            signal_ids.push(signal.id.clone());
            incident.entries.push(TimelineEntry::signal(&signal));
        }

        let prints: Vec<&str> = incident.fingerprints.iter().map(String::as_str).collect();
        let mut statement = connection.prepare(&format!(
            "SELECT at_ms, fingerprint, rule, severity, component, trace_id, summary, kind, by_whom, note, level
             FROM alert_events WHERE fingerprint IN ({}) ORDER BY at_ms, seq LIMIT {rows}",
            placeholders(prints.len())
        ))?;
        let alert_rows = statement.query_map(params_from_iter(&prints), |row| {
            Ok(AlertRow {
                at: row.get(0)?,
                fingerprint: row.get(1)?,
                rule: row.get(2)?,
                severity: row.get(3)?,
                component: row.get(4)?,
                trace_id: row.get(5)?,
                summary: row.get(6)?,
                kind: row.get(7)?,
                by: row.get(8)?,
                note: row.get(9)?,
                level: row.get(10)?,
            })
        })?;
        for row in alert_rows {
            incident.alert(row?, None);
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
                incident.entries.push(TimelineEntry::line_stopped(
                    at,
                    Some(&signal_id),
                    component,
                    message.as_deref(),
                    None,
                ));
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
                    incident.entries.push(TimelineEntry::line_resumed(
                        at,
                        by.as_deref(),
                        note.as_deref(),
                        None,
                    ));
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
                incident.entries.push(TimelineEntry::diagnostics(
                    at, &signal_id, &health, &summary, report,
                ));
            }
        }
        Ok(incident)
    }
}

/// How many records of each kind a page needs (enough for the page and one more, to know if
/// more follow), or why the page is refused: every backend keeps 1 to [`TIMELINE_PAGE`]
/// steps from an offset of at most [`MAX_TIMELINE_OFFSET`].
pub(crate) fn page_rows(offset: usize, limit: usize) -> Result<usize, HistoryError> {
    if !(1..=TIMELINE_PAGE).contains(&limit) || offset > MAX_TIMELINE_OFFSET {
        return Err(HistoryError::Invalid(format!(
            "a timeline page holds 1 to {TIMELINE_PAGE} steps from an offset of at most {MAX_TIMELINE_OFFSET}"
        )));
    }
    Ok(offset + limit + 1)
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

    use std::time::Duration;

    use andon_core::{AndonSignal, HistoryRecord, HistoryStore};

    use super::*;

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
