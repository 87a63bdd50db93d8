//! The public API without peers: values read back for alert rules, the sink other components
//! write through, the cardinality guard, name checks and type conflicts.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use andon_core::config::MetricsConfig;
use andon_core::{AndonSignal, MetricsSink, MetricsSource, SignalSink};
use andon_metrics::{AndonMetrics, MetricsError};

fn metrics(config: MetricsConfig) -> AndonMetrics {
    AndonMetrics::builder(config)
        .without_endpoint()
        .with_local_recorder()
        .build()
        .unwrap()
}

#[tokio::test]
async fn alert_rules_read_back_counters_and_gauges_by_name_and_labels() {
    let metrics = metrics(MetricsConfig::default());
    let sink: &dyn SignalSink = &metrics;
    assert_eq!(sink.name(), "metrics");
    for _ in 0..3 {
        sink.on_signal(&AndonSignal::red("x").with_component("db"))
            .await
            .unwrap();
    }
    metrics
        .record_signal(&AndonSignal::yellow("y").with_component("db"))
        .await
        .unwrap();
    metrics.update_queue_depth("default", 150).unwrap();
    metrics.update_queue_depth("bulk", 20).unwrap();

    let source: &dyn MetricsSource = &metrics;
    assert_eq!(
        source.value(
            "andon_signals_total",
            &[("color", "red"), ("component", "db")]
        ),
        Some(3.0)
    );
    assert_eq!(
        source.value("andon_signals_total", &[("color", "green")]),
        Some(0.0)
    );
    assert_eq!(
        source.value("andon_queue_depth", &[]),
        Some(150.0),
        "the largest"
    );
    assert_eq!(
        source.value("andon_queue_depth", &[("queue", "bulk")]),
        Some(20.0)
    );
    assert_eq!(
        source.value("andon_queue_depth", &[("queue", "none")]),
        None
    );
    assert!(source.samples("never_recorded").is_empty());
    let samples = source.samples("andon_signals_total");
    assert_eq!(samples.len(), 3, "one series per color: {samples:?}");
    assert_eq!(
        samples[0].labels,
        [
            ("color".to_owned(), "green".to_owned()),
            ("component".to_owned(), "db".to_owned())
        ],
        "labels sorted by name"
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"andon_signals_total{color="red",component="db"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"andon_signals_total{color="yellow",component="db"} 1"#),
        "{text}"
    );
    metrics
        .record_signal(&AndonSignal::green("no component"))
        .await
        .unwrap();
    assert!(
        metrics
            .render()
            .contains(r#"andon_signals_total{color="green",component="unknown"} 1"#)
    );
}

#[test]
fn other_components_write_their_own_metrics_through_the_sink() {
    let metrics = metrics(MetricsConfig::default());
    let sink: &dyn MetricsSink = &metrics;
    sink.describe(
        "andon_observer_disk_used_ratio",
        "Disk used, by mount point.",
    );
    sink.set_gauge("andon_observer_disk_used_ratio", &[("mount", "/")], 0.71);
    sink.add_counter("andon_log_records_total", &[("level", "INFO")], 2);
    sink.add_counter("andon_log_records_total", &[("level", "INFO")], 3);
    sink.record_histogram("andon_observer_check_duration_seconds", &[], 0.02);
    // Invalid input is dropped and counted, never a broken exposition.
    sink.set_gauge("bad name", &[], 1.0);
    sink.set_gauge("fine", &[("bad-label", "x")], 1.0);
    sink.set_gauge("fine", &[], f64::NAN);
    let text = metrics.render();
    assert!(
        text.contains("# HELP andon_observer_disk_used_ratio Disk used, by mount point."),
        "{text}"
    );
    assert!(
        text.contains(r#"andon_observer_disk_used_ratio{mount="/"} 0.71"#),
        "{text}"
    );
    assert!(
        text.contains(r#"andon_log_records_total{level="INFO"} 5"#),
        "{text}"
    );
    assert!(
        text.contains("andon_observer_check_duration_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains(r#"andon_metrics_rejected_total{reason="invalid_name"} 3"#),
        "{text}"
    );
    assert!(
        !text.contains("bad name") && !text.contains("fine"),
        "{text}"
    );
    assert_eq!(metrics.value("andon_log_records_total", &[]), Some(5.0));
}

#[test]
fn the_cardinality_guard_refuses_new_series_and_counts_them() {
    let metrics = metrics(MetricsConfig {
        max_label_sets: 3,
        ..MetricsConfig::default()
    });
    for queue in ["a", "b", "c"] {
        metrics.update_queue_depth(queue, 1).unwrap();
    }
    metrics.update_queue_depth("a", 2).unwrap(); // an existing series is fine
    let err = metrics.update_queue_depth("d", 1).unwrap_err();
    assert!(
        matches!(err, MetricsError::TooManySeries { limit: 3, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("raise `metrics.max_label_sets`"),
        "{err}"
    );
    // The macros get a no-op handle for a refused series; the sink drops it. Both are counted.
    metrics::with_local_recorder(&metrics.recorder(), || {
        metrics::gauge!("andon_queue_depth", "queue" => "e").set(1.0);
    });
    metrics.set_gauge("andon_queue_depth", &[("queue", "f")], 1.0);
    assert_eq!(metrics.refused_series("andon_queue_depth"), 3);
    let text = metrics.render();
    assert!(
        text.contains(r#"andon_metrics_refused_series_total{metric="andon_queue_depth"} 3"#),
        "{text}"
    );
    assert!(
        !text.contains(r#"queue="d""#) && !text.contains(r#"queue="e""#),
        "{text}"
    );
    // A signal's three color series count as three label sets.
    let err = metrics
        .count_signal(&AndonSignal::red("x").with_component("only-room-for-one"))
        .map(|()| metrics.count_signal(&AndonSignal::red("x").with_component("two")));
    assert!(
        matches!(err, Ok(Err(MetricsError::TooManySeries { .. }))),
        "{err:?}"
    );
}

#[test]
fn invalid_names_and_type_conflicts_are_clear_errors() {
    let metrics = metrics(MetricsConfig::default());
    let err = metrics.register_gauge("2fast", "", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`2fast` is not a valid metric name: use letters, digits, `_` and `:`, not starting with a digit (such as `my_backlog_items`)"
    );
    let err = metrics
        .register_counter("jobs_total", "", &[("le", "1")])
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`le` is not a valid label name for `jobs_total`"),
        "{err}"
    );
    let _jobs = metrics
        .register_counter("jobs_total", "Jobs.", &[])
        .unwrap();
    let err = metrics.register_gauge("jobs_total", "", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`jobs_total` is already a counter, so it cannot also be a gauge: choose another name"
    );
    let err = metrics.update_pool_utilization("db", f64::NAN).unwrap_err();
    assert!(matches!(err, MetricsError::InvalidValue { .. }), "{err}");
    assert!(
        metrics
            .render()
            .contains(r#"andon_metrics_rejected_total{reason="type_conflict"} 1"#)
    );
}

#[test]
fn every_design_metric_has_its_name_type_and_help() {
    let metrics = metrics(MetricsConfig::default());
    metrics.record_failure("db").unwrap();
    metrics
        .record_alert("high-queue", andon_core::AlertSeverity::Warning)
        .unwrap();
    metrics.update_pool_utilization("db", 0.5).unwrap();
    metrics.update_memory_usage(1024).unwrap();
    metrics.update_cpu_usage(50.0).unwrap();
    metrics
        .record_request_latency("/api/test", Duration::from_millis(20))
        .unwrap();
    metrics
        .record_processing_time("generate", Duration::from_secs(2))
        .unwrap();
    metrics.set_line_stopped(false);
    let text = metrics.render();
    for (name, kind) in [
        ("andon_failures_total", "counter"),
        ("andon_alerts_total", "counter"),
        ("andon_pool_utilization_ratio", "gauge"),
        ("andon_memory_usage_bytes", "gauge"),
        ("andon_cpu_usage_ratio", "gauge"),
        ("andon_line_stopped", "gauge"),
        ("andon_request_duration_seconds", "histogram"),
        ("andon_processing_duration_seconds", "histogram"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}: {text}"
        );
        assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
    }
    assert!(
        text.contains(r#"andon_alerts_total{rule="high-queue",severity="warning"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"andon_processing_duration_seconds_bucket{operation="generate",le="2.5"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"andon_processing_duration_seconds_bucket{operation="generate",le="1"} 0"#),
        "{text}"
    );
}

#[test]
fn per_metric_buckets_override_the_default_and_disabled_metrics_serve_nothing() {
    let mut config = MetricsConfig {
        enabled: false,
        ..MetricsConfig::default()
    };
    config
        .histogram_buckets
        .insert("andon_request_duration_seconds".into(), vec![0.1, 1.0]);
    let metrics = AndonMetrics::new(config).unwrap();
    assert!(metrics.endpoint().is_none() && !metrics.is_global());
    metrics
        .record_request_latency("/x", Duration::from_millis(50))
        .unwrap();
    metrics
        .record_processing_time("y", Duration::from_millis(50))
        .unwrap();
    let text = metrics.handle().render();
    assert!(
        text.contains(r#"andon_request_duration_seconds_bucket{endpoint="/x",le="0.1"} 1"#),
        "{text}"
    );
    assert!(!text.contains(r#"endpoint="/x",le="0.005""#), "{text}");
    assert!(
        text.contains(r#"andon_processing_duration_seconds_bucket{operation="y",le="0.005"} 0"#),
        "{text}"
    );
}

#[test]
fn an_invalid_configuration_is_refused_with_its_key() {
    let err = AndonMetrics::new(MetricsConfig {
        scrape_path: "metrics".into(),
        ..MetricsConfig::default()
    })
    .unwrap_err();
    assert!(matches!(err, MetricsError::Config(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("metrics.scrape_path: must start with `/`"),
        "{err}"
    );
}
