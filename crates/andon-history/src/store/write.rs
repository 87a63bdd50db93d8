//! The rows a batch writes: signals in multi-row inserts with their hourly counts, and the
//! alert, line, heartbeat and diagnostics events.

use std::collections::HashMap;

use andon_core::{AlertEventKind, HistoryRecord, LineEvent};
use rusqlite::{Connection, Transaction, params};

use super::millis;
use crate::fingerprint::fingerprint;
use crate::schema::HOUR_MS;

/// Signals per multi-row `INSERT`: fewer statements, the same rows (about 1.5 times the rate of
/// one row per statement).
const SIGNALS_PER_INSERT: usize = 16;

/// One signal's row, borrowed from its record where it can be.
struct SignalRow<'a> {
    id: String,
    at: i64,
    color: &'static str,
    component: Option<&'a str>,
    message: &'a str,
    fingerprint: String,
    trace_id: Option<&'a str>,
    attributes: Option<String>,
}

impl<'a> SignalRow<'a> {
    fn new(signal: &'a andon_core::AndonSignal) -> Self {
        SignalRow {
            id: signal.id().to_string(),
            at: millis(signal.timestamp()),
            color: signal.color().as_str(),
            component: signal.component(),
            message: signal.message(),
            fingerprint: fingerprint(signal.message()),
            trace_id: signal.trace_id(),
            attributes: (!signal.attributes().is_empty())
                .then(|| serde_json::to_string(signal.attributes()).ok())
                .flatten(),
        }
    }
}

/// One heartbeat event's columns, shared by both backends.
pub(crate) struct HeartbeatRow {
    pub(crate) at: i64,
    pub(crate) kind: &'static str,
    pub(crate) status: Option<&'static str>,
    pub(crate) last_check_in: Option<i64>,
    pub(crate) every: Option<i64>,
}

impl HeartbeatRow {
    pub(crate) fn new(event: &andon_core::heartbeat::HeartbeatEvent) -> Self {
        use andon_core::heartbeat::HeartbeatEventKind;
        let at = millis(event.at);
        match &event.kind {
            HeartbeatEventKind::CheckIn { status } => HeartbeatRow {
                at,
                kind: "check_in",
                status: Some(status.as_str()),
                last_check_in: None,
                every: None,
            },
            HeartbeatEventKind::Missed {
                last_check_in,
                every,
            } => HeartbeatRow {
                at,
                kind: "missed",
                status: None,
                last_check_in: last_check_in.map(millis),
                every: Some(i64::try_from(every.as_millis()).unwrap_or(i64::MAX)),
            },
        }
    }
}

/// One alert event's columns beyond the event's own fields, shared by both backends.
pub(crate) struct AlertEventRow<'a> {
    pub(crate) by: Option<&'a str>,
    pub(crate) note: Option<&'a str>,
    pub(crate) level: Option<i64>,
    /// The labels as a JSON object.
    pub(crate) labels: String,
}

impl<'a> AlertEventRow<'a> {
    pub(crate) fn new(event: &'a andon_core::AlertEvent) -> Self {
        let (by, note, level) = match &event.kind {
            AlertEventKind::Acknowledged { by, note } => {
                (Some(by.as_str()), Some(note.as_str()), None)
            }
            AlertEventKind::Escalated { level } => (None, None, Some(i64::from(*level))),
            AlertEventKind::Fired | AlertEventKind::Resolved => (None, None, None),
        };
        AlertEventRow {
            by,
            note,
            level,
            labels: serde_json::to_string(&event.labels).unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

/// One line event's columns (a stop or a resumption), shared by both backends.
pub(crate) struct LineRow<'a> {
    pub(crate) at: i64,
    pub(crate) kind: &'static str,
    pub(crate) signal: Option<String>,
    pub(crate) component: Option<&'a str>,
    pub(crate) message: Option<&'a str>,
    pub(crate) by: Option<&'a str>,
    pub(crate) note: Option<&'a str>,
}

impl<'a> LineRow<'a> {
    pub(crate) fn new(event: &'a LineEvent) -> Self {
        match event {
            LineEvent::Stopped {
                at,
                signal,
                component,
                message,
            } => LineRow {
                at: millis(*at),
                kind: "stopped",
                signal: Some(signal.to_string()),
                component: component.as_deref(),
                message: Some(message),
                by: None,
                note: None,
            },
            LineEvent::Resumed { at, by, note } => LineRow {
                at: millis(*at),
                kind: "resumed",
                signal: None,
                component: None,
                message: None,
                by: Some(by),
                note: note.as_deref(),
            },
        }
    }
}

/// One diagnostics snapshot's columns, shared by both backends.
pub(crate) struct DiagnosticsRow {
    pub(crate) at: i64,
    /// The health status's name (`ok`, `degraded`, ...).
    pub(crate) health: String,
    /// The whole report as JSON.
    pub(crate) report: String,
}

impl DiagnosticsRow {
    pub(crate) fn new(report: &andon_core::DiagnosticsReport) -> Self {
        DiagnosticsRow {
            at: millis(report.taken_at),
            health: serde_json::to_value(report.health.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            report: serde_json::to_string(report).unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

fn insert_signals(tx: &Transaction<'_>, rows: &[SignalRow<'_>]) -> rusqlite::Result<()> {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
    let mut statement = tx.prepare_cached(&format!(
        "INSERT INTO signals (id, at_ms, color, component, message, fingerprint, trace_id, attributes) VALUES {values}"
    ))?;
    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 8);
    for row in rows {
        params.extend([
            &row.id as &dyn rusqlite::ToSql,
            &row.at,
            &row.color,
            &row.component,
            &row.message,
            &row.fingerprint,
            &row.trace_id,
            &row.attributes,
        ]);
    }
    statement.execute(params.as_slice())?;
    Ok(())
}

pub(super) fn write_batch(
    connection: &mut Connection,
    batch: &[HistoryRecord],
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let mut signals = Vec::with_capacity(batch.len());
    for record in batch {
        match record {
            HistoryRecord::Signal(signal) => signals.push(SignalRow::new(signal)),
            other => write_record(&transaction, other)?,
        }
    }
    for chunk in signals.chunks(SIGNALS_PER_INSERT) {
        insert_signals(&transaction, chunk)?;
    }
    // The batch's signals per (hour, color, component, fingerprint), for `signal_counts`.
    let mut counts: HashMap<(i64, &str, &str, &str), i64> = HashMap::new();
    for row in &signals {
        *counts
            .entry((
                row.at.div_euclid(HOUR_MS),
                row.color,
                row.component.unwrap_or("unknown"),
                row.fingerprint.as_str(),
            ))
            .or_insert(0) += 1;
    }
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT INTO signal_counts (hour, color, component, fingerprint, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hour, color, component, fingerprint) DO UPDATE SET n = n + excluded.n",
        )?;
        for ((hour, color, component, fingerprint), n) in &counts {
            upsert.execute(params![hour, color, component, fingerprint, n])?;
        }
    }
    transaction.commit()
}

/// Writes one record other than a signal.
fn write_record(tx: &Transaction<'_>, record: &HistoryRecord) -> rusqlite::Result<()> {
    match record {
        HistoryRecord::Signal(signal) => insert_signals(tx, &[SignalRow::new(signal)])?,
        HistoryRecord::Alert(event) => {
            let row = AlertEventRow::new(event);
            tx.prepare_cached(
                "INSERT INTO alert_events (at_ms, fingerprint, rule, severity, component, trace_id, labels, summary, kind, by_whom, note, level)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                millis(event.at),
                event.fingerprint,
                event.rule,
                event.severity.as_str(),
                event.component,
                event.trace_id,
                row.labels,
                event.summary,
                event.kind.as_str(),
                row.by,
                row.note,
                row.level,
            ])?;
        }
        HistoryRecord::Line(event) => {
            let row = LineRow::new(event);
            tx.prepare_cached(
                "INSERT INTO line_events (at_ms, kind, signal_id, component, message, by_whom, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.at,
                row.kind,
                row.signal,
                row.component,
                row.message,
                row.by,
                row.note,
            ])?;
        }
        HistoryRecord::Heartbeat(event) => {
            let row = HeartbeatRow::new(event);
            tx.prepare_cached(
                "INSERT INTO heartbeats (at_ms, name, component, kind, status, last_check_in_ms, every_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.at,
                event.name,
                event.component,
                row.kind,
                row.status,
                row.last_check_in,
                row.every,
            ])?;
        }
        HistoryRecord::Diagnostics { signal, report } => {
            let row = DiagnosticsRow::new(report);
            tx.prepare_cached(
                "INSERT INTO diagnostics (at_ms, signal_id, health, summary, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                row.at,
                signal.to_string(),
                row.health,
                report.summary,
                row.report,
            ])?;
        }
    }
    Ok(())
}
