//! The API over a system with its components on: open alerts listed and acknowledged (through
//! the API and the `andon` binary), `/metrics` in the Prometheus text format (checked by
//! `promtool`), and diagnostics from the observer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod common;

use std::process::Command;
use std::time::Duration;

use andon_tests::find_peer;
use common::TestAgent;
use serde_json::{Value, json};

const CONFIG: &str = r#"
[tracer]
enabled = false
[logger]
level = "CRITICAL"
sinks = ["Stderr"]

[[alerts.rules]]
name = "db-red"
condition = { type = "signal", color = "red", component = "db", window = "10m" }
severity = "critical"
labels = { component = "db" }
summary = "the database pulled the cord"
"#;

/// Polls `GET path` until `ready` holds for the body (the alert manager works off the caller's path).
async fn eventually(agent: &TestAgent, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        let (_, body) = agent.get(path).await;
        if ready(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never got there: {:?}", agent.get(path).await.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_opens_an_alert_the_board_shows_and_an_ack_acknowledges() {
    let agent = TestAgent::start(CONFIG).await;
    let (status, _) = agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"disk full","component":"db"}"#,
        )
        .await;
    assert_eq!(status, 201);
    let alerts = eventually(&agent, "/v1/alerts", |b| {
        b["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(alerts["alerting"], true);
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["rule"], "db-red");
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["component"], "db");
    assert_eq!(alert["summary"], "the database pulled the cord");
    assert!(alert.get("acknowledged_by").is_none());
    let fingerprint = alert["fingerprint"].as_str().unwrap().to_owned();

    let (_, board) = agent.get("/v1/board").await;
    assert_eq!(board["alerts"][0]["fingerprint"], fingerprint.as_str());
    assert_eq!(
        board["stations"][0]["open_alerts"][0]["fingerprint"],
        fingerprint.as_str(),
        "{board}"
    );

    let (status, error) = agent.post("/v1/alerts/feedbeef/ack", "").await;
    assert_eq!(status, 404);
    assert!(
        error["error"].as_str().unwrap().contains("feedbeef"),
        "{error}"
    );

    // The binary lists it and acknowledges it.
    let andon = env!("CARGO_BIN_EXE_andon");
    let url = agent.url.clone();
    let listed = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            Command::new(andon)
                .args(["alerts", "--url", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let table = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(table.starts_with("FINGERPRINT"), "{table}");
    assert!(
        table.contains(&fingerprint) && table.contains("CRITICAL") && table.contains("db-red"),
        "{table}"
    );
    let acked = tokio::task::spawn_blocking({
        let fingerprint = fingerprint.clone();
        move || {
            Command::new(andon)
                .args(["ack", &fingerprint, "--by", "dana", "--url", &url])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert_eq!(
        acked.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&acked.stderr)
    );
    assert!(String::from_utf8_lossy(&acked.stdout).contains("acknowledged 1 alert(s)"));

    let (_, alerts) = agent.get("/v1/alerts").await;
    assert_eq!(alerts["alerts"][0]["acknowledged_by"], "dana", "{alerts}");
    let (status, answer) = agent
        .post("/v1/alerts/db-red/ack", r#"{"by":"erin"}"#)
        .await;
    assert_eq!(
        (status, answer["acknowledged"].clone()),
        (200, json!(1)),
        "a rule name acknowledges its alerts too"
    );
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_on_the_agent_listener_in_the_prometheus_format() {
    let agent = TestAgent::start(CONFIG).await;
    agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"disk full","component":"db"}"#,
        )
        .await;
    agent
        .post(
            "/v1/signals",
            r#"{"color":"yellow","message":"slow","component":"web"}"#,
        )
        .await;
    let response = agent.http.get(agent.at("/metrics")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let signal_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("andon_signals_total{"))
        .collect();
    assert!(
        signal_lines
            .iter()
            .any(|l| l.contains("component=\"db\"") && l.contains("red")),
        "{text}"
    );
    assert!(
        signal_lines
            .iter()
            .any(|l| l.contains("component=\"web\"") && l.contains("yellow")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "andon_line_stopped 1"),
        "the stopped line is a gauge: {text}"
    );

    if let Some(promtool) = find_peer("promtool", "apt-get install prometheus") {
        let out = andon_tests::run_with_stdin(promtool, ["check", "metrics"], &text);
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // promtool exits 1 for lint warnings (such as missing HELP) and 3 for parse errors.
        assert_ne!(
            out.status.code(),
            Some(3),
            "promtool cannot parse /metrics: {report}"
        );
        assert!(!report.contains("error while"), "{report}");
    }
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_come_from_the_observer() {
    let agent = TestAgent::start(
        "[tracer]\nenabled = false\n[metrics]\nenabled = false\n[logger]\nsinks = [\"Stderr\"]\n",
    )
    .await;
    let (status, report) = agent.get("/v1/diagnostics").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        ["Healthy", "Degraded", "Critical"].contains(&report["health"]["status"].as_str().unwrap()),
        "{report}"
    );
    assert!(!report["summary"].as_str().unwrap().is_empty());
    assert!(report["taken_at"].is_string());
    let andon = env!("CARGO_BIN_EXE_andon");
    let url = agent.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        (
            Command::new(andon)
                .args(["diagnose", "--url", &url])
                .output()
                .unwrap(),
            Command::new(andon)
                .args(["diagnose", "--json", "--url", &url])
                .output()
                .unwrap(),
        )
    })
    .await
    .unwrap();
    let table = String::from_utf8_lossy(&out.0.stdout).into_owned();
    assert_eq!(
        out.0.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.0.stderr)
    );
    assert!(
        table.starts_with("FIELD") && table.contains("health") && table.contains("summary"),
        "{table}"
    );
    let json: Value = serde_json::from_slice(&out.1.stdout).unwrap();
    assert!(json["health"]["status"].is_string(), "{json}");
    agent.stop().await.unwrap();
}

/// Reads server-sent events until one named `name` whose data satisfies `wanted` arrives.
async fn next_event(
    reader: &mut tokio::io::BufReader<tokio::net::TcpStream>,
    name: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    use tokio::io::AsyncBufReadExt;
    let mut current = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "the event stream ended before a `{name}` event");
        let line = line.trim_end();
        if let Some(event) = line.strip_prefix("event:") {
            current = event.trim().to_owned();
        } else if let Some(data) = line.strip_prefix("data:")
            && current == name
        {
            let data: Value = serde_json::from_str(data.trim()).unwrap();
            if wanted(&data) {
                return data;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_changes_are_streamed_to_the_board() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let agent = TestAgent::start(CONFIG).await;
    let address = agent.url.trim_start_matches("http://").to_owned();
    let mut reader =
        tokio::io::BufReader::new(tokio::net::TcpStream::connect(&address).await.unwrap());
    reader
        .get_mut()
        .write_all(format!("GET /v1/events HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let empty = next_event(&mut reader, "alerts", |_| true).await;
    assert_eq!(
        empty["alerts"],
        json!([]),
        "the current (empty) list comes first"
    );

    agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"disk full","component":"db"}"#,
        )
        .await;
    let opened = next_event(&mut reader, "alerts", |d| {
        d["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    assert_eq!(opened["alerts"][0]["rule"], "db-red");
    let fingerprint = opened["alerts"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, _) = agent
        .post(
            &format!("/v1/alerts/{fingerprint}/ack"),
            r#"{"by":"frank"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let acked = next_event(&mut reader, "alerts", |d| {
        d["alerts"][0]["acknowledged_by"].is_string()
    })
    .await;
    assert_eq!(acked["alerts"][0]["acknowledged_by"], "frank");
    agent.stop().await.unwrap();
}
