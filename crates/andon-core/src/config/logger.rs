//! `[logger]`: structured logging.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check;
use crate::contract::SectionConfig;
use crate::error::ConfigError;
use crate::severity::LogLevel;

mod sink;

pub use sink::{CloudLoggingOutput, SinkConfig, SyslogFormat, SyslogTransport};

/// `[logger]`: level, format, sampling, the bounded queue and the sinks.
///
/// ```toml
/// [logger]
/// level = "INFO"
/// json_format = true
/// sampling_enabled = true
/// sample_ratio = 10
/// sinks = ["Stdout", { type = "File", path = "/var/log/andon.log", level = "WARNING" }]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggerConfig {
    /// The lowest level recorded: DEBUG, INFO, WARNING or CRITICAL. Default INFO.
    pub level: LogLevel,
    /// One JSON object per line (`true`, the default) or a readable line of text.
    pub json_format: bool,
    /// Keep 1 in `sample_ratio` DEBUG and INFO records; WARNING and CRITICAL are never sampled.
    pub sampling_enabled: bool,
    /// With sampling on, 1 record in this many is kept. Default 10.
    pub sample_ratio: u32,
    /// Where records go; several at once, each with its own minimum level. Default `["Stdout"]`.
    pub sinks: Vec<SinkConfig>,
    /// How many records may wait for the writer thread. Default 65536.
    pub queue_capacity: usize,
    /// What a full queue does to DEBUG and INFO records: `"drop"` (counted, the default) or
    /// `"block"`. WARNING and CRITICAL always wait: they are never dropped.
    pub overflow: OverflowPolicy,
    /// Messages longer than this many bytes are cut at a character boundary and marked. Default 16384.
    pub max_message_bytes: usize,
    /// A failing sink reports its errors to stderr at most once per this interval (the first
    /// error at once), such as `"10s"`. Default 10 seconds.
    #[serde(with = "super::duration")]
    pub error_report_interval: Duration,
    /// How long a caller waits for a stuck sink (a stdout pipe nobody reads, a hung `/dev/log`),
    /// such as `"1s"`: a CRITICAL record waits at most this long to be written, and a record
    /// waiting for room in a full queue gives up once the writer has made no progress for this
    /// long. Then the call returns an error, the record is counted (`timed_out`, or `dropped`
    /// when there was no room) and later records no longer wait. Default 1 second.
    #[serde(with = "super::duration")]
    pub stall_timeout: Duration,
}

impl Default for LoggerConfig {
    fn default() -> Self {
        LoggerConfig {
            level: LogLevel::Info,
            json_format: true,
            sampling_enabled: true,
            sample_ratio: 10,
            sinks: vec![SinkConfig::Stdout { level: None }],
            queue_capacity: 65_536,
            overflow: OverflowPolicy::Drop,
            max_message_bytes: 16_384,
            error_report_interval: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(1),
        }
    }
}

impl SectionConfig for LoggerConfig {
    const SECTION: &'static str = "logger";

    /// Checks every value of the `[logger]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`logger.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        check::not_zero(
            section,
            "sample_ratio",
            self.sample_ratio,
            " (1 keeps every record; 10 keeps 1 in 10)",
        )?;
        if self.sinks.is_empty() {
            return Err(ConfigError::new(
                check::key(section, "sinks"),
                "must name at least one sink: Stdout, Stderr, File, Syslog or CloudLogging",
            ));
        }
        check::at_least_one(
            section,
            "queue_capacity",
            self.queue_capacity as u64,
            "65536",
        )?;
        if self.max_message_bytes < 64 {
            return Err(ConfigError::new(
                check::key(section, "max_message_bytes"),
                format!("must be at least 64 (got {})", self.max_message_bytes),
            ));
        }
        if self.stall_timeout.is_zero() {
            return Err(ConfigError::new(
                check::key(section, "stall_timeout"),
                "must be more than zero, such as \"1s\" (how long a CRITICAL record waits for a stuck sink)",
            ));
        }
        for (index, sink) in self.sinks.iter().enumerate() {
            sink.validate(&format!("{section}.sinks.{index}"))?;
        }
        Ok(())
    }
}

/// What a full log queue does to DEBUG and INFO records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowPolicy {
    /// Drop the record and count it: the caller never waits.
    #[default]
    Drop,
    /// Wait for room: nothing is lost, the caller may wait.
    Block,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    #[test]
    fn error_report_interval_is_a_duration() {
        let config =
            AndonConfig::from_toml_str("[logger]\nerror_report_interval = \"30s\"\n").unwrap();
        assert_eq!(config.logger.error_report_interval, Duration::from_secs(30));
        let err =
            AndonConfig::from_toml_str("[logger]\nerror_report_interval = \"soon\"\n").unwrap_err();
        assert!(err.message.contains("is not a duration"), "{err}");
    }

    #[test]
    fn check_names_logger_keys() {
        let config = LoggerConfig {
            sample_ratio: 0,
            ..LoggerConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.sample_ratio"));
        assert!(LoggerConfig::default().validate().is_ok());
    }

    #[test]
    fn stall_timeout_is_a_positive_duration() {
        assert_eq!(
            LoggerConfig::default().stall_timeout,
            Duration::from_secs(1)
        );
        let config = AndonConfig::from_toml_str("[logger]\nstall_timeout = \"250ms\"\n").unwrap();
        assert_eq!(config.logger.stall_timeout, Duration::from_millis(250));
        let err = AndonConfig::from_toml_str("[logger]\nstall_timeout = \"0s\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("logger.stall_timeout"));
        assert!(err.message.contains("more than zero"), "{err}");
    }
}
