//! `RUST_LOG` and `ANDON_LOG`: [`LogDirectives`], read once at start-up, set andon's own level
//! and filter `tracing` events by target with `tracing-subscriber`'s `EnvFilter` syntax.

use andon_core::config::LoggerConfig;
use andon_core::{ConfigError, LogLevel};
use tracing_core::Level;
use tracing_subscriber::EnvFilter;

use crate::error::LogError;

/// The target andon's own records (signals, `logger.info(..)`, the alert manager's entries)
/// are matched as by a directive: `andon=debug` or a bare `debug` sets their level.
pub const ANDON_TARGET: &str = "andon";

/// `RUST_LOG` and `ANDON_LOG`, in `EnvFilter` syntax (`warn,my_crate=debug,andon=info`).
///
/// - `RUST_LOG` filters the `tracing` events that
///   [`AndonLogger::tracing_layer`](crate::AndonLogger::tracing_layer) writes, by target, as
///   `EnvFilter` does, and sets andon's own level: the level a directive gives the target
///   `andon`, else the bare default level (`[logger] level` stays when neither is named).
/// - `ANDON_LOG` does the same for andon alone: it sets andon's own level, ahead of `RUST_LOG`,
///   and leaves `tracing` events to `RUST_LOG` (or, without it, to `[logger] level`).
///
/// A level of `off` for andon keeps CRITICAL: a RED signal is never silenced by an environment
/// variable.
///
/// ```
/// use andon_log::{LogDirectives, LogLevel};
///
/// let d = LogDirectives::from_values(None, Some("warn,andon=debug"))?.expect("set");
/// assert_eq!(d.level_source(), Some("RUST_LOG"));
/// assert_eq!(d.andon_level(), Some(LogLevel::Debug));
/// // ANDON_LOG wins over RUST_LOG for andon's own records; RUST_LOG still filters events.
/// let d = LogDirectives::from_values(Some("error"), Some("debug"))?.expect("set");
/// assert_eq!(d.level_source(), Some("ANDON_LOG"));
/// assert_eq!(d.andon_level(), Some(LogLevel::Critical));
/// assert_eq!(d.rust_log(), Some("debug"));
/// # Ok::<(), andon_log::LogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDirectives {
    andon_log: Option<String>,
    rust_log: Option<String>,
    /// Andon's own level and the variable it came from.
    andon_level: Option<(&'static str, LogLevel)>,
}

fn set(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn check(source: &'static str, text: &str) -> Result<(), LogError> {
    EnvFilter::builder().parse(text).map(drop).map_err(|e| {
        ConfigError::new(
            source,
            format!(
                "{e} in {text:?}: write directives as `level` or `target=level` separated by commas, such as `warn,my_crate=debug`"
            ),
        )
        .into()
    })
}

impl LogDirectives {
    /// Reads `ANDON_LOG` and `RUST_LOG`; a thin wrapper over
    /// [`from_values`](Self::from_values).
    ///
    /// # Errors
    ///
    /// As [`from_values`](Self::from_values).
    pub fn from_env() -> Result<Option<Self>, LogError> {
        let andon = std::env::var("ANDON_LOG").ok();
        let rust = std::env::var("RUST_LOG").ok();
        Self::from_values(andon.as_deref(), rust.as_deref())
    }

    /// The directives of `andon_log` (`ANDON_LOG`) and `rust_log` (`RUST_LOG`); a value that
    /// is blank counts as unset. `None` when neither is set.
    ///
    /// # Errors
    ///
    /// [`LogError::Config`] naming the variable when a directive does not parse.
    pub fn from_values(
        andon_log: Option<&str>,
        rust_log: Option<&str>,
    ) -> Result<Option<Self>, LogError> {
        let (andon_log, rust_log) = (set(andon_log), set(rust_log));
        if let Some(text) = andon_log {
            check("ANDON_LOG", text)?;
        }
        if let Some(text) = rust_log {
            check("RUST_LOG", text)?;
        }
        if andon_log.is_none() && rust_log.is_none() {
            return Ok(None);
        }
        let andon_level = andon_log
            .and_then(|t| andon_level(t).map(|l| ("ANDON_LOG", l)))
            .or_else(|| rust_log.and_then(|t| andon_level(t).map(|l| ("RUST_LOG", l))));
        Ok(Some(LogDirectives {
            andon_log: andon_log.map(str::to_owned),
            rust_log: rust_log.map(str::to_owned),
            andon_level,
        }))
    }

    /// `ANDON_LOG` as given, when set.
    pub fn andon_log(&self) -> Option<&str> {
        self.andon_log.as_deref()
    }

    /// `RUST_LOG` as given, when set.
    pub fn rust_log(&self) -> Option<&str> {
        self.rust_log.as_deref()
    }

    /// The level they give andon's own records, or `None` when no directive names `andon`
    /// and none is a bare level (then `[logger] level` stays).
    pub fn andon_level(&self) -> Option<LogLevel> {
        self.andon_level.map(|(_, level)| level)
    }

    /// Which variable set [`andon_level`](Self::andon_level): `"ANDON_LOG"` or `"RUST_LOG"`.
    pub fn level_source(&self) -> Option<&'static str> {
        self.andon_level.map(|(source, _)| source)
    }

    /// The `EnvFilter` of `RUST_LOG` for `tracing` events, when it is set.
    pub fn event_filter(&self) -> Option<EnvFilter> {
        self.rust_log
            .as_deref()
            .map(|text| EnvFilter::builder().parse_lossy(text))
    }

    /// The lowest level `RUST_LOG` lets `tracing` events in at (`EnvFilter`'s max level hint),
    /// so that the sinks take them even below andon's own level; `None` when it is unset or
    /// `off`.
    pub fn tracing_level(&self) -> Option<LogLevel> {
        let hint = self.event_filter()?.max_level_hint()?;
        hint.into_level().map(from_tracing_level)
    }

    /// Sets `config.level` from [`andon_level`](Self::andon_level) and returns the line that
    /// says what the variables do, once, at start-up.
    pub fn apply(&self, config: &mut LoggerConfig) -> String {
        let was = config.level;
        let mut line = String::from("andon:");
        for (name, value) in [("ANDON_LOG", &self.andon_log), ("RUST_LOG", &self.rust_log)] {
            if let Some(value) = value {
                line.push_str(&format!(" {name}={value:?}"));
            }
        }
        match self.andon_level {
            Some((source, level)) => {
                config.level = level;
                line.push_str(&format!(
                    ": {source} overrides [logger] level = \"{was}\": andon's records at {level} and above"
                ));
            }
            None => line.push_str(&format!(
                ": no level for andon: [logger] level = \"{was}\" stays"
            )),
        }
        line.push_str(match self.rust_log {
            Some(_) => "; tracing events filtered by RUST_LOG",
            None => "; tracing events at [logger] level",
        });
        line
    }
}

/// The level the directives give the target `andon`: the directive with the longest target
/// that is a prefix of `andon` (as `EnvFilter` matches targets), else the bare level.
/// Directives with span or field filters (`[span]=debug`) do not apply to andon's records.
fn andon_level(text: &str) -> Option<LogLevel> {
    let mut best: Option<(usize, Option<Level>)> = None;
    for directive in text.split(',').map(str::trim) {
        if directive.is_empty() || directive.contains('[') {
            continue;
        }
        let (target, level) = match directive.split_once('=') {
            Some((target, level)) => (target.trim(), parse_level(level.trim())),
            None => match parse_level(directive) {
                Some(level) => ("", Some(level)),
                // A bare target enables everything under it.
                None => (directive, Some(Some(Level::TRACE))),
            },
        };
        let Some(level) = level else { continue };
        if !ANDON_TARGET.starts_with(target) {
            continue;
        }
        if best.is_none_or(|(len, _)| target.len() >= len) {
            best = Some((target.len(), level));
        }
    }
    best.map(|(_, level)| match level {
        Some(level) => from_tracing_level(level),
        // `off` for andon: RED signals are still written.
        None => LogLevel::Critical,
    })
}

/// `Some(None)` for `off`, `Some(Some(level))` for a level, `None` when not a level.
fn parse_level(text: &str) -> Option<Option<Level>> {
    match text.to_ascii_lowercase().as_str() {
        "off" => Some(None),
        "error" | "1" => Some(Some(Level::ERROR)),
        "warn" | "2" => Some(Some(Level::WARN)),
        "info" | "3" => Some(Some(Level::INFO)),
        "debug" | "4" => Some(Some(Level::DEBUG)),
        "trace" | "5" => Some(Some(Level::TRACE)),
        _ => None,
    }
}

/// ERROR→CRITICAL, WARN→WARNING, INFO→INFO, DEBUG and TRACE→DEBUG.
pub(crate) fn from_tracing_level(level: Level) -> LogLevel {
    if level == Level::ERROR {
        LogLevel::Critical
    } else if level == Level::WARN {
        LogLevel::Warning
    } else if level == Level::INFO {
        LogLevel::Info
    } else {
        LogLevel::Debug
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(rust_log: &str) -> Option<LogLevel> {
        LogDirectives::from_values(None, Some(rust_log))
            .expect("parses")
            .expect("set")
            .andon_level()
    }

    #[test]
    fn the_level_for_andon_follows_envfilter_target_matching() {
        assert_eq!(level("debug"), Some(LogLevel::Debug));
        assert_eq!(level("trace"), Some(LogLevel::Debug));
        assert_eq!(level("warn"), Some(LogLevel::Warning));
        assert_eq!(level("error"), Some(LogLevel::Critical));
        assert_eq!(level("warn,andon=debug"), Some(LogLevel::Debug));
        assert_eq!(level("andon=info,warn"), Some(LogLevel::Info));
        assert_eq!(level("my_crate=debug"), None);
        assert_eq!(level("andon"), Some(LogLevel::Debug));
        assert_eq!(level("[request]=debug"), None);
        // `off` keeps CRITICAL: a RED is never silenced.
        assert_eq!(level("andon=off"), Some(LogLevel::Critical));
    }

    #[test]
    fn andon_log_wins_for_andons_level_and_blank_values_are_unset() {
        let d = LogDirectives::from_values(Some("info"), Some("debug"))
            .expect("parses")
            .expect("set");
        assert_eq!(d.level_source(), Some("ANDON_LOG"));
        assert_eq!(d.andon_level(), Some(LogLevel::Info));
        assert_eq!(d.tracing_level(), Some(LogLevel::Debug));
        let d = LogDirectives::from_values(Some("other=trace"), Some("warn"))
            .expect("parses")
            .expect("set");
        assert_eq!(d.level_source(), Some("RUST_LOG"));
        assert_eq!(d.andon_level(), Some(LogLevel::Warning));
        let d = LogDirectives::from_values(Some("  "), Some("debug"))
            .expect("parses")
            .expect("set");
        assert_eq!(d.andon_log(), None);
        let d = LogDirectives::from_values(Some("debug"), None)
            .expect("parses")
            .expect("set");
        assert_eq!(d.tracing_level(), None);
        assert!(d.event_filter().is_none());
        assert_eq!(
            LogDirectives::from_values(None, Some("")).expect("ok"),
            None
        );
        assert_eq!(LogDirectives::from_values(None, None).expect("ok"), None);
    }

    #[test]
    fn a_bad_directive_is_an_error_naming_the_variable() {
        let err = LogDirectives::from_values(None, Some("my_crate=loud")).expect_err("not a level");
        let text = err.to_string();
        assert!(text.contains("RUST_LOG"), "{text}");
        assert!(text.contains("target=level"), "{text}");
        let err =
            LogDirectives::from_values(Some("andon=loud"), Some("debug")).expect_err("not a level");
        assert!(err.to_string().contains("ANDON_LOG"), "{err}");
    }

    #[test]
    fn apply_overrides_the_configured_level_and_says_so() {
        let mut config = LoggerConfig::default();
        let d = LogDirectives::from_values(None, Some("debug"))
            .expect("parses")
            .expect("set");
        let line = d.apply(&mut config);
        assert_eq!(config.level, LogLevel::Debug);
        assert!(
            line.contains("RUST_LOG=\"debug\": RUST_LOG overrides [logger] level = \"INFO\""),
            "{line}"
        );
        let mut config = LoggerConfig::default();
        let d = LogDirectives::from_values(None, Some("my_crate=trace"))
            .expect("parses")
            .expect("set");
        let line = d.apply(&mut config);
        assert_eq!(config.level, LogLevel::Info);
        assert!(line.contains("stays"), "{line}");
    }
}
