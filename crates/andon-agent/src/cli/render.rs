//! How the client subcommands print what the agent answers: the line as a sentence, and
//! aligned tables for alerts, diagnostics and the report.

use std::time::Duration;

use serde_json::Value;

pub(super) fn report_tables(by_component: &Value, by_message: &Value, mttr: &Value) -> String {
    let pareto = |value: &Value| -> Vec<Vec<String>> {
        value["rows"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|r| {
                vec![
                    r["count"].to_string(),
                    format!("{:.1}%", r["percent"].as_f64().unwrap_or(0.0)),
                    format!("{:.1}%", r["cumulative_percent"].as_f64().unwrap_or(0.0)),
                    r["key"].as_str().unwrap_or("").to_owned(),
                ]
            })
            .collect()
    };
    let seconds = |v: &Value| match v.as_f64() {
        Some(s) => humantime::format_duration(Duration::from_secs(s.round() as u64)).to_string(),
        None => "-".to_owned(),
    };
    let times: Vec<Vec<String>> = mttr["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|c| {
            vec![
                c["component"].as_str().unwrap_or("").to_owned(),
                c["fired"].to_string(),
                c["acknowledged"].to_string(),
                c["resolved"].to_string(),
                seconds(&c["mtta_seconds"]),
                seconds(&c["mttr_seconds"]),
            ]
        })
        .collect();
    let window = format!(
        "{} to {}",
        by_component["window"]["from"].as_str().unwrap_or("?"),
        by_component["window"]["to"].as_str().unwrap_or("?")
    );
    let mut out = format!(
        "Problems (RED and YELLOW) from {window}: {} in all\n\nPareto by component\n",
        by_component["total"]
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
pub(super) fn describe_line(state: &Value) -> String {
    let since = state["since"].as_str().unwrap_or("?");
    match state["state"].as_str() {
        Some("STOPPED") => {
            let signal = &state["signal"];
            let component = signal["component"].as_str().unwrap_or("unknown");
            format!(
                "STOPPED since {since} by {} from {component}: {} (signal {})",
                signal["color"]
                    .as_str()
                    .unwrap_or("red")
                    .to_ascii_uppercase(),
                signal["message"].as_str().unwrap_or(""),
                signal["id"].as_str().unwrap_or("?"),
            )
        }
        _ => match state["resumed"]["by"].as_str() {
            Some(by) => {
                let note = state["resumed"]["note"]
                    .as_str()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default();
                format!("RUNNING since {since}, resumed by {by}{note}")
            }
            None => format!("RUNNING since {since}"),
        },
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

pub(super) fn alerts_table(alerts: &Value) -> String {
    let rows: Vec<Vec<String>> = alerts
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let text = |k: &str| a[k].as_str().unwrap_or("").to_owned();
            let state = match a["acknowledged_by"].as_str() {
                Some(by) => format!("{} (acked by {by})", text("state")),
                None => text("state"),
            };
            vec![
                text("fingerprint"),
                text("severity").to_ascii_uppercase(),
                state,
                text("since"),
                text("rule"),
                text("summary"),
                // The trace UI's link when `[tracer] ui_url` is set, else the id itself.
                a["trace_url"]
                    .as_str()
                    .or(a["trace_id"].as_str())
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

pub(super) fn diagnostics_table(report: &Value) -> String {
    let mut rows = vec![
        vec![
            "taken_at".to_owned(),
            report["taken_at"].as_str().unwrap_or("?").to_owned(),
        ],
        vec![
            "health".to_owned(),
            report["health"]["status"]
                .as_str()
                .unwrap_or("?")
                .to_owned(),
        ],
        vec![
            "summary".to_owned(),
            report["summary"].as_str().unwrap_or("").to_owned(),
        ],
    ];
    for reason in report["health"]["reasons"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        rows.push(vec![
            "reason".to_owned(),
            reason.as_str().unwrap_or("").to_owned(),
        ]);
    }
    let mut flat = Vec::new();
    flatten("", &report["details"], &mut flat);
    rows.extend(flat.into_iter().map(|(k, v)| vec![k, v]));
    table(&["FIELD", "VALUE"], &rows)
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
    use serde_json::json;

    use super::*;

    #[test]
    fn the_line_reads_as_a_sentence() {
        let stopped = json!({"state":"STOPPED","since":"t0","signal":{"id":"i","color":"red","message":"disk full","component":"db"}});
        assert_eq!(
            describe_line(&stopped),
            "STOPPED since t0 by RED from db: disk full (signal i)"
        );
        let running = json!({"state":"RUNNING","since":"t1","resumed":{"by":"alice","note":"fixed","at":"t1"}});
        assert_eq!(
            describe_line(&running),
            "RUNNING since t1, resumed by alice: fixed"
        );
    }

    #[test]
    fn tables_align_their_columns() {
        let text = alerts_table(&json!([
            {"fingerprint":"abc","severity":"critical","state":"firing","since":"t","rule":"r","summary":"s"},
            {"fingerprint":"abcdef","severity":"info","state":"pending","since":"t","rule":"r2","summary":"s2","acknowledged_by":"bo"}
        ]));
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("FINGERPRINT  SEVERITY"), "{text}");
        assert!(lines[1].starts_with("abc          CRITICAL"), "{text}");
        assert!(lines[2].contains("pending (acked by bo)"), "{text}");
        let linked = alerts_table(&json!([
            {"fingerprint":"f","severity":"critical","state":"firing","since":"t","rule":"r","summary":"s",
             "trace_id":"trace-123","trace_url":"http://j/trace/00ff"},
            {"fingerprint":"g","severity":"info","state":"firing","since":"t","rule":"r","summary":"s","trace_id":"trace-9"}
        ]));
        assert!(
            linked.lines().next().unwrap().ends_with("TRACE"),
            "{linked}"
        );
        assert!(linked.contains(" http://j/trace/00ff"), "{linked}");
        assert!(linked.contains(" trace-9"), "{linked}");
        assert_eq!(alerts_table(&json!([])), "no open alerts\n");
        let diag = diagnostics_table(
            &json!({"taken_at":"t","health":{"status":"Degraded","reasons":["memory 91%"]},
            "summary":"memory 91%","details":{"memory":{"used_percent":91.0},"disks":[{"mount":"/"}]}}),
        );
        assert!(diag.contains("memory.used_percent  91.0"), "{diag}");
        assert!(diag.contains("disks.0.mount"), "{diag}");
        assert!(diag.contains("reason"), "{diag}");
    }
}
