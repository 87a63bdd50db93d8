//! [`HistoryStats`] under the [`Stats`] contract: what the store's queue and writer did, as
//! counters of totals since start (beside the counters with a `reason` label the writer pushes
//! as it goes, such as `andon_history_dropped_total`).

use andon_core::{StatLine, Stats};

use crate::queue::HistoryStats;

/// The counter of records by outcome.
const RECORDS: &str = "andon_history_records_total";
/// The counter of failed transactions.
const FAILED_BATCHES: &str = "andon_history_failed_batches_total";
/// The counter of rows retention deleted.
const RETENTION_DELETED: &str = "andon_history_retention_deleted_total";

impl Stats for HistoryStats {
    /// `andon_history_records_total{outcome="accepted|written|dropped_queue_full|dropped_closed|failed"}`,
    /// `andon_history_failed_batches_total` and `andon_history_retention_deleted_total`.
    fn describe(&self) -> Vec<StatLine> {
        let mut lines = StatLine::counters_by(
            RECORDS,
            "History records since start, by outcome (accepted, written, dropped_queue_full, dropped_closed, failed).",
            "outcome",
            &andon_core::stat_totals!(self =>
                accepted,
                written,
                dropped_queue_full,
                dropped_closed,
                failed,
            ),
        );
        lines.push(StatLine::counter(
            FAILED_BATCHES,
            "History transactions that failed since start.",
            self.failed_batches as f64,
        ));
        lines.push(StatLine::counter(
            RETENTION_DELETED,
            "History rows deleted by retention since start.",
            self.retention_deleted as f64,
        ));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_a_line() {
        let stats = HistoryStats {
            accepted: 5,
            dropped_queue_full: 2,
            retention_deleted: 7,
            ..HistoryStats::default()
        };
        let text = andon_core::stats::render_prometheus(&[&stats]);
        assert!(text.contains("andon_history_records_total{outcome=\"accepted\"} 5\n"));
        assert!(text.contains("andon_history_records_total{outcome=\"dropped_queue_full\"} 2\n"));
        assert!(text.contains("andon_history_retention_deleted_total 7\n"));
        assert_eq!(Stats::describe(&stats).len(), 7);
    }
}
