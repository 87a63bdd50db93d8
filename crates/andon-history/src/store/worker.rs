//! The writer thread: drains the queue into batches, one transaction each, and runs
//! retention on its interval.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::config::HistoryConfig;
use andon_core::{HistoryRecord, MetricsSink};
use rusqlite::Connection;
use tokio::sync::watch;

use super::write::write_batch;
use super::{Clock, lock, retention};
use crate::queue::{Counters, DROPPED_TOTAL, Message, WRITTEN_TOTAL};

/// The writer thread's state.
pub(super) struct Worker {
    pub(super) receiver: Receiver<Message>,
    pub(super) connection: Arc<Mutex<Connection>>,
    pub(super) counters: Arc<Counters>,
    pub(super) processed: watch::Sender<u64>,
    pub(super) metrics: Option<Arc<dyn MetricsSink>>,
    pub(super) clock: Clock,
    pub(super) config: HistoryConfig,
    pub(super) retention_interval: Duration,
}

impl Worker {
    pub(super) fn run(self) {
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
        match retention::retain(&mut connection, &self.config, (self.clock)()) {
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
