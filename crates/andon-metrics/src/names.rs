//! Metric names: the names andon records under (the shared ones from `andon_core::names`,
//! with their HELP text and type, and andon-metrics' own), checking metric and label names, and making label values survive the exporter's
//! escaping.

use std::borrow::Cow;

use crate::error::MetricsError;
use crate::recorder::Kind;

pub use andon_core::names::{
    ALERTS, CPU_USAGE, FAILURES, LINE_STOPPED, MEMORY_USAGE, POOL_UTILIZATION, PROCESSING_DURATION,
    QUEUE_DEPTH, REQUEST_DURATION, SIGNALS,
};

/// andon-metrics' own counter of threshold signals, by outcome.
pub(crate) const THRESHOLD_SIGNALS: &str = "andon_metrics_threshold_signals_total";
/// andon-metrics' own counter of rejected updates, by reason.
pub(crate) const REJECTED: &str = "andon_metrics_rejected_total";
/// andon-metrics' own counter of refused series, by metric.
pub(crate) const REFUSED_SERIES: &str = "andon_metrics_refused_series_total";

pub(crate) const HELP: [(&str, Kind, &str); 10] = [
    (
        SIGNALS,
        Kind::Counter,
        "Andon signals raised, by color and component.",
    ),
    (FAILURES, Kind::Counter, "Failures recorded, by component."),
    (ALERTS, Kind::Counter, "Alerts fired, by rule and severity."),
    (QUEUE_DEPTH, Kind::Gauge, "Items waiting in each queue."),
    (
        POOL_UTILIZATION,
        Kind::Gauge,
        "Share of each pool in use, from 0 to 1.",
    ),
    (
        MEMORY_USAGE,
        Kind::Gauge,
        "Memory used by the process, in bytes.",
    ),
    (
        CPU_USAGE,
        Kind::Gauge,
        "CPU used by the process, from 0 to 1.",
    ),
    (
        LINE_STOPPED,
        Kind::Gauge,
        "1 while the line is stopped by a RED signal, 0 while it runs.",
    ),
    (
        REQUEST_DURATION,
        Kind::Histogram,
        "Request latency by endpoint, in seconds.",
    ),
    (
        PROCESSING_DURATION,
        Kind::Histogram,
        "Processing time by operation, in seconds.",
    ),
];

/// How the configured thresholds map onto metrics: name, metric, factor from the configured
/// unit to the metric's base unit.
pub(crate) fn threshold_metric(name: &str) -> (&str, f64) {
    match name {
        "queue_depth" => (QUEUE_DEPTH, 1.0),
        "memory_usage_mb" => (MEMORY_USAGE, 1024.0 * 1024.0),
        "cpu_usage_percent" => (CPU_USAGE, 0.01),
        other => (other, 1.0),
    }
}

/// Checks a metric name against the Prometheus data model: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn check_metric_name(name: &str) -> Result<(), MetricsError> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if valid {
        Ok(())
    } else {
        Err(MetricsError::InvalidMetricName {
            name: name.to_owned(),
        })
    }
}

/// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not reserved (`__…`), and not `le` or
/// `quantile`, which histograms and summaries add themselves.
pub(crate) fn check_label_name(metric: &str, label: &str) -> Result<(), MetricsError> {
    let mut chars = label.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !label.starts_with("__")
        && label != "le"
        && label != "quantile";
    if valid {
        Ok(())
    } else {
        Err(MetricsError::InvalidLabelName {
            metric: metric.to_owned(),
            label: label.to_owned(),
        })
    }
}

/// Checks a metric name and its label names.
pub(crate) fn check(name: &str, labels: &[(&str, &str)]) -> Result<(), MetricsError> {
    check_metric_name(name)?;
    for (label, _) in labels {
        check_label_name(name, label)?;
    }
    Ok(())
}

/// Prepares a label value or HELP text for `metrics-exporter-prometheus`.
///
/// The exporter escapes `"` and newlines, but treats a backslash as possibly escaping the next
/// character, so `a\"b` and `a\\b` would lose a backslash. Doubling every backslash first makes
/// its output the exact escaping of the original text.
pub(crate) fn protect_backslashes(text: &str) -> Cow<'_, str> {
    if text.contains('\\') {
        Cow::Owned(text.replace('\\', "\\\\"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_pass_and_invalid_ones_are_named_in_the_error() {
        for name in ["andon_signals_total", "a:b", "_x", "X9"] {
            assert!(check_metric_name(name).is_ok(), "{name}");
        }
        for name in ["", "9lives", "has space", "dash-ed", "ünï", "a{b}"] {
            let err = check_metric_name(name).unwrap_err();
            assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
        }
        for label in ["queue", "_x", "a1"] {
            assert!(check_label_name("m", label).is_ok(), "{label}");
        }
        for label in ["", "1a", "__name__", "le", "quantile", "a:b", "a-b"] {
            assert!(check_label_name("m", label).is_err(), "{label}");
        }
        assert!(check("m", &[("ok", "any \" value \n")]).is_ok());
        assert!(check("m", &[("bad-label", "v")]).is_err());
    }

    #[test]
    fn backslashes_are_doubled_only_when_present() {
        assert!(matches!(
            protect_backslashes("plain"),
            Cow::Borrowed("plain")
        ));
        assert_eq!(protect_backslashes(r#"a\"b\\c\"#), r#"a\\"b\\\\c\\"#);
    }
}
