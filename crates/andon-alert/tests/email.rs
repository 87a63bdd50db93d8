//! A real SMTP server (aiosmtpd) receives the alert mail with the expected subject and body,
//! and a CRITICAL alert's mail carries the whole diagnostics snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::AlertManager;
use andon_core::config::{AlertsConfig, ChannelConfig, EmailTls};
use andon_core::{AndonSignal, SignalSink};
use andon_tests::{peers_python, wait_for};
use common::{FakeMetrics, SnapshotDiagnostics, plain_mail, smtp_server, stop_the_line};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_receives_the_alert_mail_and_starttls_is_enforced() {
    let Some(python) = peers_python() else {
        return;
    };
    let (peer, port) = smtp_server(python);

    let mut config = AlertsConfig::default();
    config
        .channels
        .insert("mail".into(), plain_mail(port, "andon <andon@example.com>"));
    // The same server without STARTTLS: a channel that requires it must refuse to send in clear.
    config.channels.insert(
        "secure".into(),
        ChannelConfig::Email(andon_core::config::EmailConfig {
            host: "127.0.0.1".into(),
            port: Some(port),
            tls: EmailTls::Starttls,
            username: Some("andon".into()),
            password: Some(andon_core::config::Secret::new("Pa55-S3CRET")),
            from: "andon@example.com".into(),
            to: vec!["security@example.com".into()],
            budget_per_minute: None,
        }),
    );
    config.max_retries = 0;
    let alerts = AlertManager::builder(config)
        .with_metrics_source(Arc::new(FakeMetrics::default()))
        .build()
        .unwrap();
    alerts.add_rule(stop_the_line(&["mail", "secure"])).unwrap();
    alerts
        .on_signal(&AndonSignal::red("queue overflow").with_component("queue"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let reports = alerts.channel_reports();
    let mail = reports.iter().find(|r| r.name == "mail").unwrap();
    assert_eq!(mail.sent, 1, "{mail:?}");
    let secure = reports.iter().find(|r| r.name == "secure").unwrap();
    assert_eq!((secure.sent, secure.failed), (0, 1), "{secure:?}");
    assert!(!format!("{secure:?} {alerts:?}").contains("S3CRET"));

    let output = wait_for(Duration::from_secs(20), || {
        let out = peer.output();
        out.contains("oncall@example.com").then_some(out)
    })
    .expect("the mail arrives");
    assert!(
        output.contains("Subject: [FIRING:critical] stop-the-line: [RED] queue: queue overflow"),
        "{output}"
    );
    assert!(
        output.contains("- FIRING stop-the-line: [RED] queue: queue overflow [component queue]"),
        "{output}"
    );
    assert!(output.contains("Fingerprint: "), "{output}");
    assert!(
        output.contains("From: andon <andon@example.com>"),
        "{output}"
    );
    assert!(
        !output.contains("security@example.com"),
        "nothing went out in clear"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_alert_mail_carries_the_whole_snapshot_and_a_stable_message_id() {
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
        .with_diagnostics(Arc::new(SnapshotDiagnostics::new()))
        .build()
        .unwrap();
    alerts.add_rule(stop_the_line(&["mail"])).unwrap();
    alerts
        .on_signal(&AndonSignal::red("queue overflow").with_component("queue"))
        .await
        .unwrap();
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    assert_eq!(alerts.channel_reports()[0].sent, 1);
    let output = wait_for(Duration::from_secs(20), || {
        let out = peer.output();
        out.contains("Diagnostics snapshot:").then_some(out)
    })
    .expect("the mail arrives with the snapshot");
    for part in [
        "Diagnostics: critical: memory 91.5%, cpu 97.0%, load 4.40, disk / 75%",
        "\"memory_used_percent\": 91.5",
        "\"load_average\": [",
        "\"mount\": \"/\"",
        "\"rx_bytes_per_sec\": 1200.0",
        "\"rss_bytes\": 14800000",
        "\"by_cpu\": [",
    ] {
        assert!(output.contains(part), "{part} missing: {output}");
    }
    let id = output
        .lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .expect("a Message-ID");
    assert!(id.starts_with('<') && id.ends_with("@andon>"), "{id}");
}
