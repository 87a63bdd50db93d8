//! The records between callers and the writer: one formatted record on its way in
//! ([`Formatted`]) and the batch they are appended to ([`Batch`]), holding each record's bytes in
//! the main layout and the Cloud layout with where each ends.

use std::ops::Range;
use std::time::SystemTime;

use andon_core::LogLevel;

/// Batches also stop growing at this many bytes, so that a flood of large records cannot take
/// all memory even under a large `queue_capacity`.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// What the writer needs to know of one record besides its bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    pub(crate) level: LogLevel,
    pub(crate) time: SystemTime,
    main_end: usize,
    cloud_end: usize,
}

/// Records formatted and waiting, in two layouts at most.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    main: Vec<u8>,
    cloud: Vec<u8>,
    pub(crate) records: Vec<Meta>,
    pub(crate) last_seq: u64,
}

impl Batch {
    /// Appends `record` as number `seq`.
    pub(crate) fn push(&mut self, record: &Formatted<'_>, seq: u64) {
        self.main.extend_from_slice(record.main);
        self.cloud.extend_from_slice(record.cloud);
        self.records.push(Meta {
            level: record.level,
            time: record.time,
            main_end: self.main.len(),
            cloud_end: self.cloud.len(),
        });
        self.last_seq = seq;
    }

    /// Whether the batch takes no more records: `capacity` of them, or too many bytes.
    pub(crate) fn is_full(&self, capacity: usize) -> bool {
        !self.records.is_empty()
            && (self.records.len() >= capacity
                || self.main.len() + self.cloud.len() >= MAX_BATCH_BYTES)
    }

    /// The bytes of records `range` in the main layout (`cloud` false) or the Cloud layout.
    pub(crate) fn bytes(&self, range: Range<usize>, cloud: bool) -> &[u8] {
        let (buf, end_of) = if cloud {
            (&self.cloud, (|m: &Meta| m.cloud_end) as fn(&Meta) -> usize)
        } else {
            (&self.main, (|m: &Meta| m.main_end) as fn(&Meta) -> usize)
        };
        let start = match range.start.checked_sub(1) {
            Some(prev) => self.records.get(prev).map_or(0, end_of),
            None => 0,
        };
        let end = range
            .end
            .checked_sub(1)
            .and_then(|last| self.records.get(last))
            .map_or(start, end_of);
        buf.get(start..end).unwrap_or_default()
    }

    /// Empties the batch, keeping its memory unless a burst made it large.
    pub(crate) fn clear(&mut self) {
        const KEEP: usize = 8 * 1024 * 1024;
        if self.main.capacity() + self.cloud.capacity() > KEEP {
            *self = Batch::default();
        } else {
            self.main.clear();
            self.cloud.clear();
            self.records.clear();
        }
    }
}

/// One formatted record on its way in.
#[derive(Clone, Copy)]
pub(crate) struct Formatted<'a> {
    pub(crate) level: LogLevel,
    pub(crate) time: SystemTime,
    pub(crate) main: &'a [u8],
    pub(crate) cloud: &'a [u8],
}

impl<'a> Formatted<'a> {
    /// A record whose `bytes` hold its main-layout line, then from `split` its Cloud line.
    pub(crate) fn split(level: LogLevel, time: SystemTime, bytes: &'a [u8], split: usize) -> Self {
        let (main, cloud) = bytes.split_at(split);
        Formatted {
            level,
            time,
            main,
            cloud,
        }
    }
}
