//! [`AlertStats`] under the [`Stats`] contract: the manager's own counters as one counter by
//! event, totals since start (beside the `andon_alert_*_total` counters with channel, rule and
//! severity labels pushed as notifications are sent).

use andon_core::{StatLine, Stats};

use crate::manager::AlertStats;

/// The counter of the manager's events by kind.
const EVENTS: &str = "andon_alert_manager_events_total";

impl Stats for AlertStats {
    /// `andon_alert_manager_events_total{event="signals|evaluations|notifications|…"}`, one series
    /// per field of [`AlertStats`].
    fn describe(&self) -> Vec<StatLine> {
        StatLine::counters_by(
            EVENTS,
            "The alert manager's events since start, by kind (signals taken, evaluations, notifications, deduplicated, suppressed, replayed, outbox_errors, instances_dropped, restored, restore_skipped, state_errors, left_at_shutdown, watchdog_sent, watchdog_failures).",
            "event",
            &andon_core::stat_totals!(self =>
                signals, evaluations, notifications, deduplicated, suppressed, replayed,
                outbox_errors, instances_dropped, restored, restore_skipped, state_errors,
                left_at_shutdown, watchdog_sent, watchdog_failures,
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_a_series() {
        let stats = AlertStats {
            notifications: 3,
            watchdog_failures: 1,
            ..AlertStats::default()
        };
        let text = andon_core::stats::render_prometheus(&[&stats]);
        assert_eq!(
            text.matches("# TYPE andon_alert_manager_events_total counter")
                .count(),
            1
        );
        assert!(text.contains("andon_alert_manager_events_total{event=\"notifications\"} 3\n"));
        assert!(text.contains("andon_alert_manager_events_total{event=\"watchdog_failures\"} 1\n"));
        assert_eq!(Stats::describe(&stats).len(), 14);
    }
}
