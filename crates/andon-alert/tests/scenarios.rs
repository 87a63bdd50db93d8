//! Scenarios with a controllable clock: what a person on call would see, notification by
//! notification, written to file channels.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use andon_alert::{
    AlertChannel, AlertCondition, AlertManager, AlertManagerBuilder, AlertRule, AlertState,
    Comparison, DEFAULT_SHUTDOWN_DEADLINE, ManualClock, Matcher, QUEUE_DEPTH_METRIC, Threshold,
};
use andon_core::config::{AlertsConfig, ChannelConfig, EscalationConfig, Secret};
use andon_core::{AlertSeverity, AndonSignal, Color, HealthStatus, SignalSink};
use common::{FakeDiagnostics, FakeMetrics, RecordingSink, lines, wait_until};
use serde_json::Value;

struct Setup {
    manager: AlertManager,
    clock: Arc<ManualClock>,
    metrics: Arc<FakeMetrics>,
    dir: tempfile::TempDir,
}

impl Setup {
    fn path(&self, channel: &str) -> PathBuf {
        self.dir.path().join(format!("{channel}.jsonl"))
    }

    async fn lines(&self, channel: &str) -> Vec<Value> {
        assert!(self.manager.flush_within(Duration::from_secs(30)).await);
        lines(&self.path(channel))
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

/// A manager whose channels `names` are files in a temp dir.
fn setup(names: &[&str], tune: impl FnOnce(&mut AlertsConfig)) -> Setup {
    setup_with(names, tune, |builder| builder)
}

/// [`setup`], with more parts given to the manager's builder.
fn setup_with(
    names: &[&str],
    tune: impl FnOnce(&mut AlertsConfig),
    parts: impl FnOnce(AlertManagerBuilder) -> AlertManagerBuilder,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AlertsConfig::default();
    for name in names {
        config.channels.insert(
            (*name).to_owned(),
            ChannelConfig::File {
                path: file(dir.path(), name),
            },
        );
    }
    tune(&mut config);
    let metrics = Arc::new(FakeMetrics::default());
    let clock = Arc::new(ManualClock::new());
    let manager = parts(
        AlertManager::builder(config)
            .with_metrics_source(metrics.clone())
            .with_clock(clock.clone()),
    )
    .build()
    .unwrap();
    Setup {
        manager,
        clock,
        metrics,
        dir,
    }
}

fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.jsonl"))
}

fn queue_rule(name: &str, max: f64, clear: Option<f64>) -> AlertRule {
    AlertRule {
        name: name.to_owned(),
        condition: AlertCondition::Threshold(Threshold {
            metric: QUEUE_DEPTH_METRIC.to_owned(),
            labels: Vec::new(),
            comparison: Comparison::Above,
            value: max,
            clear,
            rate_over: None,
        }),
        severity: AlertSeverity::Critical,
        channels: vec![AlertChannel::Named("log".into())],
        ..Default::default()
    }
}

fn state_of(manager: &AlertManager, rule: &str) -> Option<AlertState> {
    manager
        .open_alerts()
        .into_iter()
        .find(|a| a.rule == rule)
        .map(|a| a.state)
}

#[tokio::test]
async fn pending_fires_after_for_then_hysteresis_keep_firing_for_and_resolved() {
    let s = setup(&["log"], |_| {});
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    s.manager
        .add_rule(AlertRule {
            for_: Duration::from_secs(60),
            keep_firing_for: Duration::from_secs(30),
            ..queue_rule("high-queue", 100.0, Some(80.0))
        })
        .unwrap();

    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(
        state_of(&s.manager, "high-queue"),
        Some(AlertState::Pending)
    );
    s.advance(59);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(
        state_of(&s.manager, "high-queue"),
        Some(AlertState::Pending)
    );
    assert!(
        s.lines("log").await.is_empty(),
        "nothing is sent while pending"
    );

    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&s.manager, "high-queue"), Some(AlertState::Firing));
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["status"], "firing");
    assert_eq!(
        sent[0]["title"],
        "[FIRING:critical] high-queue: andon_queue_depth = 150 (> 100)"
    );
    assert_eq!(sent[0]["alerts"][0]["labels"]["alertname"], "high-queue");

    // Below the threshold but above the clear level: still firing, nothing new.
    s.metrics.set(QUEUE_DEPTH_METRIC, 90.0);
    s.advance(10);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&s.manager, "high-queue"), Some(AlertState::Firing));
    // Cleared: keeps firing for 30 s.
    s.metrics.set(QUEUE_DEPTH_METRIC, 50.0);
    s.advance(10);
    s.manager.check_and_fire_alerts().await.unwrap();
    s.advance(29);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&s.manager, "high-queue"), Some(AlertState::Firing));
    assert_eq!(s.lines("log").await.len(), 1);
    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&s.manager, "high-queue"), None);
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1]["status"], "resolved");
    assert_eq!(
        sent[1]["alerts"][0]["fingerprint"],
        sent[0]["alerts"][0]["fingerprint"]
    );
    assert!(sent[1]["alerts"][0]["ends_at"].is_string());
    assert_ne!(sent[0]["key"], sent[1]["key"]);
}

#[tokio::test]
async fn a_firing_alert_is_notified_again_only_after_the_repeat_interval() {
    let s = setup(&["log"], |c| c.repeat_interval = Duration::from_secs(600));
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    s.manager
        .add_rule(queue_rule("high-queue", 100.0, None))
        .unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    for _ in 0..9 {
        s.advance(60);
        s.manager.check_and_fire_alerts().await.unwrap();
    }
    assert_eq!(s.lines("log").await.len(), 1, "deduplicated for 9 minutes");
    s.advance(60);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 2, "repeated at 10 minutes");
    assert_eq!(sent[1]["status"], "firing");
    assert_ne!(sent[0]["key"], sent[1]["key"]);
}

#[tokio::test]
async fn a_storm_of_100000_identical_reds_is_one_notification_per_channel_with_the_count() {
    let s = setup(&["slack", "pager"], |c| {
        c.group_wait = Duration::from_secs(1)
    });
    s.manager
        .add_rule(common::stop_the_line(&["slack", "pager"]))
        .unwrap();
    let signal = AndonSignal::red("queue overflow").with_component("queue");
    for _ in 0..100_000 {
        s.manager.on_signal(&signal).await.unwrap();
    }
    assert!(s.lines("slack").await.is_empty(), "held for group_wait");
    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    for channel in ["slack", "pager"] {
        let sent = s.lines(channel).await;
        assert_eq!(sent.len(), 1, "{channel}");
        assert_eq!(sent[0]["alerts"][0]["count"], 100_000, "{channel}");
        assert_eq!(sent[0]["alerts"][0]["labels"]["component"], "queue");
        assert!(sent[0]["title"].as_str().unwrap().contains("(×100000)"));
    }
    // More of the same within the repeat interval are counted, not sent.
    for _ in 0..5 {
        s.manager.on_signal(&signal).await.unwrap();
    }
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(s.lines("slack").await.len(), 1);
    assert_eq!(s.manager.stats().deduplicated, 5);
    assert_eq!(s.manager.stats().signals, 100_005);
}

#[tokio::test]
async fn reds_of_different_components_are_different_alerts_and_resolve_after_the_window() {
    let s = setup(&["log"], |_| {});
    s.manager
        .add_rule(AlertRule {
            name: "reds".into(),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::red("down").with_component("db"))
        .await
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::red("down").with_component("cache"))
        .await
        .unwrap();
    let open = s.manager.open_alerts();
    assert_eq!(open.len(), 2);
    assert_ne!(open[0].fingerprint, open[1].fingerprint);
    assert_eq!(s.lines("log").await.len(), 2);
    s.advance(60);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert!(s.manager.open_alerts().is_empty());
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 3, "resolutions of one rule at once are grouped");
    assert_eq!(sent[2]["status"], "resolved");
    assert_eq!(sent[2]["alerts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn n_yellows_within_the_window_fire_and_fewer_do_not() {
    let s = setup(&["log"], |_| {});
    s.manager
        .add_rule(AlertRule {
            name: "yellows".into(),
            condition: AlertCondition::Signal {
                color: Color::Yellow,
                component: Some("disk".into()),
                count: 3,
                window: Duration::from_secs(60),
            },
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    let y = AndonSignal::yellow("disk 85%").with_component("disk");
    s.manager.on_signal(&y).await.unwrap();
    s.manager.on_signal(&y).await.unwrap();
    s.advance(61);
    s.manager.on_signal(&y).await.unwrap();
    s.manager
        .on_signal(&AndonSignal::yellow("other").with_component("net"))
        .await
        .unwrap();
    assert!(
        s.lines("log").await.is_empty(),
        "the first two left the window"
    );
    s.manager.on_signal(&y).await.unwrap();
    s.manager.on_signal(&y).await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0]["alerts"][0]["summary"],
        "yellows: [YELLOW] disk: disk 85%"
    );
}

#[tokio::test]
async fn escalation_notifies_the_next_level_unless_acknowledged_and_resolution_reaches_it() {
    let s = setup(&["log", "pager"], |c| {
        c.escalate_after = Duration::from_secs(900);
        c.escalation = vec![EscalationConfig {
            channels: vec!["pager".into()],
            after: None,
        }];
    });
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    s.metrics.set("errors", 10.0);
    s.manager
        .add_rule(queue_rule("ignored", 100.0, None))
        .unwrap();
    s.manager
        .add_rule(AlertRule {
            condition: AlertCondition::Threshold(Threshold {
                metric: "errors".into(),
                labels: Vec::new(),
                comparison: Comparison::AtLeast,
                value: 5.0,
                clear: None,
                rate_over: None,
            }),
            ..queue_rule("handled", 0.0, None)
        })
        .unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(
        s.manager
            .acknowledge("handled", "alice", "looking")
            .unwrap(),
        1
    );
    s.advance(899);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert!(s.lines("pager").await.is_empty());
    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    let paged = s.lines("pager").await;
    assert_eq!(paged.len(), 1, "only the unacknowledged alert escalates");
    assert_eq!(paged[0]["escalation_level"], 1);
    assert!(
        paged[0]["title"]
            .as_str()
            .unwrap()
            .starts_with("[ESCALATION 1][FIRING:critical] ignored")
    );
    let log = s.lines("log").await;
    assert_eq!(log.len(), 3, "two firing, one acknowledged");
    assert_eq!(log[2]["status"], "acknowledged");
    assert_eq!(log[2]["alerts"][0]["acknowledged_by"], "alice: looking");

    // Resolution goes to every channel the alert reached, the escalation level's too.
    s.metrics.set(QUEUE_DEPTH_METRIC, 0.0);
    s.manager.check_and_fire_alerts().await.unwrap();
    let paged = s.lines("pager").await;
    assert_eq!(paged.len(), 2);
    assert_eq!(paged[1]["status"], "resolved");
    assert_eq!(s.lines("log").await.last().unwrap()["status"], "resolved");
    let err = s.manager.acknowledge("nope", "bob", "").unwrap_err();
    assert!(err.to_string().contains("no open alert"), "{err}");
}

#[tokio::test]
async fn a_silence_mutes_until_it_expires_and_a_critical_inhibits_warnings_of_its_component() {
    let s = setup(&["log"], |_| {});
    let signal_rule = |name: &str, color: Color, severity: AlertSeverity| AlertRule {
        name: name.into(),
        condition: AlertCondition::Signal {
            color,
            component: Some("db".into()),
            count: 1,
            window: Duration::from_secs(600),
        },
        severity,
        channels: vec![AlertChannel::Named("log".into())],
        ..Default::default()
    };
    s.manager
        .add_rule(signal_rule(
            "db-slow",
            Color::Yellow,
            AlertSeverity::Warning,
        ))
        .unwrap();
    s.manager
        .add_rule(signal_rule("db-down", Color::Red, AlertSeverity::Critical))
        .unwrap();

    let id = s.manager.add_silence(
        vec![Matcher::eq("alertname", "db-down")],
        Duration::from_secs(3600),
        "alice",
        "maintenance",
    );
    s.manager
        .on_signal(&AndonSignal::red("db down").with_component("db"))
        .await
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::yellow("db slow").with_component("db"))
        .await
        .unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    assert!(
        s.lines("log").await.is_empty(),
        "silenced, and inhibited by the firing critical"
    );
    let open = s.manager.open_alerts();
    let down = open.iter().find(|a| a.rule == "db-down").unwrap();
    let slow = open.iter().find(|a| a.rule == "db-slow").unwrap();
    assert!(down.silenced && !down.inhibited);
    assert!(slow.inhibited && !slow.silenced);
    assert_eq!(s.manager.stats().suppressed, 2);
    assert_eq!(s.manager.silences().len(), 1);

    s.manager.expire_silence(&id).unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(
        sent.len(),
        1,
        "the critical is sent, the warning stays inhibited"
    );
    assert_eq!(sent[0]["alerts"][0]["rule"], "db-down");
    assert!(s.manager.silences().is_empty());
    assert!(s.manager.expire_silence("silence-99").is_err());
}

#[tokio::test]
async fn critical_notifications_carry_the_diagnostics_summary_and_health_rules_fire() {
    let diagnostics = Arc::new(FakeDiagnostics::new("memory 91.0%, cpu 12.5%"));
    diagnostics.set_health(HealthStatus::Critical, "memory 91.0% > 90%");
    let s = setup_with(
        &["log"],
        |_| {},
        |builder| builder.with_diagnostics(diagnostics.clone()),
    );
    let manager = s.manager.clone();
    manager
        .add_rule(AlertRule {
            name: "host-health".into(),
            condition: AlertCondition::Health {
                status: HealthStatus::Degraded,
            },
            severity: AlertSeverity::Critical,
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["diagnostics"], "memory 91.0%, cpu 12.5%");
    assert!(
        sent[0]["title"]
            .as_str()
            .unwrap()
            .contains("memory 91.0% > 90%")
    );

    // From a signal too, without delaying the caller.
    manager
        .add_rule(AlertRule {
            name: "reds".into(),
            severity: AlertSeverity::Critical,
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    manager.on_signal(&AndonSignal::red("boom")).await.unwrap();
    let path = s.path("log");
    wait_until("the RED's notification is written", || {
        lines(&path).len() == 2
    })
    .await;
    assert_eq!(lines(&path)[1]["diagnostics"], "memory 91.0%, cpu 12.5%");
}

#[tokio::test]
async fn all_and_any_combine_conditions() {
    let s = setup(&["log"], |_| {});
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    let queue = AlertCondition::QueueDepth { max_depth: 100 };
    let reds = AlertCondition::Signal {
        color: Color::Red,
        component: Some("queue".into()),
        count: 1,
        window: Duration::from_secs(60),
    };
    s.manager
        .add_rule(AlertRule {
            name: "both".into(),
            condition: AlertCondition::All(vec![queue.clone(), reds.clone()]),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    s.manager
        .add_rule(AlertRule {
            name: "either".into(),
            condition: AlertCondition::Any(vec![queue, reds]),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&s.manager, "either"), Some(AlertState::Firing));
    assert_eq!(state_of(&s.manager, "both"), None);
    s.manager
        .on_signal(&AndonSignal::red("overflow").with_component("queue"))
        .await
        .unwrap();
    assert_eq!(state_of(&s.manager, "both"), Some(AlertState::Firing));
}

#[tokio::test]
async fn a_counter_rate_over_a_window_is_compared() {
    let s = setup(&["log"], |_| {});
    s.manager
        .add_rule(AlertRule {
            name: "error-rate".into(),
            condition: AlertCondition::Threshold(Threshold {
                metric: "errors_total".into(),
                labels: Vec::new(),
                comparison: Comparison::Above,
                value: 1.0,
                clear: None,
                rate_over: Some(Duration::from_secs(300)),
            }),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    let mut total = 0.0;
    for _ in 0..5 {
        total += 30.0; // 0.5 per second
        s.metrics.set("errors_total", total);
        s.manager.check_and_fire_alerts().await.unwrap();
        s.advance(60);
    }
    assert_eq!(state_of(&s.manager, "error-rate"), None);
    for _ in 0..3 {
        total += 600.0; // 10 per second
        s.metrics.set("errors_total", total);
        s.manager.check_and_fire_alerts().await.unwrap();
        s.advance(60);
    }
    assert_eq!(state_of(&s.manager, "error-rate"), Some(AlertState::Firing));
}

#[tokio::test]
async fn a_failing_channel_raises_yellow_then_red_when_every_channel_of_a_critical_failed() {
    let port = andon_tests::free_port();
    let secret = format!("http://127.0.0.1:{port}/hooks/T0KEN-S3CRET");
    let sink = Arc::new(RecordingSink::default());
    let s = setup_with(
        &[],
        |c| {
            c.max_retries = 0;
            c.failure_threshold = 1;
            c.channels.insert(
                "dead".into(),
                ChannelConfig::Webhook {
                    url: Secret::new(secret.clone()),
                    budget_per_minute: None,
                },
            );
        },
        |builder| builder.with_signal_sink(sink.clone()),
    );
    let manager = s.manager.clone();
    manager
        .add_rule(AlertRule {
            name: "reds".into(),
            severity: AlertSeverity::Critical,
            channels: vec![AlertChannel::Named("dead".into())],
            ..Default::default()
        })
        .unwrap();
    manager.on_signal(&AndonSignal::red("boom")).await.unwrap();
    wait_until("both self-signals are raised", || sink.signals().len() >= 2).await;
    let signals = sink.signals();
    assert!(signals.iter().any(|s| {
        s.color() == Color::Yellow
            && s.message()
                .contains("alert channel `dead` (webhook) failed")
    }));
    assert!(
        signals
            .iter()
            .any(|s| s.color() == Color::Red && s.message().contains("every channel failed"))
    );
    assert!(signals.iter().all(|s| s.component() == Some("andon-alert")));
    let report = manager
        .channel_reports()
        .into_iter()
        .find(|r| r.name == "dead")
        .unwrap();
    assert_eq!((report.sent, report.failed), (0, 1));
    assert!(report.failing);
    // The secret appears nowhere: not in errors, signals, reports or Debug.
    let everything = format!("{report:?} {signals:?} {manager:?}");
    assert!(!everything.contains("S3CRET"), "{everything}");
    assert!(report.last_error.is_some());
}

#[tokio::test]
async fn configured_rules_load_and_bad_input_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"
[alerts.channels.log]
type = "file"
path = "{}"

[[alerts.rules]]
name = "high-queue"
condition = {{ type = "queue_depth", max_depth = 100 }}
severity = "critical"
channels = ["log"]
"#,
        dir.path().join("log.jsonl").display()
    );
    let config = andon_core::AndonConfig::from_toml_str(&text).unwrap();
    let metrics = Arc::new(FakeMetrics::default());
    metrics.set(QUEUE_DEPTH_METRIC, 101.0);
    let manager = AlertManager::builder(config.alerts)
        .with_metrics_source(metrics)
        .build()
        .unwrap();
    manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(state_of(&manager, "high-queue"), Some(AlertState::Firing));

    let err = manager
        .add_rule(queue_rule("high-queue", 1.0, None))
        .unwrap_err();
    assert!(err.to_string().contains("already added"), "{err}");
    let err = manager
        .add_rule(AlertRule {
            name: "x".into(),
            channels: vec![AlertChannel::Named("nope".into())],
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("unknown channel `nope`"), "{err}");
    let err = manager
        .add_rule(AlertRule {
            name: "y".into(),
            channels: vec![AlertChannel::Slack {
                webhook_url: Secret::new("not-a-url-s3cret"),
                channel: None,
            }],
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("not an http"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");

    manager.shutdown(DEFAULT_SHUTDOWN_DEADLINE).await;
    assert!(manager.on_signal(&AndonSignal::red("late")).await.is_err());
    assert!(manager.check_and_fire_alerts().await.is_err());
}

#[derive(Debug, Default)]
struct RecordingMetrics(std::sync::Mutex<Vec<(String, String, f64)>>);

impl andon_core::MetricsSink for RecordingMetrics {
    fn set_gauge(&self, _name: &str, _labels: &[(&str, &str)], _value: f64) {}

    fn add_counter(&self, name: &str, labels: &[(&str, &str)], delta: u64) {
        let labels = format!("{labels:?}");
        self.0
            .lock()
            .unwrap()
            .push((name.to_owned(), labels, delta as f64));
    }

    fn record_histogram(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels = format!("{labels:?}");
        self.0
            .lock()
            .unwrap()
            .push((name.to_owned(), labels, value));
    }
}

#[tokio::test]
async fn deliveries_are_counted_through_the_metrics_sink_and_disabled_alerting_does_nothing() {
    let sink = Arc::new(RecordingMetrics::default());
    let s = setup_with(
        &["log"],
        |_| {},
        |builder| builder.with_metrics_sink(sink.clone()),
    );
    let manager = s.manager.clone();
    manager
        .add_rule(AlertRule {
            name: "reds".into(),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    manager.on_signal(&AndonSignal::red("boom")).await.unwrap();
    assert_eq!(s.lines("log").await.len(), 1);
    let recorded = sink.0.lock().unwrap().clone();
    assert!(
        recorded
            .iter()
            .any(|(n, l, v)| n == "andon_alert_notifications_total"
                && l.contains("\"log\"")
                && l.contains("\"sent\"")
                && *v == 1.0)
    );
    assert!(
        recorded
            .iter()
            .any(|(n, _, v)| n == "andon_alert_delivery_seconds" && *v >= 0.0)
    );
    let report = &manager.channel_reports()[0];
    assert_eq!((report.sent, report.pending), (1, 0));
    assert!(report.mean_latency.is_some());

    let off = setup(&["log"], |c| c.enabled = false);
    off.manager
        .add_rule(AlertRule {
            name: "reds".into(),
            channels: vec![AlertChannel::Named("log".into())],
            ..Default::default()
        })
        .unwrap();
    off.manager
        .on_signal(&AndonSignal::red("boom"))
        .await
        .unwrap();
    off.manager.check_and_fire_alerts().await.unwrap();
    assert!(off.lines("log").await.is_empty());
    assert_eq!(off.manager.stats().signals, 0);
}

#[tokio::test]
async fn the_background_evaluation_fires_without_being_asked_and_stops_at_shutdown() {
    let s = setup(&["log"], |c| {
        c.evaluation_interval = Duration::from_millis(10)
    });
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    s.manager
        .add_rule(queue_rule("high-queue", 100.0, None))
        .unwrap();
    s.manager.start();
    assert!(s.manager.is_evaluating());
    let path = s.path("log");
    wait_until("the evaluation loop fires the alert", || {
        lines(&path).len() == 1
    })
    .await;
    s.manager.shutdown(DEFAULT_SHUTDOWN_DEADLINE).await;
    assert!(
        !s.manager.is_evaluating(),
        "the shutdown stopped the evaluation"
    );
    let evaluations = s.manager.stats().evaluations;
    assert!(evaluations >= 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        s.manager.stats().evaluations,
        evaluations,
        "no evaluation after the shutdown"
    );
}

/// Every event received so far, without waiting.
fn drain(
    rx: &mut tokio::sync::broadcast::Receiver<andon_core::AlertEvent>,
) -> Vec<andon_core::AlertEvent> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        out.push(event);
    }
    out
}

/// A history store that keeps what it is given.
#[derive(Debug, Default)]
struct RecordingHistory(std::sync::Mutex<Vec<andon_core::HistoryRecord>>);

impl andon_core::HistoryStore for RecordingHistory {
    fn record(&self, record: andon_core::HistoryRecord) {
        self.0.lock().unwrap().push(record);
    }
}

fn every_red(channel: &str) -> AlertRule {
    AlertRule {
        name: "every-red".into(),
        severity: AlertSeverity::Critical,
        channels: vec![AlertChannel::Named(channel.into())],
        ..Default::default()
    }
}

#[tokio::test]
async fn an_alert_fired_by_a_signal_carries_its_trace_or_correlation_id_verbatim() {
    let s = setup(&["log"], |_| {});
    s.manager.add_rule(every_red("log")).unwrap();
    let mut events = s.manager.subscribe();
    s.manager
        .on_signal(
            &AndonSignal::red("queue overflow")
                .with_component("queue")
                .with_trace_id("trace-123"),
        )
        .await
        .unwrap();
    // Later signals of the storm are counted; the alert keeps the id of the one that fired it.
    s.manager
        .on_signal(
            &AndonSignal::red("queue overflow")
                .with_component("queue")
                .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"),
        )
        .await
        .unwrap();
    // A W3C trace id is carried as given too.
    s.manager
        .on_signal(
            &AndonSignal::red("db down")
                .with_component("db")
                .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"),
        )
        .await
        .unwrap();
    // No id, no trace_id.
    s.manager
        .on_signal(&AndonSignal::red("cache down").with_component("cache"))
        .await
        .unwrap();

    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 3);
    let by_component = |c: &str| {
        sent.iter()
            .find(|n| n["alerts"][0]["labels"]["component"] == c)
            .unwrap()
            .clone()
    };
    assert_eq!(by_component("queue")["alerts"][0]["trace_id"], "trace-123");
    assert_eq!(
        by_component("db")["alerts"][0]["trace_id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(by_component("cache")["alerts"][0].get("trace_id").is_none());

    let open = s.manager.open_alerts();
    let queue = open
        .iter()
        .find(|a| a.labels["component"] == "queue")
        .unwrap();
    assert_eq!(queue.trace_id.as_deref(), Some("trace-123"));
    let fired = drain(&mut events);
    assert_eq!(fired.len(), 3);
    assert_eq!(fired[0].trace_id.as_deref(), Some("trace-123"));
    assert_eq!(fired[0].component.as_deref(), Some("queue"));
    assert_eq!(fired[2].trace_id, None);

    // The notification's text (Slack, email, webhooks) names it too.
    let notification: andon_alert::Notification =
        serde_json::from_value(by_component("queue")).unwrap();
    assert!(
        notification.text().contains("[trace trace-123]"),
        "{}",
        notification.text()
    );
}

#[tokio::test]
async fn state_changes_are_published_in_order_fired_acknowledged_resolved() {
    let history = Arc::new(RecordingHistory::default());
    let s = setup_with(
        &["log"],
        |_| {},
        |builder| builder.with_history(history.clone()),
    );
    let manager = s.manager.clone();
    let mut events = manager.subscribe();
    s.metrics.set(QUEUE_DEPTH_METRIC, 150.0);
    manager
        .add_rule(AlertRule {
            for_: Duration::from_secs(30),
            ..queue_rule("high-queue", 100.0, None)
        })
        .unwrap();
    manager.check_and_fire_alerts().await.unwrap();
    assert!(
        drain(&mut events).is_empty(),
        "pending is not a state change worth a record"
    );
    s.advance(30);
    manager.check_and_fire_alerts().await.unwrap();
    manager.check_and_fire_alerts().await.unwrap();
    manager
        .acknowledge("high-queue", "alice", "looking")
        .unwrap();
    s.advance(5);
    s.metrics.set(QUEUE_DEPTH_METRIC, 10.0);
    manager.check_and_fire_alerts().await.unwrap();
    manager.check_and_fire_alerts().await.unwrap();

    let got = drain(&mut events);
    let kinds: Vec<andon_core::AlertEventKind> = got.iter().map(|e| e.kind.clone()).collect();
    assert_eq!(
        kinds,
        [
            andon_core::AlertEventKind::Fired,
            andon_core::AlertEventKind::Acknowledged {
                by: "alice".into(),
                note: "looking".into()
            },
            andon_core::AlertEventKind::Resolved,
        ]
    );
    assert!(got.iter().all(|e| e.rule == "high-queue"
        && e.fingerprint == got[0].fingerprint
        && e.severity == AlertSeverity::Critical));
    assert_eq!(
        got[2].at.duration_since(got[0].at).unwrap(),
        Duration::from_secs(5),
        "events carry the manager's clock"
    );
    let recorded: Vec<andon_core::AlertEvent> = history
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|r| match r {
            andon_core::HistoryRecord::Alert(e) => e.clone(),
            other => panic!("only alert records: {other:?}"),
        })
        .collect();
    assert_eq!(recorded, got, "the store gets the same events");
}

#[tokio::test]
async fn state_changes_are_published_in_order_fired_escalated_resolved() {
    let s = setup(&["log", "pager"], |c| {
        c.escalate_after = Duration::from_secs(600);
        c.escalation = vec![EscalationConfig {
            channels: vec!["pager".into()],
            after: None,
        }];
    });
    // Nobody listening is fine: sending never waits and never fails.
    s.manager
        .add_rule(AlertRule {
            condition: AlertCondition::Signal {
                color: Color::Red,
                component: None,
                count: 1,
                window: Duration::from_secs(900),
            },
            ..every_red("log")
        })
        .unwrap();
    let signal = AndonSignal::red("down")
        .with_component("db")
        .with_trace_id("trace-9");
    s.manager.on_signal(&signal).await.unwrap();
    let mut events = s.manager.subscribe();
    s.manager.on_signal(&signal).await.unwrap();
    s.advance(600);
    s.manager.check_and_fire_alerts().await.unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    s.advance(300);
    s.manager.check_and_fire_alerts().await.unwrap();
    let got = drain(&mut events);
    let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["escalated", "resolved"],
        "fired before the subscription"
    );
    assert_eq!(
        got[0].kind,
        andon_core::AlertEventKind::Escalated { level: 1 }
    );
    assert!(got.iter().all(|e| e.trace_id.as_deref() == Some("trace-9")));

    // Again, watched from the start.
    s.manager.on_signal(&signal).await.unwrap();
    s.advance(600);
    s.manager.check_and_fire_alerts().await.unwrap();
    s.advance(300);
    s.manager.check_and_fire_alerts().await.unwrap();
    let kinds: Vec<&str> = drain(&mut events).iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["fired", "escalated", "resolved"]);
    let paged = s.lines("pager").await;
    assert_eq!(paged.len(), 4, "two escalations, two resolutions");
}

fn signal_rule(name: &str, color: Color, component: &str) -> AlertRule {
    AlertRule {
        name: name.into(),
        condition: AlertCondition::Signal {
            color,
            component: Some(component.into()),
            count: 1,
            window: Duration::from_secs(7200),
        },
        severity: AlertSeverity::Warning,
        channels: vec![AlertChannel::Named("log".into())],
        ..Default::default()
    }
}

fn rules_of(notification: &Value) -> Vec<String> {
    notification["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn alerts_of_several_rules_for_one_component_go_out_as_one_grouped_notification() {
    let s = setup(&["log"], |c| {
        c.group_by = vec!["component".into()];
        c.group_wait = Duration::from_secs(30);
        c.group_interval = Duration::from_secs(300);
    });
    for rule in [
        signal_rule("db-down", Color::Red, "db"),
        signal_rule("db-slow", Color::Yellow, "db"),
        signal_rule("cache-down", Color::Red, "cache"),
        AlertRule {
            name: "db-errors".into(),
            condition: AlertCondition::Threshold(Threshold {
                metric: "errors".into(),
                labels: Vec::new(),
                comparison: Comparison::Above,
                value: 5.0,
                clear: None,
                rate_over: None,
            }),
            ..signal_rule("unused", Color::Red, "db")
        },
    ] {
        s.manager.add_rule(rule).unwrap();
    }
    s.manager
        .on_signal(&AndonSignal::red("db down").with_component("db"))
        .await
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::yellow("db slow").with_component("db"))
        .await
        .unwrap();
    s.advance(10);
    s.manager
        .on_signal(&AndonSignal::red("cache down").with_component("cache"))
        .await
        .unwrap();
    s.manager.check_and_fire_alerts().await.unwrap();
    assert!(s.lines("log").await.is_empty(), "held for group_wait");

    s.advance(20);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1, "one notification for the db group: {sent:?}");
    assert_eq!(rules_of(&sent[0]), ["db-down", "db-slow"]);
    assert_eq!(
        sent[0]["title"],
        "[FIRING:warning] 2 alerts for component=db: db-down, db-slow"
    );

    // The cache group opened 10 s later and waits its own group_wait.
    s.advance(10);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 2);
    assert_eq!(rules_of(&sent[1]), ["cache-down"]);

    // A later alert of the db group (a metric series labelled component=db) waits for
    // group_interval after the group's last notification, and goes out alone.
    s.metrics.set_series("errors", &[("component", "db")], 9.0);
    s.advance(30);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(s.lines("log").await.len(), 2, "within group_interval");
    s.advance(259);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(s.lines("log").await.len(), 2, "1 s before group_interval");
    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 3);
    assert_eq!(rules_of(&sent[2]), ["db-errors"]);
    assert_eq!(sent[2]["alerts"][0]["labels"]["component"], "db");
}

#[tokio::test]
async fn a_metric_with_several_series_has_one_alert_per_series_resolving_independently() {
    let s = setup(&["log"], |_| {});
    s.manager
        .add_rule(AlertRule {
            name: "deep-queue".into(),
            severity: AlertSeverity::Warning,
            ..queue_rule("deep-queue", 100.0, None)
        })
        .unwrap();
    let orders = [("queue", "orders")];
    let billing = [("queue", "billing")];
    s.metrics.set_series(QUEUE_DEPTH_METRIC, &orders, 50.0);
    s.metrics.set_series(QUEUE_DEPTH_METRIC, &billing, 20.0);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert!(s.manager.open_alerts().is_empty());

    s.metrics.set_series(QUEUE_DEPTH_METRIC, &orders, 150.0);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["alerts"][0]["labels"]["queue"], "orders");
    assert_eq!(
        sent[0]["title"],
        "[FIRING:warning] deep-queue: andon_queue_depth{queue=\"orders\"} = 150 (> 100)"
    );

    s.advance(15);
    s.metrics.set_series(QUEUE_DEPTH_METRIC, &billing, 300.0);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 2, "the second series is a new alert");
    assert_eq!(sent[1]["alerts"][0]["labels"]["queue"], "billing");
    let open = s.manager.open_alerts();
    assert_eq!(open.len(), 2);
    for alert in &open {
        assert_eq!(
            alert.fingerprint,
            andon_alert::fingerprint("deep-queue", &alert.labels),
            "the series' labels are in the fingerprint"
        );
    }
    assert_ne!(open[0].fingerprint, open[1].fingerprint);

    s.advance(15);
    s.metrics.set_series(QUEUE_DEPTH_METRIC, &orders, 10.0);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2]["status"], "resolved");
    assert_eq!(sent[2]["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(sent[2]["alerts"][0]["labels"]["queue"], "orders");
    let open = s.manager.open_alerts();
    assert_eq!(open.len(), 1, "billing still fires");
    assert_eq!(open[0].labels["queue"], "billing");

    // A series that disappears resolves its alert too.
    s.metrics.remove_series(QUEUE_DEPTH_METRIC, &billing);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[3]["status"], "resolved");
    assert_eq!(sent[3]["alerts"][0]["labels"]["queue"], "billing");
    assert!(s.manager.open_alerts().is_empty());
}

#[tokio::test]
async fn a_configured_silence_mutes_a_matching_alert_and_not_another_until_it_expires() {
    let toml = r#"
[[alerts.silences]]
matchers = [{ name = "component", value = "db" }, { name = "severity", value = "critical", equal = false }]
duration = "1h"
created_by = "alice"
comment = "db maintenance"
"#;
    let silences = andon_core::AndonConfig::from_toml_str(toml)
        .unwrap()
        .alerts
        .silences;
    let s = setup(&["log"], |c| c.silences = silences);
    let configured = s.manager.silences();
    assert_eq!(configured.len(), 1);
    assert_eq!(configured[0].id, "config-0");
    assert_eq!(configured[0].created_by, "alice");
    assert_eq!(
        configured[0]
            .ends_at
            .duration_since(configured[0].starts_at)
            .unwrap(),
        Duration::from_secs(3600)
    );
    s.manager
        .add_rule(signal_rule("db-down", Color::Red, "db"))
        .unwrap();
    s.manager
        .add_rule(signal_rule("cache-down", Color::Red, "cache"))
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::red("db down").with_component("db"))
        .await
        .unwrap();
    s.manager
        .on_signal(&AndonSignal::red("cache down").with_component("cache"))
        .await
        .unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 1, "only the cache alert: {sent:?}");
    assert_eq!(rules_of(&sent[0]), ["cache-down"]);
    let open = s.manager.open_alerts();
    assert!(open.iter().find(|a| a.rule == "db-down").unwrap().silenced);
    assert!(
        !open
            .iter()
            .find(|a| a.rule == "cache-down")
            .unwrap()
            .silenced
    );

    s.advance(3599);
    s.manager.check_and_fire_alerts().await.unwrap();
    assert_eq!(s.lines("log").await.len(), 1, "still silenced");
    s.advance(1);
    s.manager.check_and_fire_alerts().await.unwrap();
    let sent = s.lines("log").await;
    assert_eq!(sent.len(), 2, "the silence expired");
    assert_eq!(rules_of(&sent[1]), ["db-down"]);
    assert!(s.manager.silences().is_empty());

    // A silence without an end is refused, naming the key, and so is the manager's config.
    let endless = andon_core::AndonConfig::from_toml_str(&toml.replace("duration = \"1h\"\n", ""));
    let err = endless.unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("alerts.silences.0.ends_at"),
        "{err}"
    );
    let mut silence = andon_core::AndonConfig::from_toml_str(toml)
        .unwrap()
        .alerts
        .silences[0]
        .clone();
    silence.duration = None;
    let config = AlertsConfig {
        silences: vec![silence],
        ..AlertsConfig::default()
    };
    let err = AlertManager::builder(config)
        .with_metrics_source(s.metrics.clone())
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("alerts.silences.0.ends_at"),
        "{err}"
    );
}

#[tokio::test]
async fn a_subscriber_that_never_reads_only_lags_and_never_holds_the_manager_up() {
    let s = setup(&["log"], |_| {});
    s.manager.add_rule(every_red("log")).unwrap();
    let mut idle = s.manager.subscribe();
    for i in 0..1100 {
        s.manager
            .on_signal(&AndonSignal::red("down").with_component(format!("c{i}")))
            .await
            .unwrap();
    }
    assert_eq!(
        s.manager.open_alerts().len(),
        1100,
        "every signal was taken"
    );
    match idle.try_recv() {
        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(missed)) => {
            assert_eq!(missed, 1100 - 1024)
        }
        other => panic!("expected a lag, got {other:?}"),
    }
    // It continues with the oldest event still kept.
    let next = idle.try_recv().unwrap();
    assert_eq!(next.component.as_deref(), Some("c76"));
    assert_eq!(next.kind, andon_core::AlertEventKind::Fired);
}
