//! `[tracer] ui_url`: a notified alert links its trace to the trace UI on every channel, at
//! `<ui_url>/trace/<id>` where `<id>` is the W3C id the signal's trace id maps to (a free-form
//! `trace-123` is linked by its mapped id, the one Jaeger knows): webhook and file payloads
//! carry `trace_url`, PagerDuty a `links` entry, Slack a `<url|text>` link, email a plain URL
//! line (checked through a real SMTP server). Without a ui_url nothing is linked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertManager, AlertManagerBuilder};
use andon_core::config::{AlertsConfig, ChannelConfig, Secret};
use andon_core::{AndonSignal, SignalSink};
use andon_tests::{peers_python, wait_for};
use common::{
    FakeMetrics, ROUTING_KEY, Receiver, lines, one_delivery_each, plain_mail, smtp_server,
    stop_the_line, webhook,
};
use serde_json::json;

const UI_URL: &str = "http://127.0.0.1:16686/jaeger/";

/// The link a notification must carry for the correlation id `trace-123`.
fn expected_link() -> String {
    let id = andon_core::w3c_trace_id_hex("trace-123");
    format!("http://127.0.0.1:16686/jaeger/trace/{id}")
}

/// A manager sending every RED to a webhook, PagerDuty, Slack and a file, all local.
fn manager(rx: &Receiver, file: &std::path::Path) -> AlertManager {
    manager_with(rx, file, |builder| builder)
}

/// [`manager`], with more parts given to its builder.
fn manager_with(
    rx: &Receiver,
    file: &std::path::Path,
    parts: impl FnOnce(AlertManagerBuilder) -> AlertManagerBuilder,
) -> AlertManager {
    let mut config = AlertsConfig {
        retry_backoff: Duration::from_millis(10),
        ..AlertsConfig::default()
    };
    config
        .channels
        .insert("hook".into(), webhook(rx.url("/hook")));
    config.channels.insert(
        "pd".into(),
        ChannelConfig::PagerDuty {
            routing_key: Secret::new(ROUTING_KEY),
            url: rx.url("/pd"),
            source: None,
            budget_per_minute: None,
        },
    );
    config.channels.insert(
        "slack".into(),
        ChannelConfig::Slack {
            webhook_url: Secret::new(rx.url("/slack")),
            channel: None,
            budget_per_minute: None,
        },
    );
    config.channels.insert(
        "file".into(),
        ChannelConfig::File {
            path: file.to_owned(),
        },
    );
    let alerts =
        parts(AlertManager::builder(config).with_metrics_source(Arc::new(FakeMetrics::default())))
            .build()
            .unwrap();
    alerts
        .add_rule(stop_the_line(&["hook", "pd", "slack", "file"]))
        .unwrap();
    alerts
}

async fn fire(alerts: &AlertManager, rx: &Receiver) {
    alerts
        .on_signal(
            &AndonSignal::red("queue overflow")
                .with_component("queue")
                .with_trace_id("trace-123"),
        )
        .await
        .unwrap();
    one_delivery_each(rx, alerts, &["/hook", "/pd", "/slack"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_channel_links_the_mapped_trace_id_to_the_trace_ui() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let alerts = manager_with(&rx, &file, |builder| builder.with_trace_ui_url(UI_URL));
    fire(&alerts, &rx).await;
    let link = expected_link();
    assert!(
        !link.contains("trace-123"),
        "the mapped W3C id, not the correlation id"
    );

    let hook = &rx.delivered("/hook")[0];
    assert_eq!(hook["alerts"][0]["trace_id"], "trace-123");
    assert_eq!(hook["alerts"][0]["trace_url"], link.as_str(), "webhook");
    assert_eq!(
        lines(&file)[0]["alerts"][0]["trace_url"],
        link.as_str(),
        "file"
    );

    let pd = &rx.delivered("/pd")[0];
    assert_eq!(
        pd["links"],
        json!([{ "href": link, "text": "Trace trace-123" }]),
        "pagerduty: {pd}"
    );

    let slack = rx.delivered("/slack")[0]["blocks"].to_string();
    assert!(
        slack.contains(&format!("trace <{link}|trace-123>")),
        "slack: {slack}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_trace_ui_no_channel_links() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let alerts = manager(&rx, &file);
    fire(&alerts, &rx).await;
    let hook = &rx.delivered("/hook")[0];
    assert_eq!(hook["alerts"][0]["trace_id"], "trace-123");
    assert!(hook["alerts"][0].get("trace_url").is_none(), "{hook}");
    assert!(rx.delivered("/pd")[0].get("links").is_none());
    let slack = rx.delivered("/slack")[0]["blocks"].to_string();
    assert!(
        slack.contains("trace `trace-123`") && !slack.contains("/trace/"),
        "{slack}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_mail_carries_the_trace_link_as_a_plain_url_line() {
    let Some(python) = peers_python() else {
        return;
    };
    let (peer, port) = smtp_server(python);
    let mut config = AlertsConfig::default();
    config
        .channels
        .insert("mail".into(), plain_mail(port, "andon@example.com"));
    let alerts = AlertManager::builder(config)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .with_trace_ui_url(UI_URL)
        .build()
        .unwrap();
    alerts.add_rule(stop_the_line(&["mail"])).unwrap();
    alerts
        .on_signal(&AndonSignal::red("queue overflow").with_trace_id("trace-123"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let output = wait_for(Duration::from_secs(20), || {
        let out = peer.output();
        out.contains("Fingerprint: ").then_some(out)
    })
    .expect("the mail arrives");
    let line = format!("Trace: {}", expected_link());
    assert!(
        output.lines().any(|l| l.trim_end() == line),
        "{line} missing: {output}"
    );
}
