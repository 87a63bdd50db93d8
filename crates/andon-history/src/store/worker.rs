//! The writer thread: drains the queue into batches, one transaction each, and runs
//! retention on its interval.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::config::HistoryConfig;
use andon_core::{HistoryRecord, MetricsSink};
use rusqlite::Connection;
use tokio::sync::watch;

use super::write::write_batch;
use super::{Clock, lock, retention};
use crate::queue::{Counters, Message};

/// The writer thread's state.
pub(super) struct Worker {
    pub(super) receiver: Receiver<Message>,
    pub(super) connection: Arc<Mutex<Connection>>,
    pub(super) counters: Arc<Counters>,
    pub(super) processed: watch::Sender<u64>,
    pub(super) metrics: Option<Arc<dyn MetricsSink>>,
    pub(super) clock: Arc<dyn Clock>,
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
            stop = self
                .counters
                .fill_batch(&self.receiver, &mut batch, batch_size, wait);
            if !batch.is_empty() {
                self.write(&mut batch);
            }
            if Instant::now() >= next_retention {
                self.retain();
                next_retention = Instant::now() + self.retention_interval;
            }
        }
        self.counters
            .drain_after_stop(&self.receiver, self.metrics.as_ref(), &self.processed);
    }

    fn write(&self, batch: &mut Vec<HistoryRecord>) {
        let count = batch.len() as u64;
        let result = {
            let mut connection = lock(&self.connection);
            write_batch(&mut connection, batch)
        };
        batch.clear();
        if let Err(error) = &result {
            self.counters.set_last_error(error.to_string());
        }
        self.counters.batch_done(
            count,
            result.is_ok(),
            self.metrics.as_ref(),
            &self.processed,
        );
    }

    fn retain(&self) {
        let mut connection = lock(&self.connection);
        match retention::retain(&mut connection, &self.config, self.clock.now()) {
            Ok(report) => {
                self.counters
                    .retention_deleted
                    .fetch_add(report.total(), Ordering::Relaxed);
            }
            Err(error) => self.counters.set_last_error(format!("retention: {error}")),
        }
    }
}
