//! Open alerts survive a restart (`[alerts] state_file`): an alert fired, escalated and
//! acknowledged before a crash is open again, with its acknowledgement and escalation level,
//! in a new manager on the same file, and still resolves later on every channel it reached, a
//! PagerDuty incident included. A bad state file is an error that says what to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use andon_alert::{AlertManager, AlertState, ManualClock};
use andon_core::config::AlertsConfig;
use andon_core::{AndonConfig, AndonSignal, SignalSink};
use common::{FakeMetrics, Receiver, lines, wait_until};

/// A RED rule on component `press` (10 minute window) to a file and PagerDuty, escalating to
/// a second file after a minute; open alerts kept in `state`.
fn config(dir: &Path, pagerduty: &str) -> AlertsConfig {
    let text = format!(
        r#"
[alerts]
state_file = "{state}"

[alerts.channels.file]
type = "file"
path = "{file}"

[alerts.channels.pd]
type = "pagerduty"
routing_key = "R0UTING"
url = "{pagerduty}"

[alerts.channels.pager]
type = "file"
path = "{pager}"

[[alerts.escalation]]
channels = ["pager"]
after = "1m"

[[alerts.rules]]
name = "press-down"
condition = {{ type = "signal", color = "red", component = "press", window = "10m" }}
severity = "critical"
channels = ["file", "pd"]
"#,
        state = dir.join("state/alerts.json").display(),
        file = dir.join("alerts.jsonl").display(),
        pager = dir.join("pager.jsonl").display(),
    );
    AndonConfig::from_toml_str(&text).unwrap().alerts
}

#[tokio::test]
async fn an_open_alert_survives_a_crash_with_its_ack_and_escalation_and_resolves_later() {
    let dir = tempfile::tempdir().unwrap();
    let pd = Receiver::start().await;
    let start = SystemTime::now();
    let metrics = Arc::new(FakeMetrics::default());
    let fingerprint = {
        let clock = Arc::new(ManualClock::at(start));
        let manager = AlertManager::builder(config(dir.path(), &pd.url("/pd")))
            .with_metrics_source(metrics.clone())
            .with_clock(clock.clone())
            .build()
            .unwrap();
        manager
            .on_signal(&AndonSignal::red("press jammed").with_component("press"))
            .await
            .unwrap();
        clock.advance(Duration::from_secs(61));
        manager.check_and_fire_alerts().await.unwrap();
        manager.acknowledge("press-down", "alice", "on it").unwrap();
        assert!(manager.flush_within(Duration::from_secs(30)).await);
        let open = manager.open_alerts();
        assert_eq!(open[0].escalation_level, 1);
        open[0].fingerprint.clone()
        // Dropped without shutdown: a crash.
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("state/alerts.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the owner reads the state file");
    }

    let clock = Arc::new(ManualClock::at(start + Duration::from_secs(120)));
    let manager = AlertManager::builder(config(dir.path(), &pd.url("/pd")))
        .with_metrics_source(metrics)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let open = manager.open_alerts();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].fingerprint, fingerprint);
    assert_eq!(open[0].state, AlertState::Firing);
    assert_eq!(open[0].acknowledged_by.as_deref(), Some("alice: on it"));
    assert_eq!(open[0].escalation_level, 1);
    assert_eq!(manager.stats().restored, 1);

    // Still firing, acknowledged: no new notification on the next evaluation.
    manager.check_and_fire_alerts().await.unwrap();
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    assert_eq!(
        lines(&dir.path().join("alerts.jsonl")).len(),
        2,
        "firing, acknowledged"
    );

    // Ten minutes without a RED: resolved on every channel it reached before the crash.
    clock.advance(Duration::from_secs(600));
    manager.check_and_fire_alerts().await.unwrap();
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    assert!(manager.open_alerts().is_empty());
    let file = lines(&dir.path().join("alerts.jsonl"));
    assert_eq!(file.last().unwrap()["status"], "resolved");
    assert_eq!(
        file.last().unwrap()["alerts"][0]["fingerprint"],
        fingerprint
    );
    assert_eq!(
        lines(&dir.path().join("pager.jsonl")).last().unwrap()["status"],
        "resolved",
        "the escalation level reached before the crash gets the resolution too"
    );
    wait_until("PagerDuty gets the resolve", || {
        pd.delivered("/pd")
            .iter()
            .any(|e| e["event_action"] == "resolve" && e["dedup_key"] == fingerprint.as_str())
    })
    .await;

    // The resolution is durable too: a third start has nothing open.
    drop(manager);
    let manager = AlertManager::builder(config(dir.path(), &pd.url("/pd")))
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    assert!(manager.open_alerts().is_empty());
}

#[tokio::test]
async fn a_bad_state_file_is_an_error_that_says_what_to_do_and_a_lost_rule_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pd = Receiver::start().await;
    let state = dir.path().join("state/alerts.json");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    for bad in [
        "{\"version\":1,\"alerts\":[{\"rule\":",
        "not json",
        "{\"version\":99,\"alerts\":[]}",
    ] {
        std::fs::write(&state, bad).unwrap();
        let err = AlertManager::builder(config(dir.path(), &pd.url("/pd")))
            .with_metrics_source(Arc::new(FakeMetrics::default()))
            .build()
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("alerts.json"), "{text}");
        assert!(text.contains("move it away"), "{text}");
    }

    // An open alert of a rule that is no longer configured: skipped loudly and counted.
    std::fs::remove_file(&state).unwrap();
    {
        let manager = AlertManager::builder(config(dir.path(), &pd.url("/pd")))
            .with_metrics_source(Arc::new(FakeMetrics::default()))
            .build()
            .unwrap();
        manager
            .on_signal(&AndonSignal::red("jammed").with_component("press"))
            .await
            .unwrap();
    }
    let other = AlertsConfig {
        state_file: Some(state),
        ..AlertsConfig::default()
    };
    let manager = AlertManager::builder(other)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(manager.stats().restored, 0);
    assert_eq!(manager.stats().restore_skipped, 1);
}
