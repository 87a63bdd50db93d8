//! A MAPE-K control loop on andon: Monitor (the queue depth gauge and the observer's probes),
//! Analyze (an alert rule on the queue depth), Plan (throttle or release the producer), Execute
//! (stop or resume the line the producer checks), with the Knowledge in the configuration.
//!
//! A producer fills a queue faster than a consumer drains it. When the backlog alert fires, the
//! planner pulls a RED cord from `mape-k`, which stops the line: the producer halts at its
//! checkpoint while the consumer drains. When the alert resolves, the planner resumes the line.
//!
//! Run it with `cargo run -p andon --example mape_k`: no server needed (metrics on a free
//! loopback port, alerts to a temporary file); it stops by itself after two throttle cycles.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use andon::alert::AlertState;
use andon::{AndonConfig, AndonSignal, AndonSystem};

/// What one run of the loop did.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Times the planner stopped the line.
    pub(crate) throttles: u32,
    /// Times it resumed the line.
    pub(crate) releases: u32,
    /// The largest backlog seen.
    pub(crate) peak_depth: u64,
    /// Items produced and consumed.
    pub(crate) produced: u64,
    /// Items consumed.
    pub(crate) consumed: u64,
}

/// What the planner decided for one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Throttle,
    Release,
    Hold,
}

/// Knowledge: the rule that says what a backlog is, and the line that only the planner stops.
fn knowledge(dir: &std::path::Path) -> Result<AndonConfig, Box<dyn std::error::Error>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let config = AndonConfig::from_toml_str(&format!(
        r#"
        [logger]
        sinks = [{{ type = "Stderr", level = "CRITICAL" }}]

        [metrics]
        port = {port}

        [tracer]
        enabled = false

        [observer]
        check_interval_secs = 3600

        [alerts]
        evaluation_interval = "1h"   # the loop evaluates the rules itself, every iteration

        [alerts.channels.file]
        type = "file"
        path = "{alerts}"

        [[alerts.rules]]
        name = "queue-backlog"
        condition = {{ type = "queue_depth", max_depth = 40, clear_below = 5 }}
        severity = "critical"
        channels = ["file"]

        [line]
        components = ["mape-k"]
        "#,
        alerts = dir.join("alerts.jsonl").display(),
    ))?;
    Ok(config)
}

/// Runs the loop until `cycles` throttle-and-release cycles are done (or 20 seconds pass).
pub(crate) async fn run(cycles: u32) -> Result<Report, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("andon-mape-k-{}", std::process::id()));
    let system = AndonSystem::new(knowledge(&dir)?).await?;
    let (Some(metrics), Some(alerts)) = (system.metrics(), system.alerts()) else {
        return Err("the loop needs the metrics and alert components".into());
    };

    // The managed system: a producer that checks the line, a consumer that does not.
    let depth = Arc::new(AtomicU64::new(0));
    let produced = Arc::new(AtomicU64::new(0));
    let consumed = Arc::new(AtomicU64::new(0));
    let producer = {
        let (line, depth, produced) = (system.line().clone(), depth.clone(), produced.clone());
        tokio::spawn(async move {
            loop {
                line.wait_until_running().await;
                depth.fetch_add(3, Ordering::Relaxed);
                produced.fetch_add(3, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let consumer = {
        let (depth, consumed) = (depth.clone(), consumed.clone());
        tokio::spawn(async move {
            loop {
                if depth
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| d.checked_sub(1))
                    .is_ok()
                {
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let mut report = Report::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while report.releases < cycles && tokio::time::Instant::now() < deadline {
        // Monitor: the backlog as a gauge, and the host through the observer's probes.
        let backlog = depth.load(Ordering::Relaxed);
        report.peak_depth = report.peak_depth.max(backlog);
        metrics.update_queue_depth("orders", backlog)?;

        // Analyze: evaluate the rules against what was measured.
        alerts.check_and_fire_alerts().await?;
        let backlog_alert = alerts
            .open_alerts()
            .into_iter()
            .any(|a| a.rule == "queue-backlog" && a.state == AlertState::Firing);

        // Plan.
        let running = system.line().is_running();
        let plan = match (backlog_alert, running) {
            (true, true) => Plan::Throttle,
            (false, false) => Plan::Release,
            _ => Plan::Hold,
        };

        // Execute.
        match plan {
            Plan::Throttle => {
                let host = match system.diagnostics().await {
                    Some(Ok(report)) => report.summary,
                    _ => "no diagnostics".to_owned(),
                };
                println!("plan: throttle the producer (backlog {backlog}; host {host})");
                system
                    .signal_problem(
                        AndonSignal::red(format!("queue backlog {backlog}: throttle the producer"))
                            .with_component("mape-k")
                            .with_attribute("depth", backlog),
                    )
                    .await?;
                report.throttles += 1;
            }
            Plan::Release => {
                println!("plan: release the producer (backlog {backlog})");
                system
                    .resume_line("mape-k", Some("backlog cleared"))
                    .await?;
                report.releases += 1;
            }
            Plan::Hold => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    producer.abort();
    consumer.abort();
    system.shutdown().await?;
    let _ = std::fs::remove_dir_all(&dir);
    report.produced = produced.load(Ordering::Relaxed);
    report.consumed = consumed.load(Ordering::Relaxed);
    Ok(report)
}

#[allow(dead_code)] // reason: a test includes this file for `run` and does not call `main`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = run(2).await?;
    println!(
        "done: {} throttles, {} releases, peak backlog {}, {} produced, {} consumed",
        report.throttles, report.releases, report.peak_depth, report.produced, report.consumed
    );
    Ok(())
}
