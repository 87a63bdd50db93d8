//! The agent under load: signals posted at a fixed rate over loopback by a bounded client,
//! with no errors and memory that stays bounded; p50/p99 latency printed for the docs.
//!
//! By default a short run (2,000 signals/s for 3 s) keeps CI quick; `ANDON_LOAD_FULL=1` runs
//! the issue's 10,000 signals/s for 10 s, and `ANDON_LOAD_RATE` / `ANDON_LOAD_SECS` set both.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestAgent;

fn setting(name: &str, full: u64, short: u64) -> u64 {
    let full_run = std::env::var("ANDON_LOAD_FULL").is_ok_and(|v| v == "1");
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_run { full } else { short })
}

/// The resident memory of this process (agent and client), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Posts `count` signals from `workers` tasks, paced to `rate` per second overall; returns the
/// latencies and the number of failed requests.
async fn post_at_rate(
    agent: &TestAgent,
    rate: u64,
    count: u64,
    workers: u64,
) -> (Vec<Duration>, u64) {
    let start = tokio::time::Instant::now();
    let interval = Duration::from_secs_f64(workers as f64 / rate as f64);
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(workers as usize)
        .build()
        .unwrap();
    let url = Arc::new(agent.at("/v1/signals"));
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let client = client.clone();
        let url = Arc::clone(&url);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mine = count / workers + u64::from(worker < count % workers);
            for i in 0..mine {
                let due = start + interval.mul_f64(i as f64) + interval.mul_f64(worker as f64 / workers as f64);
                tokio::time::sleep_until(due).await;
                let color = if i % 10 == 0 { "yellow" } else { "green" };
                let body = format!(
                    r#"{{"color":"{color}","message":"load {worker}/{i}","component":"svc-{}","attributes":{{"i":{i}}}}}"#,
                    (worker * 7 + i) % 50
                );
                let sent = Instant::now();
                match client.post(url.as_str()).header("content-type", "application/json").body(body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(sent.elapsed()),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    (latencies, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_takes_a_steady_stream_of_signals_without_errors_or_growth() {
    let rate = setting("ANDON_LOAD_RATE", 10_000, 2_000);
    let secs = setting("ANDON_LOAD_SECS", 10, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[tracer]\nenabled = false\n[observer]\nenabled = false\n\
         [logger]\nsinks = [{{ type = \"File\", path = \"{}\" }}]\n",
        dir.path().join("andon.log").display()
    );
    let agent = TestAgent::start(&config).await;
    let workers = 64;

    // Warm up: fill the board's bounded buffers (1,000 recent signals, 50 stations).
    let (_, errors) = post_at_rate(&agent, rate.min(5_000), 2_000, workers).await;
    assert_eq!(errors, 0, "warm-up errors");
    let before = rss_kib();

    let count = rate * secs;
    let started = Instant::now();
    let (mut latencies, errors) = post_at_rate(&agent, rate, count, workers).await;
    let took = started.elapsed();
    let after = rss_kib();
    latencies.sort();
    let achieved = latencies.len() as f64 / took.as_secs_f64();
    eprintln!(
        "load: {count} signals asked at {rate}/s over {secs} s: {} ok, {errors} errors, {achieved:.0}/s achieved, \
         p50 {:?}, p99 {:?}, max {:?}; RSS {before} KiB -> {after} KiB",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
    assert_eq!(errors, 0, "every signal was accepted");
    assert_eq!(latencies.len() as u64, count);
    // Bounded memory: what the agent keeps is capped (recent signals, stations, queues), so
    // many more signals than the caps must not grow the process much.
    assert!(
        after < before + 64 * 1024,
        "memory grew from {before} KiB to {after} KiB over {count} signals"
    );
    let (_, board) = agent.get("/v1/board").await;
    assert_eq!(board["stations"].as_array().unwrap().len(), 50);
    let (_, recent) = agent.get("/v1/signals?limit=1000").await;
    assert_eq!(
        recent["signals"].as_array().unwrap().len(),
        1000,
        "recent signals stay capped"
    );
    agent.stop().await.unwrap();
}
