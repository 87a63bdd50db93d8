//! A stalled sink never holds a CRITICAL record, or anything after it, forever (issue 16.2): the
//! `Stdout` sink writes into a real pipe that nobody reads. The test runs itself again as a
//! child process whose stdout is that pipe, and the child reports on stderr what each call
//! returned and what the logger counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use andon_core::config::{LoggerConfig, SinkConfig};
use andon_core::{AndonSignal, LogEntry, LogLevel, LogSink};
use andon_log::{AndonLogger, LogError};
use andon_tests::wait_for;
use serde_json::{Value, json};

/// Set in the child's environment: run as the host program, not as the test.
const CHILD: &str = "ANDON_LOG_STALL_CHILD";
const TEST: &str = "a_stdout_nobody_reads_never_holds_a_critical_or_the_records_after_it";

/// A shutdown report as [`outcome`] names a result: a stall says the stall's text.
fn report_outcome(report: &andon_core::ShutdownReport) -> Value {
    match &report.error {
        None => json!("ok"),
        Some(error) if error.starts_with("a log sink is stuck") => json!("stalled"),
        Some(other) => json!(format!("other: {other}")),
    }
}

fn outcome(result: Result<(), LogError>) -> Value {
    match result {
        Ok(()) => json!("ok"),
        Err(LogError::Stalled { .. }) => json!("stalled"),
        Err(other) => json!(format!("other: {other}")),
    }
}

/// The host program: logs far more than a pipe holds to a stdout nobody reads, then a RED, a
/// CRITICAL, a WARNING, a flood of INFO, a CRITICAL `LogEntry`, and shuts down; every call must
/// return. Reports as JSON after `REPORT ` on stderr and exits without touching stdout again.
fn child() -> ! {
    // A runtime without a time driver: the logger's bounded waits need no runtime timer.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let logger = AndonLogger::new(LoggerConfig {
            sampling_enabled: false,
            queue_capacity: 1024,
            stall_timeout: Duration::from_millis(200),
            sinks: vec![SinkConfig::Stdout { level: None }],
            ..LoggerConfig::default()
        })
        .unwrap();
        // 400 records of 4 KiB: 1.6 MB, far beyond a pipe's buffer (64 KiB on Linux).
        let body = "x".repeat(4096);
        for i in 0..400 {
            let _ = logger.event(LogLevel::Info, &body, slog::o!("i" => i));
        }
        let started = std::time::Instant::now();
        let red = logger
            .log_signal(&AndonSignal::red("Queue overflow - STOP").with_component("queue"))
            .await;
        let red_us = started.elapsed().as_micros() as u64;
        let started = std::time::Instant::now();
        let critical = logger.critical("a second CRITICAL").await;
        let critical_us = started.elapsed().as_micros() as u64;
        // The queue fills up; later records are dropped and counted, never waited for.
        let mut info_dropped = 0u64;
        for _ in 0..5_000 {
            if logger.info("later").await.is_err() {
                info_dropped += 1;
            }
        }
        let warning = logger.warn("a WARNING with no room").await;
        let entry = logger.write_entry(&LogEntry {
            level: LogLevel::Critical,
            message: "alert firing".into(),
            component: Some("alerts".into()),
            fields: Vec::new(),
        });
        let through_trait = LogSink::write(
            &logger,
            LogEntry {
                level: LogLevel::Warning,
                message: "alert acknowledged".into(),
                component: None,
                fields: Vec::new(),
            },
        )
        .is_err();
        let flush = logger.flush().await;
        let shutdown = logger.shutdown(Duration::from_secs(60)).await;
        let stats = logger.stats();
        json!({
            "red": outcome(red),
            "red_us": red_us,
            "critical_us": critical_us,
            "critical": outcome(critical),
            "info_dropped": info_dropped,
            "warning": outcome(warning),
            "entry": outcome(entry),
            "trait_err": through_trait,
            "flush": outcome(flush),
            "shutdown": report_outcome(&shutdown),
            "emitted": stats.emitted,
            "written": stats.written,
            "failed": stats.failed,
            "dropped": stats.dropped,
            "queued": stats.queued,
            "timed_out": stats.timed_out,
            "stalled": stats.stalled,
        })
    });
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "REPORT {report}");
    let _ = stderr.flush();
    // Not back to the test harness: it would print to the stuck stdout.
    std::process::exit(0)
}

#[test]
fn a_stdout_nobody_reads_never_holds_a_critical_or_the_records_after_it() {
    if std::env::var_os(CHILD).is_some() {
        child();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Held open and never read while the child runs: the pipe fills and stays full.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    // A hang guard only: each bounded wait in the child is 200 ms.
    let status = wait_for(Duration::from_secs(120), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the host program hung on a stdout nobody reads:\n{}",
            reader.join().unwrap()
        );
    };
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    let report: Value = serde_json::from_str(line).unwrap();
    let n = |key: &str| {
        report[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {report}"))
    };
    // For the record, not asserted (no timing assertions): how long each CRITICAL waited.
    eprintln!(
        "stall_timeout 200 ms: the RED returned after {} us, the next CRITICAL after {} us",
        n("red_us"),
        n("critical_us")
    );

    // The RED returned, as stalled, and so did everything after it.
    assert_eq!(report["red"], "stalled", "{report}");
    assert_eq!(report["critical"], "stalled", "{report}");
    assert_eq!(report["warning"], "stalled", "{report}");
    assert_eq!(report["entry"], "stalled", "{report}");
    // Through `LogSink` (the alert manager's log channel) a stall is not a refusal: the record
    // is counted by the logger already, and a retry would write it twice.
    assert_eq!(report["trait_err"], false, "{report}");
    assert_eq!(report["flush"], "stalled", "{report}");
    assert_eq!(report["shutdown"], "stalled", "{report}");
    assert_eq!(report["stalled"], true, "{report}");
    // Counted: both CRITICAL records timed out in the queue; the CRITICAL entry either timed
    // out too or found no room and was dropped; the flood of INFO and the WARNING were dropped.
    assert!(n("timed_out") >= 2, "{report}");
    assert!(n("info_dropped") > 0, "{report}");
    assert!(n("dropped") > n("info_dropped"), "{report}");
    assert_eq!(
        n("emitted"),
        n("written") + n("failed") + n("dropped") + n("queued"),
        "{report}"
    );
    assert!(n("queued") > 0, "{report}");

    // What the sink wrote before the pipe filled is whole records, in the pipe nobody read.
    let mut written = Vec::new();
    stdout.read_to_end(&mut written).unwrap();
    let text = String::from_utf8_lossy(&written);
    // (The test harness's "test NAME ... " precedes the first record on its line.)
    let records: Vec<Value> = text
        .lines()
        .filter_map(|l| l.find("{\"timestamp\"").map(|start| &l[start..]))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!records.is_empty(), "nothing in the pipe: {text:.200}");
    assert_eq!(records[0]["level"], "INFO");
    assert_eq!(records[0]["i"], 0);
}
