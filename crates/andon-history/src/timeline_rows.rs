//! A timeline's entries made from the rows both backends read (signals, alert events, line
//! stops and resumptions, diagnostics), and the page cut from them: one wording for SQLite
//! and PostgreSQL. PostgreSQL's entries also name the `instance` that wrote the row.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::query::{StoredSignal, json_or_empty};
use crate::store::from_millis;
use crate::timeline::{Timeline, TimelineEntry};

/// One `alert_events` row.
pub(crate) struct AlertRow {
    pub(crate) at: i64,
    pub(crate) fingerprint: String,
    pub(crate) rule: String,
    pub(crate) severity: String,
    pub(crate) component: Option<String>,
    pub(crate) trace_id: Option<String>,
    pub(crate) summary: String,
    pub(crate) kind: String,
    pub(crate) by: Option<String>,
    pub(crate) note: Option<String>,
    pub(crate) level: Option<i64>,
}

/// Adds `"instance"` to an entry's detail when the backend keeps one.
fn with_instance(mut detail: Value, instance: Option<&str>) -> Value {
    if let (Some(instance), Value::Object(map)) = (instance, &mut detail) {
        map.insert("instance".to_owned(), json!(instance));
    }
    detail
}

impl TimelineEntry {
    /// A signal raised.
    pub(crate) fn signal(signal: &StoredSignal) -> Self {
        TimelineEntry {
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
            detail: serde_json::to_value(signal).unwrap_or(Value::Null),
        }
    }

    /// An alert fired, acknowledged, escalated or resolved.
    pub(crate) fn alert(row: AlertRow, instance: Option<&str>) -> Self {
        let AlertRow {
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
        } = row;
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
        TimelineEntry {
            at: from_millis(at),
            kind: format!("alert.{kind}"),
            summary: format!("alert {rule} ({severity}) {what}: {summary}"),
            component,
            trace_id,
            detail: with_instance(
                json!({
                    "fingerprint": fingerprint, "rule": rule, "severity": severity,
                    "by": by, "note": note, "level": level, "summary": summary,
                }),
                instance,
            ),
        }
    }

    /// The line stopped by the signal `signal`.
    pub(crate) fn line_stopped(
        at: i64,
        signal: Option<&str>,
        component: Option<String>,
        message: Option<&str>,
        instance: Option<&str>,
    ) -> Self {
        TimelineEntry {
            at: from_millis(at),
            kind: "line.stopped".into(),
            summary: format!(
                "line stopped by {}: {}",
                component.as_deref().unwrap_or("unknown"),
                message.unwrap_or("")
            ),
            component,
            trace_id: None,
            detail: with_instance(json!({ "signal": signal }), instance),
        }
    }

    /// The line resumed after a stop.
    pub(crate) fn line_resumed(
        at: i64,
        by: Option<&str>,
        note: Option<&str>,
        instance: Option<&str>,
    ) -> Self {
        TimelineEntry {
            at: from_millis(at),
            kind: "line.resumed".into(),
            summary: format!(
                "line resumed by {}{}",
                by.unwrap_or("someone"),
                note.map(|n| format!(": {n}")).unwrap_or_default()
            ),
            component: None,
            trace_id: None,
            detail: with_instance(json!({ "by": by, "note": note }), instance),
        }
    }

    /// The diagnostics snapshot taken for the signal `signal`.
    pub(crate) fn diagnostics(
        at: i64,
        signal: &str,
        health: &str,
        summary: &str,
        report: Option<String>,
    ) -> Self {
        TimelineEntry {
            at: from_millis(at),
            kind: "diagnostics".into(),
            summary: format!("diagnostics ({health}): {summary}"),
            component: None,
            trace_id: None,
            detail: json!({ "signal": signal, "report": json_or_empty(report) }),
        }
    }
}

/// What a backend gathers about one incident before a page is cut from it: the ids it
/// follows and the steps it found, in any order.
pub(crate) struct Incident {
    key: String,
    /// The trace ids to follow: the key, the backend's widening, and every alert row's.
    pub(crate) trace_ids: BTreeSet<String>,
    /// The fingerprints whose alerts are read: the key and the backend's widening.
    pub(crate) fingerprints: BTreeSet<String>,
    /// The fingerprints that occur in the alert rows read (the ones the timeline names).
    found_fingerprints: BTreeSet<String>,
    /// The steps found so far.
    pub(crate) entries: Vec<TimelineEntry>,
}

impl Incident {
    /// An incident asked for by a trace id or an alert fingerprint `key`.
    pub(crate) fn new(key: &str) -> Self {
        Incident {
            key: key.to_owned(),
            trace_ids: BTreeSet::from([key.to_owned()]),
            fingerprints: BTreeSet::from([key.to_owned()]),
            found_fingerprints: BTreeSet::new(),
            entries: Vec::new(),
        }
    }

    /// Adds an alert row's step, noting its fingerprint (it occurs in the records) and trace
    /// id (the timeline follows it).
    pub(crate) fn alert(&mut self, row: AlertRow, instance: Option<&str>) {
        self.found_fingerprints.insert(row.fingerprint.clone());
        if let Some(trace) = &row.trace_id {
            self.trace_ids.insert(trace.clone());
        }
        self.entries.push(TimelineEntry::alert(row, instance));
    }

    /// The page `offset..offset + limit` of the steps in time order, naming only the trace ids
    /// that occur in it.
    pub(crate) fn page(self, offset: usize, limit: usize) -> Timeline {
        let mut entries = self.entries;
        entries.sort_by_key(|e| e.at);
        let next_offset = (entries.len() > offset + limit).then_some(offset + limit);
        let entries: Vec<TimelineEntry> = entries.into_iter().skip(offset).take(limit).collect();
        let seen_traces: BTreeSet<String> =
            entries.iter().filter_map(|e| e.trace_id.clone()).collect();
        Timeline {
            key: self.key,
            trace_ids: self.trace_ids.intersection(&seen_traces).cloned().collect(),
            fingerprints: self.found_fingerprints.into_iter().collect(),
            entries,
            next_offset,
        }
    }
}
