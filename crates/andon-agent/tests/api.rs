//! The HTTP API, through a real HTTP client against the running router: every endpoint, every
//! 400 path, and the token rule when the agent is bound beyond loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod common;

use std::time::Duration;

use common::{QUIET, TestAgent};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::test]
async fn a_red_signal_lights_its_station_stops_the_line_and_a_resume_restarts_it() {
    let agent = TestAgent::start(QUIET).await;
    let (status, accepted) = agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"queue overflow","component":"queue","trace_id":"t-1","attributes":{"depth":150}}"#,
        )
        .await;
    assert_eq!(status, 201, "{accepted}");
    assert_eq!(accepted["stopped_line"], true);
    assert_eq!(accepted["failures"], json!([]));
    let id = accepted["id"].as_str().unwrap().to_owned();

    let (status, board) = agent.get("/v1/board").await;
    assert_eq!(status, 200);
    assert_eq!(board["line"]["state"], "STOPPED");
    assert_eq!(board["line"]["signal"]["id"], id.as_str());
    let station = &board["stations"][0];
    assert_eq!(station["component"], "queue");
    assert_eq!(station["color"], "red");
    assert_eq!(station["last_signal"]["attributes"]["depth"], 150);
    // With no rule configured, the built-in `red-signal` rule fires for every RED.
    assert_eq!(station["open_alerts"][0]["rule"], "red-signal");
    assert_eq!(station["open_alerts"][0]["severity"], "critical");
    assert_eq!(station["open_alerts"][0]["component"], "queue");
    assert_eq!(board["recent"][0]["id"], id.as_str());
    assert_eq!(board["token_required"], false);

    let (_, line) = agent.get("/v1/line").await;
    assert_eq!(line["state"], "STOPPED");
    assert_eq!(line["signal"]["message"], "queue overflow");
    let (_, ready) = agent.get("/readyz").await;
    assert_eq!(ready["line"], "STOPPED");

    let (status, resumed) = agent
        .post(
            "/v1/line/resume",
            r#"{"by":"alice","note":"queue drained"}"#,
        )
        .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["resumed"], true);
    assert_eq!(resumed["line"]["state"], "RUNNING");
    assert_eq!(resumed["line"]["resumed"]["by"], "alice");
    assert_eq!(resumed["line"]["resumed"]["note"], "queue drained");
    let (_, again) = agent.post("/v1/line/resume", "").await;
    assert_eq!(
        again["resumed"], false,
        "an empty body resumes as `api`; already running"
    );
    assert!(agent.system.line().is_running());
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn recent_signals_are_listed_newest_first_and_filtered() {
    let agent = TestAgent::start(QUIET).await;
    for (color, component, message) in [
        ("green", "web", "ok"),
        ("yellow", "db", "slow"),
        ("yellow", "web", "slow too"),
        ("green", "db", "fine"),
    ] {
        let body = json!({"color": color, "component": component, "message": message}).to_string();
        assert_eq!(agent.post("/v1/signals", &body).await.0, 201);
    }
    let messages = |v: &Value| -> Vec<String> {
        v["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = agent.get("/v1/signals").await;
    assert_eq!(status, 200);
    assert_eq!(messages(&all), ["fine", "slow too", "slow", "ok"]);
    assert_eq!(
        messages(&agent.get("/v1/signals?color=yellow").await.1),
        ["slow too", "slow"]
    );
    assert_eq!(
        messages(&agent.get("/v1/signals?component=db").await.1),
        ["fine", "slow"]
    );
    assert_eq!(
        messages(&agent.get("/v1/signals?component=web&color=GREEN").await.1),
        ["ok"]
    );
    assert_eq!(
        messages(&agent.get("/v1/signals?limit=1").await.1),
        ["fine"]
    );
    // YELLOW does not stop the line.
    assert!(agent.system.line().is_running());
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn every_bad_request_gets_a_400_naming_the_field() {
    let agent = TestAgent::start(QUIET).await;
    let signal_cases = [
        (r#"{"message":"m"}"#, Some("color")),
        (r#"{"color":"blue","message":"m"}"#, Some("color")),
        (r#"{"color":"red"}"#, Some("message")),
        (r#"{"color":"red","message":""}"#, Some("message")),
        (
            r#"{"color":"red","message":"m","component":7}"#,
            Some("component"),
        ),
        (
            r#"{"color":"red","message":"m","trace_id":""}"#,
            Some("trace_id"),
        ),
        (
            r#"{"color":"red","message":"m","timestamp":"soon"}"#,
            Some("timestamp"),
        ),
        (
            r#"{"color":"red","message":"m","attributes":"x"}"#,
            Some("attributes"),
        ),
        (
            r#"{"color":"red","message":"m","severity":"high"}"#,
            Some("severity"),
        ),
        ("not json", None),
        ("[]", None),
        ("", None),
    ];
    for (body, field) in signal_cases {
        let (status, error) = agent.post("/v1/signals", body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["field"].as_str(), field, "{body}: {error}");
        assert!(!error["error"].as_str().unwrap().is_empty());
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("color=purple", "color"),
        ("component=", "component"),
        ("sort=asc", "sort"),
    ] {
        let (status, error) = agent.get(&format!("/v1/signals?{query}")).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["field"], field, "{query}: {error}");
    }
    for (body, field) in [
        (r#"{"by":""}"#, "by"),
        (r#"{"note":5}"#, "note"),
        (r#"{"who":"x"}"#, "who"),
    ] {
        let (status, error) = agent.post("/v1/line/resume", body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let (status, error) = agent.post("/v1/alerts/bad%20print/ack", "").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "fingerprint");
    let (status, error) = agent.post("/v1/alerts/abc/ack", r#"{"by":1}"#).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (400, Some("by")),
        "{error}"
    );
    // Nothing bad was recorded.
    assert!(agent.system.recent_signals(10).is_empty());
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_unknown_routes_and_wrong_methods_get_json_errors() {
    let agent = TestAgent::start(QUIET).await;
    let huge =
        json!({"color":"red","message": "x".repeat(andon_agent::MAX_BODY_BYTES)}).to_string();
    let (status, error) = agent.post("/v1/signals", &huge).await;
    assert_eq!(status, 413, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("larger than"),
        "{error}"
    );
    let (status, error) = agent.get("/v1/nope").await;
    assert_eq!(status, 404);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("no such endpoint"),
        "{error}"
    );
    let (status, _) = agent.get("/v2/signals").await;
    assert_eq!(status, 404);
    let response = agent
        .http
        .delete(agent.at("/v1/signals"))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"].is_string());
    assert!(agent.system.recent_signals(10).is_empty());
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn probes_diagnostics_alerts_and_the_board_page_answer() {
    let agent = TestAgent::start(QUIET).await;
    assert_eq!(agent.get("/healthz").await, (200, json!({"status": "ok"})));
    let (status, ready) = agent.get("/readyz").await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));

    // The observer is off in this configuration: the agent says how to turn it on.
    let (status, error) = agent.get("/v1/diagnostics").await;
    assert_eq!(status, 404);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("[observer] enabled = true"),
        "{error}"
    );

    let (status, alerts) = agent.get("/v1/alerts").await;
    assert_eq!(status, 200);
    assert_eq!(alerts["alerts"], json!([]));
    let (status, error) = agent.post("/v1/alerts/0123abcd/ack", "").await;
    assert_eq!(status, 404, "{error}");

    let page = agent.http.get(agent.at("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Andon board</title>") && html.contains("/board.js"));
    for (path, kind) in [("/board.js", "text/javascript"), ("/board.css", "text/css")] {
        let response = agent.http.get(agent.at(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(response.text().await.unwrap().len() > 500);
    }
    agent.stop().await.unwrap();
}

const WIDE: &str = "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
                    [agent]\nlisten = \"0.0.0.0:7600\"\ntoken = \"s3cret-token-0123456789\"\n";

#[tokio::test]
async fn bound_beyond_loopback_every_write_needs_the_bearer_token() {
    // The configuration says 0.0.0.0 (so the token rule applies); the test itself listens on
    // 127.0.0.1 only.
    let agent = TestAgent::start(WIDE).await;
    let signal = r#"{"color":"red","message":"m","component":"c"}"#;
    let writes = [
        ("/v1/signals", signal),
        ("/v1/line/resume", "{}"),
        ("/v1/alerts/abc/ack", "{}"),
    ];
    for (path, body) in writes {
        for token in [
            None,
            Some("wrong"),
            Some("s3cret-token-0123456789-but-longer"),
            Some(""),
        ] {
            let mut request = agent
                .http
                .post(agent.at(path))
                .header("content-type", "application/json")
                .body(body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401, "{path} with {token:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer realm=\"andon\""
            );
            let error: Value = response.json().await.unwrap();
            assert!(
                !error.to_string().contains("s3cret"),
                "the token never shows: {error}"
            );
        }
        let response = agent
            .http
            .post(agent.at(path))
            .header("authorization", "Basic czNjcmV0LXRva2Vu")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            401,
            "{path}: only Bearer counts"
        );
    }
    assert!(
        agent.system.recent_signals(10).is_empty(),
        "nothing got through"
    );

    let (status, accepted) = agent
        .post_with("/v1/signals", signal, Some("s3cret-token-0123456789"))
        .await;
    assert_eq!(status, 201, "{accepted}");
    let (status, resumed) = agent
        .post_with("/v1/line/resume", "{}", Some("s3cret-token-0123456789"))
        .await;
    assert_eq!((status, resumed["resumed"].as_bool()), (200, Some(true)));
    // Reads stay open.
    for path in [
        "/v1/board",
        "/v1/signals",
        "/v1/line",
        "/v1/alerts",
        "/healthz",
        "/readyz",
    ] {
        assert_eq!(agent.get(path).await.0, 200, "{path}");
    }
    assert_eq!(agent.get("/v1/board").await.1["token_required"], true);
    agent.stop().await.unwrap();
}

/// Reads server-sent events from a raw HTTP connection until one named `name` arrives;
/// returns its data.
async fn next_event(reader: &mut BufReader<tokio::net::TcpStream>, name: &str) -> String {
    let mut current = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "the event stream ended before a `{name}` event");
        let line = line.trim_end();
        if let Some(event) = line
            .strip_prefix("event: ")
            .or_else(|| line.strip_prefix("event:"))
        {
            current = event.trim().to_owned();
        } else if let Some(data) = line
            .strip_prefix("data: ")
            .or_else(|| line.strip_prefix("data:"))
            && current == name
        {
            return data.to_owned();
        }
    }
}

#[tokio::test]
async fn the_event_stream_carries_signals_and_line_changes_and_ends_on_shutdown() {
    let agent = TestAgent::start(QUIET).await;
    let address = agent.url.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(
            format!(
                "GET /v1/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    next_event(&mut reader, "hello").await;

    agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"disk full","component":"db"}"#,
        )
        .await;
    let line: Value = serde_json::from_str(&next_event(&mut reader, "line").await).unwrap();
    assert_eq!(line["state"], "STOPPED");
    let signal: Value = serde_json::from_str(&next_event(&mut reader, "signal").await).unwrap();
    assert_eq!(
        (signal["message"].as_str(), signal["color"].as_str()),
        (Some("disk full"), Some("red"))
    );
    agent.post("/v1/line/resume", r#"{"by":"bob"}"#).await;
    let line: Value = serde_json::from_str(&next_event(&mut reader, "line").await).unwrap();
    assert_eq!(line["state"], "RUNNING");
    assert_eq!(line["resumed"]["by"], "bob");

    // A graceful stop ends the open stream instead of waiting on it, and flushes the system.
    let system = agent.system.clone();
    let stopped = tokio::time::timeout(Duration::from_secs(30), agent.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "serve returned {stopped:?}");
    let mut rest = String::new();
    while reader.read_line(&mut rest).await.unwrap_or(0) > 0 {}
    let refused = system.signal_problem(andon::AndonSignal::red("late")).await;
    assert!(
        matches!(refused, Err(andon::SignalError::ShutDown)),
        "the system was shut down"
    );
}

// Event streams are capped per client address and in total: see tests/slow_clients.rs.
