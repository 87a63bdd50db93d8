//! The original design's "Complete Example" (`examples/design_complete.rs`), run as a user
//! runs it: it exits 0, its RED is a CRITICAL record on stdout, and stderr holds nothing but,
//! at most, a notice about the metrics port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs the example with the default configuration, in an empty directory.
fn run_example() -> Output {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(andon_tests::example_binary("design_complete"))
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard, never a timing assertion.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let guard = std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(120))
            == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let output = child.wait_with_output().unwrap();
    drop(done);
    guard.join().unwrap();
    output
}

fn records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Stderr lines that are not the notice of a metrics port taken by another program.
fn unexpected_stderr(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.contains("port") && l.contains("metrics")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_design_complete_example_logs_its_red_as_critical() {
    let output = run_example();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    let records = records(&output.stdout);
    let critical = records
        .iter()
        .find(|r| r["message"] == "Queue overflow - stop processing")
        .unwrap_or_else(|| panic!("the RED on stdout: {stdout}"));
    assert_eq!(critical["level"], "CRITICAL", "{critical}");
    assert_eq!(critical["component"], "queue-handler", "{critical}");
    assert!(critical.to_string().contains("trace-123"), "{critical}");
    assert_eq!(
        unexpected_stderr(&output.stderr),
        Vec::<String>::new(),
        "nothing on stderr but the port notice"
    );
}

/// The design's "4. Fires alerts" and "5. Collects diagnostics": with the default
/// configuration, a firing alert is a record in the log, naming its rule, the component and the
/// status, with the diagnostics snapshot (the default RED rule and the built-in log channel).
#[test]
fn the_design_complete_example_fires_an_alert_with_diagnostics() {
    let output = run_example();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let records = records(&output.stdout);
    let alert = records
        .iter()
        .find(|r| {
            let text = r.to_string();
            r["level"] == "CRITICAL"
                && text.contains("firing")
                && text.contains("queue-handler")
                && r["message"] != "Queue overflow - stop processing"
        })
        .unwrap_or_else(|| panic!("an alert firing record on stdout: {stdout}"));
    let text = alert.to_string().to_lowercase();
    assert!(
        text.contains("memory"),
        "the diagnostics travel with it: {alert}"
    );
    assert!(
        text.contains("cpu"),
        "the diagnostics travel with it: {alert}"
    );
}
