//! The rows a record other than a signal writes, described once for both backends: each
//! names its table and, beside each value, the column it fills. A backend only binds a
//! [`Row`]'s cells to its driver (SQLite's `?N`, PostgreSQL's `$N` after the `instance`).
//! Signals have writers of their own (multi-row inserts, `unnest`) and their hourly counts.

use std::borrow::Cow;

use andon_core::heartbeat::{HeartbeatEvent, HeartbeatEventKind};
use andon_core::{AlertEvent, AlertEventKind, DiagnosticsReport, HistoryRecord, LineEvent};

use crate::store::millis;

/// One value of a row: an integer or a text, either of which may be NULL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    /// An `INTEGER` (SQLite) or `BIGINT` (PostgreSQL) column.
    Int(Option<i64>),
    /// A `TEXT` column.
    Text(Option<Cow<'a, str>>),
}

/// A row's value as a [`Cell`].
pub(crate) trait IntoCell<'a> {
    /// The cell holding `self`.
    fn into_cell(self) -> Cell<'a>;
}

impl<'a> IntoCell<'a> for i64 {
    fn into_cell(self) -> Cell<'a> {
        Cell::Int(Some(self))
    }
}

impl<'a> IntoCell<'a> for Option<i64> {
    fn into_cell(self) -> Cell<'a> {
        Cell::Int(self)
    }
}

impl<'a> IntoCell<'a> for &'a str {
    fn into_cell(self) -> Cell<'a> {
        Cell::Text(Some(Cow::Borrowed(self)))
    }
}

impl<'a> IntoCell<'a> for Option<&'a str> {
    fn into_cell(self) -> Cell<'a> {
        Cell::Text(self.map(Cow::Borrowed))
    }
}

impl<'a> IntoCell<'a> for String {
    fn into_cell(self) -> Cell<'a> {
        Cell::Text(Some(Cow::Owned(self)))
    }
}

impl<'a> IntoCell<'a> for Option<String> {
    fn into_cell(self) -> Cell<'a> {
        Cell::Text(self.map(Cow::Owned))
    }
}

/// One row to insert: its table, its columns in order (without the database's `seq` and
/// PostgreSQL's `instance`) and a cell per column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row<'a> {
    /// The table.
    pub(crate) table: &'static str,
    /// The columns the cells fill, in order.
    pub(crate) columns: &'static [&'static str],
    /// The values, one per column.
    pub(crate) cells: Vec<Cell<'a>>,
}

/// A [`Row`] of `table` from `column = value` pairs: each column named once, beside its value.
macro_rules! row {
    ($table:literal, $($column:ident = $value:expr),+ $(,)?) => {
        Row {
            table: $table,
            columns: &[$(stringify!($column)),+],
            cells: vec![$(IntoCell::into_cell($value)),+],
        }
    };
}

/// The row `record` writes; `None` for a signal, whose rows its backend writes in bulk.
pub(crate) fn row_of(record: &HistoryRecord) -> Option<Row<'_>> {
    match record {
        HistoryRecord::Signal(_) => None,
        HistoryRecord::Alert(event) => Some(alert(event)),
        HistoryRecord::Line(event) => Some(line(event)),
        HistoryRecord::Heartbeat(event) => Some(heartbeat(event)),
        HistoryRecord::Diagnostics { signal, report } => Some(row!(
            "diagnostics",
            at_ms = millis(report.taken_at),
            signal_id = signal.to_string(),
            health = health(report),
            summary = report.summary.as_str(),
            report = serde_json::to_string(report).unwrap_or_else(|_| "{}".to_owned()),
        )),
    }
}

fn alert(event: &AlertEvent) -> Row<'_> {
    let (by, note, level) = match &event.kind {
        AlertEventKind::Acknowledged { by, note } => (Some(by.as_str()), Some(note.as_str()), None),
        AlertEventKind::Escalated { level } => (None, None, Some(i64::from(*level))),
        AlertEventKind::Fired | AlertEventKind::Resolved => (None, None, None),
    };
    let labels = serde_json::to_string(&event.labels).unwrap_or_else(|_| "{}".to_owned());
    row!(
        "alert_events",
        at_ms = millis(event.at),
        fingerprint = event.fingerprint.as_str(),
        rule = event.rule.as_str(),
        severity = event.severity.as_str(),
        component = event.component.as_deref(),
        trace_id = event.trace_id.as_deref(),
        labels = labels,
        summary = event.summary.as_str(),
        kind = event.kind.as_str(),
        by_whom = by,
        note = note,
        level = level,
    )
}

fn line(event: &LineEvent) -> Row<'_> {
    let (at, kind, signal, component, message, by, note) = match event {
        LineEvent::Stopped {
            at,
            signal,
            component,
            message,
        } => (
            at,
            "stopped",
            Some(signal.to_string()),
            component.as_deref(),
            Some(message.as_str()),
            None,
            None,
        ),
        LineEvent::Resumed { at, by, note } => (
            at,
            "resumed",
            None,
            None,
            None,
            Some(by.as_str()),
            note.as_deref(),
        ),
    };
    row!(
        "line_events",
        at_ms = millis(*at),
        kind = kind,
        signal_id = signal,
        component = component,
        message = message,
        by_whom = by,
        note = note,
    )
}

fn heartbeat(event: &HeartbeatEvent) -> Row<'_> {
    let (kind, status, last_check_in, every) = match &event.kind {
        HeartbeatEventKind::CheckIn { status } => ("check_in", Some(status.as_str()), None, None),
        HeartbeatEventKind::Missed {
            last_check_in,
            every,
        } => (
            "missed",
            None,
            last_check_in.map(millis),
            Some(i64::try_from(every.as_millis()).unwrap_or(i64::MAX)),
        ),
    };
    row!(
        "heartbeats",
        at_ms = millis(event.at),
        name = event.name.as_str(),
        component = event.component.as_str(),
        kind = kind,
        status = status,
        last_check_in_ms = last_check_in,
        every_ms = every,
    )
}

/// The health status's name (`ok`, `degraded`, ...).
fn health(report: &DiagnosticsReport) -> String {
    serde_json::to_value(report.health.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};

    use andon_core::{AlertSeverity, AndonSignal};

    use super::*;

    #[test]
    fn every_row_has_a_cell_per_column_in_the_columns_order() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(2);
        let records = [
            HistoryRecord::Alert(AlertEvent {
                at,
                fingerprint: "f1".into(),
                rule: "disk".into(),
                severity: AlertSeverity::Critical,
                component: None,
                trace_id: Some("t1".into()),
                labels: BTreeMap::new(),
                summary: "disk full".into(),
                kind: AlertEventKind::Escalated { level: 2 },
            }),
            HistoryRecord::Line(LineEvent::Resumed {
                at,
                by: "ann".into(),
                note: None,
            }),
            HistoryRecord::Heartbeat(HeartbeatEvent {
                at,
                name: "backup".into(),
                component: "db".into(),
                kind: HeartbeatEventKind::Missed {
                    last_check_in: None,
                    every: Duration::from_secs(60),
                },
            }),
        ];
        let tables: Vec<&str> = records
            .iter()
            .map(|record| {
                let row = row_of(record).unwrap();
                assert_eq!(row.columns.len(), row.cells.len(), "{}", row.table);
                assert_eq!(
                    (row.columns[0], &row.cells[0]),
                    ("at_ms", &Cell::Int(Some(2000)))
                );
                let level = row.columns.iter().position(|c| *c == "level");
                if let Some(level) = level {
                    assert_eq!(row.cells[level], Cell::Int(Some(2)));
                }
                row.table
            })
            .collect();
        assert_eq!(tables, ["alert_events", "line_events", "heartbeats"]);
        let signal = HistoryRecord::Signal(AndonSignal::red("x").into());
        assert_eq!(row_of(&signal), None);
    }
}
