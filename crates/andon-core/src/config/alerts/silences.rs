//! `[[alerts.silences]]`: silences written in the configuration, with their label matchers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::check;
use crate::error::ConfigError;

/// `[[alerts.silences]]`: mutes the notifications of alerts whose labels match every matcher,
/// from `starts_at` (default: when the alert manager starts) until `ends_at` or for `duration`.
///
/// ```toml
/// [[alerts.silences]]
/// matchers = [{ name = "component", value = "db" }, { name = "severity", value = "info", equal = false }]
/// duration = "2h"            # or ends_at = "2026-11-27T06:00:00Z"
/// created_by = "alice"
/// comment = "database maintenance"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SilenceConfig {
    /// Every matcher must hold for an alert to be muted.
    pub matchers: Vec<MatcherConfig>,
    /// When it starts muting, RFC 3339 such as `"2026-11-27T04:00:00Z"`; default: when the
    /// alert manager starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// When it stops, RFC 3339. Give this or `duration`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// How long it mutes from `starts_at`. Give this or `ends_at`.
    #[serde(
        with = "crate::config::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<Duration>,
    /// Who created it (required, as in Alertmanager).
    pub created_by: String,
    /// Why the alerts are muted, for whoever looks at the silence later.
    pub comment: String,
}

/// One label matcher of a silence: `name` equals `value` (or, with `equal = false`, differs
/// from it or is absent). Only exact values: regular expressions are not supported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatcherConfig {
    /// The label's name, such as `component` or `alertname`.
    pub name: String,
    /// The value compared with.
    pub value: String,
    /// `true` (default): the label equals the value; `false`: it does not.
    #[serde(default = "default_true")]
    pub equal: bool,
}

fn default_true() -> bool {
    true
}

impl SilenceConfig {
    /// When the silence starts and ends, with `now` as the start when `starts_at` is not
    /// given; `key` (such as `alerts.silences.0`) names the field in errors.
    pub fn window(
        &self,
        now: std::time::SystemTime,
        key: &str,
    ) -> Result<(std::time::SystemTime, std::time::SystemTime), ConfigError> {
        let time = |field: &str, text: &str| {
            crate::signal::rfc3339::parse(text).map_err(|_| {
                ConfigError::new(
                    format!("{key}.{field}"),
                    format!("`{text}` is not an RFC 3339 time such as \"2026-11-27T06:00:00Z\""),
                )
            })
        };
        let starts = match &self.starts_at {
            Some(text) => time("starts_at", text)?,
            None => now,
        };
        let ends = match (&self.ends_at, self.duration) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    format!("{key}.duration"),
                    "give either ends_at or duration, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::new(
                    format!("{key}.ends_at"),
                    "must be set (or duration, such as \"2h\"): a silence needs an end",
                ));
            }
            (None, Some(d)) => {
                check::longer_than_zero(key, "duration", d, ", such as \"2h\"")?;
                starts + d
            }
            (Some(text), None) => time("ends_at", text)?,
        };
        if ends <= starts {
            return Err(ConfigError::new(
                format!("{key}.ends_at"),
                "must be after starts_at",
            ));
        }
        Ok((starts, ends))
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.matchers.is_empty() {
            return Err(ConfigError::new(
                format!("{key}.matchers"),
                "must list at least one matcher, such as [{ name = \"component\", value = \"db\" }]: a silence without matchers would mute everything",
            ));
        }
        for (index, matcher) in self.matchers.iter().enumerate() {
            check::not_empty(&format!("{key}.matchers.{index}"), "name", &matcher.name)?;
        }
        check::not_empty(key, "created_by", &self.created_by)?;
        self.window(std::time::SystemTime::now(), key).map(|_| ())
    }
}
