//! Event-driven rules: a gauge that crosses its limit is notified when the metrics recorder
//! says it changed (`MetricsListener::metric_changed`), not on the next evaluation tick. The
//! evaluation interval is an hour, so only the event path can deliver within the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule, QUEUE_DEPTH_METRIC};
use andon_core::config::AlertsConfig;
use andon_core::{AlertSeverity, MetricsListener};
use common::{FakeMetrics, lines, wait_until};

#[tokio::test]
async fn a_gauge_crossing_its_limit_is_notified_on_the_change_not_on_the_tick() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let config = AlertsConfig {
        evaluation_interval: Duration::from_secs(3600),
        ..AlertsConfig::default()
    };
    let metrics = Arc::new(FakeMetrics::default());
    let manager = AlertManager::builder(config)
        .with_metrics_source(metrics.clone())
        .build()
        .unwrap();
    manager
        .add_rule(AlertRule {
            name: "high-queue".into(),
            condition: AlertCondition::QueueDepth { max_depth: 100 },
            severity: AlertSeverity::Critical,
            channels: vec![AlertChannel::File { path: path.clone() }],
            ..Default::default()
        })
        .unwrap();
    manager.start();
    assert!(manager.is_evaluating());
    assert_eq!(manager.watched_metrics(), [QUEUE_DEPTH_METRIC]);

    // A change of a metric no rule reads does nothing.
    metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    manager.metric_changed("some_other_metric");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(manager.open_alerts().is_empty());

    // update_queue_depth("default", 150): the recorder calls metric_changed.
    manager.metric_changed(QUEUE_DEPTH_METRIC);
    wait_until("the firing notification is written", || {
        lines(&path).iter().any(|l| l["status"] == "firing")
    })
    .await;
    assert_eq!(
        manager.stats().evaluations,
        0,
        "no evaluation tick ran: the event path delivered"
    );

    // A burst of changes is coalesced; back under the limit, it resolves on the change too.
    metrics.set(QUEUE_DEPTH_METRIC, 10.0);
    for _ in 0..1000 {
        manager.metric_changed(QUEUE_DEPTH_METRIC);
    }
    wait_until("the resolved notification is written", || {
        lines(&path).iter().any(|l| l["status"] == "resolved")
    })
    .await;
    assert_eq!(lines(&path).len(), 2, "one firing, one resolved");
    assert_eq!(manager.stats().evaluations, 0);
    manager.shutdown(Duration::from_secs(1)).await;
    assert!(!manager.is_evaluating());
}

#[tokio::test]
async fn rules_inside_combinations_and_configured_metric_rules_are_watched() {
    let config = andon_core::AndonConfig::from_toml_str(
        r#"
[[alerts.rules]]
name = "errors"
condition = { type = "any", conditions = [
  { type = "metric", metric = "errors_total", rate_over = "5m", threshold = 1.0 },
  { type = "queue_depth", max_depth = 10, metric = "jobs_waiting" },
  { type = "signal", color = "red" },
] }
"#,
    )
    .unwrap()
    .alerts;
    let manager = AlertManager::builder(config)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    assert_eq!(manager.watched_metrics(), ["errors_total", "jobs_waiting"]);
}
