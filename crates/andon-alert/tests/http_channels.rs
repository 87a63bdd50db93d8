//! The HTTP channels against a local receiver: bodies checked against the documented rules of
//! Slack incoming webhooks and PagerDuty Events API v2, retries, budgets, isolation (the outbox
//! is in `outbox.rs`, snapshots, escaping and redaction in `payloads.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule};
use andon_core::config::{ChannelConfig, Secret};
use andon_core::{AlertSeverity, AndonSignal, SignalSink};
use common::{
    FakeDiagnostics, FakeMetrics, Receiver, check_pagerduty, check_slack, config, wait_until,
    webhook,
};

fn reds(name: &str, severity: AlertSeverity, channels: &[&str]) -> AlertRule {
    AlertRule {
        name: name.into(),
        severity,
        channels: channels
            .iter()
            .map(|c| AlertChannel::Named((*c).into()))
            .collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_and_pagerduty_bodies_follow_their_documented_rules() {
    let rx = Receiver::start().await;
    let alerts = AlertManager::builder(config(|c| {
        c.channels.insert(
            "slack".into(),
            ChannelConfig::Slack {
                webhook_url: Secret::new(rx.url("/slack")),
                channel: Some("#ops".into()),
                budget_per_minute: Some(600),
            },
        );
        c.channels.insert("pd".into(), rx.pagerduty_channel());
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .with_diagnostics(Arc::new(FakeDiagnostics::new("memory 42.0%, cpu 12.5%")))
    .build()
    .unwrap();
    alerts
        .add_rule(AlertRule {
            condition: AlertCondition::Signal {
                color: andon_core::Color::Red,
                component: None,
                count: 1,
                window: Duration::from_millis(1),
            },
            ..reds("stop-the-line", AlertSeverity::Critical, &["slack", "pd"])
        })
        .unwrap();
    alerts
        .on_signal(&AndonSignal::red("queue overflow").with_component("queue"))
        .await
        .unwrap();
    wait_until("the trigger arrives", || rx.delivered("/pd").len() == 1).await;
    alerts
        .acknowledge("stop-the-line", "alice", "on it")
        .unwrap();
    wait_until("the acknowledge arrives", || rx.delivered("/pd").len() == 2).await;
    tokio::time::sleep(Duration::from_millis(5)).await; // the 1 ms window passes
    alerts.check_and_fire_alerts().await.unwrap();
    wait_until("the resolve arrives", || rx.delivered("/pd").len() == 3).await;
    wait_until("slack has all three", || rx.delivered("/slack").len() == 3).await;

    let pd = rx.delivered("/pd");
    pd.iter().for_each(check_pagerduty);
    let actions: Vec<&str> = pd
        .iter()
        .map(|e| e["event_action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["trigger", "acknowledge", "resolve"]);
    assert!(
        pd.iter().all(|e| e["dedup_key"] == pd[0]["dedup_key"]),
        "one incident"
    );
    let payload = &pd[0]["payload"];
    assert_eq!(payload["severity"], "critical");
    assert_eq!(payload["source"], "checkout-1");
    assert_eq!(payload["component"], "queue");
    assert_eq!(
        payload["summary"],
        "stop-the-line: [RED] queue: queue overflow"
    );
    assert_eq!(
        payload["custom_details"]["diagnostics"],
        "memory 42.0%, cpu 12.5%"
    );

    let slack = rx.delivered("/slack");
    slack.iter().for_each(check_slack);
    assert_eq!(slack[0]["channel"], "#ops");
    let first = slack[0].to_string();
    assert!(
        first.contains("FIRING") && first.contains("memory 42.0%"),
        "{first}"
    );
    assert!(
        slack[1]["text"]
            .as_str()
            .unwrap()
            .contains("acknowledged by alice: on it")
    );
    assert!(slack[2]["text"].as_str().unwrap().contains("RESOLVED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_answering_500_three_times_is_retried_and_delivers_once() {
    let rx = Receiver::start().await;
    rx.fail_next(3, 500, None, "upstream broke");
    let alerts = AlertManager::builder(config(|c| {
        c.channels.insert("hook".into(), webhook(rx.url("/hook")));
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .build()
    .unwrap();
    alerts
        .add_rule(reds("reds", AlertSeverity::Warning, &["hook"]))
        .unwrap();
    alerts.on_signal(&AndonSignal::red("boom")).await.unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let requests = rx.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(
        requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 500, 202]
    );
    assert_eq!(rx.delivered("/hook").len(), 1);
    let body = &rx.delivered("/hook")[0];
    assert_eq!(body["version"], "1");
    assert_eq!(body["status"], "firing");
    assert!(
        requests.iter().all(|r| r.body["key"] == body["key"]),
        "the same key each time"
    );
    let report = &alerts.channel_reports()[0];
    assert_eq!((report.sent, report.retries, report.failed), (1, 3, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after_and_a_400_is_not_retried() {
    let rx = Receiver::start().await;
    let alerts = AlertManager::builder(config(|c| {
        c.channels.insert("hook".into(), webhook(rx.url("/hook")));
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .build()
    .unwrap();
    alerts
        .add_rule(AlertRule {
            condition: AlertCondition::Signal {
                color: andon_core::Color::Red,
                component: Some("a".into()),
                count: 1,
                window: Duration::from_secs(60),
            },
            ..reds("a", AlertSeverity::Warning, &["hook"])
        })
        .unwrap();
    alerts
        .add_rule(AlertRule {
            condition: AlertCondition::Signal {
                color: andon_core::Color::Red,
                component: Some("b".into()),
                count: 1,
                window: Duration::from_secs(60),
            },
            ..reds("b", AlertSeverity::Warning, &["hook"])
        })
        .unwrap();
    rx.fail_next(1, 429, Some(1), "slow down");
    alerts
        .on_signal(&AndonSignal::red("x").with_component("a"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    assert_eq!(rx.delivered("/hook").len(), 1);
    assert_eq!(alerts.channel_reports()[0].retries, 1);

    rx.fail_next(1, 400, None, "invalid event: summary missing");
    alerts
        .on_signal(&AndonSignal::red("y").with_component("b"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    assert_eq!(rx.requests().len(), 3, "the 400 was not retried");
    let report = &alerts.channel_reports()[0];
    assert_eq!((report.sent, report.failed, report.retries), (1, 1, 1));
    let error = report.last_error.as_deref().unwrap();
    assert!(
        error.contains("400") && error.contains("invalid event: summary missing"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_channel_does_not_delay_the_others() {
    let rx = Receiver::start().await;
    let alerts = AlertManager::builder(config(|c| {
        c.timeout = Duration::from_secs(600);
        c.channels.insert("hung".into(), webhook(rx.url("/hang")));
        c.channels.insert("fine".into(), webhook(rx.url("/fine")));
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .build()
    .unwrap();
    alerts
        .add_rule(reds("reds", AlertSeverity::Critical, &["hung", "fine"]))
        .unwrap();
    for component in ["a", "b", "c"] {
        alerts
            .on_signal(&AndonSignal::red("boom").with_component(component))
            .await
            .unwrap();
    }
    wait_until("the healthy channel delivers all three", || {
        rx.delivered("/fine").len() == 3
    })
    .await;
    let reports = alerts.channel_reports();
    let hung = reports.iter().find(|r| r.name == "hung").unwrap();
    assert_eq!(
        (hung.sent, hung.pending),
        (0, 3),
        "still stuck on its first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_its_budget_a_channel_sends_a_digest_instead_of_dropping() {
    let rx = Receiver::start().await;
    let alerts = AlertManager::builder(config(|_| {}))
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    // Slack's default budget: 60 a minute, bursts of 3.
    alerts
        .add_rule(AlertRule {
            channels: vec![AlertChannel::Slack {
                webhook_url: Secret::new(rx.url("/slack")),
                channel: None,
            }],
            ..reds("reds", AlertSeverity::Warning, &[])
        })
        .unwrap();
    for i in 0..10 {
        alerts
            .on_signal(&AndonSignal::red("boom").with_component(format!("c{i}")))
            .await
            .unwrap();
    }
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let slack = rx.delivered("/slack");
    slack.iter().for_each(check_slack);
    assert!(slack.len() < 10, "{} posts", slack.len());
    let mentioned: usize = slack
        .iter()
        .map(|b| {
            (0..10)
                .filter(|i| {
                    b["text"]
                        .as_str()
                        .unwrap()
                        .contains(&format!("component c{i}]"))
                })
                .count()
        })
        .sum();
    assert_eq!(mentioned, 10, "every alert is in a post or a digest");
    assert!(
        slack
            .iter()
            .any(|b| b["text"].as_str().unwrap().contains("[DIGEST:warning]"))
    );
    assert!(alerts.channel_reports()[0].digests >= 1);
}
