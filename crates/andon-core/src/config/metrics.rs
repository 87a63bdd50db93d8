//! `[metrics]`: Prometheus metrics, the scrape endpoint and thresholds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check;
use crate::contract::SectionConfig;
use crate::error::ConfigError;
use crate::signal::Color;

/// `[metrics]`: the Prometheus endpoint, histogram buckets and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Record metrics and serve them. Default `true`.
    pub enabled: bool,
    /// The address the endpoint binds to. Default `127.0.0.1`: only this machine can scrape;
    /// set `0.0.0.0` (or an interface address) to let a Prometheus elsewhere scrape it.
    pub bind: String,
    /// The endpoint's port. Default 9090.
    pub port: u16,
    /// When `port` cannot be listened on (taken by another program: 9090 is also Prometheus'
    /// own default), serve on a free port the system picks instead and say which
    /// (`AndonMetrics::endpoint_notice`, which the umbrella writes to stderr and the log;
    /// `scrape_url()` gives the real address). Default `true`; `false` makes a taken port a
    /// start-up error.
    pub free_port_if_taken: bool,
    /// The endpoint's path. Default `/metrics`.
    pub scrape_path: String,
    /// Histogram buckets, in seconds, increasing.
    pub buckets: Vec<f64>,
    /// Buckets for particular histograms, by metric name, overriding `buckets`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub histogram_buckets: BTreeMap<String, Vec<f64>>,
    /// At most this many label sets per metric; beyond it new series are refused and counted.
    /// Default 10000.
    pub max_label_sets: usize,
    /// `[metrics.thresholds]`: gauge levels that raise a signal.
    pub thresholds: ThresholdsConfig,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            bind: "127.0.0.1".to_owned(),
            port: 9090,
            free_port_if_taken: true,
            scrape_path: "/metrics".to_owned(),
            buckets: vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
            histogram_buckets: BTreeMap::new(),
            max_label_sets: 10_000,
            thresholds: ThresholdsConfig::default(),
        }
    }
}

impl SectionConfig for MetricsConfig {
    const SECTION: &'static str = "metrics";

    /// Checks every value of the `[metrics]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`metrics.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        if self.port == 0 {
            return Err(ConfigError::new(
                check::key(section, "port"),
                "must be a port from 1 to 65535 (got 0)",
            ));
        }
        if self.bind.parse::<std::net::IpAddr>().is_err() {
            return Err(ConfigError::new(
                check::key(section, "bind"),
                format!(
                    "`{}` is not an IP address: use \"127.0.0.1\" (this machine only) or \"0.0.0.0\" (every interface)",
                    self.bind
                ),
            ));
        }
        if !self.scrape_path.starts_with('/') {
            return Err(ConfigError::new(
                check::key(section, "scrape_path"),
                format!(
                    "must start with `/`, such as \"/metrics\" (got \"{}\")",
                    self.scrape_path
                ),
            ));
        }
        check_buckets(&check::key(section, "buckets"), &self.buckets)?;
        for (name, buckets) in &self.histogram_buckets {
            check_buckets(&format!("{section}.histogram_buckets.{name}"), buckets)?;
        }
        check::at_least_one(
            section,
            "max_label_sets",
            self.max_label_sets as u64,
            "10000",
        )?;
        self.thresholds.validate(&check::key(section, "thresholds"))
    }
}

fn check_buckets(key: &str, buckets: &[f64]) -> Result<(), ConfigError> {
    if buckets.is_empty() {
        return Err(ConfigError::new(key, "must hold at least one bucket bound"));
    }
    if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ConfigError::new(
            key,
            "must be finite and strictly increasing, such as [0.005, 0.01, 0.1, 1.0]",
        ));
    }
    Ok(())
}

/// `[metrics.thresholds]`: when a gauge crosses one, a signal is raised.
///
/// The three named thresholds are the design's; any other key is a user threshold on a metric of
/// that name (`my_backlog = 5000`). Every threshold is written in one of three forms:
///
/// ```toml
/// [metrics.thresholds]
/// queue_depth = 100                                          # level only: YELLOW above 100, GREEN at 90 or below
/// memory_usage_mb = { level = 512, clear = 400, color = "red" }
/// cpu_usage_percent = false                                  # turned off
/// my_backlog = { level = 5000, color = "red" }               # clears at 90% of the level
/// ```
///
/// A value above `level` raises a signal of `color` (`"yellow"`, the default, or `"red"`) once;
/// the next signal is GREEN, when the value falls to `clear` or below (default 90% of `level`),
/// so a value hovering at the edge does not flap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawThresholds", into = "RawThresholds")]
pub struct ThresholdsConfig {
    /// Queue depth (`andon_queue_depth`) above which a signal is raised. Default 100.
    pub queue_depth: Option<f64>,
    /// Process memory in MiB above which a signal is raised. Default 512.
    pub memory_usage_mb: Option<f64>,
    /// CPU percent above which a signal is raised. Default 90.
    pub cpu_usage_percent: Option<f64>,
    /// User thresholds: levels by metric name.
    pub custom: BTreeMap<String, f64>,
    /// The signal color of thresholds, by threshold name (`queue_depth`, or a user metric
    /// name); unlisted ones raise [`DEFAULT_COLOR`](ThresholdsConfig::DEFAULT_COLOR).
    pub colors: BTreeMap<String, Color>,
    /// The clear levels of thresholds, by threshold name; unlisted ones clear at
    /// [`DEFAULT_CLEAR_RATIO`](ThresholdsConfig::DEFAULT_CLEAR_RATIO) of their level.
    pub clear_levels: BTreeMap<String, f64>,
}

impl Default for ThresholdsConfig {
    fn default() -> Self {
        ThresholdsConfig {
            queue_depth: Some(100.0),
            memory_usage_mb: Some(512.0),
            cpu_usage_percent: Some(90.0),
            custom: BTreeMap::new(),
            colors: BTreeMap::new(),
            clear_levels: BTreeMap::new(),
        }
    }
}

impl ThresholdsConfig {
    /// The signal color of a threshold that names none.
    pub const DEFAULT_COLOR: Color = Color::Yellow;

    /// The clear level of a threshold that names none, as a fraction of its level: a
    /// threshold at 100 clears when the value falls to 90 or below.
    pub const DEFAULT_CLEAR_RATIO: f64 = 0.9;

    /// The level of the threshold called `name` (`queue_depth`, `memory_usage_mb`,
    /// `cpu_usage_percent` or a user metric name), if it is set.
    pub fn level(&self, name: &str) -> Option<f64> {
        match name {
            "queue_depth" => self.queue_depth,
            "memory_usage_mb" => self.memory_usage_mb,
            "cpu_usage_percent" => self.cpu_usage_percent,
            other => self.custom.get(other).copied(),
        }
    }

    /// The clear level of the threshold called `name`, if it is set.
    pub fn clear_level(&self, name: &str) -> Option<f64> {
        let level = self.level(name)?;
        Some(
            self.clear_levels
                .get(name)
                .copied()
                .unwrap_or(level * Self::DEFAULT_CLEAR_RATIO),
        )
    }

    /// The color of the signal the threshold called `name` raises.
    pub fn color(&self, name: &str) -> Color {
        self.colors
            .get(name)
            .copied()
            .unwrap_or(Self::DEFAULT_COLOR)
    }

    /// The names of every threshold that is set, the named ones first.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        NAMED
            .into_iter()
            .chain(self.custom.keys().map(String::as_str))
            .filter(|name| self.level(name).is_some())
    }

    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        for name in self.names() {
            let valid_name = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !valid_name {
                return Err(ConfigError::new(
                    check::key(section, name),
                    "is not a Prometheus metric name: a user threshold is named after its metric, \
                     such as `my_backlog_items` (letters, digits, `_` and `:`)",
                ));
            }
            let level = self.level(name).unwrap_or_default();
            check::positive(section, name, level)?;
            let clear = self.clear_level(name).unwrap_or_default();
            if !clear.is_finite() || clear >= level {
                return Err(ConfigError::new(
                    format!("{section}.{name}.clear"),
                    format!(
                        "must be below the level {level} so the threshold can clear (got {clear})"
                    ),
                ));
            }
            if self.color(name) == Color::Green {
                return Err(ConfigError::new(
                    format!("{section}.{name}.color"),
                    "must be \"yellow\" or \"red\": GREEN is the signal of recovery",
                ));
            }
        }
        for name in self.colors.keys().chain(self.clear_levels.keys()) {
            if self.level(name).is_none() {
                return Err(ConfigError::new(
                    check::key(section, name),
                    "has a color or clear level but no level: write `{ level = 100, ... }`",
                ));
            }
        }
        Ok(())
    }
}

/// One threshold as written: a level, `false`, or a table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Setting {
    Off,
    Level(f64),
    Full {
        level: f64,
        clear: Option<f64>,
        color: Option<Color>,
    },
}

type RawThresholds = BTreeMap<String, Setting>;

const NAMED: [&str; 3] = ["queue_depth", "memory_usage_mb", "cpu_usage_percent"];

impl From<RawThresholds> for ThresholdsConfig {
    fn from(raw: RawThresholds) -> Self {
        let mut config = ThresholdsConfig::default();
        for (name, setting) in raw {
            let level = match setting {
                Setting::Off => None,
                Setting::Level(level) => Some(level),
                Setting::Full {
                    level,
                    clear,
                    color,
                } => {
                    if let Some(color) = color {
                        config.colors.insert(name.clone(), color);
                    }
                    if let Some(clear) = clear {
                        config.clear_levels.insert(name.clone(), clear);
                    }
                    Some(level)
                }
            };
            match name.as_str() {
                "queue_depth" => config.queue_depth = level,
                "memory_usage_mb" => config.memory_usage_mb = level,
                "cpu_usage_percent" => config.cpu_usage_percent = level,
                _ => {
                    if let Some(level) = level {
                        config.custom.insert(name, level);
                    }
                }
            }
        }
        config
    }
}

impl From<ThresholdsConfig> for RawThresholds {
    fn from(config: ThresholdsConfig) -> Self {
        let named = [
            config.queue_depth,
            config.memory_usage_mb,
            config.cpu_usage_percent,
        ];
        let levels = NAMED
            .iter()
            .map(|n| (*n).to_owned())
            .zip(named)
            .chain(config.custom.into_iter().map(|(n, l)| (n, Some(l))));
        levels
            .map(|(name, level)| {
                let clear = config.clear_levels.get(&name).copied();
                let color = config.colors.get(&name).copied();
                let setting = match (level, clear, color) {
                    (None, _, _) => Setting::Off,
                    (Some(level), None, None) => Setting::Level(level),
                    (Some(level), clear, color) => Setting::Full {
                        level,
                        clear,
                        color,
                    },
                };
                (name, setting)
            })
            .collect()
    }
}

impl Serialize for Setting {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match *self {
            Setting::Off => serializer.serialize_bool(false),
            Setting::Level(level) => serializer.serialize_f64(level),
            Setting::Full {
                level,
                clear,
                color,
            } => {
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry("level", &level)?;
                if let Some(clear) = clear {
                    map.serialize_entry("clear", &clear)?;
                }
                if let Some(color) = color {
                    map.serialize_entry("color", &color)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SettingVisitor)
    }
}

struct SettingVisitor;

impl<'de> serde::de::Visitor<'de> for SettingVisitor {
    type Value = Setting;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "a threshold: a level such as `100`, `false` to turn it off, or a table such as \
             `{ level = 100, clear = 80, color = \"red\" }`",
        )
    }

    #[allow(clippy::cast_precision_loss)] // thresholds are far below 2^53
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Setting, E> {
        Ok(Setting::Level(v as f64))
    }

    #[allow(clippy::cast_precision_loss)] // thresholds are far below 2^53
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Setting, E> {
        Ok(Setting::Level(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Setting, E> {
        Ok(Setting::Level(v))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Setting, E> {
        if v {
            Err(E::custom(
                "`true` is not a threshold: write its level (such as `100`), or `false` to turn it off",
            ))
        } else {
            Ok(Setting::Off)
        }
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Setting, A::Error> {
        use serde::de::Error;
        let (mut level, mut clear, mut color) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "level" => level = Some(map.next_value::<f64>()?),
                "clear" => clear = Some(map.next_value::<f64>()?),
                "color" => color = Some(map.next_value::<Color>()?),
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown threshold key `{other}`: use `level`, `clear` and `color`"
                    )));
                }
            }
        }
        let level = level.ok_or_else(|| {
            A::Error::custom("a threshold table needs a `level`, such as `{ level = 100 }`")
        })?;
        Ok(Setting::Full {
            level,
            clear,
            color,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AndonConfig;

    fn thresholds(text: &str) -> ThresholdsConfig {
        AndonConfig::from_toml_str(&format!("[metrics.thresholds]\n{text}"))
            .unwrap()
            .metrics
            .thresholds
    }

    fn error(text: &str) -> ConfigError {
        AndonConfig::from_toml_str(&format!("[metrics.thresholds]\n{text}")).unwrap_err()
    }

    #[test]
    fn the_short_form_is_a_yellow_threshold_clearing_at_ninety_percent() {
        let t = thresholds("queue_depth = 100\nmy_backlog = 5000\n");
        assert_eq!(t.queue_depth, Some(100.0));
        assert_eq!(t.level("queue_depth"), Some(100.0));
        assert_eq!(t.clear_level("queue_depth"), Some(90.0));
        assert_eq!(t.color("queue_depth"), Color::Yellow);
        assert_eq!(t.level("my_backlog"), Some(5000.0));
        assert_eq!(t.level("memory_usage_mb"), Some(512.0), "defaults stay");
        assert_eq!(t.level("unknown"), None);
        assert_eq!(t.clear_level("unknown"), None);
    }

    #[test]
    fn the_table_form_sets_color_and_clear_and_false_turns_a_threshold_off() {
        let t = thresholds(
            "queue_depth = { level = 200, clear = 150, color = \"red\" }\n\
             cpu_usage_percent = false\n\
             my_backlog = { level = 10 }\n",
        );
        assert_eq!(t.level("queue_depth"), Some(200.0));
        assert_eq!(t.clear_level("queue_depth"), Some(150.0));
        assert_eq!(t.color("queue_depth"), Color::Red);
        assert_eq!(t.cpu_usage_percent, None);
        assert_eq!(t.level("cpu_usage_percent"), None);
        assert_eq!(t.level("my_backlog"), Some(10.0));
        assert_eq!(t.clear_level("my_backlog"), Some(9.0));
        assert_eq!(t.color("my_backlog"), Color::Yellow);
        let names: Vec<_> = t.names().collect();
        assert_eq!(names, ["queue_depth", "memory_usage_mb", "my_backlog"]);
    }

    #[test]
    fn thresholds_round_trip_through_toml() {
        let t = thresholds(
            "queue_depth = { level = 200, clear = 150, color = \"red\" }\ncpu_usage_percent = false\nx = 3\n",
        );
        let mut config = AndonConfig::default();
        config.metrics.thresholds = t.clone();
        let again = AndonConfig::from_toml_str(&config.to_toml_string()).unwrap();
        assert_eq!(again.metrics.thresholds, t);
    }

    #[test]
    fn every_threshold_error_names_the_key_and_the_fix() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "queue_depth = 0",
                "metrics.thresholds.queue_depth",
                "must be greater than 0",
            ),
            (
                "my_backlog = -5",
                "metrics.thresholds.my_backlog",
                "must be greater than 0",
            ),
            (
                "\"my-backlog\" = 5",
                "metrics.thresholds.my-backlog",
                "is not a Prometheus metric name",
            ),
            (
                "queue_depth = { level = 100, clear = 100 }",
                "metrics.thresholds.queue_depth.clear",
                "must be below the level 100",
            ),
            (
                "queue_depth = { level = 100, color = \"green\" }",
                "metrics.thresholds.queue_depth.color",
                "must be \"yellow\" or \"red\"",
            ),
        ];
        for (text, key, message) in cases {
            let err = error(text);
            assert_eq!(err.key.as_deref(), Some(*key), "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
            assert_eq!(err.line, Some(2), "{text}: {err}");
        }
    }

    #[test]
    fn malformed_thresholds_say_what_is_allowed() {
        for (text, message) in [
            ("queue_depth = true", "write its level"),
            ("queue_depth = \"lots\"", "a level such as `100`"),
            (
                "queue_depth = { level = 1, colour = \"red\" }",
                "use `level`, `clear` and `color`",
            ),
            ("queue_depth = { clear = 1 }", "needs a `level`"),
            (
                "queue_depth = { level = 5, color = \"blue\" }",
                "expected one of `green`, `yellow`, `red`",
            ),
        ] {
            let err = error(text);
            assert!(err.to_string().contains(message), "{text}: {err}");
            assert_eq!(err.line, Some(2), "{text}: {err}");
        }
    }

    #[test]
    fn options_without_a_level_are_rejected_in_code() {
        let mut config = AndonConfig::default();
        config
            .metrics
            .thresholds
            .colors
            .insert("nothing".into(), Color::Red);
        let err = config.metrics.validate().unwrap_err();
        assert_eq!(err.key.as_deref(), Some("metrics.thresholds.nothing"));
        assert!(err.message.contains("no level"), "{err}");
    }

    #[test]
    fn endpoint_settings_are_checked() {
        for (text, key, message) in [
            (
                "[metrics]\nbind = \"localhost\"\n",
                "metrics.bind",
                "is not an IP address",
            ),
            (
                "[metrics]\nmax_label_sets = 0\n",
                "metrics.max_label_sets",
                "at least 1",
            ),
            (
                "[metrics]\nbuckets = []\n",
                "metrics.buckets",
                "at least one bucket",
            ),
            (
                "[metrics.histogram_buckets]\nandon_request_duration_seconds = [1.0, 1.0]\n",
                "metrics.histogram_buckets.andon_request_duration_seconds",
                "strictly increasing",
            ),
        ] {
            let err = AndonConfig::from_toml_str(text).unwrap_err();
            assert_eq!(err.key.as_deref(), Some(key), "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }
}
