//! What the logger counts, for the umbrella, the metrics crate and tests.

use andon_core::{MetricsSink, StatLine, Stats};

/// The logger's counters since it was created.
///
/// Once [`flush`](crate::AndonLogger::flush) or
/// [`shutdown`](crate::AndonLogger::shutdown) has returned, every record is accounted for:
///
/// `emitted == written + failed + dropped`
///
/// unless a sink is stuck ([`stalled`](LogStats::stalled)): then what the writer holds stays
/// in `queued`. Records below the level of every sink are not counted; records sampled away are
/// counted in `sampled_out` only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Records offered to the queue (past the level filter and sampling).
    pub emitted: u64,
    /// Records written by at least one sink.
    pub written: u64,
    /// Records accepted but written by none of their sinks (every one of them failed).
    pub failed: u64,
    /// Records refused by the queue: full under `overflow = "drop"` (DEBUG and INFO only), or
    /// offered after shutdown.
    pub dropped: u64,
    /// DEBUG and INFO records left out by sampling.
    pub sampled_out: u64,
    /// CRITICAL records whose caller stopped waiting after `logger.stall_timeout` because a
    /// sink was stuck; each stays queued, so it is also counted later as written or failed
    /// (or stays in `queued` while the sink is stuck).
    pub timed_out: u64,
    /// Whether a sink is stuck now: the writer has held one batch for `logger.stall_timeout` or
    /// longer (a stdout pipe nobody reads, a hung `/dev/log`). While it is, no caller waits for
    /// it; the umbrella raises a signal of its own on it.
    pub stalled: bool,
    /// Records accepted and not yet written.
    pub queued: u64,
    /// Failed record writes, summed over the sinks (a record two sinks failed counts twice).
    pub sink_errors: u64,
    /// Each sink's own counters, in configuration order.
    pub sinks: Vec<SinkStats>,
}

/// One sink's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SinkStats {
    /// The sink, such as `File(/var/log/andon.log)` or `Syslog(tcp 127.0.0.1:6514)`.
    pub name: String,
    /// Records it wrote.
    pub written: u64,
    /// Records it failed to write.
    pub errors: u64,
    /// Its last error, if it ever failed.
    pub last_error: Option<String>,
}

/// The counter of log records by outcome.
const RECORDS: &str = "andon_log_records_total";
/// The gauge that is 1 while a log sink is stuck.
const STALLED: &str = "andon_log_stalled";
/// The gauge of records accepted and not yet written.
const QUEUED: &str = "andon_log_queued";
/// The counter of failed record writes by sink.
const SINK_ERRORS: &str = "andon_log_sink_errors_total";

impl Stats for LogStats {
    /// The counters `andon_log_records_total{outcome="emitted|written|failed|dropped|sampled_out|timed_out"}`
    /// and `andon_log_sink_errors_total{sink="..."}`, and the gauges `andon_log_stalled` (0 or
    /// 1) and `andon_log_queued`.
    fn describe(&self) -> Vec<StatLine> {
        let mut lines = StatLine::counters_by(
            RECORDS,
            "Log records since start, by outcome (emitted, written, failed, dropped, sampled_out, timed_out).",
            "outcome",
            &andon_core::stat_totals!(self =>
                emitted, written, failed, dropped, sampled_out, timed_out,
            ),
        );
        lines.push(StatLine::gauge(
            QUEUED,
            "Log records accepted and not yet written.",
            self.queued as f64,
        ));
        lines.push(StatLine::gauge(
            STALLED,
            "1 while a log sink is stuck (the writer has held one batch for logger.stall_timeout), else 0.",
            if self.stalled { 1.0 } else { 0.0 },
        ));
        lines.extend(self.sinks.iter().map(|sink| {
            StatLine::counter(
                SINK_ERRORS,
                "Failed record writes, by sink.",
                sink.errors as f64,
            )
            .with_label("sink", sink.name.as_str())
        }));
        lines
    }
}

impl LogStats {
    /// Gives the metrics that [`export`](LogStats::export) publishes their HELP text; call once,
    /// before the first export (the [`Stats`] lines carry the same text, so
    /// [`Stats::export`] gives it too).
    pub fn describe(metrics: &dyn MetricsSink) {
        let every_sink = LogStats {
            sinks: vec![SinkStats::default()],
            ..LogStats::default()
        };
        every_sink.describe_to(metrics);
    }

    /// Publishes the stats through a metrics sink: the counters
    /// `andon_log_records_total{outcome="emitted|written|failed|dropped|sampled_out|timed_out"}`
    /// and `andon_log_sink_errors_total{sink="..."}` (totals since start), the gauges
    /// `andon_log_queued` and `andon_log_stalled` (0 or 1); [`Stats::export`] of these stats.
    pub fn export(&self, metrics: &dyn MetricsSink) {
        Stats::export(self, metrics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    type Gauge = (String, Vec<(String, String)>, f64);

    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<Gauge>>);

    impl MetricsSink for Recorded {
        fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64) {
            let labels = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            self.0
                .lock()
                .unwrap()
                .push((name.to_owned(), labels, value));
        }
    }

    #[test]
    fn counters_are_exported_with_their_outcome() {
        let stats = LogStats {
            emitted: 10,
            written: 7,
            dropped: 3,
            timed_out: 2,
            stalled: true,
            sinks: vec![SinkStats {
                name: "Stdout".into(),
                errors: 2,
                ..SinkStats::default()
            }],
            ..LogStats::default()
        };
        let metrics = Recorded::default();
        stats.export(&metrics);
        let seen = metrics.0.lock().unwrap();
        let find = |name: &str, label: (&str, &str)| {
            seen.iter()
                .find(|(n, l, _)| n == name && l.contains(&(label.0.into(), label.1.into())))
                .map(|(_, _, v)| *v)
        };
        for (name, label, value) in [
            ("andon_log_records_total", ("outcome", "dropped"), 3.0),
            ("andon_log_records_total", ("outcome", "written"), 7.0),
            ("andon_log_records_total", ("outcome", "timed_out"), 2.0),
            ("andon_log_sink_errors_total", ("sink", "Stdout"), 2.0),
        ] {
            assert_eq!(find(name, label), Some(value), "{name} {label:?}");
        }
        let stalled = seen.iter().find(|(n, _, _)| n == "andon_log_stalled");
        assert_eq!(stalled.map(|(_, _, v)| *v), Some(1.0));
    }
}
