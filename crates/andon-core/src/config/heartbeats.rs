//! `[[heartbeats]]`: the check-ins andon expects, and the signal it raises when one does not come.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::ConfigError;
use crate::signal::Color;

/// The shortest grace a heartbeat gets when `grace` is left out.
pub const MIN_DEFAULT_GRACE: Duration = Duration::from_secs(1);

/// The longest `every` and `grace` a heartbeat may have: ten years.
pub const MAX_HEARTBEAT_PERIOD: Duration = Duration::from_secs(10 * 366 * 24 * 60 * 60);

/// The period of a heartbeat created by its first check-in (`[agent] heartbeats_auto = true`).
pub const AUTO_HEARTBEAT_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// One `[[heartbeats]]` entry: something that must check in every `every` (plus `grace`).
///
/// ```toml
/// [[heartbeats]]
/// name = "nightly-backup"
/// every = "24h"
/// grace = "30m"          # default: 10% of every, at least 1s
/// color = "red"          # the color of the signal a miss raises (default red)
/// component = "backup"   # the component of that signal (default: the name)
/// stop_line = true       # default: what [line] does for that color and component
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// The heartbeat's name, as check-ins give it (`POST /v1/heartbeats/{name}`).
    pub name: String,
    /// How often a check-in is expected.
    #[serde(with = "super::duration")]
    pub every: Duration,
    /// How much later than `every` a check-in may come before it is missed; also how long a
    /// `start` may run before its end. Default: 10% of `every`, at least 1 s.
    #[serde(
        default,
        with = "super::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub grace: Option<Duration>,
    /// The color of the signal a miss or a `fail` raises. Default RED.
    #[serde(default = "default_color")]
    pub color: Color,
    /// The component of that signal. Default: the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Whether that signal stops the line. Default (unset): what `[line]` does for its color and
    /// component.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_line: Option<bool>,
}

fn default_color() -> Color {
    Color::Red
}

impl HeartbeatConfig {
    /// A heartbeat with the defaults: `every`, RED, component = name.
    pub fn new(name: impl Into<String>, every: Duration) -> Self {
        HeartbeatConfig {
            name: name.into(),
            every,
            grace: None,
            color: Color::Red,
            component: None,
            stop_line: None,
        }
    }

    /// The heartbeat a first check-in creates when `[agent] heartbeats_auto = true`: every
    /// [`AUTO_HEARTBEAT_EVERY`] (a day), the other defaults.
    pub fn auto(name: impl Into<String>) -> Self {
        Self::new(name, AUTO_HEARTBEAT_EVERY)
    }

    /// `grace`, or its default: 10% of `every`, at least [`MIN_DEFAULT_GRACE`].
    pub fn effective_grace(&self) -> Duration {
        self.grace
            .unwrap_or_else(|| (self.every / 10).max(MIN_DEFAULT_GRACE))
    }

    /// `component`, or the name.
    pub fn effective_component(&self) -> &str {
        self.component.as_deref().unwrap_or(&self.name)
    }

    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        check_name(&check::key(key, "name"), &self.name)?;
        check::longer_than_zero(
            key,
            "every",
            self.every,
            ": write how often a check-in is expected, such as \"5m\" or \"24h\"",
        )?;
        for (field, value) in [("every", Some(self.every)), ("grace", self.grace)] {
            if value.is_some_and(|v| v > MAX_HEARTBEAT_PERIOD) {
                return Err(ConfigError::new(
                    check::key(key, field),
                    "must be at most ten years, such as \"24h\" or \"30d\"",
                ));
            }
        }
        check::longer_than_zero(
            key,
            "grace",
            self.grace,
            ", such as \"30s\", or be left out (10% of every, at least 1s)",
        )?;
        if self.color == Color::Green {
            return Err(ConfigError::new(
                check::key(key, "color"),
                "a missed heartbeat is a problem: use \"red\" or \"yellow\"",
            ));
        }
        if let Some(component) = &self.component {
            check::not_empty(key, "component", component)?;
        }
        Ok(())
    }
}

/// The longest heartbeat name, in characters.
pub const MAX_HEARTBEAT_NAME_CHARS: usize = 128;

/// Checks a heartbeat name: 1 to 128 characters of letters, digits, `-`, `_`, `.`, not only
/// dots (it is a path segment of the API, where `.` and `..` mean other paths, and a metric
/// label).
pub fn check_heartbeat_name(name: &str) -> Result<(), String> {
    if super::is_path_segment(name, MAX_HEARTBEAT_NAME_CHARS, &['-', '_', '.']) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a heartbeat name: use 1 to {MAX_HEARTBEAT_NAME_CHARS} letters, digits, `-`, `_` or `.` (not only dots), such as \"nightly-backup\""
        ))
    }
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    check_heartbeat_name(name).map_err(|message| ConfigError::new(key, message))
}

/// Checks every entry of `[[heartbeats]]` and refuses duplicate names.
pub(crate) fn validate_all(
    section: &str,
    heartbeats: &[HeartbeatConfig],
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for (index, heartbeat) in heartbeats.iter().enumerate() {
        let key = format!("{section}.{index}");
        heartbeat.validate(&key)?;
        if !seen.insert(heartbeat.name.as_str()) {
            return Err(ConfigError::new(
                check::key(&key, "name"),
                format!(
                    "`{}` is already the name of another heartbeat: give each [[heartbeats]] entry its own name",
                    heartbeat.name
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    #[test]
    fn an_entry_takes_its_defaults() {
        let config = AndonConfig::from_toml_str(
            "[[heartbeats]]\nname = \"nightly-backup\"\nevery = \"24h\"\n",
        )
        .unwrap();
        let heartbeat = &config.heartbeats[0];
        assert_eq!(heartbeat.every, Duration::from_secs(86_400));
        assert_eq!(heartbeat.effective_grace(), Duration::from_secs(8_640));
        assert_eq!(heartbeat.color, Color::Red);
        assert_eq!(heartbeat.effective_component(), "nightly-backup");
        assert_eq!(heartbeat.stop_line, None);
        let short = HeartbeatConfig::new("fast", Duration::from_secs(2));
        assert_eq!(
            short.effective_grace(),
            Duration::from_secs(1),
            "at least 1s"
        );
        assert_eq!(
            AndonConfig::from_toml_str(&config.to_toml_string()).unwrap(),
            config,
            "renders and parses back"
        );
    }

    #[test]
    fn bad_entries_name_their_key_and_the_fix() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "[[heartbeats]]\nname = \"a\"\nevery = \"0s\"\n",
                "heartbeats.0.every",
                "must be longer than 0",
            ),
            (
                "[[heartbeats]]\nname = \"a\"\nevery = \"1m\"\ngrace = \"0s\"\n",
                "heartbeats.0.grace",
                "or be left out",
            ),
            (
                "[[heartbeats]]\nname = \"a\"\nevery = \"100years\"\n",
                "heartbeats.0.every",
                "at most ten years",
            ),
            (
                "[[heartbeats]]\nname = \"a b\"\nevery = \"1m\"\n",
                "heartbeats.0.name",
                "is not a heartbeat name",
            ),
            (
                "[[heartbeats]]\nname = \"..\"\nevery = \"1m\"\n",
                "heartbeats.0.name",
                "not only dots",
            ),
            (
                "[[heartbeats]]\nname = \"a\"\nevery = \"1m\"\ncolor = \"green\"\n",
                "heartbeats.0.color",
                "use \"red\" or \"yellow\"",
            ),
            (
                "[[heartbeats]]\nname = \"a\"\nevery = \"1m\"\n[[heartbeats]]\nname = \"a\"\nevery = \"2m\"\n",
                "heartbeats.1.name",
                "already the name of another heartbeat",
            ),
        ];
        for (text, err) in crate::config::refused(cases) {
            assert!(err.line.is_some(), "{text}: a position: {err}");
        }
        let err = AndonConfig::from_toml_str("[[heartbeats]]\nname = \"a\"\n").unwrap_err();
        assert!(err.message.contains("every"), "{err}");
    }
}
