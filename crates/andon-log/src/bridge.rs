//! The `log` crate side: [`LogBridge`] sends `log` records to andon's sinks.

use std::sync::Arc;

use andon_core::LogLevel;

use crate::error::LogError;
use crate::format::{Entry, Loc};
use crate::pipeline::{Core, Guard};

/// A [`log::Log`] that puts `log` records through the andon pipeline, with the record's target
/// as the `target` key-value. `Error` maps to CRITICAL, `Trace` to DEBUG.
#[derive(Debug, Clone)]
pub struct LogBridge {
    core: Arc<Core>,
    _guard: Arc<Guard>,
}

impl LogBridge {
    pub(crate) fn new(core: Arc<Core>, guard: Arc<Guard>) -> Self {
        LogBridge {
            core,
            _guard: guard,
        }
    }

    /// The `log` level filter matching the lowest level any sink takes.
    pub fn max_level(&self) -> log::LevelFilter {
        match self.core.min_level() {
            Some(LogLevel::Debug) => log::LevelFilter::Trace,
            Some(LogLevel::Info) => log::LevelFilter::Info,
            Some(LogLevel::Warning) => log::LevelFilter::Warn,
            Some(LogLevel::Critical) => log::LevelFilter::Error,
            None => log::LevelFilter::Off,
        }
    }

    /// Installs this bridge as the global `log` logger and sets the `log` max level.
    ///
    /// # Errors
    ///
    /// [`LogError::LogBridgeTaken`] when a global `log` logger is already installed.
    pub fn install(self) -> Result<(), LogError> {
        let max = self.max_level();
        log::set_boxed_logger(Box::new(self)).map_err(|_| LogError::LogBridgeTaken)?;
        log::set_max_level(max);
        Ok(())
    }
}

fn from_log_level(level: log::Level) -> LogLevel {
    match level {
        log::Level::Error => LogLevel::Critical,
        log::Level::Warn => LogLevel::Warning,
        log::Level::Info => LogLevel::Info,
        log::Level::Debug | log::Level::Trace => LogLevel::Debug,
    }
}

impl log::Log for LogBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.core.accepts_own(from_log_level(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        let target = record.target();
        let kv = |s: &mut dyn slog::Serializer| s.emit_str("target", target);
        let entry = Entry::bridged(
            from_log_level(record.level()),
            record.args(),
            self.core.component.as_deref(),
            Loc::reported(record.file(), record.line(), record.module_path()),
            &kv,
            false,
        );
        // A dropped record is counted; `log` has no way to tell the caller.
        let _ = self.core.submit_blocking(&entry);
    }

    fn flush(&self) {
        let target = self.core.queue.accepted();
        let _ = self
            .core
            .queue
            .wait_blocking(target, crate::queue::Bound::Progress);
    }
}
