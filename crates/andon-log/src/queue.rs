//! The bounded queue between callers and the writer thread.
//!
//! Callers append already-formatted bytes to the open batch under one short lock; the writer
//! swaps the whole batch for an empty one and writes it while callers fill the next. Every
//! accepted record gets a sequence number; the writer publishes the last one it has written and
//! flushed, which is what `flush()` and `critical()` wait for.

use std::mem;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use andon_core::LogLevel;
use tokio::sync::{Notify, watch};

use crate::error::LogError;

/// After writing a batch the writer waits this long for more records before it goes idle, so
/// that under steady load callers never pay for waking it and each write carries many records.
const LINGER: Duration = Duration::from_millis(1);

/// Batches also stop growing at this many bytes, so that a flood of large records cannot take
/// all memory even under a large `queue_capacity`.
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// Locks a mutex, taking the data even if a thread panicked while holding it (our critical
/// sections leave the data consistent at every step).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

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
    fn is_full(&self, capacity: usize) -> bool {
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

#[derive(Debug, Default)]
struct State {
    batch: Batch,
    /// The number of records accepted so far (the last sequence number handed out).
    seq: u64,
    /// Every record up to this sequence number has been written and flushed.
    flushed: u64,
    shutdown: bool,
    writer_done: bool,
    writer: Writer,
    room_waiters: usize,
    progress_waiters: usize,
}

/// What the writer thread is doing, so that callers wake it only when needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Writer {
    /// Writing, or about to look at the queue: no need to wake it.
    #[default]
    Busy,
    /// Waiting a moment for more records: wake it only for something urgent.
    Lingering,
    /// Waiting for work: wake it for any record.
    Idle,
}

/// How far the writer got, for async waiters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) flushed: u64,
    pub(crate) done: bool,
}

/// What the writer gets when it asks for work.
pub(crate) enum Next {
    /// A batch was swapped into the spare one.
    Batch,
    /// Nothing happened for a while.
    Idle,
    /// Shut down and drained.
    Shutdown,
}

enum Push {
    Accepted(u64),
    Full,
    Refused(LogError),
}

/// The queue. See the module docs.
#[derive(Debug)]
pub(crate) struct Queue {
    state: Mutex<State>,
    wake_writer: Condvar,
    room: Condvar,
    progress: Condvar,
    room_async: Notify,
    progress_async: watch::Sender<Progress>,
    capacity: usize,
    /// A batch this long wakes a lingering writer.
    wake_at: usize,
    pub(crate) dropped: AtomicU64,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State::default()),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
            progress: Condvar::new(),
            room_async: Notify::new(),
            progress_async: watch::Sender::new(Progress::default()),
            capacity: capacity.max(1),
            wake_at: (capacity / 2).max(1),
            dropped: AtomicU64::new(0),
        }
    }

    fn try_push(&self, st: &mut State, record: &Formatted<'_>) -> Push {
        if st.shutdown {
            return Push::Refused(LogError::ShutDown);
        }
        if st.writer_done {
            return Push::Refused(LogError::WriterGone);
        }
        if st.batch.is_full(self.capacity) {
            return Push::Full;
        }
        st.seq += 1;
        let seq = st.seq;
        let batch = &mut st.batch;
        batch.main.extend_from_slice(record.main);
        batch.cloud.extend_from_slice(record.cloud);
        batch.records.push(Meta {
            level: record.level,
            time: record.time,
            main_end: batch.main.len(),
            cloud_end: batch.cloud.len(),
        });
        batch.last_seq = seq;
        let urgent = record.level == LogLevel::Critical || batch.records.len() >= self.wake_at;
        if st.writer == Writer::Idle || urgent {
            self.nudge(st);
        }
        Push::Accepted(seq)
    }

    /// Wakes the writer unless it is busy anyway.
    fn nudge(&self, st: &mut State) {
        if st.writer != Writer::Busy {
            st.writer = Writer::Busy;
            self.wake_writer.notify_one();
        }
    }

    fn refuse(&self, error: LogError) -> LogError {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        error
    }

    /// Appends a record, waiting for room unless `may_drop`. Returns its sequence number.
    pub(crate) fn push_blocking(
        &self,
        record: &Formatted<'_>,
        may_drop: bool,
    ) -> Result<u64, LogError> {
        let mut st = lock(&self.state);
        loop {
            match self.try_push(&mut st, record) {
                Push::Accepted(seq) => return Ok(seq),
                Push::Refused(e) => return Err(self.refuse(e)),
                Push::Full if may_drop => return Err(self.refuse(LogError::QueueFull)),
                Push::Full => {
                    self.nudge(&mut st);
                    st.room_waiters += 1;
                    st = self.room.wait(st).unwrap_or_else(PoisonError::into_inner);
                    st.room_waiters -= 1;
                }
            }
        }
    }

    /// Appends a record if there is room; `Ok(None)` when the caller must wait for room.
    pub(crate) fn push_now(
        &self,
        record: &Formatted<'_>,
        may_drop: bool,
    ) -> Result<Option<u64>, LogError> {
        let mut st = lock(&self.state);
        match self.try_push(&mut st, record) {
            Push::Accepted(seq) => Ok(Some(seq)),
            Push::Refused(e) => Err(self.refuse(e)),
            Push::Full if may_drop => Err(self.refuse(LogError::QueueFull)),
            Push::Full => Ok(None),
        }
    }

    /// Appends a record, waiting asynchronously for room.
    pub(crate) async fn push_waiting(&self, record: &Formatted<'_>) -> Result<u64, LogError> {
        loop {
            let notified = std::pin::pin!(self.room_async.notified());
            let mut notified = notified;
            notified.as_mut().enable();
            {
                let mut st = lock(&self.state);
                match self.try_push(&mut st, record) {
                    Push::Accepted(seq) => return Ok(seq),
                    Push::Refused(e) => return Err(self.refuse(e)),
                    Push::Full => {
                        self.nudge(&mut st);
                        st.room_waiters += 1;
                    }
                }
            }
            notified.await;
            lock(&self.state).room_waiters -= 1;
        }
    }

    /// The sequence number of the last accepted record.
    pub(crate) fn accepted(&self) -> u64 {
        lock(&self.state).seq
    }

    /// How many records wait for the writer now.
    pub(crate) fn queued(&self) -> u64 {
        let st = lock(&self.state);
        st.seq.saturating_sub(st.flushed)
    }

    /// Waits (blocking the thread) until record `seq` is written and flushed.
    pub(crate) fn wait_blocking(&self, seq: u64) -> Result<(), LogError> {
        let mut st = lock(&self.state);
        while st.flushed < seq && !st.writer_done {
            self.nudge(&mut st);
            st.progress_waiters += 1;
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            st.progress_waiters -= 1;
        }
        if st.flushed >= seq {
            Ok(())
        } else {
            Err(LogError::WriterGone)
        }
    }

    /// Waits asynchronously until record `seq` is written and flushed.
    pub(crate) async fn wait(&self, seq: u64) -> Result<(), LogError> {
        let mut rx = self.progress_async.subscribe();
        let _waiting = {
            let mut st = lock(&self.state);
            if st.flushed >= seq {
                return Ok(());
            }
            self.nudge(&mut st);
            st.progress_waiters += 1;
            Waiting(self)
        };
        match rx.wait_for(|p| p.flushed >= seq || p.done).await {
            Ok(p) if p.flushed >= seq => Ok(()),
            _ => Err(LogError::WriterGone),
        }
    }

    /// Refuses new records from now on and wakes the writer to drain the rest.
    pub(crate) fn begin_shutdown(&self) {
        let mut st = lock(&self.state);
        st.shutdown = true;
        self.wake_writer.notify_one();
        // Waiters for room must now give up.
        self.room.notify_all();
        self.room_async.notify_waiters();
    }

    /// Whether the writer has finished.
    pub(crate) fn writer_done(&self) -> bool {
        lock(&self.state).writer_done
    }

    // --- the writer's side ---

    /// Swaps the open batch into `spare` (which must be empty), lingering a moment for more
    /// records first, or waits up to `tick` for one.
    pub(crate) fn next(&self, spare: &mut Batch, tick: Duration) -> Next {
        let mut st = lock(&self.state);
        let mut lingered = false;
        loop {
            if !st.batch.records.is_empty() || st.shutdown {
                if !st.batch.records.is_empty() {
                    mem::swap(&mut st.batch, spare);
                    if st.room_waiters > 0 {
                        self.room.notify_all();
                        self.room_async.notify_waiters();
                    }
                    return Next::Batch;
                }
                return Next::Shutdown;
            }
            let linger = !lingered && st.progress_waiters == 0;
            lingered = true;
            st.writer = if linger {
                Writer::Lingering
            } else {
                Writer::Idle
            };
            let (guard, timeout) = self
                .wake_writer
                .wait_timeout(st, if linger { LINGER } else { tick })
                .unwrap_or_else(PoisonError::into_inner);
            st = guard;
            st.writer = Writer::Busy;
            if !linger && timeout.timed_out() && st.batch.records.is_empty() && !st.shutdown {
                return Next::Idle;
            }
        }
    }

    /// Records up to `seq` are written and flushed.
    pub(crate) fn publish(&self, seq: u64) {
        {
            let mut st = lock(&self.state);
            st.flushed = st.flushed.max(seq);
            if st.progress_waiters > 0 {
                self.progress.notify_all();
            }
        }
        self.progress_async
            .send_modify(|p| p.flushed = p.flushed.max(seq));
    }

    /// The writer has stopped: nothing more is accepted, waiters are released.
    pub(crate) fn writer_finished(&self) {
        {
            let mut st = lock(&self.state);
            st.writer_done = true;
            self.progress.notify_all();
            self.room.notify_all();
        }
        self.room_async.notify_waiters();
        self.progress_async.send_modify(|p| p.done = true);
    }
}

/// Counts an async flush waiter for as long as it waits (even if its future is dropped).
struct Waiting<'a>(&'a Queue);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.progress_waiters = st.progress_waiters.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(bytes: &[u8]) -> Formatted<'_> {
        Formatted {
            level: LogLevel::Info,
            time: SystemTime::now(),
            main: bytes,
            cloud: b"",
        }
    }

    #[test]
    fn a_full_queue_drops_or_reports_full_and_the_writer_makes_room() {
        let queue = Queue::new(2);
        assert_eq!(queue.push_blocking(&record(b"a\n"), true).unwrap(), 1);
        assert_eq!(queue.push_now(&record(b"b\n"), false).unwrap(), Some(2));
        assert!(matches!(
            queue.push_blocking(&record(b"c\n"), true),
            Err(LogError::QueueFull)
        ));
        assert_eq!(queue.push_now(&record(b"c\n"), false).unwrap(), None);
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 1);

        let mut spare = Batch::default();
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Batch
        ));
        assert_eq!(spare.bytes(0..2, false), b"a\nb\n");
        assert_eq!(spare.bytes(1..2, false), b"b\n");
        assert_eq!(spare.last_seq, 2);
        assert_eq!(queue.push_now(&record(b"c\n"), false).unwrap(), Some(3));
        queue.publish(2);
        queue.wait_blocking(2).unwrap();
        assert_eq!(queue.queued(), 1);

        queue.begin_shutdown();
        assert!(matches!(
            queue.push_blocking(&record(b"d\n"), false),
            Err(LogError::ShutDown)
        ));
        spare.clear();
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Batch
        ));
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Shutdown
        ));
    }
}
