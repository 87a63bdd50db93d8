//! The errors of andon-log.

use andon_core::ConfigError;

/// What can go wrong when creating a logger or handing it a record.
///
/// Sink failures (disk full, syslog down) are not errors of the caller: they are counted in
/// [`LogStats`](crate::LogStats), reported to stderr and retried, and the call succeeds.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The `[logger]` configuration is invalid; the message names the key and the fix.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The queue was full and the record (DEBUG or INFO under `overflow = "drop"`) was dropped
    /// and counted in `LogStats::dropped`.
    #[error(
        "log queue full: the record was dropped and counted; raise logger.queue_capacity or set logger.overflow = \"block\""
    )]
    QueueFull,

    /// The logger was shut down; the record was refused and counted as dropped.
    #[error("the logger is shut down: create a new AndonLogger to log again")]
    ShutDown,

    /// A sink is stuck (a stdout pipe nobody reads, a hung `/dev/log`): the writer has held one
    /// batch for `logger.stall_timeout`. A CRITICAL record that was not written in time stays
    /// queued and is counted in `LogStats::timed_out`; a record that found no room is counted in
    /// `LogStats::dropped`; a flush or shutdown stopped waiting. Later records do not wait while
    /// the writer stays stuck, and [`LogStats::stalled`](crate::LogStats::stalled) is true.
    #[error(
        "a log sink is stuck: the writer made no progress within {waited:?} (logger.stall_timeout), so the record is counted and the caller goes on; find the sink that stopped taking records (a stdout pipe nobody reads, a hung /dev/log)"
    )]
    Stalled {
        /// How long the writer had to make progress.
        waited: std::time::Duration,
    },

    /// The writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    Spawn(#[source] std::io::Error),

    /// The writer thread is gone, so delivery cannot be confirmed.
    #[error("the log writer thread stopped unexpectedly: records may not have been written")]
    WriterGone,

    /// A global `log` logger is already installed, so the bridge was not.
    #[error(
        "a global `log` logger is already installed: install the andon bridge before any other logger"
    )]
    LogBridgeTaken,
}

andon_core::impl_into_andon_error!(LogError, "log");

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::AndonError;

    #[test]
    fn errors_convert_into_andon_errors() {
        let e: AndonError = LogError::ShutDown.into();
        assert!(matches!(e, AndonError::ShutDown { component: "log" }));
        let e: AndonError = LogError::QueueFull.into();
        assert!(
            e.to_string().starts_with("andon log: log queue full"),
            "{e}"
        );
        let e: AndonError = LogError::Stalled {
            waited: std::time::Duration::from_secs(1),
        }
        .into();
        assert!(e.to_string().contains("logger.stall_timeout"), "{e}");
        let e: AndonError = LogError::Config(ConfigError::new("logger.sample_ratio", "bad")).into();
        assert!(matches!(e, AndonError::Config(_)));
    }
}
