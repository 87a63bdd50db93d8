//! The rows a record other than a signal writes, described once for both backends: each row
//! type names its table and, beside each field, the column it fills. A backend only binds a
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

/// Declares a row type whose fields fill the named columns of one table, and its
/// conversion into a [`Row`].
macro_rules! table_row {
    (
        $(#[doc = $doc:literal])*
        $name:ident => $table:literal {
            $($field:ident: $ty:ty => $column:literal,)+
        }
    ) => {
        $(#[doc = $doc])*
        struct $name<'a> {
            $($field: $ty,)+
        }

        impl<'a> $name<'a> {
            fn into_row(self) -> Row<'a> {
                Row {
                    table: $table,
                    columns: &[$($column),+],
                    cells: vec![$(IntoCell::into_cell(self.$field)),+],
                }
            }
        }
    };
}

table_row! {
    /// An alert's state change.
    AlertRow => "alert_events" {
        at: i64 => "at_ms",
        fingerprint: &'a str => "fingerprint",
        rule: &'a str => "rule",
        severity: &'static str => "severity",
        component: Option<&'a str> => "component",
        trace_id: Option<&'a str> => "trace_id",
        labels: String => "labels",
        summary: &'a str => "summary",
        kind: &'static str => "kind",
        by: Option<&'a str> => "by_whom",
        note: Option<&'a str> => "note",
        level: Option<i64> => "level",
    }
}

table_row! {
    /// A line stop or resumption.
    LineRow => "line_events" {
        at: i64 => "at_ms",
        kind: &'static str => "kind",
        signal: Option<String> => "signal_id",
        component: Option<&'a str> => "component",
        message: Option<&'a str> => "message",
        by: Option<&'a str> => "by_whom",
        note: Option<&'a str> => "note",
    }
}

table_row! {
    /// A heartbeat's check-in or miss.
    HeartbeatRow => "heartbeats" {
        at: i64 => "at_ms",
        name: &'a str => "name",
        component: &'a str => "component",
        kind: &'static str => "kind",
        status: Option<&'static str> => "status",
        last_check_in: Option<i64> => "last_check_in_ms",
        every: Option<i64> => "every_ms",
    }
}

table_row! {
    /// The diagnostics snapshot taken for a RED signal.
    DiagnosticsRow => "diagnostics" {
        at: i64 => "at_ms",
        signal: String => "signal_id",
        health: String => "health",
        summary: &'a str => "summary",
        report: String => "report",
    }
}

/// The row `record` writes; `None` for a signal, whose rows its backend writes in bulk.
pub(crate) fn row_of(record: &HistoryRecord) -> Option<Row<'_>> {
    Some(match record {
        HistoryRecord::Signal(_) => return None,
        HistoryRecord::Alert(event) => alert(event).into_row(),
        HistoryRecord::Line(event) => line(event).into_row(),
        HistoryRecord::Heartbeat(event) => heartbeat(event).into_row(),
        HistoryRecord::Diagnostics { signal, report } => DiagnosticsRow {
            at: millis(report.taken_at),
            signal: signal.to_string(),
            health: health(report),
            summary: &report.summary,
            report: serde_json::to_string(report).unwrap_or_else(|_| "{}".to_owned()),
        }
        .into_row(),
    })
}

fn alert(event: &AlertEvent) -> AlertRow<'_> {
    let (by, note, level) = match &event.kind {
        AlertEventKind::Acknowledged { by, note } => (Some(by.as_str()), Some(note.as_str()), None),
        AlertEventKind::Escalated { level } => (None, None, Some(i64::from(*level))),
        AlertEventKind::Fired | AlertEventKind::Resolved => (None, None, None),
    };
    AlertRow {
        at: millis(event.at),
        fingerprint: &event.fingerprint,
        rule: &event.rule,
        severity: event.severity.as_str(),
        component: event.component.as_deref(),
        trace_id: event.trace_id.as_deref(),
        labels: serde_json::to_string(&event.labels).unwrap_or_else(|_| "{}".to_owned()),
        summary: &event.summary,
        kind: event.kind.as_str(),
        by,
        note,
        level,
    }
}

fn line(event: &LineEvent) -> LineRow<'_> {
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

fn heartbeat(event: &HeartbeatEvent) -> HeartbeatRow<'_> {
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
    HeartbeatRow {
        at: millis(event.at),
        name: &event.name,
        component: &event.component,
        kind,
        status,
        last_check_in,
        every,
    }
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
