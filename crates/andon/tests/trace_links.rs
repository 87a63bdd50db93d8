//! `[tracer] ui_url` is wired into alerting: a RED with a correlation id fires an alert whose
//! notification links the trace in the trace UI by its mapped W3C id.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_links_the_trace_in_the_configured_trace_ui() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let config = AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
enabled = false
[tracer]
enabled = false
ui_url = "https://jaeger.example.com"
[observer]
enabled = false
[alerts.channels.file]
type = "file"
path = "{alerts}"
[[alerts.rules]]
name = "reds"
condition = {{ type = "signal", color = "red", window = "10m" }}
severity = "critical"
channels = ["file"]
"#,
        log = dir.path().join("andon.log").display(),
        alerts = alerts.display(),
    ))
    .unwrap();
    let system = AndonSystem::new(config).await.unwrap();
    let _ = system
        .signal_problem(AndonSignal::red("disk full").with_trace_id("trace-123"))
        .await;
    let line = andon_tests::wait_for(Duration::from_secs(20), || {
        std::fs::read_to_string(&alerts)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
    })
    .expect("the notification reaches the file channel");
    let notification: serde_json::Value = serde_json::from_str(&line).unwrap();
    let alert = &notification["alerts"][0];
    assert_eq!(alert["trace_id"], "trace-123");
    assert_eq!(
        alert["trace_url"],
        format!(
            "https://jaeger.example.com/trace/{}",
            andon::core::w3c_trace_id_hex("trace-123")
        )
    );
    let _ = system.shutdown_within(Duration::from_secs(10)).await;
}
