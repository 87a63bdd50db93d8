//! Shutdown honours its deadline: with a channel whose receiver hangs and one whose port
//! refuses connections, `shutdown` returns at its deadline instead of after every retry,
//! says what it left (report, counter, WARNING record), and the next manager on the same outbox
//! delivers it to a working receiver.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon_alert::{
    AlertChannel, AlertCondition, AlertManager, AlertManagerBuilder, AlertRule, QUEUE_DEPTH_METRIC,
};
use andon_core::LogLevel;
use andon_core::config::{AlertsConfig, ChannelConfig, Secret};
use common::{FakeMetrics, Receiver, RecordingLog, wait_until};

/// A manager whose two queue rules fire on the first evaluation, each to the webhook channels
/// `slow` and `down` at these URLs; retries as many and as long as a real outage would take.
fn manager(outbox: &Path, slow: String, down: String) -> AlertManager {
    manager_with(outbox, slow, down, |builder| builder)
}

/// [`manager`], with more parts given to its builder.
fn manager_with(
    outbox: &Path,
    slow: String,
    down: String,
    parts: impl FnOnce(AlertManagerBuilder) -> AlertManagerBuilder,
) -> AlertManager {
    let metrics = Arc::new(FakeMetrics::default());
    metrics.set(QUEUE_DEPTH_METRIC, 500.0);
    let mut config = AlertsConfig {
        retry_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(30),
        outbox_path: Some(outbox.to_owned()),
        max_retries: 10,
        ..AlertsConfig::default()
    };
    for (name, url) in [("slow", slow), ("down", down)] {
        config.channels.insert(
            name.into(),
            ChannelConfig::Webhook {
                url: Secret::new(url),
                budget_per_minute: None,
            },
        );
    }
    let alerts = parts(AlertManager::builder(config).with_metrics_source(metrics))
        .build()
        .unwrap();
    for name in ["q1", "q2"] {
        alerts
            .add_rule(AlertRule {
                name: name.into(),
                condition: AlertCondition::QueueDepth { max_depth: 100 },
                channels: vec![
                    AlertChannel::Named("slow".into()),
                    AlertChannel::Named("down".into()),
                ],
                ..Default::default()
            })
            .unwrap();
    }
    alerts
}

/// A loopback port nothing listens on: connections to it are refused.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/down")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_at_its_deadline_and_the_next_start_delivers_what_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("alerts.outbox");
    let rx = Receiver::start().await;
    let log = Arc::new(RecordingLog::default());

    let alerts = manager_with(&outbox, rx.url("/hang"), refused_url(), |builder| {
        builder.with_log_sink(log.clone())
    });
    alerts.check_and_fire_alerts().await.unwrap();
    assert_eq!(alerts.stats().notifications, 2);
    // Without a deadline the channels would retry for minutes (10 retries of a 30 s timeout,
    // and backoff up to a minute): the guard is far below that, far above the deadline.
    let report = tokio::time::timeout(
        Duration::from_secs(20),
        alerts.shutdown(Duration::from_secs(1)),
    )
    .await
    .expect("shutdown kept to its deadline");
    assert_eq!(report.undelivered, 4, "two notifications to two channels");
    assert_eq!(report.kept, 4, "all of them are in the outbox");
    assert_eq!(report.undelivered - report.kept, 0, "none lost");
    assert!(!report.is_complete());
    assert_eq!(alerts.stats().left_at_shutdown, 4);
    let records = log.entries();
    let warning = records
        .iter()
        .find(|r| r.level == LogLevel::Warning && r.message.contains("shut down"))
        .unwrap_or_else(|| panic!("no shutdown warning among {records:?}"));
    assert!(
        warning.message.contains("outbox") && warning.message.contains("replay"),
        "{}",
        warning.message
    );
    assert!(
        alerts.check_and_fire_alerts().await.is_err(),
        "refused after shutdown"
    );
    drop(alerts);

    // The next start, with both channels now at a working receiver, replays all four.
    let again = manager(&outbox, rx.url("/ok"), rx.url("/ok"));
    assert_eq!(again.stats().replayed, 4);
    wait_until("the four arrive", || rx.delivered("/ok").len() >= 4).await;
    let report = again.shutdown(Duration::from_secs(10)).await;
    assert!(report.is_complete(), "{report:?}");
    let delivered = rx.delivered("/ok");
    assert_eq!(delivered.len(), 4, "once per channel: {delivered:?}");
    let keys: BTreeSet<&str> = delivered
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys.len(),
        2,
        "the two notifications, each to both channels"
    );

    // Delivered and marked done: a third start has nothing to replay.
    drop(again);
    let third = manager(&outbox, rx.url("/ok"), rx.url("/ok"));
    assert_eq!(third.stats().replayed, 0);
}
