//! Fuzz target: the query strings of `GET /v1/history/...`, sent over HTTP to a running agent
//! with a history: windows from 1970 to 9999, durations of a billion years, buckets that
//! overflow, negative and huge numbers, unknown parameters, percent-encoded garbage (`cargo
//! xtask fuzz` runs it for a bounded time; see docs/fuzzing.md).
//!
//! Properties: every request is answered (no dropped connection, no panic), with 200, a 400
//! that says why, or a 404 for an unknown timeline; never a 5xx; and the agent still answers
//! afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

mod common;

use andon_tests::fuzz;
use common::{QUIET, TestAgent};
use proptest::prelude::*;

const ENDPOINTS: &[&str] = &[
    "/v1/history/signals",
    "/v1/history/pareto",
    "/v1/history/mttr",
    "/v1/history/downtime",
    "/v1/history/timeline/t-1",
    "/v1/history/timeline/%00",
];

const KEYS: &[&str] = &[
    "since",
    "from",
    "to",
    "bucket",
    "component",
    "color",
    "colors",
    "limit",
    "offset",
    "by",
];

const VALUES: &[&str] = &[
    "1000000000y",
    "584942417355y",
    "18446744073709551615s",
    "0s",
    "1ms",
    "1s",
    "1h",
    "7d",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z",
    "2026-11-26T23:41:07.5Z",
    "0",
    "-1",
    "1",
    "1000",
    "1001",
    "10000",
    "18446744073709551616",
    "red",
    "red,yellow,,blue",
    "component",
    "fingerprint",
    "db",
    "",
    "%00",
    "%FF",
    "%",
];

fn query() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        6 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => fuzz::text(KEYS, 2),
    ];
    let value = prop_oneof![
        6 => proptest::sample::select(VALUES).prop_map(str::to_owned),
        1 => fuzz::text(VALUES, 3),
    ];
    let pairs = proptest::collection::vec((key, value), 0..5);
    (proptest::sample::select(ENDPOINTS), pairs).prop_map(|(endpoint, pairs)| {
        let query: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}={}", escape(&k), escape(&v)))
            .collect();
        if query.is_empty() {
            endpoint.to_owned()
        } else {
            format!("{endpoint}?{}", query.join("&"))
        }
    })
}

/// Percent-encodes what a request line cannot carry, keeping `%` so that bad escapes get in.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:,%".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[test]
fn fuzz_history_queries() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = format!("{QUIET}[history]\nenabled = true\npath = \":memory:\"\n");
    let agent = runtime.block_on(async {
        let agent = TestAgent::start(&config).await;
        for color in ["red", "yellow", "green"] {
            let body = format!(
                r#"{{"color":"{color}","message":"disk 91% full","component":"db","trace_id":"t-1"}}"#
            );
            assert_eq!(agent.post("/v1/signals", &body).await.0, 201);
        }
        agent.system.history().unwrap().flush().await.unwrap();
        agent
    });
    fuzz::run("history_query", file!(), query(), |path| {
        let (status, _, body) = runtime.block_on(agent.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            agent.address()
        )));
        prop_assert!(status != 0, "no answer (a dropped connection) for {path}");
        prop_assert!(
            matches!(status, 200 | 400 | 404),
            "status {status} for {path}: {body}"
        );
        if status != 200 {
            let error: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            prop_assert!(
                error["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{status} says why for {path}: {body}"
            );
        }
        Ok(())
    });
    let (status, _) = runtime.block_on(agent.get("/healthz"));
    assert_eq!(status, 200, "the agent still answers");
    // The reported crashes, by name.
    for path in [
        "/v1/history/downtime?since=1000000000y",
        "/v1/history/downtime?bucket=1000000000y",
        "/v1/history/signals?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
    ] {
        let (status, body) = runtime.block_on(agent.get(path));
        assert_eq!(status, 200, "{path}: {body}");
        let from = body["window"]["from"].as_str().unwrap().to_owned();
        let oldest = std::time::SystemTime::now() - std::time::Duration::from_secs(91 * 86_400);
        assert!(
            andon::core::rfc3339::parse(&from).unwrap() > oldest,
            "{path}: the window starts within the 90 days kept, not at {from}"
        );
    }
    runtime.block_on(agent.stop()).unwrap();
}
