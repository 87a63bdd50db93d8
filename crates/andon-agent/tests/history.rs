//! The history through the agent: `GET /v1/history/...` and `andon report` against the real
//! binary with a SQLite file, kept across an agent restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};
use serde_json::Value;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

fn config(dir: &Path) -> String {
    format!(
        r#"
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false

[history]
enabled = true
path = "{}"

[[alerts.rules]]
name = "db-red"
condition = {{ type = "signal", color = "red", component = "db", window = "10m" }}
severity = "critical"
labels = {{ component = "db" }}
summary = "db pulled the cord"
"#,
        dir.join("history.sqlite3").display()
    )
}

fn start(dir: &Path) -> (Peer, String) {
    let path = dir.join("andon.toml");
    std::fs::write(&path, config(dir)).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let agent = Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            path.display().to_string(),
            "--listen".to_owned(),
            listen,
            "--data-dir".to_owned(),
            dir.join("data").display().to_string(),
        ])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    (agent, url)
}

fn andon(url: &str, args: &[&str]) -> Output {
    let out = Command::new(ANDON)
        .args(args)
        .args(["--url", url])
        .env_remove("ANDON_TOKEN")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "andon {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn get(url: &str) -> (u16, Value) {
    let (status, body) = http_get(url).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn history_endpoints_and_report_survive_a_restart() {
    let dir = temp_dir();
    let (agent, url) = start(dir.path());
    for (color, component, message) in [
        ("red", "db", "connection pool exhausted after 120 ms"),
        ("red", "db", "connection pool exhausted after 340 ms"),
        ("yellow", "queue", "queue depth 150"),
        ("green", "web", "ok"),
    ] {
        andon(
            &url,
            &[
                "signal",
                color,
                message,
                "-c",
                component,
                "--trace-id",
                &format!("trace-{component}"),
            ],
        );
    }
    // The alert fired on the first RED: acknowledge it, then resume the line.
    let alerts = wait_for(Duration::from_secs(10), || {
        let (_, body) = get(&format!("{url}/v1/alerts"));
        body["alerts"][0]["fingerprint"].as_str().map(str::to_owned)
    })
    .expect("the db alert fires");
    andon(&url, &["ack", &alerts, "--by", "alice"]);
    andon(
        &url,
        &["line", "resume", "--by", "bob", "--note", "pool resized"],
    );

    // The writer is in the background: wait until the Pareto has every problem.
    let pareto = wait_for(Duration::from_secs(10), || {
        let (status, body) = get(&format!("{url}/v1/history/pareto?since=1h"));
        (status == 200 && body["total"] == 3).then_some(body)
    })
    .expect("the Pareto counts the three problems");
    assert_eq!(pareto["rows"][0]["key"], "db");
    assert_eq!(pareto["rows"][0]["count"], 2);
    assert_eq!(pareto["rows"][0]["cumulative_percent"], 66.67);
    assert_eq!(pareto["rows"][1]["cumulative_percent"], 100.0);

    let (_, by_message) = get(&format!("{url}/v1/history/pareto?since=1h&by=fingerprint"));
    assert_eq!(
        by_message["rows"][0]["key"],
        "connection pool exhausted after # ms"
    );
    assert_eq!(by_message["rows"][0]["count"], 2);

    let (_, signals) = get(&format!(
        "{url}/v1/history/signals?since=1h&component=db&color=red"
    ));
    assert_eq!(signals["signals"].as_array().unwrap().len(), 2);

    let mttr = wait_for(Duration::from_secs(10), || {
        let (_, body) = get(&format!("{url}/v1/history/mttr?since=1h"));
        (body["components"][0]["acknowledged"] == 1).then_some(body)
    })
    .expect("the acknowledgement is in the history");
    assert_eq!(mttr["components"][0]["component"], "db");
    assert_eq!(mttr["components"][0]["fired"], 1);
    assert!(mttr["components"][0]["mtta_seconds"].as_f64().unwrap() >= 0.0);

    let (status, timeline) = get(&format!("{url}/v1/history/timeline/trace-db"));
    assert_eq!(status, 200, "{timeline}");
    let kinds: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "signal",
        "line.stopped",
        "alert.fired",
        "alert.acknowledged",
        "line.resumed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    assert_eq!(timeline["trace_ids"][0], "trace-db");

    let (_, downtime) = get(&format!("{url}/v1/history/downtime?since=24h&bucket=1h"));
    assert!(
        downtime["stopped_seconds"].as_f64().unwrap() > 0.0,
        "{downtime}"
    );
    assert!(downtime["buckets"].as_array().unwrap().len() >= 24);

    // Bad parameters name the parameter.
    let (status, error) = get(&format!("{url}/v1/history/pareto?since=soon"));
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().starts_with("since:"),
        "{error}"
    );
    let (status, error) = get(&format!("{url}/v1/history/pareto?by=color"));
    assert_eq!(status, 400);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("component or fingerprint"),
        "{error}"
    );
    let (status, _) = get(&format!("{url}/v1/history/timeline/no-such-trace"));
    assert_eq!(status, 404);

    // Restart: the file keeps everything.
    drop(agent);
    let (_agent, url) = start(dir.path());
    let report = andon(&url, &["report", "--since", "1d"]);
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("Pareto by component"), "{text}");
    assert!(
        text.contains("connection pool exhausted after # ms"),
        "{text}"
    );
    let db_line = text
        .lines()
        .find(|l| l.trim_end().ends_with("  db"))
        .unwrap_or_else(|| panic!("a db row: {text}"));
    assert!(
        db_line.starts_with("2 ") && db_line.contains("66.7%"),
        "{db_line}"
    );
    assert!(text.contains("Alert response times"), "{text}");
    let json = andon(&url, &["report", "--since", "1d", "--json"]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["pareto_by_component"]["total"], 3);
    assert_eq!(json["response_times"][0]["component"], "db");
    assert_eq!(json["response_times"][0]["acknowledged"], 1);
}

#[test]
fn without_history_the_endpoints_say_how_to_enable_it() {
    let dir = temp_dir();
    let path = dir.path().join("andon.toml");
    std::fs::write(
        &path,
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n[history]\nenabled = false\n",
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let data = dir.path().join("data");
    let _agent = Peer::builder(ANDON)
        .args([
            "run",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            &listen,
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    let (status, error) = get(&format!("{url}/v1/history/pareto"));
    assert_eq!(status, 404);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("[history] enabled = true"),
        "{error}"
    );
    let out = Command::new(ANDON)
        .args(["report", "--url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[history] enabled = true"));
}
