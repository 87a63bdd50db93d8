//! What the metrics registry holds, under the [`Stats`] contract.

use andon_core::{StatLine, Stats};

/// The gauge of metric names registered.
const METRICS: &str = "andon_metrics_metrics";
/// The gauge of series (label sets) registered.
const SERIES: &str = "andon_metrics_series";

/// A snapshot of the registry behind [`AndonMetrics`](crate::AndonMetrics), from
/// [`AndonMetrics::stats`](crate::AndonMetrics::stats).
///
/// Updates refused for an invalid name or a type conflict are counted in
/// `andon_metrics_rejected_total{reason}` as they happen, and refused series in
/// `andon_metrics_refused_series_total{metric}`: [`describe`](Stats::describe) leaves them
/// out, so no total has two names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsStats {
    /// Metric names with at least one series (each counter, gauge or histogram).
    pub metrics: u64,
    /// Series registered: one per label set of each metric (at most `metrics.max_label_sets`
    /// per metric).
    pub series: u64,
    /// New series refused since start because their metric already had
    /// `metrics.max_label_sets` label sets (also `andon_metrics_refused_series_total{metric}`).
    pub refused_series: u64,
}

impl Stats for MetricsStats {
    /// The gauges `andon_metrics_metrics` and `andon_metrics_series`.
    fn describe(&self) -> Vec<StatLine> {
        vec![
            StatLine::gauge(
                METRICS,
                "Metric names registered with andon's recorder.",
                self.metrics as f64,
            ),
            StatLine::gauge(
                SERIES,
                "Series (label sets) registered with andon's recorder.",
                self.series as f64,
            ),
        ]
    }
}
