//! The Andon cord, pulled: a worker processes orders while the system watches; a YELLOW warns,
//! a RED stops the line and the worker halts, an operator resumes it, and every signal shows up in
//! the logs, the metrics, the alerts and the diagnostics.
//!
//! Run it with `cargo run --example andon_demo`. It needs no server: logs go to stdout, metrics
//! to `http://127.0.0.1:9090/metrics` (another port if 9090 is taken), alerts to a file, and spans
//! to `localhost:4317` if an OTLP receiver (Jaeger, an OpenTelemetry Collector) listens there.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem};

fn say(text: &str) {
    println!("==> {text}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = AndonConfig::default();
    // Every record of the demo, not 1 in 10; every trace, not 1%.
    config.logger.sampling_enabled = false;
    config.tracer.sampling_ratio = 1.0;
    // Only the queue handler stops this line: a busy host (the observer's health) warns and
    // alerts, but does not halt the orders.
    config.line.components = vec!["queue-handler".to_owned()];
    // The metrics endpoint on 9090 as the design says, or a free port if 9090 is taken.
    if TcpListener::bind(("127.0.0.1", config.metrics.port)).is_err() {
        config.metrics.port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    }
    // Alerts to a file: every RED, and YELLOWs, notified there.
    let dir = std::env::temp_dir().join(format!("andon-demo-{}", std::process::id()));
    let alert_file = dir.join("alerts.jsonl");
    config.alerts = AndonConfig::from_toml_str(&format!(
        r#"
        [alerts.channels.demo-file]
        type = "file"
        path = "{}"

        [[alerts.rules]]
        name = "stop-the-line"
        condition = {{ type = "signal", color = "red" }}
        severity = "critical"
        channels = ["demo-file"]

        [[alerts.rules]]
        name = "warning"
        condition = {{ type = "signal", color = "yellow" }}
        severity = "warning"
        channels = ["demo-file"]
        "#,
        alert_file.display()
    ))?
    .alerts;

    let system = AndonSystem::new(config).await?;
    say("andon is running: logs on stdout (JSON), metrics, alerts, diagnostics, the line");

    // A worker on the line: it checks the line before every order and halts while it is stopped.
    let processed = Arc::new(AtomicU64::new(0));
    let worker = {
        let line = system.line().clone();
        let processed = Arc::clone(&processed);
        tokio::spawn(async move {
            loop {
                if let Err(stopped) = line.checkpoint() {
                    say(&format!(
                        "worker: the line is STOPPED by \"{}\": halting",
                        stopped.signal.message()
                    ));
                    line.wait_until_running().await;
                    say("worker: the line runs again: back to work");
                }
                processed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    say("pulling the cord: YELLOW \"Queue approaching threshold\"");
    system
        .signal_problem(
            AndonSignal::yellow("Queue approaching threshold")
                .with_component("queue-handler")
                .with_attribute("depth", 85),
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    say("pulling the cord: RED \"Queue overflow - stop processing\"");
    let outcome = system
        .signal_problem(
            AndonSignal::red("Queue overflow - stop processing")
                .with_component("queue-handler")
                .with_trace_id("trace-123")
                .with_attribute("depth", 150),
        )
        .await?;
    say(&format!(
        "signal {} reached {}; line stopped: {}",
        outcome.id,
        outcome.delivered_to.join(", "),
        outcome.stopped_line
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = processed.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    say(&format!(
        "while stopped the worker processed {} more orders",
        processed.load(Ordering::Relaxed) - before
    ));
    if let Some(report) = system.last_diagnostics() {
        say(&format!(
            "diagnostics taken for the RED: {}",
            report.summary
        ));
    }

    say("operator resumes the line after draining the queue");
    system
        .resume_line("demo-operator", Some("queue drained"))
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    if let Some(metrics) = system.metrics()
        && let Some(url) = metrics.scrape_url()
    {
        say(&format!("metrics: curl {url}"));
    }
    say(&format!("alerts:  cat {}", alert_file.display()));
    worker.abort();
    system.shutdown().await?;
    let alerts = std::fs::read_to_string(&alert_file).unwrap_or_default();
    say(&format!(
        "shut down cleanly; {} orders processed, {} alert notifications written",
        processed.load(Ordering::Relaxed),
        alerts.lines().count()
    ));
    Ok(())
}
