//! [`ObserverStats`] under the [`Stats`] contract: the observer's checks and health signals as
//! gauges holding totals since start.

use andon_core::{StatLine, Stats};

use crate::observer::ObserverStats;

/// The gauge of checks by outcome (totals since start).
const CHECKS: &str = "andon_observer_checks";
/// The gauge of health signals by outcome (totals since start).
const SIGNALS: &str = "andon_observer_signals";

impl Stats for ObserverStats {
    /// `andon_observer_checks{outcome="taken|failed"}` and
    /// `andon_observer_signals{outcome="sent|failed"}`.
    fn describe(&self) -> Vec<StatLine> {
        let checks = "Observer measurements since start: taken (on demand and scheduled), or failed (a scheduled check that could not measure).";
        let signals = "Observer health signals since start: sent (the sink accepted), or failed (refused or not taken within a check interval; sent again).";
        let taken = andon_core::stat_totals!(self => checks as "taken", check_failures as "failed");
        let sent =
            andon_core::stat_totals!(self => signals_sent as "sent", signal_failures as "failed");
        let mut lines = StatLine::gauges_by(CHECKS, checks, "outcome", &taken);
        lines.extend(StatLine::gauges_by(SIGNALS, signals, "outcome", &sent));
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
        assert!(text.contains("andon_observer_checks{outcome=\"taken\"} 9\n"));
        assert!(text.contains("andon_observer_signals{outcome=\"failed\"} 2\n"));
    }
}
