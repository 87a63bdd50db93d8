//! One contract for what a component counts: every component's `stats()` returns a snapshot
//! that implements [`Stats`], which lists its counters and gauges as [`StatLine`]s (name, kind,
//! help, labels, value), publishes them through a [`MetricsSink`], and renders them in the
//! Prometheus text format with [`render_prometheus`].
//!
//! Like an OpenTelemetry instrument or a `metrics` description, a line carries its name, kind
//! and HELP text beside its value, so one snapshot is enough to describe and publish it.
//!
//! ```
//! use andon_core::stats::{StatKind, StatLine, Stats, render_prometheus};
//!
//! #[derive(Debug)]
//! struct Queue {
//!     depth: u64,
//!     dropped: u64,
//! }
//!
//! impl Stats for Queue {
//!     fn describe(&self) -> Vec<StatLine> {
//!         vec![
//!             StatLine::gauge("demo_queue_depth", "Items waiting.", self.depth as f64),
//!             StatLine::counter("demo_queue_dropped_total", "Items dropped.", self.dropped as f64)
//!                 .with_label("reason", "full"),
//!         ]
//!     }
//! }
//!
//! let text = render_prometheus(&[&Queue { depth: 3, dropped: 1 }]);
//! assert!(text.contains("# TYPE demo_queue_depth gauge\ndemo_queue_depth 3\n"));
//! assert!(text.contains("demo_queue_dropped_total{reason=\"full\"} 1\n"));
//! ```

use std::fmt::{self, Write as _};

use crate::component::MetricsSink;

/// Whether a line only grows (a counter) or goes up and down (a gauge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatKind {
    /// A total since start that only grows; its name ends in `_total`.
    Counter,
    /// A value that goes up and down (its name has no `_total`).
    Gauge,
}

impl StatKind {
    /// The kind as the Prometheus `# TYPE` line writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatKind::Counter => "counter",
            StatKind::Gauge => "gauge",
        }
    }
}

display_as_str!(StatKind);

/// One series of a component's stats: the metric's name, kind and HELP text, the series'
/// labels and its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct StatLine {
    /// The metric name, such as `andon_log_records_total` (a `"andon_…"` constant of the crate).
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: StatKind,
    /// The HELP text, the same for every series of the metric.
    pub help: &'static str,
    /// The series' labels, in the order they are written.
    pub labels: Vec<(&'static str, String)>,
    /// The current value (a counter's total since start, a gauge's value).
    pub value: f64,
}

impl StatLine {
    /// A counter line without labels.
    pub fn counter(name: &'static str, help: &'static str, value: f64) -> Self {
        StatLine {
            name,
            kind: StatKind::Counter,
            help,
            labels: Vec::new(),
            value,
        }
    }

    /// A gauge line without labels.
    pub fn gauge(name: &'static str, help: &'static str, value: f64) -> Self {
        StatLine {
            name,
            kind: StatKind::Gauge,
            help,
            labels: Vec::new(),
            value,
        }
    }

    /// The line with one more label.
    #[must_use]
    pub fn with_label(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.labels.push((name, value.into()));
        self
    }

    /// One counter `name` (ending in `_total`) split by `label`: a line per `(label value,
    /// total)` of `totals`, in that order, all with the same HELP text. The usual shape of a
    /// component's counters, such as `andon_log_records_total{outcome="written"}`, each a
    /// total since start.
    pub fn counters_by(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        totals: &[(&'static str, u64)],
    ) -> Vec<Self> {
        totals
            .iter()
            .map(|&(value, total)| {
                StatLine::counter(name, help, total as f64).with_label(label, value)
            })
            .collect()
    }
}

/// The `(label value, total)` rows of [`StatLine::counters_by`], read from a snapshot's fields:
/// each row is labelled with its field's name, or with the literal after `as` where the label
/// says it shorter (a `spans_started` field as `"started"`). Writing each outcome once keeps
/// the series' labels and the snapshot's fields from drifting apart.
///
/// ```
/// use andon_core::stats::StatLine;
///
/// struct Counts {
///     written: u64,
///     spans_dropped: u64,
/// }
///
/// let counts = Counts { written: 7, spans_dropped: 2 };
/// let rows = andon_core::stat_totals!(counts => written, spans_dropped as "dropped");
/// assert_eq!(rows, [("written", 7), ("dropped", 2)]);
///
/// let lines = StatLine::counters_by("demo_records_total", "Records.", "outcome", &rows);
/// assert_eq!(lines[1].labels, [("outcome", "dropped".to_owned())]);
/// ```
#[macro_export]
macro_rules! stat_totals {
    (@label $field:ident) => {
        ::core::stringify!($field)
    };
    (@label $field:ident $label:literal) => {
        $label
    };
    ($stats:expr => $($field:ident $(as $label:literal)?),+ $(,)?) => {
        [$(($crate::stat_totals!(@label $field $($label)?), $stats.$field)),+]
    };
}

/// A snapshot of a component's counters, as its `stats()` returns it.
///
/// Implementors write [`describe`](Stats::describe); [`export`](Stats::export) and
/// [`render_prometheus`] are built on it, so each component describes its counters once.
pub trait Stats: Send + Sync + fmt::Debug {
    /// Every series, grouped by metric name (all series of a name next to each other).
    fn describe(&self) -> Vec<StatLine>;

    /// Gives `sink` the HELP text of each metric name, once per name (what
    /// [`export`](Stats::export) does before the values).
    fn describe_to(&self, sink: &dyn MetricsSink) {
        let mut last = None;
        for line in self.describe() {
            if last != Some(line.name) {
                sink.describe(line.name, line.help);
                last = Some(line.name);
            }
        }
    }

    /// Publishes every line through `sink`: the HELP text of each name, then each value, a
    /// gauge with [`MetricsSink::set_gauge`] and a counter's total with
    /// [`MetricsSink::set_counter`] (so Prometheus sees a counter, and `rate()` and
    /// `increase()` read a restart as a reset, not as a fall); call it as often as a scrape
    /// should see fresh values.
    fn export(&self, sink: &dyn MetricsSink) {
        let lines = self.describe();
        let mut last = None;
        for line in &lines {
            if last != Some(line.name) {
                sink.describe(line.name, line.help);
                last = Some(line.name);
            }
            let labels: Vec<(&str, &str)> =
                line.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            match line.kind {
                StatKind::Gauge => sink.set_gauge(line.name, &labels, line.value),
                // A counter line holds a whole total since start (from a `u64`).
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                StatKind::Counter => sink.set_counter(line.name, &labels, line.value as u64),
            }
        }
    }
}

/// The lines of every snapshot in the Prometheus text format (version 0.0.4): `# HELP` and
/// `# TYPE` once per metric name, then one line per series, label values and HELP text
/// escaped.
pub fn render_prometheus(stats: &[&dyn Stats]) -> String {
    let mut text = String::new();
    let mut last: Option<&'static str> = None;
    for line in stats.iter().flat_map(|s| s.describe()) {
        if last != Some(line.name) {
            let _ = writeln!(
                text,
                "# HELP {} {}\n# TYPE {} {}",
                line.name,
                escape_help(line.help),
                line.name,
                line.kind
            );
            last = Some(line.name);
        }
        text.push_str(line.name);
        if !line.labels.is_empty() {
            text.push('{');
            for (i, (name, value)) in line.labels.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                let _ = write!(text, "{name}=\"{}\"", escape_label(value));
            }
            text.push('}');
        }
        let _ = writeln!(text, " {}", format_value(line.value));
    }
    text
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn counters_by_makes_one_labelled_counter_per_total_in_order() {
        let lines = StatLine::counters_by("andon_x_total", "X.", "outcome", &[("a", 1), ("b", 2)]);
        assert_eq!(
            lines,
            vec![
                StatLine::counter("andon_x_total", "X.", 1.0).with_label("outcome", "a"),
                StatLine::counter("andon_x_total", "X.", 2.0).with_label("outcome", "b"),
            ]
        );
    }

    #[derive(Debug)]
    struct Two;

    impl Stats for Two {
        fn describe(&self) -> Vec<StatLine> {
            vec![
                StatLine::counter("t_total", "Things.\nMore.", 2.0).with_label("why", "a\"b\\c"),
                StatLine::counter("t_total", "Things.\nMore.", 3.0).with_label("why", "d"),
                StatLine::gauge("t_open", "Open.", f64::INFINITY),
            ]
        }
    }

    #[test]
    fn the_text_has_help_and_type_once_per_name_and_escapes() {
        let text = render_prometheus(&[&Two]);
        assert_eq!(
            text,
            "# HELP t_total Things.\\nMore.\n# TYPE t_total counter\n\
             t_total{why=\"a\\\"b\\\\c\"} 2\nt_total{why=\"d\"} 3\n\
             # HELP t_open Open.\n# TYPE t_open gauge\nt_open +Inf\n"
        );
    }

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);

    impl MetricsSink for Seen {
        fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{name}{labels:?}={value}"));
        }

        fn set_counter(&self, name: &str, labels: &[(&str, &str)], total: u64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("counter {name}{labels:?}={total}"));
        }

        fn describe(&self, name: &str, help: &str) {
            self.0.lock().unwrap().push(format!("help {name} {help}"));
        }
    }

    #[test]
    fn describe_to_gives_each_name_its_help_once() {
        let seen = Seen::default();
        Two.describe_to(&seen);
        assert_eq!(
            *seen.0.lock().unwrap(),
            ["help t_total Things.\nMore.", "help t_open Open."]
        );
    }

    /// A sink that knows only gauges, as a sink written before `set_counter` existed.
    #[derive(Debug, Default)]
    struct GaugesOnly(Mutex<Vec<String>>);

    impl MetricsSink for GaugesOnly {
        fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{name}{labels:?}={value}"));
        }
    }

    #[test]
    fn a_sink_without_counters_still_gets_every_total_as_a_gauge() {
        let sink = GaugesOnly::default();
        Two.export(&sink);
        assert_eq!(
            *sink.0.lock().unwrap(),
            [
                "t_total[(\"why\", \"a\\\"b\\\\c\")]=2",
                "t_total[(\"why\", \"d\")]=3",
                "t_open[]=inf",
            ]
        );
    }

    #[test]
    fn export_describes_each_name_once_then_sets_every_series() {
        let seen = Seen::default();
        Two.export(&seen);
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "help t_total Things.\nMore.",
                "counter t_total[(\"why\", \"a\\\"b\\\\c\")]=2",
                "counter t_total[(\"why\", \"d\")]=3",
                "help t_open Open.",
                "t_open[]=inf",
            ]
        );
    }
}
