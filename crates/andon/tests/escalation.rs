//! `[line] escalate_yellow_after`: a YELLOW nobody handles stops the line, visibly; a GREEN or an
//! acknowledgement from its component handles it. Runs on tokio's paused clock, so "5m" takes
//! no real time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem, Color, SystemEvent};

fn config(dir: &Path) -> AndonConfig {
    AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sampling_enabled = false
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
port = {port}
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
enabled = false
[line]
escalate_yellow_after = "5m"
"#,
        log = dir.join("andon.log").display(),
        port = andon_tests::free_port(),
    ))
    .unwrap()
}

/// Waits (on the paused clock) for a RED to be raised, and fully recorded; returns it.
async fn red_raised(
    events: &mut tokio::sync::broadcast::Receiver<SystemEvent>,
) -> Arc<AndonSignal> {
    tokio::time::timeout(Duration::from_secs(3600), async {
        loop {
            if let SystemEvent::Signal(signal) = events.recv().await.unwrap()
                && signal.color() == Color::Red
            {
                return signal;
            }
        }
    })
    .await
    .expect("a RED within the escalation time")
}

#[tokio::test]
async fn an_unhandled_yellow_escalates_to_a_red_that_stops_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path())).await.unwrap();
    let mut events = system.subscribe();
    tokio::time::pause();

    let unhandled = AndonSignal::yellow("Queue approaching threshold")
        .with_component("queue-handler")
        .with_trace_id("trace-123");
    let unhandled_id = unhandled.id();
    system.signal_problem(unhandled).await.unwrap();
    system
        .signal_problem(AndonSignal::yellow("slow query").with_component("db"))
        .await
        .unwrap();
    system
        .signal_problem(AndonSignal::yellow("evictions").with_component("cache"))
        .await
        .unwrap();
    assert!(
        system.line().is_running(),
        "a YELLOW alone does not stop it"
    );

    tokio::time::sleep(Duration::from_secs(60)).await;
    // db recovers; someone takes the cache warning; the queue keeps warning, which does not
    // restart its timer.
    system
        .signal_problem(AndonSignal::green("fast again").with_component("db"))
        .await
        .unwrap();
    assert!(system.acknowledge_yellow("cache"));
    assert!(!system.acknowledge_yellow("nobody"));
    system
        .signal_problem(
            AndonSignal::yellow("Queue approaching threshold").with_component("queue-handler"),
        )
        .await
        .unwrap();
    assert!(system.line().is_running());

    let red = red_raised(&mut events).await;
    let state = system.line().state();
    assert_eq!(
        state.stopping_signal().unwrap().id(),
        red.id(),
        "the RED stopped the line"
    );
    assert_eq!(red.color(), Color::Red);
    assert_eq!(red.component(), Some("queue-handler"));
    assert_eq!(red.trace_id(), Some("trace-123"));
    assert!(
        red.message()
            .starts_with("YELLOW not handled within 300s: Queue approaching threshold"),
        "{}",
        red.message()
    );
    assert_eq!(
        red.attributes()["andon.escalated_from"],
        unhandled_id.to_string()
    );
    assert!(system.line().checkpoint().is_err());

    // Visible in the gauge and on the board.
    let metrics = system.metrics().unwrap().render();
    assert!(
        metrics.lines().any(|l| l == "andon_line_stopped 1"),
        "{metrics}"
    );
    let board = system.board();
    let station = board
        .stations
        .iter()
        .find(|s| s.component == "queue-handler")
        .unwrap();
    assert_eq!(station.color, Color::Red);

    // The handled YELLOWs never escalate.
    assert!(
        system
            .resume_line("alice", Some("queue drained"))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(system.line().is_running());
    let reds = system
        .recent_signals(100)
        .iter()
        .filter(|s| s.color() == Color::Red)
        .count();
    assert_eq!(reds, 1, "only the unhandled YELLOW escalated");

    tokio::time::resume();
    system.shutdown().await.unwrap();
    let log = std::fs::read_to_string(dir.path().join("andon.log")).unwrap();
    let critical: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r["level"] == "CRITICAL")
        .collect();
    assert_eq!(critical.len(), 1, "{log}");
    assert_eq!(critical[0]["component"], "queue-handler");
    assert!(
        critical[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("YELLOW not handled within"),
        "{log}"
    );
}

#[tokio::test]
async fn without_escalate_yellow_after_a_yellow_never_stops_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.line.escalate_yellow_after = None;
    let system = AndonSystem::new(config).await.unwrap();
    tokio::time::pause();
    system
        .signal_problem(AndonSignal::yellow("slow").with_component("db"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
    assert!(system.line().is_running());
    assert!(!system.acknowledge_yellow("db"));
    tokio::time::resume();
    system.shutdown().await.unwrap();
}
