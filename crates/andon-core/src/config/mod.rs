//! The whole configuration, loaded from one TOML file.
//!
//! Every section has the field names and defaults of the original design; a missing section or
//! field takes its default, an unknown key is an error that says which keys are allowed. String
//! values may name environment variables as `${VAR}` (write `$${` for a literal `${`), so that
//! secrets need not live in the file.
//!
//! ```
//! use andon_core::AndonConfig;
//!
//! let config = AndonConfig::from_toml_str(
//!     r#"
//!     [logger]
//!     level = "WARNING"
//!
//!     [tracer]
//!     sampling_ratio = 1.0
//!     "#,
//! )?;
//! assert_eq!(config.tracer.sampling_ratio, 1.0);
//! assert_eq!(config.metrics.port, 9090); // the design's default
//!
//! let err = AndonConfig::from_toml_str("[tracer]\nsampling_ratio = 1.5\n").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "2:18: tracer.sampling_ratio: must be between 0 and 1 (got 1.5): use 1.0 to keep every trace, 0.01 to keep 1%"
//! );
//! # Ok::<(), andon_core::ConfigError>(())
//! ```

mod agent;
mod alerts;
pub(crate) mod check;
mod cloud_logging;
pub mod duration;
mod env;
mod heartbeats;
mod history;
mod line;
mod logger;
mod metrics;
mod observer;
mod path_segment;
mod secret;
mod tracer;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::SectionConfig;

pub use agent::{AgentConfig, MIN_TOKEN_CHARS};
pub use alerts::{
    AlertsConfig, ChannelConfig, ConditionConfig, EmailConfig, EmailTls, EscalationConfig,
    MIN_WATCHDOG_INTERVAL, MatcherConfig, OPERATORS, RuleConfig, SilenceConfig, WatchdogConfig,
    unknown_channel,
};
pub use cloud_logging::{CLOUD_LOGGING_ENDPOINT, CloudLoggingApi, MonitoredResource};
pub use heartbeats::{
    AUTO_HEARTBEAT_EVERY, HeartbeatConfig, MAX_HEARTBEAT_NAME_CHARS, MAX_HEARTBEAT_PERIOD,
    MIN_DEFAULT_GRACE, check_heartbeat_name,
};
pub use history::{DEFAULT_FLEET_INTERVAL, HistoryConfig};
pub use line::LineConfig;
pub use logger::{
    CloudLoggingOutput, LoggerConfig, OverflowPolicy, SinkConfig, SyslogFormat, SyslogTransport,
};
pub use metrics::{MetricsConfig, ThresholdsConfig};
pub use observer::ObserverConfig;
pub use path_segment::is_path_segment;
pub use secret::Secret;
pub use tracer::{OtlpProtocol, TracerConfig};

use crate::error::ConfigError;

/// The configuration of a whole andon system: one section per component.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AndonConfig {
    /// `[logger]`: structured logging.
    pub logger: LoggerConfig,
    /// `[metrics]`: Prometheus metrics and thresholds.
    pub metrics: MetricsConfig,
    /// `[tracer]`: OpenTelemetry tracing.
    pub tracer: TracerConfig,
    /// `[observer]`: runtime diagnostics.
    pub observer: ObserverConfig,
    /// `[alerts]`: rules and channels.
    pub alerts: AlertsConfig,
    /// `[line]`: when the line stops and how it resumes.
    pub line: LineConfig,
    /// `[agent]`: the long-running agent's HTTP listener.
    pub agent: AgentConfig,
    /// `[history]`: the signal and alert history kept for root-cause analysis.
    pub history: HistoryConfig,
    /// `[[heartbeats]]`: check-ins expected every so often; a missing one is a signal.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heartbeats: Vec<HeartbeatConfig>,
}

impl AndonConfig {
    /// Parses and validates a configuration from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        load(text, &|name| std::env::var(name).ok())
    }

    /// Like [`from_toml_str`](AndonConfig::from_toml_str), with `${VAR}` looked up by `env`
    /// instead of the process environment (for tests, or secrets from a vault).
    pub fn from_toml_str_with_env(
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        load(text, env)
    }

    /// Reads, parses and validates a configuration file. Errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_owned()),
            line: None,
            column: None,
            key: None,
            message: format!("cannot read the configuration file: {e}"),
        })?;
        load(&text, &|name| std::env::var(name).ok()).map_err(|mut e| {
            e.file = Some(path.to_owned());
            e
        })
    }

    /// Checks every value; called by the loaders, and useful after changing a config in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.logger.validate()?;
        self.metrics.validate()?;
        self.tracer.validate()?;
        self.observer.validate()?;
        self.alerts.validate()?;
        self.line.validate("line")?;
        self.agent.validate("agent")?;
        self.history.validate()?;
        heartbeats::validate_all("heartbeats", &self.heartbeats)?;
        Ok(())
    }

    /// The effective configuration as TOML, secrets shown as `[redacted]`.
    pub fn to_toml_string(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

fn load(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<AndonConfig, ConfigError> {
    // Pass 1: the document as written, for syntax, unknown keys and types with their positions.
    let spanned = parse_spanned(text).map_err(|e| from_toml_error(text, &e))?;
    toml::from_str::<AndonConfig>(text).map_err(|e| from_toml_error(text, &e))?;
    // Pass 2: replace `${VAR}` in every string value.
    let mut table: toml::Table = toml::from_str(text).map_err(|e| from_toml_error(text, &e))?;
    env::expand_table(&mut table, &mut Vec::new(), lookup)
        .map_err(|e| locate(text, &spanned, e))?;
    // Pass 3: the expanded document, then the checks of every value.
    let config = AndonConfig::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError {
        file: None,
        line: None,
        column: None,
        key: None,
        message: format!("after replacing environment variables: {e}"),
    })?;
    config.validate().map_err(|e| locate(text, &spanned, e))?;
    Ok(config)
}

/// The document as a tree of values with their byte spans.
fn parse_spanned(text: &str) -> Result<toml::Spanned<toml::de::DeValue<'_>>, toml::de::Error> {
    let table = toml::de::DeTable::parse(text)?;
    let span = table.span();
    Ok(toml::Spanned::new(
        span,
        toml::de::DeValue::Table(table.into_inner()),
    ))
}

/// Turns the parser's error into ours: position from its span, key from the document's structure.
fn from_toml_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let (line, column) = match error.span() {
        Some(span) => {
            let (l, c) = line_column(text, span.start);
            (Some(l), Some(c))
        }
        None => (None, None),
    };
    let key = error.span().and_then(|span| {
        let root = parse_spanned(text).ok()?;
        let mut path = Vec::new();
        key_at(&root, span.start, &mut path);
        (!path.is_empty()).then(|| path.join("."))
    });
    ConfigError {
        file: None,
        line,
        column,
        key,
        message: error.message().trim_end_matches('\n').to_owned(),
    }
}

/// Fills in the position of the value at the error's dotted key.
fn locate(
    text: &str,
    root: &toml::Spanned<toml::de::DeValue<'_>>,
    mut error: ConfigError,
) -> ConfigError {
    if let Some(key) = &error.key {
        let mut node = root;
        let mut found = true;
        for part in key.split('.') {
            let next = match part.parse::<usize>() {
                Ok(index) => node.get_ref().get(index),
                Err(_) => node.get_ref().get(part),
            };
            match next {
                Some(n) => node = n,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found {
            let (line, column) = line_column(text, node.span().start);
            error.line = Some(line);
            error.column = Some(column);
        }
    }
    error
}

/// The path of keys to the value (or key) whose span contains `offset`. Table headers span only
/// the header, so every branch is searched rather than only the one whose span contains it.
fn key_at(
    node: &toml::Spanned<toml::de::DeValue<'_>>,
    offset: usize,
    path: &mut Vec<String>,
) -> bool {
    let children: Vec<(String, &toml::Spanned<toml::de::DeValue<'_>>, bool)> = match node.get_ref()
    {
        toml::de::DeValue::Table(table) => table
            .iter()
            .map(|(k, v)| (k.get_ref().to_string(), v, k.span().contains(&offset)))
            .collect(),
        toml::de::DeValue::Array(array) => array
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v, false))
            .collect(),
        _ => return false,
    };
    for (key, value, in_key) in children {
        path.push(key);
        if key_at(value, offset, path) {
            return true;
        }
        let is_container = matches!(
            value.get_ref(),
            toml::de::DeValue::Table(_) | toml::de::DeValue::Array(_)
        );
        if in_key || (!is_container && value.span().contains(&offset)) {
            return true;
        }
        // An inline table or array whose own span holds the offset, but no child does.
        if is_container && value.span().contains(&offset) && !value.span().is_empty() {
            return true;
        }
        path.pop();
    }
    false
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// For the sections' tests: loads each `(TOML text, key, part of the message)` case, checks
/// that it is refused with exactly that key and a message holding that part, and hands back
/// each text with its error for what a test checks beyond (such as the position).
#[cfg(test)]
pub(crate) fn refused<'a>(cases: &[(&'a str, &str, &str)]) -> Vec<(&'a str, ConfigError)> {
    cases
        .iter()
        .map(|&(text, key, message)| {
            let err = AndonConfig::from_toml_str(text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
            (text, err)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::severity::LogLevel;

    const DESIGN: &str = r#"
[logger]
level = "INFO"           # DEBUG, INFO, WARNING, CRITICAL
json_format = true
sampling_enabled = true
sample_ratio = 10        # log 1 in every 10 messages
sinks = ["Stdout"]       # File, Syslog, CloudLogging, Stdout, Stderr

[metrics]
enabled = true
port = 9090
scrape_path = "/metrics"
buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]

[metrics.thresholds]
queue_depth = 100
memory_usage_mb = 512
cpu_usage_percent = 90

[tracer]
service_name = "ggen-andon"
enabled = true
sampling_ratio = 0.01    # 1% in production, 1.0 in dev
otlp_endpoint = "http://localhost:4317"

[observer]
enabled = true
check_interval_secs = 60
memory_threshold_percent = 80
cpu_threshold_percent = 90
include_system_metrics = true
include_network_metrics = true
include_disk_metrics = true
"#;

    #[test]
    fn the_design_configuration_parses_and_equals_the_defaults() {
        let config = AndonConfig::from_toml_str(DESIGN).unwrap();
        assert_eq!(config, AndonConfig::default());
        assert_eq!(config.logger.level, LogLevel::Info);
        assert_eq!(
            config.logger.sinks,
            vec![SinkConfig::Stdout { level: None }]
        );
        assert_eq!(config.metrics.buckets.len(), 12);
        assert_eq!(config.metrics.thresholds.queue_depth, Some(100.0));
        assert_eq!(config.tracer.service_name, "ggen-andon");
        assert_eq!(config.observer.check_interval_secs, 60);
    }

    #[test]
    fn the_default_validates_and_an_empty_file_is_the_default() {
        AndonConfig::default().validate().unwrap();
        assert_eq!(
            AndonConfig::from_toml_str("").unwrap(),
            AndonConfig::default()
        );
    }

    #[test]
    fn an_unknown_key_names_its_place_and_the_allowed_keys() {
        let err = AndonConfig::from_toml_str("[logger]\nlevel = \"INFO\"\nlevle = \"DEBUG\"\n")
            .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.column, Some(1));
        assert_eq!(err.key.as_deref(), Some("logger.levle"));
        assert!(err.message.contains("unknown field `levle`"), "{err}");
        assert!(
            err.message.contains("`level`"),
            "lists what is allowed: {err}"
        );
        assert!(
            err.to_string()
                .starts_with("3:1: logger.levle: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_section_is_rejected() {
        let err = AndonConfig::from_toml_str("[loger]\nlevel = \"INFO\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("loger"));
        assert!(err.message.contains("unknown field `loger`"), "{err}");
        assert!(err.message.contains("`logger`"), "{err}");
    }

    #[test]
    fn a_bad_type_names_the_key_and_the_expected_type() {
        let err = AndonConfig::from_toml_str("[metrics]\nport = \"ninety\"\n").unwrap_err();
        assert_eq!((err.line, err.column), (Some(2), Some(8)));
        assert_eq!(err.key.as_deref(), Some("metrics.port"));
        assert!(
            err.message.contains("invalid type: string \"ninety\""),
            "{err}"
        );
        assert!(err.message.contains("u16"), "{err}");
    }

    #[test]
    fn a_bad_level_says_what_is_allowed() {
        let err = AndonConfig::from_toml_str("[logger]\nlevel = \"LOUD\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.level"));
        assert!(
            err.message.contains("use DEBUG, INFO, WARNING or CRITICAL"),
            "{err}"
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = AndonConfig::from_toml_str("[logger\nlevel = 1\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert!(err.column.is_some());
    }

    #[test]
    fn out_of_range_values_are_rejected_with_the_fix() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[tracer]\nsampling_ratio = 1.5\n",
                "tracer.sampling_ratio",
                "must be between 0 and 1 (got 1.5)",
            ),
            (
                "[tracer]\nsampling_ratio = -0.1\n",
                "tracer.sampling_ratio",
                "must be between 0 and 1",
            ),
            (
                "[metrics]\nport = 0\n",
                "metrics.port",
                "must be a port from 1 to 65535",
            ),
            (
                "[metrics.thresholds]\nqueue_depth = 0\n",
                "metrics.thresholds.queue_depth",
                "must be greater than 0",
            ),
            (
                "[logger]\nsinks = []\n",
                "logger.sinks",
                "must name at least one sink",
            ),
            (
                "[logger]\nsample_ratio = 0\n",
                "logger.sample_ratio",
                "must be at least 1",
            ),
            (
                "[observer]\nmemory_threshold_percent = 150\n",
                "observer.memory_threshold_percent",
                "must be a percentage",
            ),
            (
                "[observer]\ncheck_interval_secs = 0\n",
                "observer.check_interval_secs",
                "must be at least 1",
            ),
            (
                "[metrics]\nscrape_path = \"metrics\"\n",
                "metrics.scrape_path",
                "must start with `/`",
            ),
            (
                "[metrics]\nbuckets = [1.0, 0.5]\n",
                "metrics.buckets",
                "increasing",
            ),
        ];
        for (text, err) in refused(cases) {
            assert_eq!(err.line, Some(2), "{text}: position of the value: {err}");
        }
    }

    #[test]
    fn environment_variables_are_replaced_in_strings() {
        let env = |name: &str| (name == "ANDON_TEST_SERVICE_NAME").then(|| "checkout".to_owned());
        let config = AndonConfig::from_toml_str_with_env(
            "[tracer]\nservice_name = \"${ANDON_TEST_SERVICE_NAME}-svc\"\n",
            &env,
        )
        .unwrap();
        assert_eq!(config.tracer.service_name, "checkout-svc");
        let config =
            AndonConfig::from_toml_str("[tracer]\nservice_name = \"cost-$${HOME}\"\n").unwrap();
        assert_eq!(config.tracer.service_name, "cost-${HOME}");
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let err = AndonConfig::from_toml_str(
            "[tracer]\nservice_name = \"${ANDON_TEST_SURELY_UNSET_VARIABLE}\"\n",
        )
        .unwrap_err();
        assert_eq!(err.key.as_deref(), Some("tracer.service_name"));
        assert_eq!((err.line, err.column), (Some(2), Some(16)));
        assert!(
            err.message
                .contains("environment variable `ANDON_TEST_SURELY_UNSET_VARIABLE` is not set"),
            "{err}"
        );
        let err =
            AndonConfig::from_toml_str("[tracer]\nservice_name = \"${UNCLOSED\"\n").unwrap_err();
        assert!(err.message.contains("unclosed `${`"), "{err}");
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("andon.toml");
        std::fs::write(&path, "[tracer]\nsampling_ratio = 2.0\n").unwrap();
        let err = AndonConfig::from_file(&path).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}:2:18: tracer.sampling_ratio", path.display())),
            "{err}"
        );
        let err = AndonConfig::from_file(dir.path().join("missing.toml")).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot read the configuration file"),
            "{err}"
        );
        std::fs::write(&path, DESIGN).unwrap();
        assert_eq!(
            AndonConfig::from_file(&path).unwrap(),
            AndonConfig::default()
        );
    }

    #[test]
    fn the_effective_configuration_renders_and_parses_back() {
        let config = AndonConfig::default();
        let text = config.to_toml_string();
        assert_eq!(AndonConfig::from_toml_str(&text).unwrap(), config);
    }
}
