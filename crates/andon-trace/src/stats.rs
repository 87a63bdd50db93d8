//! What the tracer counts, for health checks, the metrics crate and tests.

use andon_core::{MetricsSink, StatLine, Stats};

/// The counter of spans by outcome that [`TraceStats::export`] publishes.
const SPANS: &str = "andon_trace_spans_total";
/// The counter of failed export batches that [`TraceStats::export`] publishes.
const EXPORT_ERRORS: &str = "andon_trace_export_errors_total";

/// A snapshot of what the tracer did, for health checks and metrics.
///
/// Every span the tracer started (andon's own and those of the `tracing` layer) is counted once
/// as `spans_not_sampled` or, when it ends, as `spans_queued` or `spans_dropped`; every queued
/// span ends up `spans_exported` or `spans_failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceStats {
    /// Spans started through andon's API.
    pub spans_started: u64,
    /// andon spans that were not sampled (never recorded, never exported).
    pub spans_not_sampled: u64,
    /// Ended, recorded spans put on the export queue.
    pub spans_queued: u64,
    /// Ended, recorded spans dropped because the queue (`max_queue_size`) was full.
    pub spans_dropped: u64,
    /// Spans the exporter accepted.
    pub spans_exported: u64,
    /// Spans lost because their batch failed (after the exporter's own retries).
    pub spans_failed: u64,
    /// Batches that failed.
    pub export_errors: u64,
}

impl Stats for TraceStats {
    /// The counters `andon_trace_spans_total{outcome="started|not_sampled|queued|dropped|exported|failed"}`
    /// and `andon_trace_export_errors_total`, totals since start.
    fn describe(&self) -> Vec<StatLine> {
        let mut lines = StatLine::counters_by(
            SPANS,
            "Spans since start, by outcome (started, not_sampled, queued, dropped, exported, failed).",
            "outcome",
            &andon_core::stat_totals!(self =>
                spans_started as "started",
                spans_not_sampled as "not_sampled",
                spans_queued as "queued",
                spans_dropped as "dropped",
                spans_exported as "exported",
                spans_failed as "failed",
            ),
        );
        lines.push(StatLine::counter(
            EXPORT_ERRORS,
            "Span export batches that failed.",
            self.export_errors as f64,
        ));
        lines
    }
}

impl TraceStats {
    /// Gives the metrics that [`export`](TraceStats::export) publishes their HELP text; call
    /// once, before the first export (the [`Stats`] lines carry the same text, so
    /// [`Stats::export`] gives it too).
    pub fn describe(metrics: &dyn MetricsSink) {
        TraceStats::default().describe_to(metrics);
    }

    /// Publishes the counters (totals since start) through a metrics sink, so that a scrape
    /// shows lost spans: `andon_trace_spans_total{outcome="started|not_sampled|queued|dropped|exported|failed"}`
    /// and `andon_trace_export_errors_total`; [`Stats::export`] of these stats.
    pub fn export(&self, metrics: &dyn MetricsSink) {
        Stats::export(self, metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_is_a_series_of_one_metric() {
        let stats = TraceStats {
            spans_dropped: 4,
            export_errors: 1,
            ..TraceStats::default()
        };
        let text = andon_core::stats::render_prometheus(&[&stats]);
        assert_eq!(text.matches("# HELP andon_trace_spans_total ").count(), 1);
        assert!(text.contains("andon_trace_spans_total{outcome=\"dropped\"} 4\n"));
        assert!(text.contains("andon_trace_export_errors_total 1\n"));
    }
}
