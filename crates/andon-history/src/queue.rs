//! The bounded queue in front of both history writers (SQLite's thread and PostgreSQL's): a
//! record is admitted against a byte budget and the queue's capacity, or counted as dropped,
//! never waited for; the counters and the `andon_history_*` metrics are shared.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::config::HistoryConfig;
use andon_core::{HistoryRecord, LineEvent, MetricsSink};
use andon_runtime::LastError;
use serde::Serialize;
use tokio::sync::watch;

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

/// The counters of a store's bounded queue and writer, shared by both backends.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) written: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_closed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) failed_batches: AtomicU64,
    pub(crate) retention_deleted: AtomicU64,
    /// The estimated bytes of the records in the queue, bounded by `[history] max_queue_bytes`.
    pub(crate) queued_bytes: AtomicU64,
    pub(crate) last_error: LastError,
}

impl Counters {
    /// The queue's counters as they are now.
    pub(crate) fn stats(&self) -> HistoryStats {
        HistoryStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_closed: self.dropped_closed.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            retention_deleted: self.retention_deleted.load(Ordering::Relaxed),
        }
    }

    /// Counts one refused record, and in `andon_history_dropped_total{reason}`.
    pub(crate) fn count_drop(
        &self,
        metrics: Option<&Arc<dyn MetricsSink>>,
        counter: &AtomicU64,
        reason: &'static str,
    ) {
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(sink) = metrics {
            sink.add_counter(DROPPED_TOTAL, &[("reason", reason)], 1);
        }
    }

    /// Offers `record` to the bounded queue behind `sender`: the byte budget first, then the
    /// queue's capacity; a refused record is counted, never waited for.
    pub(crate) fn offer(
        &self,
        sender: &SyncSender<Message>,
        closed: &AtomicBool,
        max_queue_bytes: u64,
        metrics: Option<&Arc<dyn MetricsSink>>,
        record: HistoryRecord,
    ) {
        if closed.load(Ordering::Acquire) {
            return self.count_drop(metrics, &self.dropped_closed, "closed");
        }
        // The byte budget first: a record that would pass it is dropped like one arriving at a
        // full queue (a burst of large snapshots or attributes never grows memory unbounded).
        let bytes = estimated_bytes(&record);
        let reserved =
            self.queued_bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                    queued
                        .checked_add(bytes)
                        .filter(|total| *total <= max_queue_bytes)
                });
        if reserved.is_err() {
            return self.count_drop(metrics, &self.dropped_queue_full, "queue_bytes");
        }
        match sender.try_send(Message::Record(record, bytes)) {
            Ok(()) => {
                self.accepted.fetch_add(1, Ordering::AcqRel);
            }
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                self.count_drop(metrics, &self.dropped_queue_full, "queue_full")
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                self.count_drop(metrics, &self.dropped_closed, "closed")
            }
        }
    }

    /// Remembers why the last batch failed.
    pub(crate) fn set_last_error(&self, error: String) {
        self.last_error.set(error);
    }

    /// Fills `batch` for a writer, up to `batch_size`: waits at most `wait` for a first record,
    /// then takes what is queued already. Whether the queue said stop (or was closed).
    pub(crate) fn fill_batch(
        &self,
        receiver: &Receiver<Message>,
        batch: &mut Vec<HistoryRecord>,
        batch_size: usize,
        wait: Duration,
    ) -> bool {
        let mut stop = false;
        match receiver.recv_timeout(wait) {
            Ok(Message::Record(record, bytes)) => {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                batch.push(record);
            }
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        while !stop && batch.len() < batch_size {
            match receiver.try_recv() {
                Ok(Message::Record(record, bytes)) => {
                    self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    batch.push(record);
                }
                Ok(Message::Stop) => stop = true,
                Err(_) => break,
            }
        }
        stop
    }

    /// Counts a writer's batch of `count` records, committed or lost, and marks them processed
    /// for [`Intake::flush`].
    pub(crate) fn batch_done(
        &self,
        count: u64,
        committed: bool,
        metrics: Option<&Arc<dyn MetricsSink>>,
        processed: &watch::Sender<u64>,
    ) {
        if committed {
            self.written.fetch_add(count, Ordering::Relaxed);
            if let Some(sink) = metrics {
                sink.add_counter(WRITTEN_TOTAL, &[], count);
            }
        } else {
            self.failed.fetch_add(count, Ordering::Relaxed);
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
            if let Some(sink) = metrics {
                sink.add_counter(DROPPED_TOTAL, &[("reason", "failed")], count);
            }
        }
        processed.send_modify(|done| *done += count);
    }

    /// Records that raced with a writer's stop: lost, counted as failed (`closed`) and marked
    /// processed, so that nobody waits on them.
    pub(crate) fn drain_after_stop(
        &self,
        receiver: &Receiver<Message>,
        metrics: Option<&Arc<dyn MetricsSink>>,
        processed: &watch::Sender<u64>,
    ) {
        let mut late = 0;
        while let Ok(message) = receiver.try_recv() {
            if let Message::Record(_, bytes) = message {
                self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                late += 1;
            }
        }
        if late > 0 {
            self.failed.fetch_add(late, Ordering::Relaxed);
            if let Some(sink) = metrics {
                sink.add_counter(DROPPED_TOTAL, &[("reason", "closed")], late);
            }
        }
        processed.send_modify(|done| *done += late);
    }
}

/// Records committed to the database (a counter).
pub(crate) const WRITTEN_TOTAL: &str = "andon_history_written_total";
/// Records lost before the database, by `reason` (a counter).
pub(crate) const DROPPED_TOTAL: &str = "andon_history_dropped_total";

/// The callers' side of a store's bounded queue, the same for both backends: admits records
/// ([`record`](Intake::record)), waits for the writer thread ([`flush`](Intake::flush)), and
/// closes the queue and stops the thread ([`shutdown`](Intake::shutdown)).
pub(crate) struct Intake {
    sender: SyncSender<Message>,
    counters: Arc<Counters>,
    processed: watch::Receiver<u64>,
    closed: Arc<AtomicBool>,
    max_queue_bytes: u64,
    metrics: Option<Arc<dyn MetricsSink>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// What a writer thread takes from the queue and reports to.
pub(crate) struct WriterEnds {
    /// The records, then `Stop`.
    pub(crate) receiver: Receiver<Message>,
    /// How many accepted records the writer has processed (see [`Counters::batch_done`]).
    pub(crate) processed: watch::Sender<u64>,
    /// Set once shutdown began: a writer holding a batch for a lost server gives up soon.
    pub(crate) closed: Arc<AtomicBool>,
    /// The counters, shared with the [`Intake`].
    pub(crate) counters: Arc<Counters>,
    /// Where `andon_history_*` counters go, if anywhere.
    pub(crate) metrics: Option<Arc<dyn MetricsSink>>,
}

impl WriterEnds {
    /// Fills `batch` up to `batch_size`, waiting at most `wait` for a first record; whether
    /// the queue said stop (see [`Counters::fill_batch`]).
    pub(crate) fn fill_batch(
        &self,
        batch: &mut Vec<HistoryRecord>,
        batch_size: usize,
        wait: Duration,
    ) -> bool {
        self.counters
            .fill_batch(&self.receiver, batch, batch_size, wait)
    }

    /// Counts a batch of `count` records, committed or lost, and marks them processed.
    pub(crate) fn batch_done(&self, count: u64, committed: bool) {
        self.counters
            .batch_done(count, committed, self.metrics.as_ref(), &self.processed);
    }

    /// Records that raced with the stop: lost, counted, so that nobody waits on them.
    pub(crate) fn drain_after_stop(&self) {
        self.counters
            .drain_after_stop(&self.receiver, self.metrics.as_ref(), &self.processed);
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
        let (sender, receiver) = std::sync::mpsc::sync_channel(config.queue_capacity.max(1));
        let (processed_tx, processed) = watch::channel(0_u64);
        let counters = Arc::new(Counters::default());
        let closed = Arc::new(AtomicBool::new(false));
        let intake = Intake {
            sender,
            counters: Arc::clone(&counters),
            processed,
            closed: Arc::clone(&closed),
            max_queue_bytes: config.max_queue_bytes,
            metrics,
            thread: Mutex::new(None),
        };
        let ends = WriterEnds {
            receiver,
            processed: processed_tx,
            closed,
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

    /// The counters of the queue and its writer.
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Offers `record` to the queue; a refused record is counted, never waited for.
    pub(crate) fn record(&self, record: HistoryRecord) {
        self.counters.offer(
            &self.sender,
            &self.closed,
            self.max_queue_bytes,
            self.metrics.as_ref(),
            record,
        );
    }

    /// Waits until the writer has processed every record accepted before the call.
    pub(crate) async fn flush(&self) -> Result<(), HistoryError> {
        let target = self.counters.accepted.load(Ordering::Acquire);
        let mut processed = self.processed.clone();
        processed
            .wait_for(|done| *done >= target)
            .await
            .map(|_| ())
            .map_err(|_| HistoryError::WriterStopped)
    }

    /// Refuses records from now on, waits for the writer to process what was accepted, then
    /// stops its thread. A second call returns at once.
    pub(crate) async fn shutdown(&self) -> Result<(), HistoryError> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let flushed = self.flush().await;
        self.stop_writer().await;
        flushed
    }

    /// Tells the writer thread to stop once it has taken what is queued before, and waits for
    /// it to end (on a blocking thread when called in a runtime).
    async fn stop_writer(&self) {
        let sender = self.sender.clone();
        let thread = andon_runtime::lock(&self.thread).take();
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
    }
}

#[allow(clippy::large_enum_variant)] // reason: records are the traffic; boxing them would allocate once more per record
pub(crate) enum Message {
    /// A record and its estimated size in bytes.
    Record(HistoryRecord, u64),
    Stop,
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
