//! The host program under every fault at once (docs/faults.md): it never panics, its shutdown
//! returns by the configured deadline even when peers hang, and a burst of signals far larger
//! than every queue keeps its memory bounded by the queues, not by the burst.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use andon::{AndonConfig, AndonSignal, AndonSystem};
use andon_tests::{free_port, temp_dir, wait_for};
use serde_json::Value;

/// Signals in the burst: fifty times the largest queue.
const BURST: u64 = 100_000;

#[test]
fn a_burst_far_beyond_the_queues_keeps_memory_bounded_with_every_peer_down() {
    let dir = temp_dir();
    // A port nobody listens on: the OTLP receiver and the alert webhook are down.
    let dead = free_port();
    let mut child = Command::new(andon_tests::example_binary("fault_host"))
        .arg("burst")
        .arg(dir.path())
        .arg(free_port().to_string())
        .arg(dead.to_string())
        .arg(BURST.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let Some(status) = wait_for(Duration::from_secs(120), || child.try_wait().unwrap()) else {
        let _ = child.kill();
        panic!("the host hung: {}", reader.join().unwrap());
    };
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report: Value = stderr
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no report: {stderr}"));
    eprintln!("{report:#}");
    let n = |v: &Value| {
        v.as_u64()
            .unwrap_or_else(|| panic!("not a number: {v} in {report}"))
    };

    // Memory: the queues' bound, whatever the burst. Generous per-item allowances (a log record
    // of 4 KiB, a span of 8 KiB, a notification of 8 KiB per channel) plus 32 MiB for the
    // allocator and the runtime; the burst itself would need hundreds of MiB if kept.
    let bound_kib = n(&report["log_queue"]) * 4
        + n(&report["trace_queue"]) * 8
        + n(&report["alert_queue"]) * 2 * 8
        + 32 * 1024;
    let growth = n(&report["rss_after_kib"]).saturating_sub(n(&report["rss_before_kib"]));
    assert!(
        growth < bound_kib,
        "VmRSS grew by {growth} KiB during {BURST} signals, more than the {bound_kib} KiB the queues allow"
    );

    // Nothing is lost in silence: every log record and span is written or counted.
    let log = &report["log"];
    assert_eq!(
        n(&log["emitted"]),
        n(&log["written"]) + n(&log["failed"]) + n(&log["dropped"]),
        "{report}"
    );
    let trace = &report["trace"];
    assert_eq!(
        n(&trace["started"]),
        n(&trace["queued"]) + n(&trace["dropped"]),
        "{report}"
    );
    assert!(
        n(&trace["dropped"]) > 0,
        "the span queue was full: {report}"
    );
    assert_eq!(n(&trace["exported"]), 0, "{report}");
    assert_eq!(n(&report["refused"]), 0, "every signal was taken: {report}");

    // Shutdown with every peer down: each component gets the deadline, no more.
    let components = 6; // logs, spans, metrics, alerts, observer, and the background tasks
    let limit = n(&report["shutdown_deadline_ms"]) * components + 2_000;
    assert!(
        n(&report["shutdown_ms"]) <= limit,
        "shutdown took {} ms, past {limit} ms: {report}",
        n(&report["shutdown_ms"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_by_its_deadline_when_peers_hang_and_says_what_may_be_lost() {
    // A black hole: connections are accepted by the kernel and never answered.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_port = hole.local_addr().unwrap().port();
    let dir = temp_dir();
    let config = AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
port = {metrics}
[tracer]
sampling_ratio = 1.0
otlp_endpoint = "http://127.0.0.1:{hole_port}"
protocol = "http"
export_timeout_ms = 600000
[observer]
enabled = false
[alerts]
timeout = "10m"
[alerts.channels.hung]
type = "webhook"
url = "http://127.0.0.1:{hole_port}/hook"
[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hung"]
"#,
        log = dir.path().join("andon.log").display(),
        metrics = free_port(),
    ))
    .unwrap();
    let system = AndonSystem::new(config).await.unwrap();
    system
        .signal_problem(AndonSignal::red("stuck").with_component("db"))
        .await
        .unwrap();
    let alerts = system.alerts().unwrap().clone();
    let stuck = wait_for(Duration::from_secs(10), || {
        (alerts.channel_reports()[0].pending == 1).then_some(())
    });
    assert!(stuck.is_some(), "{:?}", alerts.channel_reports());

    let deadline = Duration::from_millis(500);
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        deadline * 6 + Duration::from_secs(2),
        system.shutdown_within(deadline),
    )
    .await
    .unwrap_or_else(|_| panic!("shutdown hung past {:?}", deadline * 6));
    let error = outcome.unwrap_err().to_string();
    assert!(error.contains("did not shut down within"), "{error}");
    assert!(
        error.contains("alert"),
        "names the stuck component: {error}"
    );
    eprintln!("shutdown took {:?}: {error}", started.elapsed());
    // Afterwards the system refuses signals instead of hanging or panicking.
    assert!(
        system
            .signal_problem(AndonSignal::red("late"))
            .await
            .is_err()
    );
    drop(hole);
}
