//! A real Prometheus Alertmanager receives andon's alerts through its API v2, lists them on
//! `GET /api/v2/alerts`, and drops them from there once they are resolved.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule, QUEUE_DEPTH_METRIC};
use andon_core::AlertSeverity;
use andon_core::config::{AlertsConfig, ChannelConfig};
use andon_tests::{Peer, Ready, find_peer, free_port, http_get};
use common::FakeMetrics;
use serde_json::Value;

const CONFIG: &str = "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n";

fn listed(base: &str) -> Vec<Value> {
    match http_get(&format!("{base}/api/v2/alerts")) {
        Ok((200, body)) => serde_json::from_str::<Vec<Value>>(&body).unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_lists_the_firing_alert_and_drops_it_when_resolved() {
    let Some(binary) = find_peer(
        "prometheus-alertmanager",
        "apt-get install prometheus-alertmanager (or cargo xtask setup)",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("alertmanager.yml");
    std::fs::write(&config_path, CONFIG).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _peer = Peer::builder(binary)
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
    let alerts = AlertManager::new(config, metrics.clone()).unwrap();
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
