//! Log faults (docs/faults.md): a full disk and an unwritable file, rsyslog killed and started
//! again in the middle of a stream, and a host program whose stdout is closed. Every record is
//! accounted for: written, or counted as failed or dropped, never lost in silence.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use andon_core::LogLevel;
use andon_core::config::{LoggerConfig, SinkConfig, SyslogFormat, SyslogTransport};
use andon_log::AndonLogger;
use andon_tests::{Peer, Ready, find_peer, free_port, temp_dir, wait_for};
use serde_json::Value;

use andon::log as andon_log;

fn file_sink(path: &Path) -> SinkConfig {
    SinkConfig::File {
        path: path.to_owned(),
        max_bytes: 0,
        keep: 0,
        level: None,
    }
}

fn logger(sinks: Vec<SinkConfig>) -> AndonLogger {
    AndonLogger::new(LoggerConfig {
        level: LogLevel::Debug,
        sampling_enabled: false,
        sinks,
        ..LoggerConfig::default()
    })
    .unwrap()
}

fn lines(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    // Only whole lines: a peer may be half-way through writing the last one.
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_owned).collect()
}

/// Logs 200 INFO, 20 WARNING and one CRITICAL record; every call returns.
async fn log_a_little(logger: &AndonLogger) {
    for i in 0..200 {
        logger
            .event(LogLevel::Info, "info", slog::o!("i" => i))
            .unwrap();
    }
    for _ in 0..20 {
        logger.warn("warning").await.unwrap();
    }
    logger.critical("critical").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_counted_per_record_and_the_other_sink_gets_everything() {
    if !Path::new("/dev/full").exists() {
        andon_tests::skip_or_fail("/dev/full", "a Linux machine");
        return;
    }
    let dir = temp_dir();
    let good = dir.path().join("good.log");
    let logger = logger(vec![file_sink(Path::new("/dev/full")), file_sink(&good)]);
    log_a_little(&logger).await;
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );

    let stats = logger.stats();
    assert_eq!(stats.emitted, 221, "{stats:?}");
    // Each record reached the healthy sink, so none counts as failed; the full disk counts each.
    assert_eq!((stats.written, stats.failed, stats.dropped), (221, 0, 0));
    assert_eq!(lines(&good).len(), 221);
    let full = &stats.sinks[0];
    assert_eq!((full.written, full.errors), (0, 221), "{full:?}");
    let error = full.last_error.clone().unwrap();
    assert!(error.contains("No space left on device"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_alone_fails_every_record_and_nothing_blocks() {
    if !Path::new("/dev/full").exists() {
        andon_tests::skip_or_fail("/dev/full", "a Linux machine");
        return;
    }
    let logger = logger(vec![file_sink(Path::new("/dev/full"))]);
    log_a_little(&logger).await;
    logger.flush().await.unwrap();
    let stats = logger.stats();
    assert_eq!((stats.emitted, stats.written, stats.failed), (221, 0, 221));
    assert_eq!(stats.emitted, stats.written + stats.failed + stats.dropped);
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_file_is_counted_and_named_in_the_error() {
    // A directory where the file should be: not even root can open it for writing.
    let dir = temp_dir();
    let path = dir.path().join("andon.log");
    fs::create_dir(&path).unwrap();
    let logger = logger(vec![file_sink(&path)]);
    log_a_little(&logger).await;
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let stats = logger.stats();
    assert_eq!((stats.emitted, stats.failed, stats.written), (221, 221, 0));
    let error = stats.sinks[0].last_error.clone().unwrap();
    assert!(error.contains("andon.log"), "names the file: {error}");
}

/// One line per message rsyslog stored: the record's JSON.
const TEMPLATE: &str = "%msg%\\n";

fn start_rsyslog(rsyslogd: &Path, dir: &Path, port: u16, out: &Path) -> Peer {
    let conf = dir.join("rsyslog.conf");
    fs::write(
        &conf,
        format!(
            r#"
global(workDirectory="{dir}")
module(load="imtcp")
template(name="andon" type="string" string="{TEMPLATE}")
ruleset(name="andon") {{
  action(type="omfile" file="{out}" template="andon" flushOnTXEnd="on" asyncWriting="off")
}}
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="andon")
"#,
            dir = dir.display(),
            out = out.display(),
        ),
    )
    .unwrap();
    Peer::builder(rsyslogd)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .ready(Ready::Tcp(([127, 0, 0, 1], port).into()))
        .start()
        .unwrap()
}

/// The sequence numbers rsyslog stored.
fn stored(out: &Path) -> Vec<u64> {
    lines(out)
        .iter()
        .map(|l| {
            let record: Value =
                serde_json::from_str(l.trim()).unwrap_or_else(|e| panic!("{e}: {l}"));
            record["n"].as_u64().unwrap()
        })
        .collect()
}

fn wait_stored(out: &Path, count: usize) -> Vec<u64> {
    wait_for(Duration::from_secs(20), || {
        let seen = stored(out);
        (seen.len() >= count).then_some(seen)
    })
    .unwrap_or_else(|| panic!("rsyslog stored {} of {count}", stored(out).len()))
}

#[test]
fn rsyslog_killed_and_restarted_mid_stream_loses_only_what_is_counted() {
    let Some(rsyslogd) = find_peer("rsyslogd", "apt-get install rsyslog") else {
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("stored.log");
    let port = free_port();
    let mut rsyslog = start_rsyslog(&rsyslogd, dir.path(), port, &out);
    let logger = AndonLogger::new(LoggerConfig {
        sampling_enabled: false,
        sinks: vec![SinkConfig::Syslog {
            transport: SyslogTransport::Tcp,
            address: Some(format!("127.0.0.1:{port}")),
            format: SyslogFormat::Rfc5424,
            facility: "local3".into(),
            app_name: "andon".into(),
            hostname: Some("andon-test".into()),
            level: None,
        }],
        ..LoggerConfig::default()
    })
    .unwrap();
    let mut n = 0u64;
    let mut send = |logger: &AndonLogger, count: u64| {
        for _ in 0..count {
            logger
                .event(LogLevel::Warning, "stream", slog::o!("n" => n))
                .unwrap();
            n += 1;
        }
        logger.flush_blocking().unwrap();
    };

    // The stream flows over one connection.
    send(&logger, 100);
    assert_eq!(wait_stored(&out, 100).len(), 100);

    // rsyslog dies (SIGKILL) with the connection open; the stream goes on meanwhile.
    rsyslog.kill();
    for _ in 0..5 {
        send(&logger, 20);
    }
    let down = logger.stats();
    assert_eq!(
        down.written, 100,
        "nothing counts as written while rsyslog is dead: {down:?}"
    );
    assert_eq!(down.failed, 100, "{down:?}");

    // rsyslog comes back on the same port: the stream resumes on a new connection.
    let _rsyslog = start_rsyslog(&rsyslogd, dir.path(), port, &out);
    let resumed = wait_for(Duration::from_secs(20), || {
        send(&logger, 10);
        (stored(&out).len() > 100).then_some(())
    });
    assert!(
        resumed.is_some(),
        "records did not resume: {:?}",
        logger.stats()
    );
    send(&logger, 50);
    logger.shutdown_blocking();

    let stats = logger.stats();
    let seen = wait_stored(&out, stats.written as usize);
    // What rsyslog has is exactly what andon counts as written; the rest is counted as lost.
    assert_eq!(seen.len() as u64, stats.written, "{stats:?}");
    assert_eq!(
        stats.emitted - seen.len() as u64,
        stats.failed + stats.dropped,
        "{stats:?}"
    );
    assert_eq!(stats.emitted, n);
    // No duplicates, and the last 50 all arrived, in order.
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    assert_eq!(seen[seen.len() - 50..], (n - 50..n).collect::<Vec<_>>()[..]);
    assert!(stats.sinks[0].last_error.is_some());
}

/// The `REPORT` line the example wrote to stderr.
fn report_of(stderr: &str) -> Value {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("REPORT "))
        .unwrap_or_else(|| panic!("no report in:\n{stderr}"));
    serde_json::from_str(line).unwrap()
}

/// Runs `command`, failing the test if it does not end within a minute (a hang).
fn run_bounded(mut command: Command) -> (std::process::ExitStatus, String) {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let status = wait_for(Duration::from_secs(60), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the host program hung: {}", reader.join().unwrap());
    };
    (status, reader.join().unwrap())
}

#[test]
fn a_closed_stdout_is_counted_and_never_panics_or_hangs_the_host() {
    let dir = temp_dir();
    let log = dir.path().join("andon.log");
    // stdout is a pipe whose reading end is closed before the host starts: every write fails
    // with EPIPE, the first one too (closing it after the spawn would race the host's first
    // writes into the pipe's buffer).
    let (read_end, write_end) = std::io::pipe().unwrap();
    drop(read_end);
    let mut command = Command::new(andon_tests::example_binary("fault_host"));
    command.arg("stdout").arg(&log).stdin(Stdio::null());
    command.stdout(write_end);
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let status = wait_for(Duration::from_secs(60), || child.try_wait().unwrap());
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the host program hung: {}", reader.join().unwrap());
    };
    let stderr = reader.join().unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = report_of(&stderr);
    assert_eq!(report["shutdown_ok"], true, "{report}");
    let stats = &report["log"];
    let emitted = stats["emitted"].as_u64().unwrap();
    assert_eq!(
        emitted, 551,
        "500 records, a CRITICAL and 50 signals: {report}"
    );
    // The file sink has everything; the closed stdout counts a failure for each record.
    assert_eq!(lines(&log).len() as u64, emitted);
    assert_eq!(stats["written"].as_u64().unwrap(), emitted);
    let stdout = &stats["sinks"][0];
    assert_eq!(stdout["errors"].as_u64().unwrap(), emitted, "{report}");
    assert!(
        stdout["last_error"]
            .as_str()
            .unwrap()
            .contains("Broken pipe"),
        "{report}"
    );

    // stdout not there at all (file descriptor 1 closed): the program still ends cleanly.
    let Some(sh) = find_peer("sh", "apt-get install dash") else {
        return;
    };
    let log2 = dir.path().join("closed.log");
    let mut command = Command::new(sh);
    command
        .args(["-c", "exec \"$0\" \"$@\" >&-"])
        .arg(andon_tests::example_binary("fault_host"))
        .arg("stdout")
        .arg(&log2)
        .stdin(Stdio::null());
    let (status, stderr) = run_bounded(command);
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(report_of(&stderr)["shutdown_ok"], true, "{stderr}");
}
