//! The bounded queue in front of both history writers (SQLite's thread and PostgreSQL's):
//! andon-runtime's [`WorkQueue`] with a byte budget beside it. A record is admitted against the
//! budget and the queue's capacity, or counted as dropped, never waited for; the counters and
//! the `andon_history_*` metrics are shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::config::HistoryConfig;
use andon_core::{HistoryRecord, LineEvent, MetricsSink};
use andon_runtime::{QueueCounts, RecvTimeoutError, Rejected, WorkQueue, WorkReceiver, work_queue};
use serde::Serialize;

use crate::error::HistoryError;

/// What the store did so far. `accepted + dropped_queue_full + dropped_closed` is every record
/// offered; `written + failed` of the accepted ones have been processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HistoryStats {
    /// Records taken into the queue.
    pub accepted: u64,
    /// Records committed to the database.
    pub written: u64,
    /// Records refused because the queue was full (the writer could not keep up).
    pub dropped_queue_full: u64,
    /// Records refused because the store was shut down.
    pub dropped_closed: u64,
    /// Accepted records lost because their transaction failed (disk full, lock timeout, …).
    pub failed: u64,
    /// Transactions that failed.
    pub failed_batches: u64,
    /// Rows deleted by retention.
    pub retention_deleted: u64,
}

/// The history's own counters beside its [`WorkQueue`] (which counts what it accepted): what
/// the writer did with the records, and why refused ones were refused.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    written: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_closed: AtomicU64,
    failed: AtomicU64,
    failed_batches: AtomicU64,
    retention_deleted: AtomicU64,
    /// The estimated bytes of the records in the queue, bounded by `[history] max_queue_bytes`.
    queued_bytes: AtomicU64,
}

impl Counters {
    /// The counters as they are now, with `accepted` from the queue.
    fn stats(&self, accepted: u64) -> HistoryStats {
        HistoryStats {
            accepted,
            written: self.written.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_closed: self.dropped_closed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            retention_deleted: self.retention_deleted.load(Ordering::Relaxed),
        }
    }

    /// Counts one refused record, and in `andon_history_dropped_total{reason}`.
    fn count_drop(
        metrics: Option<&Arc<dyn MetricsSink>>,
        counter: &AtomicU64,
        reason: &'static str,
    ) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(sink) = metrics {
            sink.add_counter(DROPPED_TOTAL, &[("reason", reason)], 1);
        }
    }

    /// Counts rows deleted by retention.
    fn add_retention_deleted(&self, rows: u64) {
        self.retention_deleted.fetch_add(rows, Ordering::Relaxed);
    }
}

/// Records committed to the database (a counter).
pub(crate) const WRITTEN_TOTAL: &str = "andon_history_written_total";
/// Records lost before the database, by `reason` (a counter).
pub(crate) const DROPPED_TOTAL: &str = "andon_history_dropped_total";

/// A record waiting in the queue, with the bytes it holds of the budget until the writer
/// takes it.
pub(crate) struct Queued {
    record: HistoryRecord,
    bytes: u64,
}

/// The callers' side of a store's bounded queue, the same for both backends: admits records
/// ([`record`](Intake::record)), waits for the writer thread ([`flush`](Intake::flush)), and
/// closes the queue and stops the thread ([`shutdown`](Intake::shutdown)).
///
/// The queue is andon-runtime's [`WorkQueue`] (capacity, accepted count, flush, close, last
/// error); the byte budget sits beside it here, the one queue whose items vary in size by
/// orders of magnitude (a diagnostics snapshot against a heartbeat).
pub(crate) struct Intake {
    queue: WorkQueue<Queued>,
    /// The queue's counters, held once: `stats` is cheap enough to call per record.
    counts: QueueCounts,
    counters: Arc<Counters>,
    max_queue_bytes: u64,
    metrics: Option<Arc<dyn MetricsSink>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What a writer thread takes from the queue and reports to.
pub(crate) struct WriterEnds {
    /// The records; closed and drained once the store shuts down.
    receiver: WorkReceiver<Queued>,
    /// The counters, shared with the [`Intake`].
    counters: Arc<Counters>,
    /// Where `andon_history_*` counters go, if anywhere.
    pub(crate) metrics: Option<Arc<dyn MetricsSink>>,
}

impl WriterEnds {
    /// Fills `batch` for a writer, up to `batch_size`: waits at most `wait` for a first
    /// record, then takes what is queued already. Whether the queue is closed and drained
    /// (the writer stops).
    pub(crate) fn fill_batch(
        &mut self,
        batch: &mut Vec<HistoryRecord>,
        batch_size: usize,
        wait: Duration,
    ) -> bool {
        let first = match self.receiver.recv_timeout(wait) {
            Ok(first) => first,
            Err(RecvTimeoutError::Timeout) => return false,
            Err(RecvTimeoutError::Closed) => return true,
        };
        let mut next = Some(first);
        while let Some(Queued { record, bytes }) = next {
            self.counters
                .queued_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            batch.push(record);
            next = (batch.len() < batch_size)
                .then(|| self.receiver.try_recv())
                .flatten();
        }
        false
    }

    /// Counts a writer's batch of `count` records, committed or lost, and marks them processed
    /// for [`Intake::flush`].
    pub(crate) fn batch_done(&self, count: u64, committed: bool) {
        let counters = &self.counters;
        if committed {
            counters.written.fetch_add(count, Ordering::Relaxed);
            if let Some(sink) = &self.metrics {
                sink.add_counter(WRITTEN_TOTAL, &[], count);
            }
        } else {
            counters.failed.fetch_add(count, Ordering::Relaxed);
            counters.failed_batches.fetch_add(1, Ordering::Relaxed);
            if let Some(sink) = &self.metrics {
                sink.add_counter(DROPPED_TOTAL, &[("reason", "failed")], count);
            }
        }
        self.receiver.done(count);
    }

    /// Records that raced with a writer's stop: lost, counted as failed (`closed`) and marked
    /// processed, so that nobody waits on them.
    pub(crate) fn drain_after_stop(&mut self) {
        let mut late = 0;
        while let Some(Queued { bytes, .. }) = self.receiver.try_recv() {
            self.counters
                .queued_bytes
                .fetch_sub(bytes, Ordering::AcqRel);
            late += 1;
        }
        if late > 0 {
            self.counters.failed.fetch_add(late, Ordering::Relaxed);
            if let Some(sink) = &self.metrics {
                sink.add_counter(DROPPED_TOTAL, &[("reason", "closed")], late);
            }
        }
        self.receiver.done(late);
    }

    /// Whether shutdown began: a writer holding a batch for a lost server gives up soon (a
    /// store dropped without a shutdown keeps retrying, as before).
    pub(crate) fn shutdown_began(&self) -> bool {
        self.receiver.close_called()
    }

    /// Remembers why the last batch (or retention) failed.
    pub(crate) fn set_last_error(&self, error: String) {
        self.receiver.set_last_error(error);
    }

    /// Counts rows deleted by the writer's retention.
    pub(crate) fn add_retention_deleted(&self, rows: u64) {
        self.counters.add_retention_deleted(rows);
    }
}

impl Intake {
    /// A queue of `[history] queue_capacity` records and `max_queue_bytes` bytes, and the ends
    /// its writer thread takes.
    pub(crate) fn new(
        config: &HistoryConfig,
        metrics: Option<Arc<dyn MetricsSink>>,
    ) -> (Intake, WriterEnds) {
        if let Some(sink) = &metrics {
            sink.describe(WRITTEN_TOTAL, "history records committed to the database");
            sink.describe(
                DROPPED_TOTAL,
                "history records lost before the database: queue_full, closed or failed",
            );
        }
        // Every record wakes the writer: it sleeps until the next retention otherwise.
        let (queue, receiver) = work_queue(config.queue_capacity);
        let counters = Arc::new(Counters::default());
        let intake = Intake {
            counts: queue.counts(),
            queue,
            counters: Arc::clone(&counters),
            max_queue_bytes: config.max_queue_bytes,
            metrics,
            thread: Mutex::new(None),
        };
        let ends = WriterEnds {
            receiver,
            counters,
            metrics: intake.metrics.clone(),
        };
        (intake, ends)
    }

    /// Starts the writer thread `name` running `writer`, to be stopped by
    /// [`shutdown`](Intake::shutdown).
    pub(crate) fn start_writer(
        &self,
        name: &str,
        writer: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(writer)?;
        *andon_runtime::lock(&self.thread) = Some(thread);
        Ok(())
    }

    /// What the store did so far.
    pub(crate) fn stats(&self) -> HistoryStats {
        self.counters.stats(self.counts.accepted())
    }

    /// Why the last failed transaction (or retention) failed.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.counts.last_error()
    }

    /// Counts rows deleted by a retention run outside the writer.
    pub(crate) fn add_retention_deleted(&self, rows: u64) {
        self.counters.add_retention_deleted(rows);
    }

    /// Offers `record` to the bounded queue: the byte budget first, then the queue's
    /// capacity; a refused record is counted, never waited for.
    pub(crate) fn record(&self, record: HistoryRecord) {
        let counters = &*self.counters;
        let metrics = self.metrics.as_ref();
        if self.queue.is_closed() {
            return Counters::count_drop(metrics, &counters.dropped_closed, "closed");
        }
        // The byte budget first: a record that would pass it is dropped like one arriving at a
        // full queue (a burst of large snapshots or attributes never grows memory unbounded).
        let bytes = estimated_bytes(&record);
        let reserved =
            counters
                .queued_bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    queued
                        .checked_add(bytes)
                        .filter(|total| *total <= self.max_queue_bytes)
                });
        if reserved.is_err() {
            return Counters::count_drop(metrics, &counters.dropped_queue_full, "queue_bytes");
        }
        if let Err(rejected) = self.queue.try_push(Queued { record, bytes }) {
            counters.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
            match rejected {
                Rejected::Full(_) => {
                    Counters::count_drop(metrics, &counters.dropped_queue_full, "queue_full")
                }
                Rejected::Closed(_) => {
                    Counters::count_drop(metrics, &counters.dropped_closed, "closed")
                }
            }
        }
    }

    /// Waits until the writer has processed every record accepted before the call.
    pub(crate) async fn flush(&self) -> Result<(), HistoryError> {
        self.queue
            .flush_unbounded()
            .await
            .map_err(|_| HistoryError::WriterStopped)
    }

    /// Refuses records from now on, waits for the writer to process what was accepted (it
    /// stops once the closed queue is drained), then joins its thread. A second call returns
    /// at once.
    pub(crate) async fn shutdown(&self) -> Result<(), HistoryError> {
        if !self.queue.close() {
            return Ok(());
        }
        let flushed = self.flush().await;
        self.join_writer().await;
        flushed
    }

    /// Waits for the writer thread to end (on a blocking thread when called in a runtime).
    async fn join_writer(&self) {
        let Some(thread) = andon_runtime::lock(&self.thread).take() else {
            return;
        };
        let join = move || {
            let _ = thread.join();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let _ = runtime.spawn_blocking(join).await;
            }
            Err(_) => join(),
        }
    }
}

/// What a record takes in memory while it waits, roughly: its strings and attribute values,
/// plus a fixed overhead. A diagnostics snapshot is measured by its JSON (one per RED, at most
/// about one a second).
pub(crate) fn estimated_bytes(record: &HistoryRecord) -> u64 {
    const OVERHEAD: usize = 256;
    let bytes = match record {
        HistoryRecord::Signal(signal) => {
            signal.message().len()
                + signal.component().map_or(0, str::len)
                + signal.trace_id().map_or(0, str::len)
                + signal
                    .attributes()
                    .iter()
                    .map(|(k, v)| k.len() + json_bytes(v))
                    .sum::<usize>()
        }
        HistoryRecord::Alert(event) => {
            event.fingerprint.len()
                + event.rule.len()
                + event.summary.len()
                + event.component.as_deref().map_or(0, str::len)
                + event.trace_id.as_deref().map_or(0, str::len)
                + event
                    .labels
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        }
        HistoryRecord::Line(event) => match event {
            LineEvent::Stopped {
                component, message, ..
            } => message.len() + component.as_deref().map_or(0, str::len),
            LineEvent::Resumed { by, note, .. } => by.len() + note.as_deref().map_or(0, str::len),
        },
        HistoryRecord::Heartbeat(event) => event.name.len() + event.component.len(),
        HistoryRecord::Diagnostics { report, .. } => {
            report.summary.len() + json_bytes(&report.details)
        }
    };
    u64::try_from(bytes.saturating_add(OVERHEAD)).unwrap_or(u64::MAX)
}

/// A JSON value's size as text, without writing it for the common small cases.
fn json_bytes(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::String(s) => s.len() + 2,
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => 8,
        other => serde_json::to_string(other).map_or(0, |s| s.len()),
    }
}
