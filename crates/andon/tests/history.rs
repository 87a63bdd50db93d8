//! The system remembers: with `[history] enabled`, a RED's signal, the line stop, the alert it
//! fired, its acknowledgement, the resumption and the RED's diagnostics are in the SQLite file
//! after shutdown, and the incident's timeline is found by its trace id.
#![cfg(all(feature = "history", feature = "alert", feature = "observe"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::{Duration, SystemTime};

use andon::core::HistoryStore;
use andon::history::{ParetoBy, SqliteHistory, Window};
use andon::{AndonSignal, AndonSystem};

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_is_kept_from_signal_to_resumption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite3");
    let mut config = support::full_config(dir.path(), andon_tests::free_port(), None);
    config.history.enabled = true;
    config.history.path = path.to_str().unwrap().to_owned();
    let system = AndonSystem::new(config).await.unwrap();
    assert!(system.history().is_some());

    system
        .signal_problem(AndonSignal::yellow("slow disk").with_component("db"))
        .await
        .unwrap();
    let outcome = system
        .signal_problem(
            AndonSignal::red("Queue overflow - stop processing")
                .with_component("queue-handler")
                .with_trace_id("trace-history-1"),
        )
        .await
        .unwrap();
    assert!(outcome.stopped_line);
    andon_tests::wait_for(Duration::from_secs(10), || system.last_diagnostics())
        .expect("the RED's diagnostics");
    let alerts = system.alerts().unwrap();
    andon_tests::wait_for(Duration::from_secs(10), || {
        (!alerts.open_alerts().is_empty()).then_some(())
    })
    .expect("the alert fires");
    assert_eq!(
        alerts.acknowledge("every-red", "alice", "on it").unwrap(),
        1
    );
    system
        .resume_line("alice", Some("queue drained"))
        .await
        .unwrap();
    system.shutdown().await.unwrap();

    // Another process (here: a fresh store) reads what the system kept.
    let history = SqliteHistory::open(path.to_str().unwrap()).unwrap();
    let timeline = history.timeline("trace-history-1").unwrap();
    let kinds: Vec<&str> = timeline.entries.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "signal",
        "line.stopped",
        "diagnostics",
        "alert.fired",
        "alert.acknowledged",
        "line.resumed",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(kinds[0], "signal");
    assert_eq!(timeline.trace_ids, ["trace-history-1"]);
    let acknowledged = timeline
        .entries
        .iter()
        .find(|e| e.kind == "alert.acknowledged")
        .unwrap();
    assert!(acknowledged.summary.contains("alice"), "{acknowledged:?}");

    let now = SystemTime::now();
    let pareto = history
        .pareto(
            Window::last(Duration::from_secs(3600), now),
            ParetoBy::Component,
            &[],
        )
        .unwrap();
    let keys: Vec<(&str, u64)> = pareto
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.count))
        .collect();
    assert_eq!(keys, [("db", 1), ("queue-handler", 1)]);
    let times = history
        .response_times(Window::last(Duration::from_secs(3600), now))
        .unwrap();
    assert_eq!(times[0].component, "queue-handler");
    assert_eq!((times[0].fired, times[0].acknowledged), (1, 1));
    history.shutdown().await.unwrap();
}
