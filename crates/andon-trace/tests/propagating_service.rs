//! The `propagating_service` example, run as a real process the way the W3C interop suite
//! drives it: a POST of `[{"url", "arguments"}]` makes it call each url with the trace context
//! propagated (same trace id, a new parent id, tracestate and baggage carried).

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use andon_tests::{Peer, Ready, free_port};
use andon_trace::{TraceParent, extract};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

fn example_binary() -> PathBuf {
    // target/debug/deps/<this test> -> target/debug/examples/propagating_service
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|p| p.parent()).unwrap();
    dir.join("examples").join(format!(
        "propagating_service{}",
        std::env::consts::EXE_SUFFIX
    ))
}

async fn record(State(seen): State<Seen>, headers: HeaderMap, body: Bytes) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().push((headers, value));
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_propagates_the_trace_to_every_callee() {
    let binary = example_binary();
    assert!(
        binary.is_file(),
        "cargo test builds the example: {}",
        binary.display()
    );

    // The downstream service records what it receives.
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let downstream = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .fallback(record)
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let service = tokio::task::spawn_blocking(move || {
        Peer::builder(binary)
            .arg(addr.to_string())
            .ready(Ready::Tcp(addr))
            .start()
    })
    .await
    .unwrap()
    .unwrap();

    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";
    let body = json!([
        {"url": format!("http://{downstream}/one"), "arguments": {"a": 1}},
        {"url": format!("http://{downstream}/two"), "arguments": [1, "two"]},
    ]);
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/test"))
        .header("TraceParent", incoming)
        .header("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        .header("baggage", "userId=alice")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", service.output());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{}", service.output());
    let incoming = TraceParent::parse(incoming).unwrap();
    let mut parents = Vec::new();
    for ((headers, value), expected) in seen.iter().zip([json!({"a": 1}), json!([1, "two"])]) {
        assert_eq!(*value, expected);
        let context = extract(headers);
        let tp = context.traceparent().expect("a valid traceparent");
        assert_eq!(tp.trace_id(), incoming.trace_id());
        assert_ne!(tp.parent_id(), incoming.parent_id());
        assert_eq!(tp.flags(), 0x03, "sampled and random are kept");
        assert_eq!(
            context.tracestate().header(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        assert_eq!(context.baggage().get("userId"), Some("alice"));
        parents.push(tp.parent_id());
    }
    // One client span per call.
    assert_ne!(parents[0], parents[1]);

    // Without a traceparent the service starts a trace of its own, still answering 200.
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/"))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(service);
}
