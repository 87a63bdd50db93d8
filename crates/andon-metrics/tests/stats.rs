//! `AndonMetrics::stats()` under the `Stats` contract: series and refused series counted as the
//! registry holds them, and published through andon's own metrics sink.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use andon_core::config::MetricsConfig;
use andon_core::{MetricsSource, Stats};
use andon_metrics::AndonMetrics;

#[test]
fn stats_count_series_and_refusals_and_export_to_the_registry() {
    let metrics = AndonMetrics::builder(MetricsConfig {
        max_label_sets: 2,
        ..MetricsConfig::default()
    })
    .without_endpoint()
    .with_local_recorder()
    .build()
    .unwrap();
    let before = metrics.stats();
    for queue in ["a", "b"] {
        metrics.update_queue_depth(queue, 1).unwrap();
    }
    assert!(metrics.update_queue_depth("c", 1).is_err());
    let after = metrics.stats();
    assert_eq!(after.series, before.series + 2);
    assert_eq!(after.metrics, before.metrics + 1);
    assert_eq!(after.refused_series, before.refused_series + 1);

    after.export(&metrics);
    assert_eq!(
        metrics.value("andon_metrics_series", &[]),
        Some(after.series as f64)
    );
    let text = metrics.render();
    // The refused series is counted once, by the metric it was refused for, and the stats
    // export gives it no second name.
    let refused: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("andon_metrics_refused_series"))
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    assert!(
        refused[0].starts_with("andon_metrics_refused_series_total{metric=")
            && refused[0].ends_with(" 1"),
        "{text}"
    );
    assert!(
        text.contains("# HELP andon_metrics_series Series (label sets) registered"),
        "{text}"
    );
}
