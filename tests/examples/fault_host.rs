//! A small host program for the fault tests (docs/faults.md): it runs an `AndonSystem` under a
//! fault the test arranges from outside, then reports on stderr, as one JSON line after
//! `REPORT `, what it counted, how long its shutdown took and its memory, and exits 0.
//!
//! - `fault_host stdout LOG_FILE`: logs to stdout and to `LOG_FILE`; the test closes stdout.
//! - `fault_host burst DIR METRICS_PORT DEAD_PORT SIGNALS`: every component on, every network
//!   peer down (`DEAD_PORT` has no listener), then `SIGNALS` signals, far more than any queue
//!   holds; reports VmRSS after a warm-up that fills every queue and after the burst.
//!
//! A panic exits with 101, which the tests treat as a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: a test helper fails loudly

use std::time::{Duration, Instant};

use andon::{AndonConfig, AndonSignal, AndonSystem};
use serde_json::json;

/// The deadline each component gets at shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);

/// The queue sizes the `burst` mode configures (the test derives its memory bound from them).
const LOG_QUEUE: usize = 1024;
const TRACE_QUEUE: usize = 2048;
const ALERT_QUEUE: usize = 64;

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn log_report(system: &AndonSystem) -> serde_json::Value {
    let stats = system.logger().map(|l| l.stats()).unwrap_or_default();
    json!({
        "emitted": stats.emitted,
        "written": stats.written,
        "failed": stats.failed,
        "dropped": stats.dropped,
        "sinks": stats.sinks.iter().map(|s| json!({
            "name": s.name, "written": s.written, "errors": s.errors, "last_error": s.last_error,
        })).collect::<Vec<_>>(),
    })
}

async fn stdout_mode(log_file: &str) -> serde_json::Value {
    let config = AndonConfig::from_toml_str(&format!(
        r#"
[logger]
level = "DEBUG"
sampling_enabled = false
sinks = [{{ type = "Stdout" }}, {{ type = "File", path = "{log_file}" }}]
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
enabled = false
"#
    ))
    .unwrap();
    let system = AndonSystem::new(config).await.unwrap();
    let logger = system.logger().unwrap().clone();
    for i in 0..500 {
        logger.info(&format!("record {i}")).await.unwrap();
    }
    logger
        .critical("written before this returns")
        .await
        .unwrap();
    for i in 0..50 {
        let signal = match i % 3 {
            0 => AndonSignal::green("fine"),
            1 => AndonSignal::yellow("slow"),
            _ => AndonSignal::red("broken"),
        };
        system
            .signal_problem(signal.with_component("stdout-closed"))
            .await
            .unwrap();
    }
    let started = Instant::now();
    let shutdown = system.shutdown_within(SHUTDOWN_DEADLINE).await;
    json!({
        "log": log_report(&system),
        "shutdown_ok": shutdown.is_ok(),
        "shutdown_error": shutdown.err().map(|e| e.to_string()),
        "shutdown_ms": started.elapsed().as_millis() as u64,
    })
}

async fn burst_mode(
    dir: &str,
    metrics_port: &str,
    dead_port: &str,
    signals: u64,
) -> serde_json::Value {
    let config = AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sampling_enabled = false
queue_capacity = {LOG_QUEUE}
overflow = "drop"
sinks = [{{ type = "File", path = "{dir}/andon.log" }}]
[metrics]
port = {metrics_port}
[tracer]
sampling_ratio = 1.0
otlp_endpoint = "http://127.0.0.1:{dead_port}"
max_queue_size = {TRACE_QUEUE}
export_timeout_ms = 200
[observer]
enabled = false
[alerts]
timeout = "200ms"
max_retries = 2
retry_backoff = "10ms"
queue_capacity = {ALERT_QUEUE}
repeat_interval = "1ms"
[alerts.channels.hook]
type = "webhook"
url = "http://127.0.0.1:{dead_port}/hook"
[alerts.channels.file]
type = "file"
path = "{dir}/alerts.jsonl"
[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hook", "file"]
"#
    ))
    .unwrap();
    let system = AndonSystem::new(config).await.unwrap();
    let send = |i: u64| {
        // Ten components, mostly GREEN (droppable INFO records), some YELLOW and RED.
        let signal = match i % 10 {
            0 => AndonSignal::red("burst"),
            1 | 2 => AndonSignal::yellow("burst"),
            _ => AndonSignal::green("burst"),
        };
        signal
            .with_component(format!("c{}", i % 10))
            .with_attribute("i", i)
    };
    // The warm-up fills every queue, so that what follows can only grow what is unbounded.
    let warm_up = (LOG_QUEUE + TRACE_QUEUE + ALERT_QUEUE) as u64 * 4;
    for i in 0..warm_up {
        let _ = system.signal_problem(send(i)).await;
    }
    let rss_before = vm_rss_kib();
    let mut refused = 0u64;
    for i in 0..signals {
        if system.signal_problem(send(warm_up + i)).await.is_err() {
            refused += 1;
        }
    }
    let rss_after = vm_rss_kib();
    let trace = system.tracer().map(|t| t.stats()).unwrap_or_default();
    let alerts = system
        .alerts()
        .map(|a| a.channel_reports())
        .unwrap_or_default();
    let started = Instant::now();
    let shutdown = system.shutdown_within(SHUTDOWN_DEADLINE).await;
    json!({
        "signals": signals,
        "refused": refused,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "log_queue": LOG_QUEUE,
        "trace_queue": TRACE_QUEUE,
        "alert_queue": ALERT_QUEUE,
        "log": log_report(&system),
        "trace": {
            "started": trace.spans_started,
            "queued": trace.spans_queued,
            "dropped": trace.spans_dropped,
            "failed": trace.spans_failed,
            "exported": trace.spans_exported,
        },
        "alerts": alerts.iter().map(|r| json!({
            "name": r.name, "sent": r.sent, "failed": r.failed, "retries": r.retries,
            "dropped": r.dropped, "digests": r.digests, "pending": r.pending,
        })).collect::<Vec<_>>(),
        "shutdown_ok": shutdown.is_ok(),
        "shutdown_error": shutdown.err().map(|e| e.to_string()),
        "shutdown_ms": started.elapsed().as_millis() as u64,
        "shutdown_deadline_ms": SHUTDOWN_DEADLINE.as_millis() as u64,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        match args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["stdout", log_file] => stdout_mode(log_file).await,
            ["burst", dir, metrics_port, dead_port, signals] => {
                burst_mode(dir, metrics_port, dead_port, signals.parse().unwrap()).await
            }
            other => {
                panic!("usage: fault_host stdout LOG | burst DIR PORT DEAD_PORT N (got {other:?})")
            }
        }
    });
    eprintln!("REPORT {report}");
}
