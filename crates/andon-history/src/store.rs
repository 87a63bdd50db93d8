//! [`SqliteHistory`]: the bounded queue, the background writer that batches transactions, and
//! retention.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use andon_core::config::HistoryConfig;
use andon_core::{
    AlertEventKind, AndonError, HistoryRecord, HistoryStore, LineEvent, MetricsSink, async_trait,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use tokio::sync::watch;

use crate::error::HistoryError;
use crate::fingerprint::fingerprint;
pub use crate::queue::HistoryStats;
use crate::queue::{Counters, DROPPED_TOTAL, Message, WRITTEN_TOTAL, wait_processed};
use crate::schema::{self, HOUR_MS, TABLES};

/// How often retention runs in the background by default.
pub const DEFAULT_RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// How long the writer waits for a lock held by another connection before counting the batch
/// as failed, by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The path that keeps the history in memory only.
pub const MEMORY: &str = ":memory:";

/// The clock retention reads; tests pass their own.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Rows deleted by one retention pass, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// From `signals`.
    pub signals: u64,
    /// From `alert_events`.
    pub alert_events: u64,
    /// From `line_events`.
    pub line_events: u64,
    /// From `diagnostics`.
    pub diagnostics: u64,
    /// From `heartbeats`.
    pub heartbeats: u64,
}

impl RetentionReport {
    /// Every row deleted.
    pub fn total(&self) -> u64 {
        self.signals + self.alert_events + self.line_events + self.diagnostics + self.heartbeats
    }
}

/// Builds a [`SqliteHistory`] from a `[history]` section.
#[must_use]
pub struct SqliteHistoryBuilder {
    config: HistoryConfig,
    metrics: Option<Arc<dyn MetricsSink>>,
    clock: Clock,
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
    pub fn with_clock(mut self, clock: Clock) -> Self {
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
        if let Some(sink) = &metrics {
            sink.describe(WRITTEN_TOTAL, "history records committed to the database");
            sink.describe(
                DROPPED_TOTAL,
                "history records lost before the database: queue_full, closed or failed",
            );
        }
        let counters = Arc::new(Counters::default());
        let (sender, receiver) = mpsc::sync_channel(config.queue_capacity.max(1));
        let (processed_tx, processed) = watch::channel(0_u64);
        let worker = Worker {
            receiver,
            connection: Arc::clone(&writer),
            counters: Arc::clone(&counters),
            processed: processed_tx,
            metrics: metrics.clone(),
            clock: Arc::clone(&clock),
            config: config.clone(),
            retention_interval,
        };
        let thread = std::thread::Builder::new()
            .name("andon-history".into())
            .spawn(move || worker.run())
            .map_err(|e| HistoryError::Open {
                path: path.clone(),
                source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
            })?;
        Ok(SqliteHistory {
            inner: Arc::new(Inner {
                path,
                config,
                sender,
                counters,
                processed,
                closed: AtomicBool::new(false),
                writer,
                reader,
                thread: Mutex::new(Some(thread)),
                metrics,
            }),
        })
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
    sender: SyncSender<Message>,
    counters: Arc<Counters>,
    processed: watch::Receiver<u64>,
    closed: AtomicBool,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    metrics: Option<Arc<dyn MetricsSink>>,
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
    /// A builder for the `[history]` section `config` (its `enabled` flag is the caller's
    /// business).
    pub fn builder(config: &HistoryConfig) -> SqliteHistoryBuilder {
        SqliteHistoryBuilder {
            config: config.clone(),
            metrics: None,
            clock: Arc::new(SystemTime::now),
            retention_interval: DEFAULT_RETENTION_INTERVAL,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }

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
        self.inner.counters.stats()
    }

    /// Why the last failed transaction failed.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .counters
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone())
    }

    /// Runs retention now, as the background does, with `now` as the present: deletes rows
    /// older than `retention_age`, then the oldest rows beyond `retention_rows` per table.
    pub fn enforce_retention(&self, now: SystemTime) -> Result<RetentionReport, HistoryError> {
        let mut connection = lock(&self.inner.writer);
        let report = retain(&mut connection, &self.inner.config, now)?;
        self.inner
            .counters
            .retention_deleted
            .fetch_add(report.total(), Ordering::Relaxed);
        Ok(report)
    }

    /// The connection queries read through.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        lock(&self.inner.reader)
    }

    async fn wait_processed(&self, target: u64) -> Result<(), HistoryError> {
        wait_processed(&self.inner.processed, target).await
    }
}

/// A poisoned lock still holds a usable connection: SQLite rolled back whatever was open.
fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl HistoryStore for SqliteHistory {
    fn record(&self, record: HistoryRecord) {
        self.inner.counters.offer(
            &self.inner.sender,
            &self.inner.closed,
            self.inner.config.max_queue_bytes,
            self.inner.metrics.as_ref(),
            record,
        );
    }

    async fn flush(&self) -> Result<(), AndonError> {
        let target = self.inner.counters.accepted.load(Ordering::Acquire);
        self.wait_processed(target).await.map_err(AndonError::from)
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let target = self.inner.counters.accepted.load(Ordering::Acquire);
        let flushed = self.wait_processed(target).await;
        let sender = self.inner.sender.clone();
        let thread = self.inner.thread.lock().ok().and_then(|mut t| t.take());
        let stop = move || {
            let _ = sender.send(Message::Stop);
            if let Some(thread) = thread {
                let _ = thread.join();
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let _ = runtime.spawn_blocking(stop).await;
            }
            Err(_) => stop(),
        }
        flushed.map_err(AndonError::from)
    }
}

/// The writer thread's state.
struct Worker {
    receiver: Receiver<Message>,
    connection: Arc<Mutex<Connection>>,
    counters: Arc<Counters>,
    processed: watch::Sender<u64>,
    metrics: Option<Arc<dyn MetricsSink>>,
    clock: Clock,
    config: HistoryConfig,
    retention_interval: Duration,
}

impl Worker {
    fn run(self) {
        let batch_size = self.config.batch_size.max(1);
        let mut batch: Vec<HistoryRecord> = Vec::with_capacity(batch_size);
        let mut next_retention = Instant::now() + self.retention_interval;
        let mut stop = false;
        while !stop {
            let wait = next_retention.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(wait) {
                Ok(Message::Record(record, bytes)) => {
                    self.counters
                        .queued_bytes
                        .fetch_sub(bytes, Ordering::AcqRel);
                    batch.push(record);
                }
                Ok(Message::Stop) => stop = true,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => stop = true,
            }
            while !stop && batch.len() < batch_size {
                match self.receiver.try_recv() {
                    Ok(Message::Record(record, bytes)) => {
                        self.counters
                            .queued_bytes
                            .fetch_sub(bytes, Ordering::AcqRel);
                        batch.push(record);
                    }
                    Ok(Message::Stop) => stop = true,
                    Err(_) => break,
                }
            }
            if !batch.is_empty() {
                self.write(&mut batch);
            }
            if Instant::now() >= next_retention {
                self.retain();
                next_retention = Instant::now() + self.retention_interval;
            }
        }
        // Records that raced with the stop: lost, counted as failed so that nobody waits on them.
        let mut late = 0;
        while let Ok(message) = self.receiver.try_recv() {
            if let Message::Record(_, bytes) = message {
                self.counters
                    .queued_bytes
                    .fetch_sub(bytes, Ordering::AcqRel);
                late += 1;
            }
        }
        if late > 0 {
            self.counters.failed.fetch_add(late, Ordering::Relaxed);
            if let Some(sink) = &self.metrics {
                sink.add_counter(DROPPED_TOTAL, &[("reason", "closed")], late);
            }
        }
        self.processed.send_modify(|done| *done += late);
    }

    fn write(&self, batch: &mut Vec<HistoryRecord>) {
        let count = batch.len() as u64;
        let result = {
            let mut connection = lock(&self.connection);
            write_batch(&mut connection, batch)
        };
        batch.clear();
        match result {
            Ok(()) => {
                self.counters.written.fetch_add(count, Ordering::Relaxed);
                if let Some(sink) = &self.metrics {
                    sink.add_counter(WRITTEN_TOTAL, &[], count);
                }
            }
            Err(error) => {
                self.counters.failed.fetch_add(count, Ordering::Relaxed);
                self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.counters.last_error.lock() {
                    *last = Some(error.to_string());
                }
                if let Some(sink) = &self.metrics {
                    sink.add_counter(DROPPED_TOTAL, &[("reason", "failed")], count);
                }
            }
        }
        self.processed.send_modify(|done| *done += count);
    }

    fn retain(&self) {
        let mut connection = lock(&self.connection);
        match retain(&mut connection, &self.config, (self.clock)()) {
            Ok(report) => {
                self.counters
                    .retention_deleted
                    .fetch_add(report.total(), Ordering::Relaxed);
            }
            Err(error) => {
                if let Ok(mut last) = self.counters.last_error.lock() {
                    *last = Some(format!("retention: {error}"));
                }
            }
        }
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

/// Signals per multi-row `INSERT`: fewer statements, the same rows (about 1.5 times the rate of
/// one row per statement).
const SIGNALS_PER_INSERT: usize = 16;

/// One signal's row, borrowed from its record where it can be.
struct SignalRow<'a> {
    id: String,
    at: i64,
    color: &'static str,
    component: Option<&'a str>,
    message: &'a str,
    fingerprint: String,
    trace_id: Option<&'a str>,
    attributes: Option<String>,
}

impl<'a> SignalRow<'a> {
    fn new(signal: &'a andon_core::AndonSignal) -> Self {
        SignalRow {
            id: signal.id().to_string(),
            at: millis(signal.timestamp()),
            color: signal.color().as_str(),
            component: signal.component(),
            message: signal.message(),
            fingerprint: fingerprint(signal.message()),
            trace_id: signal.trace_id(),
            attributes: (!signal.attributes().is_empty())
                .then(|| serde_json::to_string(signal.attributes()).ok())
                .flatten(),
        }
    }
}

/// One heartbeat event's columns, shared by both backends.
pub(crate) struct HeartbeatRow {
    pub(crate) at: i64,
    pub(crate) kind: &'static str,
    pub(crate) status: Option<&'static str>,
    pub(crate) last_check_in: Option<i64>,
    pub(crate) every: Option<i64>,
}

impl HeartbeatRow {
    pub(crate) fn new(event: &andon_core::heartbeat::HeartbeatEvent) -> Self {
        use andon_core::heartbeat::HeartbeatEventKind;
        let at = millis(event.at);
        match &event.kind {
            HeartbeatEventKind::CheckIn { status } => HeartbeatRow {
                at,
                kind: "check_in",
                status: Some(status.as_str()),
                last_check_in: None,
                every: None,
            },
            HeartbeatEventKind::Missed {
                last_check_in,
                every,
            } => HeartbeatRow {
                at,
                kind: "missed",
                status: None,
                last_check_in: last_check_in.map(millis),
                every: Some(i64::try_from(every.as_millis()).unwrap_or(i64::MAX)),
            },
        }
    }
}

fn insert_signals(tx: &Transaction<'_>, rows: &[SignalRow<'_>]) -> rusqlite::Result<()> {
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
    let mut statement = tx.prepare_cached(&format!(
        "INSERT INTO signals (id, at_ms, color, component, message, fingerprint, trace_id, attributes) VALUES {values}"
    ))?;
    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(rows.len() * 8);
    for row in rows {
        params.extend([
            &row.id as &dyn rusqlite::ToSql,
            &row.at,
            &row.color,
            &row.component,
            &row.message,
            &row.fingerprint,
            &row.trace_id,
            &row.attributes,
        ]);
    }
    statement.execute(params.as_slice())?;
    Ok(())
}

fn write_batch(connection: &mut Connection, batch: &[HistoryRecord]) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let mut signals = Vec::with_capacity(batch.len());
    for record in batch {
        match record {
            HistoryRecord::Signal(signal) => signals.push(SignalRow::new(signal)),
            other => write_record(&transaction, other)?,
        }
    }
    for chunk in signals.chunks(SIGNALS_PER_INSERT) {
        insert_signals(&transaction, chunk)?;
    }
    // The batch's signals per (hour, color, component, fingerprint), for `signal_counts`.
    let mut counts: HashMap<(i64, &str, &str, &str), i64> = HashMap::new();
    for row in &signals {
        *counts
            .entry((
                row.at.div_euclid(HOUR_MS),
                row.color,
                row.component.unwrap_or("unknown"),
                row.fingerprint.as_str(),
            ))
            .or_insert(0) += 1;
    }
    {
        let mut upsert = transaction.prepare_cached(
            "INSERT INTO signal_counts (hour, color, component, fingerprint, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (hour, color, component, fingerprint) DO UPDATE SET n = n + excluded.n",
        )?;
        for ((hour, color, component, fingerprint), n) in &counts {
            upsert.execute(params![hour, color, component, fingerprint, n])?;
        }
    }
    transaction.commit()
}

/// Writes one record other than a signal.
fn write_record(tx: &Transaction<'_>, record: &HistoryRecord) -> rusqlite::Result<()> {
    match record {
        HistoryRecord::Signal(signal) => insert_signals(tx, &[SignalRow::new(signal)])?,
        HistoryRecord::Alert(event) => {
            let (by, note, level) = match &event.kind {
                AlertEventKind::Acknowledged { by, note } => {
                    (Some(by.as_str()), Some(note.as_str()), None)
                }
                AlertEventKind::Escalated { level } => (None, None, Some(*level)),
                AlertEventKind::Fired | AlertEventKind::Resolved => (None, None, None),
            };
            tx.prepare_cached(
                "INSERT INTO alert_events (at_ms, fingerprint, rule, severity, component, trace_id, labels, summary, kind, by_whom, note, level)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                millis(event.at),
                event.fingerprint,
                event.rule,
                event.severity.as_str(),
                event.component,
                event.trace_id,
                serde_json::to_string(&event.labels).unwrap_or_else(|_| "{}".to_owned()),
                event.summary,
                event.kind.as_str(),
                by,
                note,
                level,
            ])?;
        }
        HistoryRecord::Line(event) => {
            let mut statement = tx.prepare_cached(
                "INSERT INTO line_events (at_ms, kind, signal_id, component, message, by_whom, note)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            match event {
                LineEvent::Stopped {
                    at,
                    signal,
                    component,
                    message,
                } => statement.execute(params![
                    millis(*at),
                    "stopped",
                    signal.to_string(),
                    component,
                    message,
                    None::<&str>,
                    None::<&str>,
                ])?,
                LineEvent::Resumed { at, by, note } => statement.execute(params![
                    millis(*at),
                    "resumed",
                    None::<&str>,
                    None::<&str>,
                    None::<&str>,
                    by,
                    note,
                ])?,
            };
        }
        HistoryRecord::Heartbeat(event) => {
            let row = HeartbeatRow::new(event);
            tx.prepare_cached(
                "INSERT INTO heartbeats (at_ms, name, component, kind, status, last_check_in_ms, every_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                row.at,
                event.name,
                event.component,
                row.kind,
                row.status,
                row.last_check_in,
                row.every,
            ])?;
        }
        HistoryRecord::Diagnostics { signal, report } => {
            tx.prepare_cached(
                "INSERT INTO diagnostics (at_ms, signal_id, health, summary, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                millis(report.taken_at),
                signal.to_string(),
                serde_json::to_value(report.health.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                report.summary,
                serde_json::to_string(report.as_ref()).unwrap_or_else(|_| "{}".to_owned()),
            ])?;
        }
    }
    Ok(())
}

fn retain(
    connection: &mut Connection,
    config: &HistoryConfig,
    now: SystemTime,
) -> Result<RetentionReport, HistoryError> {
    let mut deleted = [0_u64; 5];
    let cutoff = (!config.retention_age.is_zero())
        .then(|| now.checked_sub(config.retention_age))
        .flatten()
        .map(millis);
    let transaction = connection.transaction()?;
    for (table, deleted) in TABLES.iter().zip(deleted.iter_mut()) {
        if let Some(cutoff) = cutoff {
            *deleted += delete(&transaction, table, "at_ms < ?1", cutoff)?;
        }
        if config.retention_rows > 0 {
            let keep = i64::try_from(config.retention_rows).unwrap_or(i64::MAX);
            let first_kept: Option<i64> = transaction
                .prepare_cached(&format!(
                    "SELECT seq FROM {table} ORDER BY seq DESC LIMIT 1 OFFSET ?1"
                ))?
                .query_row([keep - 1], |row| row.get(0))
                .optional()?;
            if let Some(first_kept) = first_kept {
                *deleted += delete(&transaction, table, "seq < ?1", first_kept)?;
            }
        }
    }
    transaction.commit()?;
    Ok(RetentionReport {
        signals: deleted[0],
        alert_events: deleted[1],
        line_events: deleted[2],
        diagnostics: deleted[3],
        heartbeats: deleted[4],
    })
}

/// Deletes the rows of `table` where `condition` (on `?1`) holds; for signals, their counts
/// in `signal_counts` go first, so that the Pareto stays exact.
fn delete(tx: &Transaction<'_>, table: &str, condition: &str, value: i64) -> rusqlite::Result<u64> {
    if table == "signals" {
        tx.prepare_cached(&format!(
            "UPDATE signal_counts SET n = n - gone.d
             FROM (SELECT at_ms / {HOUR_MS} AS hour, color, COALESCE(component, 'unknown') AS component,
                          fingerprint, count(*) AS d
                   FROM signals WHERE {condition} GROUP BY 1, 2, 3, 4) AS gone
             WHERE signal_counts.hour = gone.hour AND signal_counts.color = gone.color
               AND signal_counts.component = gone.component
               AND signal_counts.fingerprint = gone.fingerprint"
        ))?
        .execute([value])?;
        tx.prepare_cached("DELETE FROM signal_counts WHERE n <= 0")?
            .execute([])?;
    }
    let n = tx
        .prepare_cached(&format!("DELETE FROM {table} WHERE {condition}"))?
        .execute([value])?;
    Ok(n as u64)
}
