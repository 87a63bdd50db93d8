//! `[tracer] ui_url` through the agent: `andon alerts` prints the open alert's trace link,
//! `GET /v1/alerts` and the history timeline JSON carry it, the board (headless Chromium)
//! renders trace ids as plain `<a href>` links built with DOM APIs, a hostile trace id staying
//! text; all linked by the W3C id the trace id maps to (what Jaeger knows). A ui_url that is
//! not http(s) is refused by `andon config check`, naming `tracer.ui_url`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod browser;
mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};
use common::TestAgent;
use fantoccini::Locator;
use serde_json::Value;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");
const UI_URL: &str = "http://127.0.0.1:16686";

/// The link for `id` under [`UI_URL`].
fn link(id: &str) -> String {
    format!("{UI_URL}/trace/{}", andon::core::w3c_trace_id_hex(id))
}

fn config(history: &Path) -> String {
    format!(
        r#"
[metrics]
enabled = false
[tracer]
enabled = false
ui_url = "{UI_URL}/"
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
"#,
        history.display()
    )
}

fn andon(url: &str, args: &[&str]) -> String {
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn get(url: &str) -> (u16, Value) {
    let (status, body) = http_get(url).unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn andon_alerts_and_history_timelines_link_the_mapped_trace_id() {
    let dir = temp_dir();
    let path = dir.path().join("andon.toml");
    std::fs::write(&path, config(&dir.path().join("history.sqlite3"))).unwrap();
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
            dir.path().join("data").display().to_string(),
        ])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    andon(
        &url,
        &[
            "signal",
            "red",
            "pool exhausted",
            "-c",
            "db",
            "--trace-id",
            "trace-123",
        ],
    );
    let expected = link("trace-123");
    assert!(!expected.contains("trace-123") && !expected.contains("//trace"));

    let alert = wait_for(Duration::from_secs(10), || {
        let (_, body) = get(&format!("{url}/v1/alerts"));
        body["alerts"].get(0).cloned()
    })
    .expect("the db alert fires");
    assert_eq!(alert["trace_id"], "trace-123");
    assert_eq!(alert["trace_url"], expected.as_str());
    let listed = andon(&url, &["alerts"]);
    let header = listed.lines().next().unwrap();
    assert!(header.ends_with("TRACE"), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.contains("db-red") && l.ends_with(&expected)),
        "andon alerts prints the link: {listed}"
    );

    let timeline = wait_for(Duration::from_secs(10), || {
        let (status, body) = get(&format!("{url}/v1/history/timeline/trace-123"));
        let kinds: Vec<&str> = body["entries"]
            .as_array()
            .map(|e| e.iter().filter_map(|x| x["kind"].as_str()).collect())
            .unwrap_or_default();
        (status == 200 && kinds.contains(&"signal") && kinds.contains(&"alert.fired"))
            .then_some(body)
    })
    .expect("the timeline holds the signal and the alert");
    assert_eq!(timeline["trace_urls"]["trace-123"], expected.as_str());
    for entry in timeline["entries"].as_array().unwrap() {
        if entry["trace_id"] == "trace-123" {
            assert_eq!(entry["trace_url"], expected.as_str(), "{entry}");
        }
    }
    assert!(
        timeline["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["trace_url"] == expected.as_str()),
        "{timeline}"
    );
    drop(agent);
}

#[test]
fn config_check_refuses_a_ui_url_that_is_not_http() {
    let dir = temp_dir();
    let path = dir.path().join("andon.toml");
    std::fs::write(&path, "[tracer]\nui_url = \"javascript:alert(1)\"\n").unwrap();
    let out = Command::new(ANDON)
        .args(["config", "check", &path.display().to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("tracer.ui_url") && stderr.contains("not an http:// or https:// URL"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_links_trace_ids_with_plain_anchors() {
    let Some(browser) = browser::browser().await else {
        return;
    };
    let client = browser.client.clone();
    let agent = TestAgent::start(&format!(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\nui_url = \"{UI_URL}\"\n[observer]\nenabled = false\n"
    ))
    .await;
    let result = board(&agent, &client).await;
    browser::screenshot(&client, "andon-board-trace-links").await;
    let _ = client.close().await;
    agent.stop().await.unwrap();
    result.unwrap();
}

async fn board(agent: &TestAgent, client: &fantoccini::Client) -> Result<(), String> {
    let e = |what: &'static str| move |err: fantoccini::error::CmdError| format!("{what}: {err}");
    let hostile = "\"><img id=pwned src=x onerror=alert(1)>";
    let w3c = "4BF92F3577B34DA6A3CE929D0E0E4736";
    for (color, trace) in [("yellow", hostile), ("green", w3c), ("red", "trace-123")] {
        let body = serde_json::json!({"color": color, "message": "m", "component": "db", "trace_id": trace});
        let (status, _) = agent.post("/v1/signals", &body.to_string()).await;
        assert_eq!(status, 201);
    }
    client.goto(&agent.url).await.map_err(e("open the board"))?;
    // The recent signals (from /v1/board) and the built-in rule's alert link their traces.
    let recent = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            r#"#recent a.trace[data-trace-id="trace-123"]"#,
        ))
        .await
        .map_err(e("the RED's trace is a link"))?;
    assert_eq!(
        recent.attr("href").await.map_err(e("href"))?,
        Some(link("trace-123")),
        "the board maps the id as andon-core does"
    );
    let green = client
        .find(Locator::Css(&format!(
            r#"#recent a.trace[data-trace-id="{w3c}"]"#
        )))
        .await
        .map_err(e("the W3C id's link"))?;
    assert_eq!(
        green.attr("href").await.map_err(e("href"))?,
        Some(format!("{UI_URL}/trace/4bf92f3577b34da6a3ce929d0e0e4736"))
    );
    let alert = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#alerts li.alert a.trace"))
        .await
        .map_err(e("the alert's trace is a link"))?;
    assert_eq!(
        alert.attr("href").await.map_err(e("href"))?,
        Some(link("trace-123"))
    );
    // The hostile id is the text of its link, never markup.
    let links = client
        .find_all(Locator::Css("#recent a.trace"))
        .await
        .map_err(e("links"))?;
    let mut texts = Vec::new();
    for l in &links {
        texts.push(l.text().await.map_err(e("text"))?);
    }
    assert!(
        texts.iter().any(|t| t == &format!("trace {hostile}")),
        "{texts:?}"
    );
    assert!(
        client.find(Locator::Id("pwned")).await.is_err(),
        "no element was made from a trace id"
    );
    Ok(())
}
