//! The outbox across a kill of the alert manager's runtime: what was pending is sent at the next
//! start with its key (at-least-once, the key as `Idempotency-Key`), a corrupt line loses only
//! itself, and a notification that could not be queued is not replayed later as a stale page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule, QUEUE_DEPTH_METRIC};
use andon_core::config::{AlertsConfig, ChannelConfig, Secret};
use common::{FakeMetrics, Receiver, wait_until};

/// A manager whose three queue rules (`q1`, `q2`, `q3`) fire on the first evaluation, each to
/// the webhook channel `hook` at `url`.
fn manager(outbox: &Path, url: String, tune: impl FnOnce(&mut AlertsConfig)) -> AlertManager {
    let metrics = Arc::new(FakeMetrics::default());
    metrics.set(QUEUE_DEPTH_METRIC, 500.0);
    let mut config = AlertsConfig {
        retry_backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        outbox_path: Some(outbox.to_owned()),
        max_retries: 100,
        ..AlertsConfig::default()
    };
    config.channels.insert(
        "hook".into(),
        ChannelConfig::Webhook {
            url: Secret::new(url),
            budget_per_minute: None,
        },
    );
    tune(&mut config);
    let alerts = AlertManager::builder(config)
        .with_metrics_source(metrics)
        .build()
        .unwrap();
    for name in ["q1", "q2", "q3"] {
        alerts
            .add_rule(AlertRule {
                name: name.into(),
                condition: AlertCondition::QueueDepth { max_depth: 100 },
                channels: vec![AlertChannel::Named("hook".into())],
                ..Default::default()
            })
            .unwrap();
    }
    alerts
}

/// Run 1: the three notifications are recorded and the receiver refuses them (503 with an hour
/// of `Retry-After`); then the runtime dies as in a kill, the first one mid-retry.
fn first_run_killed(outbox: &Path, rx: &Receiver) {
    rx.fail_next(u32::MAX, 503, Some(3600), "down for maintenance");
    let first = tokio::runtime::Runtime::new().unwrap();
    first.block_on(async {
        let alerts = manager(outbox, rx.url("/hook"), |_| {});
        alerts.check_and_fire_alerts().await.unwrap();
        wait_until("the first was attempted", || !rx.requests().is_empty()).await;
    });
    first.shutdown_background();
    rx.fail_next(0, 200, None, "");
}

fn keys(bodies: &[serde_json::Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn after_a_kill_the_outbox_delivers_every_pending_notification_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("alerts.outbox");
    let main = tokio::runtime::Runtime::new().unwrap();
    let rx = main.block_on(Receiver::start());
    first_run_killed(&outbox, &rx);
    let attempted = rx.requests()[0].body["key"].as_str().unwrap().to_owned();

    // Run 2: the receiver is back; start again (no evaluation) and everything pending is sent.
    main.block_on(async {
        let alerts = manager(&outbox, rx.url("/hook"), |_| {});
        assert_eq!(alerts.stats().replayed, 3);
        wait_until("all three arrive", || rx.delivered("/hook").len() >= 3).await;
        assert!(alerts.flush_within(Duration::from_secs(30)).await);
    });
    let delivered = keys(&rx.delivered("/hook"));
    assert_eq!(delivered.len(), 3, "once each in this run: {delivered:?}");
    let unique: BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), 3, "three notifications: {delivered:?}");
    assert!(
        unique.contains(&attempted),
        "the one in flight at the kill has its original key"
    );
    // Receivers de-duplicate the at-least-once replays on the key, sent as Idempotency-Key.
    for request in rx.requests() {
        assert_eq!(
            request.idempotency_key.as_deref(),
            request.body["key"].as_str(),
            "every attempt, before and after the kill"
        );
    }

    // Run 3: nothing is left to replay.
    main.block_on(async {
        let alerts = manager(&outbox, rx.url("/hook"), |_| {});
        assert_eq!(alerts.stats().replayed, 0);
    });
}

#[test]
fn a_corrupt_line_in_the_middle_of_the_outbox_loses_only_itself() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("alerts.outbox");
    let main = tokio::runtime::Runtime::new().unwrap();
    let rx = main.block_on(Receiver::start());
    first_run_killed(&outbox, &rx);
    let text = std::fs::read(&outbox).unwrap();
    let mut lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
    assert_eq!(lines.len(), 3, "three pending records");
    let lost: serde_json::Value = serde_json::from_slice(lines[1]).unwrap();
    let lost = lost["notification"]["key"].as_str().unwrap().to_owned();
    // The middle record becomes what a bad sector or a torn write leaves: not even UTF-8.
    let garbage = b"{\"op\":\"pending\",\"key\":\"\xff\xfe\x00\x00\x00\n".to_vec();
    lines[1] = &garbage;
    std::fs::write(&outbox, lines.concat()).unwrap();

    main.block_on(async {
        let alerts = manager(&outbox, rx.url("/hook"), |_| {});
        let stats = alerts.stats();
        assert_eq!(stats.replayed, 2, "the records after the bad line are read");
        assert_eq!(stats.outbox_errors, 1, "the bad line is counted");
        wait_until("both arrive", || rx.delivered("/hook").len() >= 2).await;
        assert!(alerts.flush_within(Duration::from_secs(30)).await);
    });
    let delivered = keys(&rx.delivered("/hook"));
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert!(!delivered.contains(&lost), "{delivered:?}");
    main.block_on(async {
        let alerts = manager(&outbox, rx.url("/hook"), |_| {});
        assert_eq!(alerts.stats().replayed, 0, "nothing resurrects");
    });
}

#[test]
fn a_notification_that_could_not_be_queued_is_not_paged_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("alerts.outbox");
    let main = tokio::runtime::Runtime::new().unwrap();
    let rx = main.block_on(Receiver::start());

    // Run 1: a receiver that never answers and a queue of one: of three notifications one is
    // in flight, one waits, and at least one cannot be queued.
    let first = tokio::runtime::Runtime::new().unwrap();
    let dropped = first.block_on(async {
        let alerts = manager(&outbox, rx.url("/hang"), |c| {
            c.queue_capacity = 1;
            c.timeout = Duration::from_secs(600);
        });
        alerts.check_and_fire_alerts().await.unwrap();
        let dropped = alerts.channel_reports()[0].dropped;
        assert!(dropped >= 1, "{:?}", alerts.channel_reports());
        dropped
    });
    first.shutdown_background();

    // Run 2: only what was queued is sent; the dropped one was counted then, not paged now.
    main.block_on(async {
        let alerts = manager(&outbox, rx.url("/ok"), |_| {});
        let expected = 3 - dropped;
        assert_eq!(alerts.stats().replayed, expected);
        wait_until("the queued ones arrive", || {
            rx.delivered("/ok").len() as u64 >= expected
        })
        .await;
        assert!(alerts.flush_within(Duration::from_secs(30)).await);
        assert_eq!(rx.delivered("/ok").len() as u64, expected);
    });
}
