//! The line survives a restart: with `[line] state_file`, a stop is on disk before it is
//! answered and a new system starts with the line stopped by the same signal; a file that cannot
//! be read starts the line STOPPED with a RED saying why (fail closed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::path::Path;

use andon::{AndonConfig, AndonSignal, AndonSystem, Color, SignalError};

fn config(dir: &Path, metrics_port: Option<u16>) -> AndonConfig {
    let metrics = match metrics_port {
        Some(port) => format!("port = {port}"),
        None => "enabled = false".to_owned(),
    };
    AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
{metrics}
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
enabled = false
[line]
state_file = "{state}"
"#,
        log = dir.join("andon.log").display(),
        state = dir.join("state/line.json").display(),
    ))
    .unwrap()
}

fn line_stopped_gauge(port: u16) -> String {
    let (_, body) = andon_tests::http_get(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
    body.lines()
        .find(|l| l.starts_with("andon_line_stopped "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_line_stays_stopped_across_a_restart_until_it_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let first = AndonSystem::new(config(dir.path(), None)).await.unwrap();
    let outcome = first
        .signal_problem(AndonSignal::red("disk full").with_component("db"))
        .await
        .unwrap();
    assert!(outcome.stopped_line);
    // A crash: no shutdown, nothing flushed; the stop was on disk before it was answered.
    drop(first);

    let port = andon_tests::free_port();
    let second = AndonSystem::new(config(dir.path(), Some(port)))
        .await
        .unwrap();
    let stopped = second
        .line()
        .checkpoint()
        .expect_err("a stopped line stays stopped after a restart");
    assert_eq!(stopped.signal.id(), outcome.id, "with its stopping signal");
    assert_eq!(stopped.signal.component(), Some("db"));
    let board = second.board();
    assert!(!board.line.is_running());
    let db = board
        .stations
        .iter()
        .find(|s| s.component == "db")
        .expect("the board shows who stopped the line");
    assert_eq!(db.color, Color::Red);
    assert_eq!(line_stopped_gauge(port), "andon_line_stopped 1");

    assert!(
        second
            .resume_line("alice", Some("disk cleaned"))
            .await
            .unwrap()
    );
    assert_eq!(line_stopped_gauge(port), "andon_line_stopped 0");
    second.shutdown().await.unwrap();

    let third = AndonSystem::new(config(dir.path(), None)).await.unwrap();
    assert!(
        third.line().checkpoint().is_ok(),
        "a resumed line stays running"
    );
    third.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_state_file_starts_the_line_stopped_with_a_red() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/line.json"), b"{\"version\":1,\"li").unwrap();

    let system = AndonSystem::new(config(dir.path(), None)).await.unwrap();
    let stopped = system
        .line()
        .checkpoint()
        .expect_err("fail closed: never RUNNING on an unknown state");
    assert!(
        stopped.signal.message().contains("could not be restored"),
        "{}",
        stopped.signal.message()
    );
    assert_eq!(stopped.signal.color(), Color::Red);
    // The RED is raised like any other: on the board and in the log.
    let recent = system.recent_signals(5);
    assert!(recent.iter().any(|s| s.id() == stopped.signal.id()));
    system.shutdown().await.unwrap();
    let log = std::fs::read_to_string(dir.path().join("andon.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"CRITICAL\"") && l.contains("could not be restored")),
        "{log}"
    );

    // Still stopped after another restart, until someone resumes it.
    let again = AndonSystem::new(config(dir.path(), None)).await.unwrap();
    assert!(again.line().checkpoint().is_err());
    assert!(again.resume_line("ops", Some("checked")).await.unwrap());
    again.shutdown().await.unwrap();
    let last = AndonSystem::new(config(dir.path(), None)).await.unwrap();
    assert!(last.line().checkpoint().is_ok());
    last.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_that_cannot_be_saved_is_told_to_the_on_call_not_only_to_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let port = andon_tests::free_port();
    let system = AndonSystem::new(config(dir.path(), Some(port)))
        .await
        .unwrap();
    assert!(
        system.line().checkpoint().is_ok(),
        "no state file yet: running"
    );
    // Then `state` becomes a file, so `state/line.json` cannot be written (not even by root),
    // as when the disk fills up or the folder is lost.
    std::fs::write(dir.path().join("state"), b"not a folder").unwrap();
    let metric = || {
        let (_, body) = andon_tests::http_get(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
        body.lines()
            .find(|l| l.starts_with("andon_line_state_errors_total"))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(metric(), "andon_line_state_errors_total 0");

    let answer = system
        .signal_problem(AndonSignal::red("disk full").with_component("db"))
        .await;
    let Err(SignalError::Partial { outcome, failures }) = answer else {
        panic!("the caller is told the stop was not saved: {answer:?}");
    };
    assert!(outcome.stopped_line);
    assert!(
        failures.iter().any(|f| f.component == "line"),
        "{failures:?}"
    );
    // Fail closed in this process: the line is stopped.
    assert!(system.line().checkpoint().is_err());

    // The on-call hears of it too: a counter, and a YELLOW from andon on the board and in the
    // log (raised in the background).
    assert_eq!(metric(), "andon_line_state_errors_total 1");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let yellow = loop {
        let found = system.recent_signals(10).into_iter().find(|s| {
            s.color() == Color::Yellow
                && s.component() == Some("andon")
                && s.message().contains("was not saved")
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no YELLOW from andon about the unsaved line"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(yellow.message().contains(&outcome.id.to_string()));
    assert!(
        system.line().checkpoint().is_err(),
        "a report never resumes"
    );
    let _ = system.shutdown().await;
    let log = std::fs::read_to_string(dir.path().join("andon.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"WARNING\"") && l.contains("was not saved")),
        "{log}"
    );
}
