//! Alerting never waits on logging: a log sink nobody reads (a full pipe as the logger's
//! stdout, a FIFO as its file), a sink that never answers, or a caller that stops waiting do not
//! keep a RED from the webhook, the board, the live events or the history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use andon::history::SqliteHistory;
use andon::{AndonConfig, AndonError, AndonSignal, AndonSystem, Color, SignalError, SignalSink};

mod receiver;
use receiver::Receiver;

/// Hang guard for what must arrive; never a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

/// The log in `log_sink`, metrics on a free port, history in `dir`, and a webhook channel to
/// `hook` for every RED.
fn config(dir: &Path, log_sink: &str, metrics_port: u16, hook: &str) -> AndonConfig {
    AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sampling_enabled = false
sinks = [{log_sink}]

[metrics]
port = {metrics_port}

[tracer]
enabled = false

[observer]
enabled = false

[history]
enabled = true
path = "{history}"

[alerts.channels.hook]
type = "webhook"
url = "{hook}"

[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hook"]
"#,
        history = dir.join("history.sqlite3").display(),
    ))
    .unwrap()
}

/// A FIFO that this test holds open (so the logger can open it) and never reads, filled to the
/// brim by a thread that then blocks on it for good.
fn full_fifo(dir: &Path) -> (std::path::PathBuf, std::fs::File) {
    let path = dir.join("andon.log");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success(), "mkfifo failed");
    // Read and write: opening does not wait for another end, and a reader exists.
    let held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut filler = held.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = filler.write_all(&vec![b'\n'; 4 << 20]);
    });
    (path, held)
}

fn timeline_kinds(path: &Path, trace_id: &str) -> Vec<String> {
    let history = SqliteHistory::open(path.to_str().unwrap()).unwrap();
    let timeline = history.timeline(trace_id).unwrap();
    timeline.entries.iter().map(|e| e.kind.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_nobody_reads_does_not_hold_up_the_alert_the_board_or_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let (fifo, held) = full_fifo(dir.path());
    let hook = Receiver::start();
    let port = andon_tests::free_port();
    let sink = format!(r#"{{ type = "File", path = "{}" }}"#, fifo.display());
    let system = AndonSystem::builder()
        .with_config(config(dir.path(), &sink, port, hook.url()))
        .with_part_deadline(Duration::from_millis(300))
        .build()
        .await
        .unwrap();
    let mut events = system.subscribe();

    let answer = tokio::time::timeout(
        GUARD,
        system.signal_problem(
            AndonSignal::red("Queue overflow - stop processing")
                .with_component("queue-handler")
                .with_trace_id("trace-stall"),
        ),
    )
    .await
    .expect("the RED is answered although the log never takes it");
    let Err(SignalError::Partial { outcome, failures }) = answer else {
        panic!("the stuck log is reported: {answer:?}");
    };
    assert_eq!(outcome.timed_out, ["log"]);
    assert!(outcome.stopped_line);
    assert!(outcome.delivered_to.contains(&"alert"), "{outcome:?}");
    assert!(outcome.delivered_to.contains(&"metrics"), "{outcome:?}");
    assert!(
        failures[0].to_string().contains("did not take the signal"),
        "{}",
        failures[0]
    );

    // The webhook gets the RED although the log never wrote it.
    let alert = hook
        .wait_for_body("Queue overflow - stop processing", GUARD)
        .expect("the webhook alert");
    assert!(alert.to_string().contains("queue-handler"), "{alert}");

    // The board and the live events show it.
    let board = system.board();
    assert!(!board.line.is_running());
    let station = board
        .stations
        .iter()
        .find(|s| s.component == "queue-handler")
        .unwrap();
    assert_eq!(station.color, Color::Red);
    let mut saw_signal = false;
    while let Ok(event) = events.try_recv() {
        saw_signal |=
            matches!(event, andon::SystemEvent::Signal(s) if s.trace_id() == Some("trace-stall"));
    }
    assert!(saw_signal, "the RED is a live event");

    // The stall is counted, with HELP text, and failures by component count the RED.
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let (_, body) = andon_tests::http_get(&metrics_url).unwrap();
    assert!(
        body.contains("# HELP andon_signal_part_timeouts_total "),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("andon_signal_part_timeouts_total{part=\"log\"}")),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l == "andon_failures_total{component=\"queue-handler\"} 1"),
        "{body}"
    );

    // The system says so itself: a YELLOW from `andon` naming the part.
    let yellow = andon_tests::wait_for(GUARD, || {
        system
            .recent_signals(20)
            .into_iter()
            .find(|s| s.component() == Some("andon") && s.color() == Color::Yellow)
    })
    .expect("a YELLOW about the stalled log");
    assert!(
        yellow.message().contains("log part"),
        "{}",
        yellow.message()
    );
    assert_eq!(yellow.attributes()["part"], "log");

    // The log cannot flush; everything else shuts down, the history last.
    let shutdown = system.shutdown_within(Duration::from_millis(500)).await;
    let failed: Vec<_> = shutdown
        .err()
        .map(|e| e.failures.iter().map(|f| f.component).collect())
        .unwrap_or_default();
    assert_eq!(failed, ["log"]);
    let kinds = timeline_kinds(&dir.path().join("history.sqlite3"), "trace-stall");
    for kind in ["signal", "line.stopped"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    // The stuck log is not waited for when the system is dropped (this test would hang).
    drop(system);
    drop(held);
}

/// A sink that tells when it has a signal, then holds it until released.
#[derive(Debug)]
struct Held {
    took: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

#[andon::async_trait]
impl SignalSink for Held {
    fn name(&self) -> &'static str {
        "held"
    }

    async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
        self.took.notify_one();
        let _ = self.release.acquire().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_after_the_line_stops_still_gets_its_alert_board_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start();
    let log = dir.path().join("andon.log");
    let sink = format!(r#"{{ type = "File", path = "{}" }}"#, log.display());
    let held = Arc::new(Held {
        took: tokio::sync::Notify::new(),
        release: tokio::sync::Semaphore::new(0),
    });
    let system = AndonSystem::builder()
        .with_config(config(
            dir.path(),
            &sink,
            andon_tests::free_port(),
            hook.url(),
        ))
        .with_sink(held.clone())
        .with_part_deadline(Duration::from_secs(600))
        .build()
        .await
        .unwrap();
    let mut events = system.subscribe();

    let caller = tokio::spawn({
        let system = system.clone();
        async move {
            system
                .signal_problem(
                    AndonSignal::red("disk full")
                        .with_component("db")
                        .with_trace_id("trace-dropped"),
                )
                .await
        }
    });
    // The fan-out is under way (the held sink has the signal); the caller gives up.
    tokio::time::timeout(GUARD, held.took.notified())
        .await
        .expect("the held sink gets the signal");
    caller.abort();
    assert!(caller.await.unwrap_err().is_cancelled());
    assert!(!system.line().is_running());

    // The line stopped, so everything else still happens.
    hook.wait_for_body("disk full", GUARD)
        .expect("the webhook alert after the caller was dropped");
    let board = system.board();
    let db = board
        .stations
        .iter()
        .find(|s| s.component == "db")
        .expect("the board shows the station");
    assert_eq!(db.color, Color::Red);
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(match event {
            andon::SystemEvent::Line(state) if !state.is_running() => "line stopped",
            andon::SystemEvent::Signal(_) => "signal",
            _ => "other",
        });
    }
    assert!(kinds.contains(&"line stopped"), "{kinds:?}");
    assert!(kinds.contains(&"signal"), "{kinds:?}");

    held.release.add_permits(1);
    system.shutdown().await.unwrap();
    let kinds = timeline_kinds(&dir.path().join("history.sqlite3"), "trace-dropped");
    for kind in ["signal", "line.stopped"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("disk full"),
        "the log has it too: {written}"
    );
}

#[test]
fn a_red_reaches_the_webhook_while_nobody_reads_the_programs_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Receiver::start();
    let config_path = dir.path().join("andon.toml");
    let mut text = String::from("[metrics]\nenabled = false\n");
    text.push_str(&format!(
        r#"
[logger]
sampling_enabled = false
sinks = ["Stdout"]

[tracer]
enabled = false

[observer]
enabled = false

[alerts.channels.hook]
type = "webhook"
url = "{}"

[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hook"]
"#,
        hook.url()
    ));
    std::fs::write(&config_path, text).unwrap();

    // The program's stdout is a pipe that is full before it starts and never read.
    let (reader, writer) = std::io::pipe().unwrap();
    let mut filler = writer.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = filler.write_all(&vec![b'\n'; 4 << 20]);
    });
    let mut child = Command::new(andon_tests::example_binary("signal_once"))
        .arg(&config_path)
        .arg("red")
        .arg("queue overflow behind a full pipe")
        .arg("queue-handler")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let alert = hook.wait_for_body("queue overflow behind a full pipe", GUARD);
    let exited = andon_tests::wait_for(GUARD, || child.try_wait().ok().flatten());
    if exited.is_none() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        alert.is_some(),
        "the RED never reached the webhook: {stderr}"
    );
    assert!(exited.is_some(), "the program hung on its stdout: {stderr}");
    // The log part is reported either way: skipped at the part deadline, or failed by the
    // logger's own bounded wait (`[logger] stall_timeout`), whichever comes first.
    assert!(
        stderr.contains("timed out: log") || stderr.contains("log: andon log: a log sink is stuck"),
        "{stderr}"
    );
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    drop(reader);
}
