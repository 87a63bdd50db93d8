//! Posting one signal over loopback HTTP: the andon agent (`POST /v1/signals`: checks, the
//! system's fan-out to log, metrics and alerts, the board, the event stream) side by side with
//! a bare axum handler that only parses the same JSON and answers 201, and with
//! `AndonSystem::signal_problem` called directly (no HTTP).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::hint::black_box;

use andon::{AndonConfig, AndonSignal};
use andon_agent::{Agent, build_system};
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};

const BODY: &str =
    r#"{"color":"yellow","message":"queue slow","component":"queue","attributes":{"depth":150}}"#;

async fn raw(body: Bytes) -> (StatusCode, String) {
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    (
        StatusCode::CREATED,
        format!(r#"{{"id":"{}"}}"#, value["message"]),
    )
}

fn signals(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = AndonConfig::from_toml_str(&format!(
        "[tracer]\nenabled = false\n[observer]\nenabled = false\n[logger]\nsinks = [{{ type = \"File\", path = \"{}\" }}]\n",
        dir.path().join("andon.log").display()
    ))
    .unwrap();
    let (agent_url, raw_url, system) = runtime.block_on(async {
        let system = build_system(config, false).await.unwrap();
        let agent = Agent::new(system.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let agent_url = format!("http://{}/v1/signals", listener.local_addr().unwrap());
        tokio::spawn(agent.serve(listener, std::future::pending()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let raw_url = format!("http://{}/v1/signals", listener.local_addr().unwrap());
        let router = Router::new().route("/v1/signals", post(raw));
        tokio::spawn(async move { axum::serve(listener, router).await });
        (agent_url, raw_url, system)
    });
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
    let client = reqwest::Client::new();
    let mut group = c.benchmark_group("post_signal");
    for (name, url) in [("andon_agent", &agent_url), ("raw_axum", &raw_url)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let response = client
                        .post(url.as_str())
                        .header("content-type", "application/json")
                        .body(BODY)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status().as_u16(), 201);
                    black_box(response.bytes().await.unwrap());
                })
            })
        });
    }
    group.bench_function("signal_problem_in_process", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let signal = AndonSignal::yellow("queue slow")
                    .with_component("queue")
                    .with_attribute("depth", 150);
                black_box(system.signal_problem(signal).await.unwrap());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, signals);
criterion_main!(benches);
