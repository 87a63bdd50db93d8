//! Checking metric and label names, and making label values survive the exporter's escaping.

use std::borrow::Cow;

use crate::error::MetricsError;

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
