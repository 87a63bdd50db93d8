//! The slog side: [`AndonDrain`] puts slog records through the andon pipeline.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use andon_core::LogLevel;

use crate::format::{Entry, Loc, Msg};
use crate::pipeline::{Core, Guard};

/// A slog [`Drain`](slog::Drain) that filters, samples, formats and queues records exactly as
/// [`AndonLogger`](crate::AndonLogger) does, so slog code and andon share sinks and counters.
///
/// Record key-values come first, then the logger's (`o!`) values, as slog-json writes them. A
/// CRITICAL (or slog `Error`) record blocks the logging thread until it is written.
///
/// slog compiles `debug!` and `trace!` out of release builds unless its
/// `release_max_level_debug` (or `_trace`) feature is on; andon's own methods have no such limit.
#[derive(Debug, Clone)]
pub struct AndonDrain {
    core: Arc<Core>,
    _guard: Arc<Guard>,
}

// A panic in a caller's key-value leaves the pipeline consistent: its locks tolerate poisoning
// and the record is not half-queued, so the drain is safe to use after one.
impl std::panic::RefUnwindSafe for AndonDrain {}
impl std::panic::UnwindSafe for AndonDrain {}

impl AndonDrain {
    pub(crate) fn new(core: Arc<Core>, guard: Arc<Guard>) -> Self {
        AndonDrain {
            core,
            _guard: guard,
        }
    }
}

/// slog levels as andon levels: `Critical` and `Error` are CRITICAL, `Trace` is DEBUG.
pub(crate) fn from_slog_level(level: slog::Level) -> LogLevel {
    match level {
        slog::Level::Critical | slog::Level::Error => LogLevel::Critical,
        slog::Level::Warning => LogLevel::Warning,
        slog::Level::Info => LogLevel::Info,
        slog::Level::Debug | slog::Level::Trace => LogLevel::Debug,
    }
}

/// andon levels as slog levels.
pub(crate) fn to_slog_level(level: LogLevel) -> slog::Level {
    match level {
        LogLevel::Critical => slog::Level::Critical,
        LogLevel::Warning => slog::Level::Warning,
        LogLevel::Info => slog::Level::Info,
        LogLevel::Debug => slog::Level::Debug,
    }
}

impl slog::Drain for AndonDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<Self::Ok, Self::Err> {
        let kv = |s: &mut dyn slog::Serializer| {
            slog::KV::serialize(&record.kv(), record, s)?;
            slog::KV::serialize(values, record, s)
        };
        let entry = Entry {
            level: from_slog_level(record.level()),
            time: SystemTime::now(),
            message: Msg::Args(record.msg()),
            component: self.core.component.as_deref(),
            signal: None,
            location: Some(Loc {
                file: record.file(),
                line: record.line(),
                function: record.module(),
            }),
            fields: &[],
            kv: Some(&kv),
            sampled: true,
            tracing: false,
        };
        // A dropped record is counted; slog has no way to tell the caller.
        let _ = self.core.submit_blocking(&entry);
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        self.core.accepts_own(from_slog_level(level))
    }

    fn flush(&self) -> Result<(), slog::FlushError> {
        let target = self.core.queue.accepted();
        self.core
            .queue
            .wait_blocking(target, crate::queue::Bound::Progress)
            .map_err(|e| slog::FlushError::Io(io::Error::other(e)))
    }
}
