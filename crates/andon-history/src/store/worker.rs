//! The writer thread: drains the queue into batches, one transaction each, and runs
//! retention on its interval.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_core::HistoryRecord;
use andon_core::config::HistoryConfig;
use rusqlite::Connection;

use super::write::write_batch;
use super::{Clock, lock, retention};
use crate::queue::WriterEnds;

/// The writer thread's state.
pub(super) struct Worker {
    pub(super) ends: WriterEnds,
    pub(super) connection: Arc<Mutex<Connection>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) config: HistoryConfig,
    pub(super) retention_interval: Duration,
}

impl Worker {
    pub(super) fn run(mut self) {
        let batch_size = self.config.batch_size.max(1);
        let mut batch: Vec<HistoryRecord> = Vec::with_capacity(batch_size);
        let mut next_retention = Instant::now() + self.retention_interval;
        let mut stop = false;
        while !stop {
            let wait = next_retention.saturating_duration_since(Instant::now());
            stop = self.ends.fill_batch(&mut batch, batch_size, wait);
            if !batch.is_empty() {
                self.write(&mut batch);
            }
            if Instant::now() >= next_retention {
                self.retain();
                next_retention = Instant::now() + self.retention_interval;
            }
        }
        self.ends.drain_after_stop();
    }

    fn write(&self, batch: &mut Vec<HistoryRecord>) {
        let count = batch.len() as u64;
        let result = {
            let mut connection = lock(&self.connection);
            write_batch(&mut connection, batch)
        };
        batch.clear();
        if let Err(error) = &result {
            self.ends.set_last_error(error.to_string());
        }
        self.ends.batch_done(count, result.is_ok());
    }

    fn retain(&self) {
        let mut connection = lock(&self.connection);
        match retention::retain(&mut connection, &self.config, self.clock.now()) {
            Ok(report) => {
                self.ends.add_retention_deleted(report.total());
            }
            Err(error) => self.ends.set_last_error(format!("retention: {error}")),
        }
    }
}
