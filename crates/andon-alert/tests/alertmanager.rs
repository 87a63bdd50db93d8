//! A real Prometheus Alertmanager receives andon's alerts through its API v2, lists them on
//! `GET /api/v2/alerts`, and drops them from there once they are resolved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{
    AlertChannel, AlertCondition, AlertManager, AlertRule, Matcher, QUEUE_DEPTH_METRIC,
    WATCHDOG_ALERT,
};
use andon_core::config::{AlertsConfig, ChannelConfig};
use andon_core::{AlertSeverity, LogLevel};
use andon_tests::{Peer, Ready, find_peer, free_port, http_get};
use common::{FakeMetrics, RecordingLog, RecordingMetrics, wait_until};
use serde_json::Value;

const CONFIG: &str = "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n";

fn listed(base: &str) -> Vec<Value> {
    match http_get(&format!("{base}/api/v2/alerts")) {
        Ok((200, body)) => serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A real Alertmanager on a free loopback port: the peer (stopped when dropped), its base URL
/// and its data folder; `None` (the test passes without it) when it is not installed.
fn start_alertmanager() -> Option<(Peer, String, tempfile::TempDir)> {
    let binary = find_peer(
        "prometheus-alertmanager",
        "apt-get install prometheus-alertmanager (or cargo xtask setup)",
    )?;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("alertmanager.yml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let peer = Peer::builder(binary)
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .ready(Ready::Http(format!("{base}/-/ready")))
        .start()
        .unwrap();
    Some((peer, base, dir))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_lists_the_firing_alert_and_drops_it_when_resolved() {
    let Some((_peer, base, _dir)) = start_alertmanager() else {
        return;
    };

    let metrics = Arc::new(FakeMetrics::default());
    metrics.set(QUEUE_DEPTH_METRIC, 250.0);
    let mut config = AlertsConfig::default();
    config.channels.insert(
        "am".into(),
        ChannelConfig::Alertmanager {
            url: base.clone(),
            generator_url: Some("http://127.0.0.1:9999/board".into()),
            budget_per_minute: None,
        },
    );
    let alerts = AlertManager::builder(config)
        .with_metrics_source(metrics.clone())
        .build()
        .unwrap();
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("team".to_owned(), "core".to_owned());
    alerts
        .add_rule(AlertRule {
            name: "high-queue".into(),
            condition: AlertCondition::QueueDepth { max_depth: 100 },
            severity: AlertSeverity::Critical,
            channels: vec![AlertChannel::Named("am".into())],
            labels,
            ..Default::default()
        })
        .unwrap();
    alerts.check_and_fire_alerts().await.unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    assert_eq!(
        alerts.channel_reports()[0].sent,
        1,
        "{:?}",
        alerts.channel_reports()
    );

    let found = andon_tests::wait_for(Duration::from_secs(20), || {
        listed(&base)
            .into_iter()
            .find(|a| a["labels"]["alertname"] == "high-queue")
    })
    .expect("the alert is listed");
    assert_eq!(found["labels"]["severity"], "critical");
    assert_eq!(found["labels"]["team"], "core");
    assert_eq!(found["status"]["state"], "active");
    assert_eq!(found["generatorURL"], "http://127.0.0.1:9999/board");
    assert_eq!(
        found["annotations"]["summary"],
        "high-queue: andon_queue_depth = 250 (> 100)"
    );

    metrics.set(QUEUE_DEPTH_METRIC, 10.0);
    alerts.check_and_fire_alerts().await.unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    assert_eq!(alerts.channel_reports()[0].sent, 2);
    let gone = andon_tests::wait_for(Duration::from_secs(20), || {
        (!listed(&base)
            .iter()
            .any(|a| a["labels"]["alertname"] == "high-queue"))
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "the resolved alert ended: {:?}",
        listed(&base)
    );
}

/// The watchdog alert as Alertmanager lists it, if it does.
fn watchdog(base: &str) -> Option<Value> {
    listed(base)
        .into_iter()
        .find(|a| a["labels"]["alertname"] == WATCHDOG_ALERT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_fires_while_andon_runs_and_expires_after_it_stops() {
    let Some((_peer, base, _dir)) = start_alertmanager() else {
        return;
    };
    let mut config = AlertsConfig::default();
    config.channels.insert(
        "am".into(),
        ChannelConfig::Alertmanager {
            url: base.clone(),
            generator_url: None,
            budget_per_minute: None,
        },
    );
    config.watchdog.enabled = true;
    config.watchdog.interval = Duration::from_secs(1);
    let alerts = AlertManager::builder(config)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    // Independent of silences: one muting it in andon changes nothing.
    alerts.add_silence(
        vec![Matcher::eq("alertname", WATCHDOG_ALERT)],
        Duration::from_secs(3600),
        "test",
        "the watchdog ignores silences",
    );

    let first = andon_tests::wait_for(Duration::from_secs(20), || watchdog(&base))
        .expect("Alertmanager lists the watchdog alert");
    assert_eq!(first["labels"]["severity"], "none");
    assert!(!first["labels"]["instance"].as_str().unwrap().is_empty());
    assert_eq!(first["labels"].as_object().unwrap().len(), 3, "{first}");
    assert_eq!(first["status"]["state"], "active");

    // Longer than its endsAt window (three intervals): still firing, because andon resends.
    let sent = alerts.stats().watchdog_sent;
    andon_tests::wait_for(Duration::from_secs(20), || {
        (alerts.stats().watchdog_sent >= sent + 4).then_some(())
    })
    .expect("the watchdog keeps sending");
    let later = watchdog(&base).expect("still listed after four intervals");
    assert!(
        later["endsAt"].as_str() > first["endsAt"].as_str(),
        "endsAt moves ahead with each send: {} then {}",
        first["endsAt"],
        later["endsAt"]
    );
    assert_eq!(alerts.stats().watchdog_failures, 0);

    // Stopped: nothing more is sent, and Alertmanager lets it expire at its endsAt.
    assert!(alerts.shutdown(Duration::from_secs(5)).await.is_complete());
    let stopped_at = alerts.stats().watchdog_sent;
    let gone = andon_tests::wait_for(Duration::from_secs(20), || {
        watchdog(&base).is_none().then_some(())
    });
    assert!(
        gone.is_some(),
        "the watchdog expired: {:?}",
        watchdog(&base)
    );
    assert_eq!(
        alerts.stats().watchdog_sent,
        stopped_at,
        "nothing sent after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watchdog_that_cannot_reach_alertmanager_is_counted_and_logged_and_blocks_nothing() {
    // A loopback port nothing listens on: every send is refused.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut config = AlertsConfig::default();
    config.channels.insert(
        "am".into(),
        ChannelConfig::Alertmanager {
            url: refused,
            generator_url: None,
            budget_per_minute: None,
        },
    );
    config.watchdog.enabled = true;
    config.watchdog.interval = Duration::from_secs(1);
    let log = Arc::new(RecordingLog::default());
    let metrics = Arc::new(RecordingMetrics::default());
    let alerts = AlertManager::builder(config)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .with_log_sink(log.clone())
        .with_metrics_sink(metrics.clone())
        .build()
        .unwrap();

    wait_until("two failed sends", || alerts.stats().watchdog_failures >= 2).await;
    assert_eq!(alerts.stats().watchdog_sent, 0);
    assert!(
        metrics.total("andon_alert_watchdog_failures_total", &[("channel", "am")]) >= 1,
        "counted in the metric"
    );
    assert!(
        metrics
            .help("andon_alert_watchdog_failures_total")
            .is_some()
    );
    let warnings: Vec<_> = log
        .entries()
        .into_iter()
        .filter(|e| e.level == LogLevel::Warning && e.message.contains("watchdog"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "logged once when it starts failing, not every interval: {warnings:?}"
    );
    assert!(
        warnings[0].message.contains("`am`"),
        "{}",
        warnings[0].message
    );
    // The rest of the manager is not held up by it.
    alerts.check_and_fire_alerts().await.unwrap();
    assert!(alerts.shutdown(Duration::from_secs(5)).await.is_complete());
}
