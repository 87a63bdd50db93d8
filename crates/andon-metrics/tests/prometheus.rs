//! Real peers: `promtool check metrics` accepts the exposition, and a real Prometheus scrapes
//! the endpoint; PromQL over its HTTP API returns the recorded counter, gauge and histogram
//! quantile, and hostile label values come back exactly as written.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use andon_core::config::MetricsConfig;
use andon_core::{AlertSeverity, AndonSignal};
use andon_metrics::AndonMetrics;
use andon_tests::{Peer, Ready, find_peer, free_port, http_get, temp_dir, wait_for};
use serde_json::Value;

const PROMETHEUS_HINT: &str =
    "apt-get install prometheus (or run `cargo xtask ci`, which sets it up)";

/// Label values a careless exporter breaks: quotes, backslashes, newlines, UTF-8.
const HOSTILE: [&str; 8] = [
    r#"say "hi""#,
    "two\nlines",
    r"back\slash",
    r#"escaped \" quote"#,
    r"literal \n not a newline",
    "trailing backslash \\",
    "Grüße 🚦 日本語",
    "{braces}=,commas\ttab",
];

fn metrics() -> AndonMetrics {
    AndonMetrics::builder(MetricsConfig {
        port: free_port(),
        ..MetricsConfig::default()
    })
    .with_local_recorder()
    .build()
    .unwrap()
}

/// Records a little of everything andon offers, with HELP text for every metric.
fn record_everything(metrics: &AndonMetrics) {
    metrics
        .count_signal(&AndonSignal::red("overflow").with_component("queue-handler"))
        .unwrap();
    metrics.count_signal(&AndonSignal::yellow("slow")).unwrap();
    metrics.update_queue_depth("default", 150).unwrap();
    for _ in 0..50 {
        metrics
            .record_request_latency("/api/test", Duration::from_millis(3))
            .unwrap();
        metrics
            .record_request_latency("/api/test", Duration::from_millis(300))
            .unwrap();
    }
    metrics
        .record_processing_time("generate", Duration::from_millis(20))
        .unwrap();
    metrics.record_failure("db").unwrap();
    metrics
        .record_alert("high-queue", AlertSeverity::Critical)
        .unwrap();
    metrics.update_pool_utilization("db", 0.75).unwrap();
    metrics.update_memory_usage(64 * 1024 * 1024).unwrap();
    metrics.update_cpu_usage(12.5).unwrap();
    metrics.set_line_stopped(true);
    let hostile = metrics
        .register_counter(
            "hostile_labels_total",
            "Label values that need escaping \\ \"quoted\".",
            &[],
        )
        .unwrap();
    hostile.increment(1);
    for (i, value) in HOSTILE.iter().enumerate() {
        metrics
            .register_counter("hostile_labels_total", "", &[("value", value)])
            .unwrap()
            .increment(i as u64 + 10);
    }
}

#[test]
fn promtool_accepts_the_exposition() {
    let Some(promtool) = find_peer("promtool", PROMETHEUS_HINT) else {
        return;
    };
    let metrics = metrics();
    record_everything(&metrics);
    let (status, body) = http_get(&metrics.scrape_url().unwrap()).unwrap();
    assert_eq!(status, 200);
    let out = andon_tests::run_with_stdin(promtool, ["check", "metrics"], &body);
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The checks promtool does not do: histogram series and HELP on every andon metric.
    assert!(
        body.contains(
            r#"andon_request_duration_seconds_bucket{endpoint="/api/test",le="0.005"} 50"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"andon_request_duration_seconds_count{endpoint="/api/test"} 100"#),
        "{body}"
    );
    for line in body.lines().filter(|l| l.starts_with("# TYPE andon_")) {
        let name = line.split_whitespace().nth(2).unwrap();
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs an instant query; the `result` array once it is non-empty.
fn query(prometheus: u16, promql: &str) -> Option<Vec<Value>> {
    let url = format!(
        "http://127.0.0.1:{prometheus}/api/v1/query?query={}",
        encode(promql)
    );
    let (status, body) = http_get(&url).ok()?;
    if status != 200 {
        return None;
    }
    let json: Value = serde_json::from_str(&body).ok()?;
    let result = json["data"]["result"].as_array()?.clone();
    (!result.is_empty()).then_some(result)
}

fn number(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[test]
fn prometheus_scrapes_and_promql_returns_what_was_recorded() {
    let Some(prometheus) = find_peer("prometheus", PROMETHEUS_HINT) else {
        return;
    };
    let metrics = metrics();
    record_everything(&metrics);
    let target = metrics.endpoint().unwrap();

    let dir = temp_dir();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: andon\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let _peer = Peer::builder(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .ready(Ready::Http(format!("http://127.0.0.1:{port}/-/ready")))
        .timeout(Duration::from_secs(60))
        .start()
        .unwrap();

    let wait = Duration::from_secs(60);
    let counter = wait_for(wait, || {
        query(
            port,
            r#"andon_signals_total{color="red",component="queue-handler"}"#,
        )
    })
    .expect("Prometheus never scraped andon_signals_total");
    assert_eq!(number(&counter[0]), 1.0);

    let gauge = wait_for(wait, || {
        query(port, r#"andon_queue_depth{queue="default"}"#)
    })
    .unwrap();
    assert_eq!(number(&gauge[0]), 150.0);

    // 50 requests at 3 ms (bucket 0.001..0.005) and 50 at 300 ms (bucket 0.25..0.5): the 90th
    // percentile is 40/50 of the way through the upper bucket.
    let quantile = wait_for(wait, || {
        query(port, r#"histogram_quantile(0.9, andon_request_duration_seconds_bucket{endpoint="/api/test"})"#)
    })
    .unwrap();
    let q = number(&quantile[0]);
    assert!((q - 0.45).abs() < 1e-9, "p90 = {q}");

    let hostile = wait_for(wait, || {
        query(port, r#"hostile_labels_total{value!=""}"#).filter(|r| r.len() == HOSTILE.len())
    })
    .expect("every hostile series arrives");
    for (i, value) in HOSTILE.iter().enumerate() {
        let found = hostile
            .iter()
            .find(|s| s["metric"]["value"].as_str() == Some(value))
            .unwrap_or_else(|| panic!("{value:?} did not round-trip: {hostile:?}"));
        assert_eq!(number(found), i as f64 + 10.0, "{value:?}");
    }
    // The series without labels is still there and distinct.
    let plain = query(port, r#"hostile_labels_total{value=""}"#).unwrap();
    assert_eq!(number(&plain[0]), 1.0);
}
