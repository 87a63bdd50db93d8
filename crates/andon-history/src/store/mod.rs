//! [`SqliteHistory`]: the history in an embedded SQLite database. The store's handle and its
//! [`HistoryStore`] side live here; opening (`open`), the writer thread (`worker`), the rows
//! it writes (`write`) and retention (`retention`) each have a room of their own.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use andon_core::config::HistoryConfig;
use andon_core::{AndonError, HistoryRecord, HistoryStore, async_trait};
use rusqlite::Connection;

use crate::error::HistoryError;
pub use crate::queue::HistoryStats;
use crate::queue::Intake;

mod open;
mod retention;
mod worker;
mod write;

pub use open::SqliteHistoryBuilder;
pub use retention::RetentionReport;

/// How often retention runs in the background by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// How long the writer waits for a lock held by another connection before counting the batch
/// as failed, by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The path that keeps the history in memory only.
pub const MEMORY: &str = ":memory:";

/// The clock retention reads ([`SqliteHistoryBuilder::with_clock`]); tests pass their own, a
/// [`ManualClock`] or any `Fn() -> SystemTime` closure. andon-runtime's, shared with the alert
/// manager.
pub use andon_runtime::{Clock, ManualClock, SystemClock};

/// The history in an embedded SQLite database (WAL mode), written by a background thread.
///
/// [`record`](HistoryStore::record) only enqueues: a full queue, a shut-down store or a failing
/// database is counted ([`stats`](SqliteHistory::stats), and `andon_history_dropped_total` with
/// a metrics sink) and never blocks or fails the caller. The writer commits up to `batch_size`
/// records per transaction; [`flush`](HistoryStore::flush) waits until everything accepted
/// before it has been processed, [`shutdown`](HistoryStore::shutdown) also stops the thread.
/// Retention by age and row count runs in the background every minute.
///
/// Cloning is cheap and every clone is the same store.
#[derive(Clone)]
pub struct SqliteHistory {
    inner: Arc<Inner>,
}

struct Inner {
    path: String,
    config: HistoryConfig,
    intake: Intake,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteHistory")
            .field("path", &self.inner.path)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SqliteHistory {
    /// Opens the file at `path` with the other settings at their defaults.
    pub fn open(path: impl Into<String>) -> Result<Self, HistoryError> {
        let config = HistoryConfig {
            enabled: true,
            path: path.into(),
            ..HistoryConfig::default()
        };
        Self::builder(&config).open()
    }

    /// A store in memory only, gone when dropped: the same code on SQLite's `:memory:`.
    pub fn in_memory() -> Result<Self, HistoryError> {
        Self::open(MEMORY)
    }

    /// The database file (or `:memory:`).
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// What the store did so far.
    pub fn stats(&self) -> HistoryStats {
        self.inner.intake.stats()
    }

    /// Why the last failed transaction failed.
    pub fn last_error(&self) -> Option<String> {
        self.inner.intake.last_error()
    }

    /// Runs retention now, as the background does, with `now` as the present: deletes rows
    /// older than `retention_age`, then the oldest rows beyond `retention_rows` per table.
    pub fn enforce_retention(&self, now: SystemTime) -> Result<RetentionReport, HistoryError> {
        let mut connection = lock(&self.inner.writer);
        let report = retention::retain(&mut connection, &self.inner.config, now)?;
        self.inner.intake.add_retention_deleted(report.total());
        Ok(report)
    }

    /// The connection queries read through.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        lock(&self.inner.reader)
    }
}

/// A poisoned lock still holds a usable connection: SQLite rolled back whatever was open.
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    andon_runtime::lock(connection)
}

#[async_trait]
impl HistoryStore for SqliteHistory {
    fn record(&self, record: HistoryRecord) {
        self.inner.intake.record(record);
    }

    async fn flush(&self) -> Result<(), AndonError> {
        Ok(self.inner.intake.flush().await?)
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        Ok(self.inner.intake.shutdown().await?)
    }
}

/// Milliseconds since the Unix epoch (0 for times before it).
pub(crate) fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time `ms` milliseconds after the Unix epoch.
pub(crate) fn from_millis(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}
