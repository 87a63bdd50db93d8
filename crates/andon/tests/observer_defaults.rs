//! The observer's defaults in a whole system: the design's `memory_usage_mb` threshold watches
//! this process's real memory (the observer feeds `andon_memory_usage_bytes` on each check),
//! and reading diagnostics serves the latest scheduled check instead of re-sampling the host.

#![cfg(all(feature = "metrics", feature = "observe"))] // reads the metrics and the observer
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers fail the test that called them

use std::sync::Arc;
use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem, Color};

fn config(dir: &std::path::Path, check_interval_secs: u64) -> AndonConfig {
    let text = format!(
        r#"
[logger]
sampling_enabled = false
sinks = [{{ type = "File", path = "{log}" }}]

[metrics]
port = {port}

[metrics.thresholds]
memory_usage_mb = 1
cpu_usage_percent = false

[tracer]
enabled = false

[observer]
check_interval_secs = {check_interval_secs}
# The test machine is shared and busy: its CPU must not raise signals of its own.
cpu_threshold_percent = 100.0
cpu_critical_percent = 100.0
"#,
        log = dir.join("andon.log").display(),
        port = andon_tests::free_port(),
    );
    AndonConfig::from_toml_str(&text).unwrap()
}

/// The newest threshold signal of `color` on `andon_memory_usage_bytes`.
fn memory_signal(system: &AndonSystem, color: Color) -> Option<Arc<AndonSignal>> {
    system.recent_signals(1000).into_iter().find(|s| {
        s.color() == color
            && s.component() == Some("metrics")
            && s.attributes().get("metric").and_then(|m| m.as_str())
                == Some("andon_memory_usage_bytes")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_threshold_fires_on_this_process_and_resolves_when_raised() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path(), 1)).await.unwrap();

    // No one records memory by hand: the observer's checks keep the gauge current.
    let fired = andon_tests::wait_for(Duration::from_secs(30), || {
        memory_signal(&system, Color::Yellow)
    })
    .expect("a YELLOW from the memory_usage_mb threshold");
    assert!(
        fired.message().starts_with("andon_memory_usage_bytes is "),
        "{}",
        fired.message()
    );
    let metrics = system.metrics().unwrap();
    let rss = andon::MetricsSource::value(metrics, "andon_memory_usage_bytes", &[]).unwrap();
    assert!(rss > 1024.0 * 1024.0, "the real resident memory: {rss}");
    assert!(
        system.line().is_running(),
        "a YELLOW does not stop the line"
    );

    // Raised far above this process's memory: the next check clears it with a GREEN.
    metrics
        .set_threshold(
            "andon_memory_usage_bytes",
            andon::metrics::Threshold::new(1024.0 * 1024.0 * 1024.0 * 1024.0),
        )
        .unwrap();
    let resolved = andon_tests::wait_for(Duration::from_secs(30), || {
        memory_signal(&system, Color::Green)
    })
    .expect("a GREEN once the threshold is above the process's memory");
    assert!(resolved.timestamp() > fired.timestamp());
    system.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_diagnostics_serves_the_latest_check_without_measuring_again() {
    let dir = tempfile::tempdir().unwrap();
    let system = AndonSystem::new(config(dir.path(), 3600)).await.unwrap();
    let observer = system.observer().unwrap();
    let first = andon_tests::wait_for(Duration::from_secs(30), || observer.latest())
        .expect("the first scheduled check, at start");
    let checks = observer.stats().checks;

    for _ in 0..50 {
        let report = system.diagnostics().await.unwrap().unwrap();
        assert_eq!(report.taken_at, first.taken_at, "its age is the check's");
        assert_eq!(report.summary, first.summary());
    }
    assert_eq!(
        observer.stats().checks,
        checks,
        "fifty reads, no measurement"
    );
    system.shutdown().await.unwrap();
}
