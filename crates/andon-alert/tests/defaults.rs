//! Alerts by default: with the default configuration a RED fires the built-in rule on the
//! built-in `log` channel; the receipt says whether a notification was queued or why not;
//! configured rules replace the default; alerts fired are counted; per-component alerts are
//! bounded by bytes; inline channels are named by their place, never after their secret.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers outside #[test] fns stop the test too

mod common;

use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule, ManualClock, Matcher};
use andon_core::config::{AlertsConfig, ChannelConfig, Secret};
use andon_core::{
    AlertSeverity, AndonConfig, AndonError, AndonSignal, Color, LogEntry, LogLevel, LogSink,
    Receipt, SignalSink,
};
use common::{FakeDiagnostics, RecordingLog, RecordingMetrics, lines, wait_until};
use serde_json::{Value, json};

fn field<'a>(entry: &'a LogEntry, name: &str) -> Option<&'a Value> {
    entry.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn reason(receipt: &Receipt) -> String {
    match receipt {
        Receipt::Skipped { reason } => reason.clone(),
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[tokio::test]
async fn with_the_default_config_a_red_is_a_critical_alert_record_in_the_log_firing_then_resolved()
{
    let config = AndonConfig::default().alerts;
    let log = Arc::new(RecordingLog::default());
    let metrics = Arc::new(RecordingMetrics::default());
    let clock = Arc::new(ManualClock::new());
    let manager = AlertManager::builder(config)
        .with_clock(clock.clone())
        .with_log_sink(log.clone())
        .with_metrics_sink(metrics.clone())
        .with_diagnostics(Arc::new(FakeDiagnostics::new("memory 4.7%, cpu 12.0%")))
        .build()
        .unwrap();

    let red = AndonSignal::red("Queue overflow - stop processing").with_component("queue-handler");
    assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
    wait_until("the firing record is written", || !log.entries().is_empty()).await;
    let firing = &log.entries()[0];
    assert_eq!(firing.level, LogLevel::Critical);
    assert_eq!(firing.component.as_deref(), Some("queue-handler"));
    assert_eq!(field(firing, "alert.rule"), Some(&json!("red-signal")));
    assert_eq!(field(firing, "alert.status"), Some(&json!("firing")));
    assert_eq!(field(firing, "alert.severity"), Some(&json!("critical")));
    assert_eq!(
        field(firing, "diagnostics"),
        Some(&json!("memory 4.7%, cpu 12.0%")),
        "the snapshot travels with the alert"
    );
    assert!(
        firing.message.contains("Queue overflow - stop processing"),
        "{}",
        firing.message
    );

    // The same component again: folded into the open alert, and the receipt says so.
    let again = manager.accept(&red).await.unwrap();
    assert!(
        reason(&again).starts_with("deduplicated into the open alert `red-signal`"),
        "{again:?}"
    );
    // A YELLOW matches no rule.
    let yellow = AndonSignal::yellow("slow").with_component("queue-handler");
    assert_eq!(
        reason(&manager.accept(&yellow).await.unwrap()),
        "no alert rule matched"
    );
    // Another component's RED is another alert.
    let other = AndonSignal::red("down").with_component("db");
    assert_eq!(manager.accept(&other).await.unwrap(), Receipt::Delivered);

    // Counted once per alert that fired, with HELP text.
    assert_eq!(
        metrics.total(
            "andon_alerts_total",
            &[("rule", "red-signal"), ("severity", "critical")]
        ),
        2
    );
    assert!(metrics.help("andon_alerts_total").is_some());

    // A minute without REDs: resolved, as an INFO record.
    clock.advance(Duration::from_secs(61));
    manager.check_and_fire_alerts().await.unwrap();
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    let resolved: Vec<LogEntry> = log
        .entries()
        .into_iter()
        .filter(|e| field(e, "alert.status") == Some(&json!("resolved")))
        .collect();
    assert_eq!(resolved.len(), 2, "{:?}", log.entries());
    assert!(resolved.iter().all(|e| e.level == LogLevel::Info));
    assert!(manager.open_alerts().is_empty());
}

#[test]
fn a_manager_built_outside_a_runtime_starts_its_log_channel_at_the_first_signal() {
    let log = Arc::new(RecordingLog::default());
    let manager = AlertManager::builder(AlertsConfig::default())
        .with_log_sink(log.clone())
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let red = AndonSignal::red("down").with_component("db");
        assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
        assert!(manager.flush_within(Duration::from_secs(30)).await);
    });
    assert_eq!(log.entries().len(), 1);
    assert_eq!(log.entries()[0].level, LogLevel::Critical);
}

#[tokio::test]
async fn configured_rules_replace_the_default_and_default_rule_false_turns_it_off() {
    let red = AndonSignal::red("down").with_component("db");
    // A configured rule for YELLOWs only: a RED matches nothing.
    let config = AndonConfig::from_toml_str(
        "[[alerts.rules]]\nname = \"yellows\"\ncondition = { type = \"signal\", color = \"yellow\" }\n",
    )
    .unwrap()
    .alerts;
    let manager = AlertManager::builder(config).build().unwrap();
    assert_eq!(
        reason(&manager.accept(&red).await.unwrap()),
        "no alert rule matched"
    );
    assert!(manager.open_alerts().is_empty());

    // Turned off.
    let config = AndonConfig::from_toml_str("[alerts]\ndefault_rule = false\n")
        .unwrap()
        .alerts;
    let manager = AlertManager::builder(config).build().unwrap();
    assert!(matches!(
        manager.accept(&red).await.unwrap(),
        Receipt::Skipped { .. }
    ));

    // A rule added through the API replaces it too.
    let manager = AlertManager::builder(AlertsConfig::default())
        .build()
        .unwrap();
    manager
        .add_rule(AlertRule {
            name: "yellows".into(),
            condition: AlertCondition::Signal {
                color: Color::Yellow,
                component: None,
                count: 1,
                window: Duration::from_secs(60),
            },
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        reason(&manager.accept(&red).await.unwrap()),
        "no alert rule matched"
    );

    // Alerting turned off says so.
    let config = AlertsConfig {
        enabled: false,
        ..AlertsConfig::default()
    };
    let manager = AlertManager::builder(config).build().unwrap();
    assert!(reason(&manager.accept(&red).await.unwrap()).contains("enabled = false"));
}

#[tokio::test]
async fn with_channels_but_no_rules_a_red_goes_to_every_configured_channel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let mut config = AlertsConfig::default();
    config
        .channels
        .insert("file".into(), ChannelConfig::File { path: path.clone() });
    let manager = AlertManager::builder(config).build().unwrap();
    let red = AndonSignal::red("down").with_component("db");
    assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    let lines = lines(&path);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["alerts"][0]["rule"], "red-signal");
    assert_eq!(lines[0]["severity"], "critical");
}

#[tokio::test]
async fn a_log_channel_is_configured_beside_others_and_a_silence_says_so_in_the_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    let text = format!(
        r#"
[alerts.channels.ops-log]
type = "log"

[alerts.channels.file]
type = "file"
path = "{}"

[[alerts.rules]]
name = "db-down"
condition = {{ type = "signal", color = "red", component = "db" }}
severity = "warning"
channels = ["ops-log", "file"]
"#,
        path.display()
    );
    let config = AndonConfig::from_toml_str(&text).unwrap().alerts;
    let log = Arc::new(RecordingLog::default());
    let manager = AlertManager::builder(config)
        .with_log_sink(log.clone())
        .build()
        .unwrap();
    let red = AndonSignal::red("down").with_component("db");
    assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    assert_eq!(lines(&path).len(), 1);
    let entries = log.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].level, LogLevel::Warning, "a warning alert");
    assert_eq!(field(&entries[0], "alert.rule"), Some(&json!("db-down")));
    let kinds: Vec<(String, &str)> = manager
        .channel_reports()
        .into_iter()
        .map(|r| (r.name, r.kind))
        .collect();
    assert!(kinds.contains(&("ops-log".to_owned(), "log")), "{kinds:?}");

    // Silenced: the receipt names the silence.
    let manager = AlertManager::builder(AlertsConfig::default())
        .build()
        .unwrap();
    let id = manager.add_silence(
        vec![Matcher::eq("component", "db")],
        Duration::from_secs(3600),
        "alice",
        "maintenance",
    );
    let receipt = manager.accept(&red).await.unwrap();
    assert_eq!(
        reason(&receipt),
        format!("silenced by `{id}` (alice: maintenance)")
    );
}

#[tokio::test]
async fn per_component_alerts_are_bounded_by_bytes_and_drops_are_counted() {
    let config = AlertsConfig {
        max_instance_bytes: 16 * 1024,
        ..AlertsConfig::default()
    };
    let metrics = Arc::new(RecordingMetrics::default());
    let clock = Arc::new(ManualClock::new());
    let manager = AlertManager::builder(config)
        .with_clock(clock.clone())
        .with_log_sink(Arc::new(RecordingLog::default()))
        .with_metrics_sink(metrics.clone())
        .build()
        .unwrap();
    let mut dropped_reason = None;
    for i in 0..200 {
        let red = AndonSignal::red("down").with_component(format!("component-{i}"));
        if let Receipt::Skipped { reason } = manager.accept(&red).await.unwrap() {
            dropped_reason.get_or_insert(reason);
        }
    }
    let open = manager.open_alerts().len();
    let dropped = manager.stats().instances_dropped;
    assert!(open > 0 && open < 200, "{open} open");
    assert_eq!(open as u64 + dropped, 200);
    assert!(
        dropped_reason
            .as_deref()
            .is_some_and(|r| r.contains("max_instance_bytes")),
        "{dropped_reason:?}"
    );
    assert_eq!(
        metrics.total(
            "andon_alert_instances_dropped_total",
            &[("rule", "red-signal")]
        ),
        dropped
    );

    // Resolved alerts free their bytes: new components fit again.
    clock.advance(Duration::from_secs(61));
    manager.check_and_fire_alerts().await.unwrap();
    assert!(manager.open_alerts().is_empty());
    let red = AndonSignal::red("down").with_component("newcomer");
    assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
}

#[tokio::test]
async fn inline_channels_are_named_by_their_place_never_after_their_secret() {
    let manager = AlertManager::builder(AlertsConfig::default())
        .build()
        .unwrap();
    manager
        .add_rule(AlertRule {
            name: "hook".into(),
            severity: AlertSeverity::Warning,
            channels: vec![
                AlertChannel::Log,
                AlertChannel::Webhook {
                    url: Secret::new("http://127.0.0.1:9/hooks/T0KEN"),
                },
            ],
            ..Default::default()
        })
        .unwrap();
    let mut names: Vec<String> = manager
        .channel_reports()
        .into_iter()
        .map(|r| r.name)
        .filter(|n| n.starts_with("rules."))
        .collect();
    names.sort();
    assert_eq!(names, ["rules.hook.channels.0", "rules.hook.channels.1"]);
    assert!(!format!("{manager:?}").contains("T0KEN"));
}

/// Refuses every entry, as a log whose sinks are all stuck would.
#[derive(Debug)]
struct RefusingLog;

impl LogSink for RefusingLog {
    fn write(&self, _entry: LogEntry) -> Result<(), AndonError> {
        Err(AndonError::ShutDown { component: "log" })
    }
}

#[tokio::test]
async fn a_log_that_refuses_records_is_retried_counted_and_never_fails_the_signal() {
    let config = AlertsConfig {
        max_retries: 1,
        retry_backoff: Duration::from_millis(1),
        ..AlertsConfig::default()
    };
    let manager = AlertManager::builder(config)
        .with_log_sink(Arc::new(RefusingLog))
        .build()
        .unwrap();
    let red = AndonSignal::red("down").with_component("db");
    assert_eq!(manager.accept(&red).await.unwrap(), Receipt::Delivered);
    assert!(manager.flush_within(Duration::from_secs(30)).await);
    let report = manager
        .channel_reports()
        .into_iter()
        .find(|r| r.name == "log")
        .unwrap();
    assert_eq!((report.sent, report.failed, report.retries), (0, 1, 1));
    assert!(
        report
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("the log refused the record")),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_rule_with_a_for_says_its_alert_is_pending() {
    let manager = AlertManager::builder(AlertsConfig::default())
        .build()
        .unwrap();
    manager
        .add_rule(AlertRule {
            name: "slow-burn".into(),
            for_: Duration::from_secs(300),
            channels: vec![AlertChannel::Log],
            ..Default::default()
        })
        .unwrap();
    let red = AndonSignal::red("down").with_component("db");
    let why = reason(&manager.accept(&red).await.unwrap());
    assert!(why.starts_with("alert `slow-burn` is pending"), "{why}");
    assert!(why.contains("5m"), "{why}");
}
