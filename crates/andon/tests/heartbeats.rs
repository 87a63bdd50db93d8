//! `[[heartbeats]]` in a running system, on the real clock: a silence past `every + grace`
//! raises the heartbeat's RED (logged, counted, on the board, stopping the line), the next
//! success a GREEN; a `fail` is a RED at once; unknown names are refused or auto-created; a
//! system started after a deadline passed raises the miss at once.

#![cfg(all(feature = "metrics", feature = "alert"))] // reads the metrics and the alert manager
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon::core::MetricsSource;
use andon::{
    AndonConfig, AndonSignal, AndonSystem, Color, HeartbeatError, HeartbeatState, HeartbeatStatus,
    SystemEvent,
};

fn config(dir: &Path, extra: &str) -> AndonConfig {
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
state_file = "{state}"

[[heartbeats]]
name = "backup"
every = "2s"
grace = "1s"
component = "backup-job"

[[heartbeats]]
name = "quiet"
every = "1h"
stop_line = false
{extra}
"#,
        log = dir.join("andon.log").display(),
        state = dir.join("line.json").display(),
        port = andon_tests::free_port(),
    ))
    .unwrap()
}

async fn next_signal(
    events: &mut tokio::sync::broadcast::Receiver<SystemEvent>,
    color: Color,
) -> Arc<AndonSignal> {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let SystemEvent::Signal(signal) = events.recv().await.unwrap()
                && signal.color() == color
            {
                return signal;
            }
        }
    })
    .await
    .expect("the signal within 20s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_raises_the_red_and_the_next_success_a_green() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    let mut events = system.subscribe();
    let view = system.heartbeat("backup").await.unwrap();
    assert_eq!(view.state, HeartbeatState::Up);
    let last = view.last_check_in.unwrap();

    let red = next_signal(&mut events, Color::Red).await;
    assert_eq!(red.component(), Some("backup-job"));
    assert!(
        red.message().starts_with("no check-in from backup since ")
            && red.message().ends_with("expected every 2s"),
        "{}",
        red.message()
    );
    assert_eq!(red.attributes()["heartbeat"], "backup");
    assert_eq!(red.attributes()["every"], "2s");
    assert_eq!(red.attributes()["line.stopped"], true);
    let late = red.timestamp().duration_since(last).unwrap();
    assert!(
        late >= Duration::from_secs(3),
        "not before every + grace: {late:?}"
    );
    assert!(!system.line().is_running(), "the RED stopped the line");
    let metrics = system.metrics().unwrap();
    assert_eq!(
        metrics.value("andon_heartbeat_misses_total", &[("name", "backup")]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("andon_heartbeat_down", &[("name", "backup")]),
        Some(1.0)
    );
    let backup = |s: &AndonSystem| {
        s.heartbeats()
            .into_iter()
            .find(|h| h.name == "backup")
            .unwrap()
    };
    assert_eq!(backup(&system).state, HeartbeatState::Down);

    system
        .check_in("backup", HeartbeatStatus::Success, Some("ran late"))
        .await
        .unwrap();
    let green = next_signal(&mut events, Color::Green).await;
    assert_eq!(green.component(), Some("backup-job"));
    assert_eq!(green.message(), "backup checked in again: ran late");
    assert_eq!(backup(&system).state, HeartbeatState::Up);
    assert_eq!(
        metrics.value("andon_heartbeat_down", &[("name", "backup")]),
        Some(0.0)
    );
    assert_eq!(
        metrics.value(
            "andon_heartbeat_check_ins_total",
            &[("name", "backup"), ("status", "success")]
        ),
        Some(2.0)
    );
    system.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fail_is_a_signal_at_once_and_stop_line_overrides_the_line_rules() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    let mut events = system.subscribe();
    let view = system
        .check_in("quiet", HeartbeatStatus::Fail, Some("exit 3"))
        .await
        .unwrap();
    assert_eq!(view.state, HeartbeatState::Down);
    let red = next_signal(&mut events, Color::Red).await;
    assert_eq!(red.message(), "quiet checked in a failure: exit 3");
    assert_eq!(red.component(), Some("quiet"));
    assert!(
        system.line().is_running(),
        "stop_line = false keeps the line running"
    );
    system.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_are_refused_unless_heartbeats_auto() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    match system.heartbeat("nightly").await {
        Err(HeartbeatError::Unknown { name, known }) => {
            assert_eq!(name, "nightly");
            assert_eq!(known, ["backup", "quiet"]);
        }
        other => panic!("refused: {other:?}"),
    }
    system.shutdown().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut auto = config(dir.path(), "[agent]\nheartbeats_auto = true\n");
    // In memory: a thousand check-ins without a thousand fsyncs.
    auto.line.state_file = None;
    let system = AndonSystem::new(auto).await.unwrap();
    let view = system.heartbeat("nightly").await.unwrap();
    assert_eq!(view.every, Duration::from_secs(86_400));
    assert!(matches!(
        system.heartbeat("bad name").await,
        Err(HeartbeatError::BadName(_))
    ));
    assert_eq!(system.heartbeats().len(), 3);
    for i in 1..andon::MAX_AUTO_HEARTBEATS {
        system.heartbeat(&format!("job-{i}")).await.unwrap();
    }
    match system.heartbeat("one-too-many").await {
        Err(HeartbeatError::TooMany { name }) => assert_eq!(name, "one-too-many"),
        other => panic!(
            "check-ins create at most {}: {other:?}",
            andon::MAX_AUTO_HEARTBEATS
        ),
    }
    system.heartbeat("backup").await.unwrap();
    system.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_heartbeat_file_is_said_and_the_clocks_start_afresh() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("line.heartbeats.json"),
        b"{\"version\":1,\"heart",
    )
    .unwrap();
    let system = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    let yellow = system
        .recent_signals(10)
        .into_iter()
        .find(|s| s.component() == Some("heartbeats"))
        .expect("a YELLOW from heartbeats");
    assert_eq!(yellow.color(), Color::Yellow);
    assert!(
        yellow.message().contains("line.heartbeats.json"),
        "{}",
        yellow.message()
    );
    assert!(
        yellow.message().contains("could not be restored"),
        "{}",
        yellow.message()
    );
    assert!(
        system
            .heartbeats()
            .iter()
            .all(|h| h.state == HeartbeatState::Never)
    );
    assert!(
        system.line().is_running(),
        "a YELLOW does not stop the line"
    );
    system.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_past_the_deadline_raises_the_miss_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    let checked = first.heartbeat("backup").await.unwrap();
    first.shutdown().await.unwrap();
    drop(first);
    assert!(dir.path().join("line.heartbeats.json").exists());
    // Down past the deadline (every 2s + grace 1s).
    tokio::time::sleep(Duration::from_millis(3500)).await;

    let second = AndonSystem::new(config(dir.path(), "")).await.unwrap();
    // The miss was raised while the system started: the line is already stopped by it.
    let stopped = second.line().state();
    let red = stopped.stopping_signal().expect("stopped at start").clone();
    assert_eq!(red.attributes()["heartbeat"], "backup");
    let since = humantime::format_rfc3339_seconds(checked.last_check_in.unwrap()).to_string();
    assert!(
        red.message().contains(&since),
        "from the last check-in: {}",
        red.message()
    );
    let quiet = second
        .heartbeats()
        .into_iter()
        .find(|h| h.name == "quiet")
        .unwrap();
    assert_eq!(
        quiet.state,
        HeartbeatState::Never,
        "never checked in: its clock starts now"
    );
    second.shutdown().await.unwrap();
}

/// With the built-in alerting (no `[[alerts.rules]]`), each heartbeat gets its own rule: a miss
/// opens `heartbeat-NAME`, which stays open while the job is silent (the `red-signal` alert of
/// the miss's RED alone would resolve a minute later) and resolves at the next success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_built_in_alerting_a_missed_heartbeat_stays_alerted_until_it_checks_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), "");
    config.alerts.enabled = true;
    config.alerts.evaluation_interval = Duration::from_millis(100);
    let system = AndonSystem::new(config).await.unwrap();
    let alerts = system.alerts().unwrap().clone();
    let open = |alerts: &andon::alert::AlertManager| {
        alerts
            .open_alerts()
            .into_iter()
            .filter(|a| a.rule == "heartbeat-backup" && a.state == andon::alert::AlertState::Firing)
            .count()
    };
    assert_eq!(open(&alerts), 0, "no alert while the heartbeat is up");

    let mut events = system.subscribe();
    next_signal(&mut events, Color::Red).await;
    let fired = tokio::time::timeout(Duration::from_secs(20), async {
        while open(&alerts) == 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        fired.is_ok(),
        "heartbeat-backup fires: {:?}",
        alerts.open_alerts()
    );

    system.heartbeat("backup").await.unwrap();
    let resolved = tokio::time::timeout(Duration::from_secs(20), async {
        while open(&alerts) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        resolved.is_ok(),
        "resolved by the check-in: {:?}",
        alerts.open_alerts()
    );
    system.shutdown().await.ok();
}
