//! [`HistoryStats`] under the [`Stats`] contract: what the store's queue and writer did, as
//! gauges holding totals since start (beside the `andon_history_*_total` counters the writer
//! pushes as it goes).

use andon_core::{StatLine, Stats};

use crate::queue::HistoryStats;

/// The gauge of records by outcome (totals since start).
const RECORDS: &str = "andon_history_records";
/// The gauge of failed transactions (total since start).
const FAILED_BATCHES: &str = "andon_history_failed_batches";
/// The gauge of rows retention deleted (total since start).
const RETENTION_DELETED: &str = "andon_history_retention_deleted";

impl Stats for HistoryStats {
    /// `andon_history_records{outcome="accepted|written|dropped_queue_full|dropped_closed|failed"}`,
    /// `andon_history_failed_batches` and `andon_history_retention_deleted`.
    fn describe(&self) -> Vec<StatLine> {
        let mut lines = StatLine::gauges_by(
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
        lines.push(StatLine::gauge(
            FAILED_BATCHES,
            "History transactions that failed since start.",
            self.failed_batches as f64,
        ));
        lines.push(StatLine::gauge(
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
        assert!(text.contains("andon_history_records{outcome=\"accepted\"} 5\n"));
        assert!(text.contains("andon_history_records{outcome=\"dropped_queue_full\"} 2\n"));
        assert!(text.contains("andon_history_retention_deleted 7\n"));
        assert_eq!(Stats::describe(&stats).len(), 7);
    }
}
