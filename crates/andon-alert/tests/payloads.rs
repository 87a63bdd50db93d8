//! What each channel's receiver gets, checked against the service's documented rules by a local
//! stand-in: a CRITICAL alert carries the whole diagnostics snapshot (webhook, file, PagerDuty
//! `custom_details`, Slack blocks); Slack text is escaped; a failing receiver's answer reaches
//! the YELLOW signal only as its status and a short, redacted reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertManager, AlertRule};
use andon_core::config::{ChannelConfig, Secret};
use andon_core::{AlertSeverity, AndonSignal, Color, SignalSink};
use common::{
    FakeMetrics, Receiver, RecordingSink, SnapshotDiagnostics, check_pagerduty, check_slack,
    config, lines, named, one_delivery_each, stop_the_line, wait_until,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_alert_carries_the_whole_snapshot_on_every_channel() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let diagnostics = Arc::new(SnapshotDiagnostics::new());
    let alerts = AlertManager::builder(config(|c| {
        c.channels.insert(
            "hook".into(),
            ChannelConfig::Webhook {
                url: Secret::new(rx.url("/hook")),
                budget_per_minute: None,
            },
        );
        c.channels.insert("pd".into(), rx.pagerduty_channel());
        c.channels.insert(
            "slack".into(),
            ChannelConfig::Slack {
                webhook_url: Secret::new(rx.url("/slack")),
                channel: None,
                budget_per_minute: None,
            },
        );
        c.channels
            .insert("file".into(), ChannelConfig::File { path: file.clone() });
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .with_diagnostics(diagnostics.clone())
    .build()
    .unwrap();
    alerts
        .add_rule(stop_the_line(&["hook", "pd", "slack", "file"]))
        .unwrap();
    alerts
        .on_signal(&AndonSignal::red("queue overflow").with_component("queue"))
        .await
        .unwrap();
    one_delivery_each(&rx, &alerts, &["/hook", "/pd", "/slack"]).await;
    let whole = &diagnostics.details;

    let hook = &rx.delivered("/hook")[0];
    assert_eq!(
        &hook["snapshot"], whole,
        "webhook: the snapshot as an object"
    );
    assert_eq!(hook["diagnostics"], diagnostics.summary.as_str());
    let line = &lines(&file)[0];
    assert_eq!(&line["snapshot"], whole, "file: the same object");

    let pd = &rx.delivered("/pd")[0];
    check_pagerduty(pd);
    let details = &pd["payload"]["custom_details"];
    assert_eq!(&details["snapshot"], whole, "pagerduty: in custom_details");
    assert_eq!(details["notification_key"], hook["key"]);

    let slack = &rx.delivered("/slack")[0];
    check_slack(slack);
    let blocks = slack["blocks"].to_string();
    for part in [
        "Diagnostics snapshot",
        "memory_used_percent",
        "91.5",
        "load_average",
        "rx_bytes_per_sec",
        "rss_bytes",
        "hog&lt;&amp;&gt;",
    ] {
        assert!(blocks.contains(part), "slack blocks lack {part}: {blocks}");
    }

    // A warning carries no snapshot.
    alerts
        .add_rule(AlertRule {
            name: "yellows".into(),
            severity: AlertSeverity::Warning,
            condition: andon_alert::AlertCondition::Signal {
                color: Color::Yellow,
                component: None,
                count: 1,
                window: Duration::from_secs(60),
            },
            channels: named(&["hook"]),
            ..Default::default()
        })
        .unwrap();
    alerts
        .on_signal(&AndonSignal::yellow("slow").with_component("db"))
        .await
        .unwrap();
    wait_until("the warning arrives", || rx.delivered("/hook").len() == 2).await;
    assert!(rx.delivered("/hook")[1].get("snapshot").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_gets_a_signal_message_escaped_so_it_can_neither_mention_nor_link() {
    let rx = Receiver::start().await;
    let alerts = AlertManager::builder(config(|_| {}))
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    alerts
        .add_rule(AlertRule {
            name: "reds".into(),
            channels: vec![AlertChannel::Slack {
                webhook_url: Secret::new(rx.url("/slack")),
                channel: None,
            }],
            ..Default::default()
        })
        .unwrap();
    alerts
        .on_signal(
            &AndonSignal::red("<!channel> press <https://evil.example/resume|Resume> & go")
                .with_component("q<@U123>")
                .with_trace_id("<!here>"),
        )
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let slack = rx.delivered("/slack");
    assert_eq!(slack.len(), 1);
    check_slack(&slack[0]);
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.contains("&lt;!channel&gt; press &lt;https://evil.example/resume|Resume&gt; &amp; go"),
        "{text}"
    );
    assert!(text.contains("[component q&lt;@U123&gt;]"), "{text}");
    assert!(text.contains("[trace &lt;!here&gt;]"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receivers_answer_reaches_the_signal_only_as_status_and_a_redacted_reason() {
    let rx = Receiver::start().await;
    let sink = Arc::new(RecordingSink::default());
    let webhook = rx.url("/services/T000/B000/XXXXSECRETXXXX");
    let alerts = AlertManager::builder(config(|c| {
        c.max_retries = 0;
        c.failure_threshold = 1;
        c.channels.insert(
            "slack".into(),
            ChannelConfig::Slack {
                webhook_url: Secret::new(webhook.clone()),
                channel: None,
                budget_per_minute: None,
            },
        );
    }))
    .with_metrics_source(Arc::new(FakeMetrics::default()))
    .with_signal_sink(sink.clone())
    .build()
    .unwrap();
    alerts
        .add_rule(AlertRule {
            name: "reds".into(),
            severity: AlertSeverity::Warning,
            channels: named(&["slack"]),
            ..Default::default()
        })
        .unwrap();
    // A receiver that echoes the request (JSON-escaped), part of the webhook's path and a token.
    let echo = format!(
        r#"{{"error":"invalid_token xoxb-1234567890-SECRETTOKENVALUE for T000/B000/XXXXSECRET","request":"POST {}"}}"#,
        webhook.replace('/', "\\/")
    );
    rx.fail_next(1, 400, None, &echo);
    alerts
        .on_signal(&AndonSignal::red("boom").with_component("a"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    // An HTML error page of a proxy, with the secret in it: only the status is kept.
    rx.fail_next(
        1,
        502,
        None,
        &format!("<html><body>upstream {webhook} <script>x</script></body></html>"),
    );
    alerts
        .on_signal(&AndonSignal::red("boom").with_component("b"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);

    let yellows: Vec<String> = sink
        .signals()
        .iter()
        .filter(|s| s.color() == Color::Yellow)
        .map(|s| s.message().to_owned())
        .collect();
    assert_eq!(yellows.len(), 1, "{yellows:?}");
    let report = &alerts.channel_reports()[0];
    let last_error = report.last_error.clone().unwrap();
    for shown in yellows.iter().chain([&last_error]) {
        for leak in ["SECRET", "XXXX", "T000/B000", "xoxb", "<", "request"] {
            assert!(!shown.contains(leak), "{leak} in {shown}");
        }
    }
    assert!(
        yellows[0].contains("HTTP 400 Bad Request: invalid_token [redacted] for [redacted]"),
        "{}",
        yellows[0]
    );
    assert_eq!(
        last_error, "HTTP 502 Bad Gateway",
        "markup: the status only"
    );
}
