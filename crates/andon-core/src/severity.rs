//! Severity, in one place: signal colors, log levels and alert severities map onto each other here
//! and nowhere else.
//!
//! | Color  | Log level  | Alert severity | Health status |
//! |--------|------------|----------------|---------------|
//! | GREEN  | `INFO`     | `info`         | `Healthy`     |
//! | YELLOW | `WARNING`  | `warning`      | `Degraded`    |
//! | RED    | `CRITICAL` | `critical`     | `Critical`    |
//!
//! `DEBUG` records raise no signal; an alert of severity `info` maps back to GREEN.

use serde::{Deserialize, Serialize};

/// The color of an Andon light.
///
/// Serialized in lower case: `"red"`, `"yellow"`, `"green"`. Parsing accepts any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    /// Normal: the station works as it should.
    Green,
    /// Warning: attention needed, the line keeps running.
    Yellow,
    /// Critical: stop the line.
    Red,
}

impl Color {
    /// All colors, from the least to the most severe.
    pub const ALL: [Color; 3] = [Color::Green, Color::Yellow, Color::Red];

    /// The lower-case name used in JSON, metrics labels and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Color::Green => "green",
            Color::Yellow => "yellow",
            Color::Red => "red",
        }
    }

    /// The log level a signal of this color is recorded at (RED is CRITICAL).
    pub const fn log_level(self) -> LogLevel {
        LogLevel::from_color(self)
    }

    /// The alert severity a signal of this color raises.
    pub const fn alert_severity(self) -> AlertSeverity {
        AlertSeverity::from_color(self)
    }
}

display_as_str!(Color, LogLevel, AlertSeverity);

/// The error returned when a string names no [`Color`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal color `{0}`: use red, yellow or green")]
pub struct ParseColorError(pub String);

parse_keyword!(Color, ParseColorError, to_ascii_lowercase, {
    "red" => Red,
    "yellow" => Yellow,
    "green" => Green,
});

/// A log level: DEBUG < INFO < WARNING < CRITICAL.
///
/// Configuration and JSON use the upper-case names of the design (`"WARNING"`); parsing also
/// accepts lower case and the common aliases `WARN`, `ERROR` and `CRIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Detail for developers; sampled, never a signal.
    Debug,
    /// Normal operation; GREEN.
    Info,
    /// An Andon warning; YELLOW.
    Warning,
    /// Stop the line; RED.
    Critical,
}

impl LogLevel {
    /// All levels, from the least to the most severe.
    pub const ALL: [LogLevel; 4] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warning,
        LogLevel::Critical,
    ];

    /// The upper-case name: `DEBUG`, `INFO`, `WARNING`, `CRITICAL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Critical => "CRITICAL",
        }
    }

    /// The level a signal of `color` is logged at.
    pub const fn from_color(color: Color) -> Self {
        match color {
            Color::Green => LogLevel::Info,
            Color::Yellow => LogLevel::Warning,
            Color::Red => LogLevel::Critical,
        }
    }

    /// The color of a record at this level; DEBUG and INFO are both GREEN.
    pub const fn color(self) -> Color {
        match self {
            LogLevel::Debug | LogLevel::Info => Color::Green,
            LogLevel::Warning => Color::Yellow,
            LogLevel::Critical => Color::Red,
        }
    }

    /// The syslog severity (RFC 5424 section 6.2.1): CRITICAL is 2, WARNING 4, INFO 6, DEBUG 7.
    pub const fn syslog_severity(self) -> u8 {
        match self {
            LogLevel::Debug => 7,
            LogLevel::Info => 6,
            LogLevel::Warning => 4,
            LogLevel::Critical => 2,
        }
    }
}

/// The error returned when a string names no [`LogLevel`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{0}`: use DEBUG, INFO, WARNING or CRITICAL")]
pub struct ParseLevelError(pub String);

parse_keyword!(LogLevel, ParseLevelError, to_ascii_uppercase, {
    "DEBUG" | "TRACE" => Debug,
    "INFO" => Info,
    "WARNING" | "WARN" => Warning,
    "CRITICAL" | "CRIT" | "ERROR" => Critical,
});

impl<'de> Deserialize<'de> for LogLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How urgent an alert is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertSeverity {
    /// For the record; nobody is woken.
    Info,
    /// Someone should look soon.
    #[default]
    Warning,
    /// Someone must act now; a diagnostics snapshot is attached.
    Critical,
}

impl AlertSeverity {
    /// The lower-case name: `info`, `warning`, `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Info => "info",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Critical => "critical",
        }
    }

    /// The severity a signal of `color` raises.
    pub const fn from_color(color: Color) -> Self {
        match color {
            Color::Green => AlertSeverity::Info,
            Color::Yellow => AlertSeverity::Warning,
            Color::Red => AlertSeverity::Critical,
        }
    }

    /// The color an alert of this severity shows on the board.
    pub const fn color(self) -> Color {
        match self {
            AlertSeverity::Info => Color::Green,
            AlertSeverity::Warning => Color::Yellow,
            AlertSeverity::Critical => Color::Red,
        }
    }

    /// The level an alert of this severity is logged at.
    pub const fn log_level(self) -> LogLevel {
        LogLevel::from_color(self.color())
    }
}

/// The health of a host, a process or a component, as the observer judges it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub enum HealthStatus {
    /// Every value is within its thresholds.
    #[default]
    Healthy,
    /// A value is above its warning level.
    Degraded,
    /// A value is above its critical level.
    Critical,
}

impl HealthStatus {
    /// The color the status shows as.
    pub const fn color(self) -> Color {
        match self {
            HealthStatus::Healthy => Color::Green,
            HealthStatus::Degraded => Color::Yellow,
            HealthStatus::Critical => Color::Red,
        }
    }

    /// The status a color stands for.
    pub const fn from_color(color: Color) -> Self {
        match color {
            Color::Green => HealthStatus::Healthy,
            Color::Yellow => HealthStatus::Degraded,
            Color::Red => HealthStatus::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_level_severity_and_health_agree() {
        for color in Color::ALL {
            assert_eq!(color.log_level().color(), color);
            assert_eq!(color.alert_severity().color(), color);
            assert_eq!(HealthStatus::from_color(color).color(), color);
            assert_eq!(color.alert_severity().log_level(), color.log_level());
        }
        assert_eq!(Color::Red.log_level(), LogLevel::Critical);
        assert_eq!(Color::Yellow.log_level(), LogLevel::Warning);
        assert_eq!(Color::Green.log_level(), LogLevel::Info);
        assert_eq!(Color::Red.alert_severity(), AlertSeverity::Critical);
        assert_eq!(LogLevel::Debug.color(), Color::Green);
    }

    #[test]
    fn levels_are_ordered() {
        assert!(LogLevel::Debug < LogLevel::Info);
        assert!(LogLevel::Info < LogLevel::Warning);
        assert!(LogLevel::Warning < LogLevel::Critical);
        assert!(AlertSeverity::Info < AlertSeverity::Critical);
        assert!(HealthStatus::Degraded < HealthStatus::Critical);
    }

    #[test]
    fn levels_parse_with_aliases_and_say_what_is_allowed() {
        assert_eq!("warn".parse::<LogLevel>().unwrap(), LogLevel::Warning);
        assert_eq!("CRITICAL".parse::<LogLevel>().unwrap(), LogLevel::Critical);
        let err = "loud".parse::<LogLevel>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown log level `loud`: use DEBUG, INFO, WARNING or CRITICAL"
        );
        assert_eq!(
            serde_json::to_string(&LogLevel::Warning).unwrap(),
            "\"WARNING\""
        );
    }

    #[test]
    fn syslog_severities_follow_rfc5424() {
        assert_eq!(LogLevel::Critical.syslog_severity(), 2);
        assert_eq!(LogLevel::Warning.syslog_severity(), 4);
        assert_eq!(LogLevel::Info.syslog_severity(), 6);
        assert_eq!(LogLevel::Debug.syslog_severity(), 7);
    }
}
