//! `RUST_LOG` and `ANDON_LOG`: [`LogDirectives`], read once at start-up, set andon's own level
//! and filter `tracing` events by target with `tracing-subscriber`'s `EnvFilter` syntax.

use std::fmt;

use andon_core::config::LoggerConfig;
use andon_core::{ConfigError, LogLevel};
use tracing_core::Level;
use tracing_subscriber::EnvFilter;

use crate::error::LogError;

/// The target andon's own records (signals, `logger.info(..)`, the alert manager's entries)
/// are matched as by a directive: `andon=debug` or a bare `debug` sets their level.
pub const ANDON_TARGET: &str = "andon";

/// Directives from `ANDON_LOG` (andon alone) or else `RUST_LOG`, in `EnvFilter` syntax
/// (`warn,my_crate=debug,andon=info`).
///
/// When set, they override `[logger] level` for andon's own records (the level a directive
/// gives the target `andon`, or the bare default level; `[logger] level` stays when neither
/// names one) and filter the `tracing` events that
/// [`AndonLogger::tracing_layer`](crate::AndonLogger::tracing_layer) writes. A level of `off`
/// for andon keeps CRITICAL: a RED signal is never silenced by an environment variable.
///
/// ```
/// use andon_log::{LogDirectives, LogLevel};
///
/// let d = LogDirectives::from_values(None, Some("warn,andon=debug"))?.expect("set");
/// assert_eq!(d.source(), "RUST_LOG");
/// assert_eq!(d.andon_level(), Some(LogLevel::Debug));
/// // ANDON_LOG wins over RUST_LOG, for andon alone.
/// let d = LogDirectives::from_values(Some("error"), Some("debug"))?.expect("set");
/// assert_eq!((d.source(), d.andon_level()), ("ANDON_LOG", Some(LogLevel::Critical)));
/// # Ok::<(), andon_log::LogError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LogDirectives {
    source: &'static str,
    text: String,
    andon_level: Option<LogLevel>,
}

impl fmt::Debug for LogDirectives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogDirectives")
            .field("source", &self.source)
            .field("text", &self.text)
            .field("andon_level", &self.andon_level)
            .finish()
    }
}

impl LogDirectives {
    /// Reads `ANDON_LOG`, then `RUST_LOG`; a thin wrapper over [`from_values`](Self::from_values).
    ///
    /// # Errors
    ///
    /// As [`from_values`](Self::from_values).
    pub fn from_env() -> Result<Option<Self>, LogError> {
        let andon = std::env::var("ANDON_LOG").ok();
        let rust = std::env::var("RUST_LOG").ok();
        Self::from_values(andon.as_deref(), rust.as_deref())
    }

    /// The directives of `andon_log` (`ANDON_LOG`) when set and not blank, else of `rust_log`
    /// (`RUST_LOG`); `None` when neither is.
    ///
    /// # Errors
    ///
    /// [`LogError::Config`] naming the variable when a directive does not parse.
    pub fn from_values(
        andon_log: Option<&str>,
        rust_log: Option<&str>,
    ) -> Result<Option<Self>, LogError> {
        let (source, text) = match (andon_log, rust_log) {
            (Some(a), _) if !a.trim().is_empty() => ("ANDON_LOG", a.trim()),
            (_, Some(r)) if !r.trim().is_empty() => ("RUST_LOG", r.trim()),
            _ => return Ok(None),
        };
        EnvFilter::builder().parse(text).map_err(|e| {
            ConfigError::new(
                source,
                format!(
                    "{e} in {text:?}: write directives as `level` or `target=level` separated by commas, such as `warn,my_crate=debug`"
                ),
            )
        })?;
        Ok(Some(LogDirectives {
            source,
            text: text.to_owned(),
            andon_level: andon_level(text),
        }))
    }

    /// Which variable they came from: `"ANDON_LOG"` or `"RUST_LOG"`.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The directives as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The level they give andon's own records, or `None` when no directive names `andon`
    /// and none is a bare level (then `[logger] level` stays).
    pub fn andon_level(&self) -> Option<LogLevel> {
        self.andon_level
    }

    /// The lowest level any directive lets `tracing` events in at (`EnvFilter`'s max level
    /// hint), so that the sinks take them even below andon's own level; `None` for `off`.
    pub fn tracing_level(&self) -> Option<LogLevel> {
        let hint = self.env_filter().max_level_hint()?;
        hint.into_level().map(from_tracing_level)
    }

    /// A fresh `EnvFilter` of these directives, for the `tracing` layer.
    pub fn env_filter(&self) -> EnvFilter {
        EnvFilter::builder().parse_lossy(&self.text)
    }

    /// Sets `config.level` from [`andon_level`](Self::andon_level) and returns the line that
    /// says so, once, at start-up.
    pub fn apply(&self, config: &mut LoggerConfig) -> String {
        match self.andon_level {
            Some(level) if level != config.level => {
                let was = config.level;
                config.level = level;
                format!(
                    "andon: {}={:?} overrides [logger] level = \"{was}\": andon's records at {level} and above; tracing events filtered by it",
                    self.source, self.text
                )
            }
            Some(level) => format!(
                "andon: {}={:?}: andon's records at {level} and above; tracing events filtered by it",
                self.source, self.text
            ),
            None => format!(
                "andon: {}={:?} names no level for andon: [logger] level = \"{}\" stays; tracing events filtered by it",
                self.source, self.text, config.level
            ),
        }
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
    fn andon_log_wins_and_blank_values_are_unset() {
        let d = LogDirectives::from_values(Some("info"), Some("debug"))
            .expect("parses")
            .expect("set");
        assert_eq!(d.source(), "ANDON_LOG");
        assert_eq!(d.andon_level(), Some(LogLevel::Info));
        let d = LogDirectives::from_values(Some("  "), Some("debug"))
            .expect("parses")
            .expect("set");
        assert_eq!(d.source(), "RUST_LOG");
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
            line.contains("RUST_LOG=\"debug\" overrides [logger] level"),
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
