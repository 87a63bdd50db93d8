//! What the andon-log benches share: the logger they measure, writing JSON to one rotated file.

use std::path::Path;

use andon_core::config::{LoggerConfig, OverflowPolicy, SinkConfig};
use andon_log::{AndonLogger, LogLevel};

/// A logger at INFO, unsampled, with a large blocking queue, writing to one `File` sink at
/// `path` (JSON, the default layout).
pub(crate) fn file_logger(path: &Path) -> AndonLogger {
    AndonLogger::new(LoggerConfig {
        level: LogLevel::Info,
        sampling_enabled: false,
        queue_capacity: 65_536,
        overflow: OverflowPolicy::Block,
        sinks: vec![SinkConfig::File {
            path: path.to_owned(),
            // Rotation keeps the disk use of a long run bounded.
            max_bytes: 256 * 1024 * 1024,
            keep: 1,
            level: None,
        }],
        ..LoggerConfig::default()
    })
    .unwrap()
}
