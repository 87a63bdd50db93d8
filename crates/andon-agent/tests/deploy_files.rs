//! The operations files in `deploy/` and what an installed agent needs: the Grafana dashboard
//! and the Prometheus rules name only metrics andon exports (the names declared in the code, and
//! those a real agent's /metrics shows); `andon generate-dist` writes completions and man pages.
//! (The data folder, `--data-dir` or systemd's `$STATE_DIRECTORY`, is tested in `data_dir.rs`.)
//! (`cargo xtask ops` runs systemd-analyze and promtool on the same files.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for, workspace_root};
use serde_json::Value;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

/// Series names Prometheus makes itself, which a query may use beside andon's.
const PROMETHEUS_OWN: &[&str] = &["up"];

/// Every `andon_…` (and Prometheus-own) metric name in a PromQL expression or YAML text, with a
/// histogram's `_bucket`/`_sum`/`_count` suffix kept (the caller strips it).
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if ident(bytes[i]) && (i == 0 || !ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            let word = &text[start..i];
            // A label name is followed by `=`, `!=` or `=~`; a metric name is not.
            let label = text[i..].trim_start().starts_with(['=', '!']);
            if !label && (word.starts_with("andon_") || PROMETHEUS_OWN.contains(&word)) {
                names.insert(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The metric names declared in the crates' sources: every string literal `"andon_…"`.
fn declared_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut stack = vec![workspace_root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                // Sources only: tests and benches may name metrics of their own.
                if !["tests", "benches", "examples", "target"].contains(&name.as_str()) {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("\"andon_").skip(1) {
                    let end = piece
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(piece.len());
                    if piece[end..].starts_with('"') {
                        names.insert(format!("andon_{}", &piece[..end]));
                    }
                }
            }
        }
    }
    names
}

/// A name as exported: a histogram's series suffixes map to the histogram.
fn base_name<'a>(name: &'a str, declared: &BTreeSet<String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && declared.contains(base)
        {
            return base;
        }
    }
    name
}

fn dashboard() -> Value {
    let path = workspace_root().join("deploy/grafana/andon-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every query of the dashboard: the panels' `expr` and the variables' `query`.
fn queries(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr" | "query", Value::String(q)) => out.push(q.clone()),
                    _ => queries(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

fn unknown(names: &BTreeSet<String>, declared: &BTreeSet<String>) -> Vec<String> {
    names
        .iter()
        .filter(|n| {
            !PROMETHEUS_OWN.contains(&n.as_str()) && !declared.contains(base_name(n, declared))
        })
        .cloned()
        .collect()
}

#[test]
fn the_name_reader_finds_metrics_and_skips_labels() {
    let names = metric_names(
        r#"sum by (channel) (increase(andon_alert_notifications_total{outcome="failed", andon_x="y"}[5m])) > 0 or up{job="andon"} == 0 or andon_nope_bucket"#,
    );
    let expected: BTreeSet<String> = ["andon_alert_notifications_total", "up", "andon_nope_bucket"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(names, expected);
    let declared = declared_names();
    assert_eq!(
        unknown(&names, &declared),
        vec!["andon_nope_bucket".to_owned()],
        "a made-up name must be reported"
    );
}

#[test]
fn dashboard_and_alert_rules_name_only_metrics_andon_declares() {
    let declared = declared_names();
    for core in [
        "andon_signals_total",
        "andon_line_stopped",
        "andon_log_records_total",
    ] {
        assert!(declared.contains(core), "{core} not found in crates/*/src");
    }

    let mut texts = Vec::new();
    queries(&dashboard(), &mut texts);
    assert!(
        texts.len() >= 15,
        "the dashboard has {} queries",
        texts.len()
    );
    let on_dashboard: BTreeSet<String> = texts.iter().flat_map(|q| metric_names(q)).collect();
    assert!(on_dashboard.len() >= 15, "{on_dashboard:?}");
    assert_eq!(
        unknown(&on_dashboard, &declared),
        Vec::<String>::new(),
        "the dashboard queries metrics andon does not export"
    );

    let rules = std::fs::read_to_string(workspace_root().join("deploy/prometheus/andon-rules.yml"))
        .unwrap();
    let exprs: String = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("expr:"))
        .collect::<Vec<_>>()
        .join("\n");
    let in_rules = metric_names(&exprs);
    for needed in [
        "andon_line_stopped",
        "andon_log_records_total",
        "andon_trace_spans_total",
        "andon_alert_notifications_total",
        "up",
    ] {
        assert!(in_rules.contains(needed), "no rule reads {needed}");
    }
    assert_eq!(
        unknown(&in_rules, &declared),
        Vec::<String>::new(),
        "the alerting rules query metrics andon does not export"
    );
}

/// `# TYPE name kind` lines of an exposition: the metric families it holds.
fn families(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn start_agent(dir: &Path, config: &str, envs: &[(&str, &Path)], args: &[&str]) -> (Peer, String) {
    let file = dir.join("andon.toml");
    std::fs::write(&file, config).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let mut builder = Peer::builder(ANDON)
        .args(["run", "--config", "andon.toml", "--listen", &listen])
        .args(args)
        .current_dir(dir)
        .ready(Ready::Http(format!("{url}/healthz")));
    for (key, value) in envs {
        builder = builder.env(key, value);
    }
    (builder.start().unwrap(), url)
}

#[test]
fn a_real_agent_exports_what_the_dashboard_reads() {
    let dir = temp_dir();
    let (agent, url) = start_agent(
        dir.path(),
        "[tracer]\nenabled = false\n[observer]\nenabled = false\n",
        &[],
        &[],
    );
    let status = std::process::Command::new(ANDON)
        .args(["signal", "red", "disk full", "-c", "db", "--url", &url])
        .env_remove("ANDON_TOKEN")
        .status()
        .unwrap();
    assert!(status.success());
    // The logger's counters reach /metrics on the next second's publication.
    let scraped = wait_for(Duration::from_secs(30), || {
        let (code, body) = http_get(&format!("{url}/metrics")).ok()?;
        let names = families(&body);
        (code == 200 && names.contains("andon_log_records_total")).then_some(names)
    })
    .unwrap_or_else(|| {
        panic!(
            "no andon_log_records_total on /metrics; agent said:\n{}",
            agent.output()
        )
    });

    let declared = declared_names();
    let exported: BTreeSet<String> = scraped
        .into_iter()
        .filter(|n| n.starts_with("andon_"))
        .collect();
    // The source scan stands for what an agent exports: nothing on /metrics escapes it.
    assert_eq!(unknown(&exported, &declared), Vec::<String>::new());

    let mut texts = Vec::new();
    queries(&dashboard(), &mut texts);
    let on_dashboard: BTreeSet<String> = texts
        .iter()
        .flat_map(|q| metric_names(q))
        .map(|n| base_name(&n, &declared).to_owned())
        .collect();
    for shown in [
        "andon_signals_total",
        "andon_line_stopped",
        "andon_log_records_total",
    ] {
        assert!(
            exported.contains(shown),
            "{shown} not on /metrics: {exported:?}"
        );
        assert!(on_dashboard.contains(shown), "{shown} not on the dashboard");
    }
}

#[test]
fn generate_dist_writes_completions_and_man_pages_for_every_subcommand() {
    let out = temp_dir();
    let status = std::process::Command::new(ANDON)
        .arg("generate-dist")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success());
    let read = |p: &str| std::fs::read_to_string(out.path().join(p)).unwrap();
    let bash = read("completions/andon.bash");
    for word in ["signal", "line", "ack", "alerts", "report", "--data-dir"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    assert!(
        !bash.contains("generate-dist"),
        "the hidden generator is offered"
    );
    assert!(read("completions/_andon").contains("#compdef andon"));
    assert!(read("completions/andon.fish").contains("complete -c andon"));
    assert!(read("completions/_andon.ps1").contains("andon"));
    let man = read("man/andon.1");
    assert!(man.contains(".TH andon"), "{man}");
    assert!(man.contains("pull the cord over HTTP"), "{man}");
    assert!(
        !out.path().join("man/andon-help.1").exists(),
        "a page for `help`"
    );
    assert!(read("man/andon-run.1").contains("data\\-dir"));
}
