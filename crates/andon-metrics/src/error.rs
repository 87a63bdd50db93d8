//! The errors of andon-metrics.

/// What can go wrong when setting up or recording metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The scrape endpoint could not listen on its address.
    #[error(
        "cannot serve metrics on {bind}:{port}: {source}: choose a free `metrics.port` or stop the program using port {port}"
    )]
    Bind {
        /// The configured bind address.
        bind: String,
        /// The configured port.
        port: u16,
        /// Why the socket could not be bound.
        #[source]
        source: std::io::Error,
    },

    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] andon_core::ConfigError),

    /// A metric name given by the caller is not a Prometheus metric name.
    #[error(
        "`{name}` is not a valid metric name: use letters, digits, `_` and `:`, not starting with a digit (such as `my_backlog_items`)"
    )]
    InvalidMetricName {
        /// The name as given.
        name: String,
    },

    /// A label name given by the caller is not a Prometheus label name.
    #[error(
        "`{label}` is not a valid label name for `{metric}`: use letters, digits and `_`, not starting with a digit or `__`, and not `le` or `quantile`"
    )]
    InvalidLabelName {
        /// The metric the label was given for.
        metric: String,
        /// The label name as given.
        label: String,
    },

    /// The same label name is given twice (or two names that the exposition writes alike, such
    /// as `a-b` and `a_b` through the `metrics` macros).
    #[error("label `{label}` is given twice for `{metric}`: give each label once")]
    DuplicateLabel {
        /// The metric the labels were given for.
        metric: String,
        /// The label name as the exposition writes it.
        label: String,
    },

    /// A value that must be a finite number was not.
    #[error("`{metric}` cannot take the value {value}: give a finite number")]
    InvalidValue {
        /// The metric's name.
        metric: String,
        /// The value given.
        value: f64,
    },

    /// The metric already has `limit` label sets; the new series was refused (and counted in
    /// `andon_metrics_refused_series_total`).
    #[error(
        "`{metric}` already has {limit} label sets, so a new one was refused: use fewer distinct label values (ids do not belong in labels) or raise `metrics.max_label_sets`"
    )]
    TooManySeries {
        /// The metric's name.
        metric: String,
        /// The configured `max_label_sets`.
        limit: usize,
    },

    /// The name is already used by a metric of another type.
    #[error(
        "`{metric}` is already a {existing}, so it cannot also be a {requested}: choose another name"
    )]
    TypeConflict {
        /// The metric's name.
        metric: String,
        /// The type it was first registered as.
        existing: &'static str,
        /// The type asked for now.
        requested: &'static str,
    },

    /// The background thread that serves the endpoint could not be started.
    #[error(
        "cannot start the metrics background thread: {0}: check the process's thread and file limits"
    )]
    Background(#[source] std::io::Error),

    /// The metrics were shut down.
    #[error("andon metrics are shut down: create a new AndonMetrics to record again")]
    ShutDown,
}

andon_core::impl_into_andon_error!(MetricsError, "metrics");

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::AndonError;

    #[test]
    fn errors_convert_into_andon_errors_that_name_the_component() {
        let e: AndonError = MetricsError::InvalidMetricName { name: "9x".into() }.into();
        assert!(
            e.to_string()
                .starts_with("andon metrics: `9x` is not a valid metric name"),
            "{e}"
        );
        let e: AndonError = MetricsError::ShutDown.into();
        assert!(matches!(
            e,
            AndonError::ShutDown {
                component: "metrics"
            }
        ));
    }
}
