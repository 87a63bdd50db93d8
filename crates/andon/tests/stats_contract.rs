//! Every component's `stats()` type follows one `Stats` contract: rendered together with
//! `andon_core::stats::render_prometheus`, the text passes `promtool check metrics` with no
//! lint problem, no two components claim one metric name, and a line is a counter exactly when
//! its name ends in `_total`.

#![cfg(all(
    feature = "log",
    feature = "metrics",
    feature = "trace",
    feature = "observe",
    feature = "alert",
    feature = "history"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use andon::core::stats::{StatKind, Stats, render_prometheus};

fn every_component() -> Vec<Box<dyn Stats>> {
    let mut log = andon::log::LogStats::default();
    log.emitted = 3;
    log.stalled = true;
    let mut sink = andon::log::SinkStats::default();
    sink.name = "File(/var/log/\"andon\"\\x.log)".into();
    sink.errors = 2;
    log.sinks.push(sink);
    let trace = andon::trace::TraceStats {
        spans_dropped: 4,
        ..andon::trace::TraceStats::default()
    };
    let history = andon::history::HistoryStats {
        written: 5,
        ..andon::history::HistoryStats::default()
    };
    let alert = andon::alert::AlertStats {
        notifications: 6,
        ..andon::alert::AlertStats::default()
    };
    let mut observer = andon::observe::ObserverStats::default();
    observer.checks = 7;
    let mut metrics = andon::metrics::MetricsStats::default();
    metrics.series = 8;
    vec![
        Box::new(log),
        Box::new(trace),
        Box::new(history),
        Box::new(alert),
        Box::new(observer),
        Box::new(metrics),
    ]
}

#[test]
fn names_are_unique_and_kinds_follow_the_suffix() {
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (index, stats) in every_component().iter().enumerate() {
        for line in stats.describe() {
            assert!(line.name.starts_with("andon_"), "{}", line.name);
            assert_eq!(
                line.kind == StatKind::Counter,
                line.name.ends_with("_total"),
                "{} is a {:?}",
                line.name,
                line.kind
            );
            let first = *owner.entry(line.name).or_insert(index);
            assert_eq!(first, index, "{} is declared by two components", line.name);
        }
    }
}

#[test]
fn the_text_passes_promtool() {
    let components = every_component();
    let refs: Vec<&dyn Stats> = components.iter().map(|s| s.as_ref()).collect();
    let text = render_prometheus(&refs);
    assert!(
        text.contains(r#"andon_log_sink_errors_total{sink="File(/var/log/\"andon\"\\x.log)"} 2"#),
        "{text}"
    );
    assert!(text.contains("andon_metrics_series 8\n"), "{text}");
    let Some(promtool) = andon_tests::find_peer("promtool", "apt-get install prometheus") else {
        return;
    };
    let out = andon_tests::run_with_stdin(promtool, ["check", "metrics"], &text);
    assert!(
        out.status.success(),
        "promtool found problems: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The metrics components push as events happen (a delivery, a retry, an alert fired, a record
/// written or dropped, a reconnect, a part timing out), with labels a snapshot does not carry.
const PUSHED: &[&str] = &[
    andon::core::names::ALERT_NOTIFICATIONS,
    andon::core::names::ALERT_RETRIES,
    andon::core::names::ALERT_DELIVERY_DURATION,
    andon::core::names::ALERTS,
    "andon_alert_watchdog_failures_total",
    "andon_alert_instances_dropped_total",
    "andon_history_written_total",
    "andon_history_dropped_total",
    "andon_history_reconnects_total",
    "andon_metrics_threshold_signals_total",
    "andon_metrics_rejected_total",
    "andon_metrics_refused_series_total",
    "andon_signal_part_timeouts_total",
    "andon_line_state_errors_total",
    "andon_heartbeat_check_ins_total",
    "andon_heartbeat_misses_total",
];

#[test]
fn no_stats_line_is_also_pushed_as_it_happens() {
    // The umbrella exports every component's `stats()` once a second; a name both exported
    // there and pushed by the component would be written by two paths and counted twice.
    for stats in every_component() {
        for line in stats.describe() {
            assert!(
                !PUSHED.contains(&line.name),
                "{} is both a stats line and pushed as it happens",
                line.name
            );
        }
    }
}
