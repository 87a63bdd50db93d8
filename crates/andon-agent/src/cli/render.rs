//! How the client subcommands print what the agent answers: the line as a sentence, and
//! aligned tables for alerts, diagnostics and the report.

use std::time::Duration;

use serde_json::Value;

use crate::api::{AlertView, DiagnosticsReport, LineState, ParetoReport, ResponseTimesReport};

pub(super) fn report_tables(
    by_component: &ParetoReport,
    by_message: &ParetoReport,
    mttr: &ResponseTimesReport,
) -> String {
    let pareto = |report: &ParetoReport| -> Vec<Vec<String>> {
        report
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.count.to_string(),
                    format!("{:.1}%", r.percent),
                    format!("{:.1}%", r.cumulative_percent),
                    r.key.clone(),
                ]
            })
            .collect()
    };
    let seconds = |v: Option<f64>| match v {
        Some(s) => humantime::format_duration(Duration::from_secs(s.round() as u64)).to_string(),
        None => "-".to_owned(),
    };
    let times: Vec<Vec<String>> = mttr
        .components
        .iter()
        .map(|c| {
            vec![
                c.component.clone(),
                c.fired.to_string(),
                c.acknowledged.to_string(),
                c.resolved.to_string(),
                seconds(c.mtta_seconds),
                seconds(c.mttr_seconds),
            ]
        })
        .collect();
    let window = format!(
        "{} to {}",
        humantime::format_rfc3339_nanos(by_component.window.from),
        humantime::format_rfc3339_nanos(by_component.window.to)
    );
    let mut out = format!(
        "Problems (RED and YELLOW) from {window}: {} in all\n\nPareto by component\n",
        by_component.total
    );
    out.push_str(&table(
        &["COUNT", "SHARE", "CUMULATIVE", "COMPONENT"],
        &pareto(by_component),
    ));
    out.push_str("\nPareto by message\n");
    out.push_str(&table(
        &["COUNT", "SHARE", "CUMULATIVE", "MESSAGE"],
        &pareto(by_message),
    ));
    out.push_str("\nAlert response times\n");
    out.push_str(&table(
        &["COMPONENT", "FIRED", "ACKED", "RESOLVED", "MTTA", "MTTR"],
        &times,
    ));
    out
}

/// One line about the line's state.
pub(super) fn describe_line(state: &LineState) -> String {
    match state {
        LineState::Stopped { since, signal } => format!(
            "STOPPED since {} by {} from {}: {} (signal {})",
            humantime::format_rfc3339_nanos(*since),
            signal.color().as_str().to_ascii_uppercase(),
            signal.component_or_unknown(),
            signal.message(),
            signal.id(),
        ),
        LineState::Running { since, resumed } => {
            let since = humantime::format_rfc3339_nanos(*since);
            match resumed {
                Some(resumed) => {
                    let note = resumed
                        .note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default();
                    format!("RUNNING since {since}, resumed by {}{note}", resumed.by)
                }
                None => format!("RUNNING since {since}"),
            }
        }
    }
}

pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

pub(super) fn alerts_table(alerts: &[AlertView]) -> String {
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            let state = match &a.acknowledged_by {
                Some(by) => format!("{} (acked by {by})", a.state),
                None => a.state.clone(),
            };
            vec![
                a.fingerprint.clone(),
                a.severity.to_ascii_uppercase(),
                state,
                a.since.clone(),
                a.rule.clone(),
                a.summary.clone(),
                // The trace UI's link when `[tracer] ui_url` is set, else the id itself.
                a.trace_url
                    .as_deref()
                    .or(a.trace_id.as_deref())
                    .unwrap_or("")
                    .to_owned(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no open alerts\n".to_owned();
    }
    table(
        &[
            "FINGERPRINT",
            "SEVERITY",
            "STATE",
            "SINCE",
            "RULE",
            "SUMMARY",
            "TRACE",
        ],
        &rows,
    )
}

pub(super) fn diagnostics_table(report: &DiagnosticsReport) -> String {
    let mut rows = vec![
        vec![
            "taken_at".to_owned(),
            humantime::format_rfc3339_nanos(report.taken_at).to_string(),
        ],
        vec!["health".to_owned(), health_status(report)],
        vec!["summary".to_owned(), report.summary.clone()],
    ];
    for reason in &report.health.reasons {
        rows.push(vec!["reason".to_owned(), reason.clone()]);
    }
    let mut flat = Vec::new();
    flatten("", &report.details, &mut flat);
    rows.extend(flat.into_iter().map(|(k, v)| vec![k, v]));
    table(&["FIELD", "VALUE"], &rows)
}

/// The health status as the API writes it (`Healthy`, `Degraded`, ...).
fn health_status(report: &DiagnosticsReport) -> String {
    match serde_json::to_value(report.health.status) {
        Ok(Value::String(status)) => status,
        _ => format!("{:?}", report.health.status),
    }
}

/// Flattens nested JSON into `a.b.c = value` rows (arrays by index), at most 200 rows.
pub(super) fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    if out.len() >= 200 {
        return;
    }
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(&key(k), v, out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(&key(&i.to_string()), v, out)),
        Value::Null if prefix.is_empty() => {}
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use super::*;

    fn read<T: DeserializeOwned>(value: Value) -> T {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_line_reads_as_a_sentence() {
        let stopped: LineState = read(json!({"state":"STOPPED","since":"2026-12-01T10:00:00Z",
            "signal":{"id":"0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b","timestamp":"2026-12-01T10:00:00Z",
                      "color":"red","message":"disk full","component":"db"}}));
        assert_eq!(
            describe_line(&stopped),
            "STOPPED since 2026-12-01T10:00:00.000000000Z by RED from db: disk full (signal 0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b)"
        );
        let running: LineState = read(json!({"state":"RUNNING","since":"2026-12-01T11:00:00Z",
            "resumed":{"by":"alice","note":"fixed","at":"2026-12-01T11:00:00Z"}}));
        assert_eq!(
            describe_line(&running),
            "RUNNING since 2026-12-01T11:00:00.000000000Z, resumed by alice: fixed"
        );
    }

    #[test]
    fn tables_align_their_columns() {
        let text = alerts_table(&read::<Vec<AlertView>>(json!([
            {"fingerprint":"abc","severity":"critical","state":"firing","since":"t","rule":"r","summary":"s","count":1},
            {"fingerprint":"abcdef","severity":"info","state":"pending","since":"t","rule":"r2","summary":"s2","count":1,"acknowledged_by":"bo"}
        ])));
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("FINGERPRINT  SEVERITY"), "{text}");
        assert!(lines[1].starts_with("abc          CRITICAL"), "{text}");
        assert!(lines[2].contains("pending (acked by bo)"), "{text}");
        let linked = alerts_table(&read::<Vec<AlertView>>(json!([
            {"fingerprint":"f","severity":"critical","state":"firing","since":"t","rule":"r","summary":"s","count":1,
             "trace_id":"trace-123","trace_url":"http://j/trace/00ff"},
            {"fingerprint":"g","severity":"info","state":"firing","since":"t","rule":"r","summary":"s","count":1,"trace_id":"trace-9"}
        ])));
        assert!(
            linked.lines().next().unwrap().ends_with("TRACE"),
            "{linked}"
        );
        assert!(linked.contains(" http://j/trace/00ff"), "{linked}");
        assert!(linked.contains(" trace-9"), "{linked}");
        assert_eq!(alerts_table(&[]), "no open alerts\n");
        let diag = diagnostics_table(&read(
            json!({"taken_at":"2026-12-01T10:00:00Z","health":{"status":"Degraded","reasons":["memory 91%"]},
            "summary":"memory 91%","details":{"memory":{"used_percent":91.0},"disks":[{"mount":"/"}]}}),
        ));
        assert!(diag.contains("memory.used_percent  91.0"), "{diag}");
        assert!(diag.contains("disks.0.mount"), "{diag}");
        assert!(diag.contains("reason"), "{diag}");
        assert!(diag.contains("Degraded"), "{diag}");
    }
}
