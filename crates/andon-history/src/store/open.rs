//! Opening a [`SqliteHistory`]: the builder, the connections (WAL, a private file) and the
//! writer thread's start.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::MetricsSink;
use andon_core::config::HistoryConfig;
use rusqlite::Connection;

use super::worker::Worker;
use super::{
    Clock, DEFAULT_BUSY_TIMEOUT, DEFAULT_RETENTION_INTERVAL, Inner, MEMORY, SqliteHistory,
    SystemClock,
};
use crate::error::HistoryError;
use crate::queue::Intake;
use crate::schema;

/// Builds a [`SqliteHistory`] from a `[history]` section.
#[must_use]
pub struct SqliteHistoryBuilder {
    config: HistoryConfig,
    metrics: Option<Arc<dyn MetricsSink>>,
    clock: Arc<dyn Clock>,
    retention_interval: Duration,
    busy_timeout: Duration,
}

impl std::fmt::Debug for SqliteHistoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteHistoryBuilder")
            .field("config", &self.config)
            .field("retention_interval", &self.retention_interval)
            .finish_non_exhaustive()
    }
}

impl SqliteHistoryBuilder {
    /// Counts drops, writes and failures as `andon_history_*` metrics in `sink`.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// The clock background retention reads (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How often retention runs in the background (default [`DEFAULT_RETENTION_INTERVAL`]).
    pub fn with_retention_interval(mut self, interval: Duration) -> Self {
        self.retention_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a write waits for another connection's lock (default [`DEFAULT_BUSY_TIMEOUT`]).
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens (creating and migrating) the database and starts the writer thread.
    pub fn open(self) -> Result<SqliteHistory, HistoryError> {
        let SqliteHistoryBuilder {
            config,
            metrics,
            clock,
            retention_interval,
            busy_timeout,
        } = self;
        let path = config.path.clone();
        let memory = path == MEMORY;
        let mut writer = open_connection(&path, busy_timeout, false)?;
        schema::migrate(&mut writer, &path)?;
        let writer = Arc::new(Mutex::new(writer));
        let reader = if memory {
            Arc::clone(&writer)
        } else {
            Arc::new(Mutex::new(open_connection(&path, busy_timeout, true)?))
        };
        let (intake, ends) = Intake::new(&config, metrics);
        let worker = Worker {
            ends,
            connection: Arc::clone(&writer),
            clock: Arc::clone(&clock),
            config: config.clone(),
            retention_interval,
        };
        intake
            .start_writer("andon-history", move || worker.run())
            .map_err(|e| HistoryError::Open {
                path: path.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(SqliteHistory {
            inner: Arc::new(Inner {
                path,
                config,
                intake,
                writer,
                reader,
            }),
        })
    }
}

impl SqliteHistory {
    /// A builder for the `[history]` section `config` (its `enabled` flag is the caller's
    /// business).
    pub fn builder(config: &HistoryConfig) -> SqliteHistoryBuilder {
        SqliteHistoryBuilder {
            config: config.clone(),
            metrics: None,
            clock: Arc::new(SystemClock),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

fn open_connection(
    path: &str,
    busy_timeout: Duration,
    read_only: bool,
) -> Result<Connection, HistoryError> {
    let open = |source| HistoryError::Open {
        path: path.to_owned(),
        source,
    };
    let connection = if path == MEMORY {
        Connection::open_in_memory().map_err(open)?
    } else {
        if !read_only {
            create_private(path).map_err(|e| HistoryError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        }
        Connection::open(path).map_err(open)?
    };
    connection.busy_timeout(busy_timeout).map_err(open)?;
    if !read_only && path != MEMORY {
        let mode: String = connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(HistoryError::Open {
                path: path.to_owned(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal_mode is {mode}, WAL could not be set"
                )),
            });
        }
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(open)?;
        // A 32 MiB page cache and fewer, larger checkpoints: the writer appends in batches.
        connection
            .pragma_update(None, "cache_size", -32_768)
            .map_err(open)?;
        connection
            .pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(open)?;
    }
    if read_only {
        connection
            .pragma_update(None, "query_only", true)
            .map_err(open)?;
    }
    connection.set_prepared_statement_cache_capacity(32);
    Ok(connection)
}

/// Creates the database file, when it does not exist yet, readable and writable by its owner
/// only (`0600`): it holds every signal's message and attributes. SQLite gives the `-wal` and
/// `-shm` files it creates beside it the same mode. An existing file keeps its mode; a SQLite
/// URI (`file:...`) is left to SQLite.
fn create_private(path: &str) -> std::io::Result<()> {
    if path.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
