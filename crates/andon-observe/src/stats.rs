//! [`ObserverStats`] under the [`Stats`] contract: the observer's checks and health signals as
//! counters of totals since start.

use andon_core::{StatLine, Stats};

use crate::observer::ObserverStats;

/// The counter of checks by outcome.
const CHECKS: &str = "andon_observer_checks_total";
/// The counter of health signals by outcome.
const SIGNALS: &str = "andon_observer_signals_total";

impl Stats for ObserverStats {
    /// `andon_observer_checks_total{outcome="taken|failed"}` and
    /// `andon_observer_signals_total{outcome="sent|failed"}`.
    fn describe(&self) -> Vec<StatLine> {
        let checks = "Observer measurements since start: taken (on demand and scheduled), or failed (a scheduled check that could not measure).";
        let signals = "Observer health signals since start: sent (the sink accepted), or failed (refused or not taken within a check interval; sent again).";
        let taken = andon_core::stat_totals!(self => checks as "taken", check_failures as "failed");
        let sent =
            andon_core::stat_totals!(self => signals_sent as "sent", signal_failures as "failed");
        let mut lines = StatLine::counters_by(CHECKS, checks, "outcome", &taken);
        lines.extend(StatLine::counters_by(SIGNALS, signals, "outcome", &sent));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_and_signals_by_outcome() {
        let stats = ObserverStats {
            checks: 9,
            signal_failures: 2,
            ..ObserverStats::default()
        };
        let text = andon_core::stats::render_prometheus(&[&stats]);
        assert!(text.contains("andon_observer_checks_total{outcome=\"taken\"} 9\n"));
        assert!(text.contains("andon_observer_signals_total{outcome=\"failed\"} 2\n"));
    }
}
