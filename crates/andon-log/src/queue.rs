//! The bounded queue between callers and the writer thread.
//!
//! Callers append already-formatted bytes to the open batch under one short lock; the writer
//! swaps the whole batch for an empty one and writes it while callers fill the next. Every
//! accepted record gets a sequence number; the writer publishes the last one it has written and
//! flushed, which is what `flush()` and `critical()` wait for.
//!
//! Every wait is bounded by the stall timeout: the writer is *stuck* when it has held one batch
//! for that long (a stdout pipe nobody reads, a hung `/dev/log`). A CRITICAL record waits at most
//! the timeout to be written; a record waiting for room, a flush or a shutdown gives up once the
//! writer is stuck. Async waiters are woken at their deadlines by the [`Timer`] thread. The
//! waits themselves are in [`wait`].
//!
//! This is the one queue not built on andon-runtime's `WorkQueue`: a caller appends formatted
//! bytes to a shared batch under one short lock (no per-record allocation or channel slot),
//! may wait for room or for its record to be written (a CRITICAL record), and the writer is a
//! thread, not a task. It uses the runtime's parts where they fit (the poison-proof `lock`).

use std::mem;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use andon_core::LogLevel;
use tokio::sync::{Notify, watch};

pub(crate) use crate::batch::{Batch, Formatted};
use crate::error::LogError;
use crate::timer::Timer;
pub(crate) use wait::Bound;

mod wait;

/// After writing a batch the writer waits this long for more records before it goes idle, so
/// that under steady load callers never pay for waking it and each write carries many records.
const LINGER: Duration = Duration::from_millis(1);

/// Locks a mutex, taking the data even if a thread panicked while holding it (our critical
/// sections leave the data consistent at every step): andon-runtime's, shared by every
/// component.
pub(crate) use andon_runtime::lock;

/// Who blocks a thread on the queue: a caller waiting for room, or for its record to be written.
#[derive(Clone, Copy)]
enum Waiter {
    Room,
    Progress,
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
    /// Callers waiting for room in the batch.
    room: Waiters,
    /// Callers waiting for their record (or all records) to be written.
    progress: Waiters,
    /// Since when the writer has been writing the batch it holds.
    batch_since: Option<Instant>,
    /// When the writer last finished a batch.
    last_progress: Option<Instant>,
}

/// How many callers wait for one condition: threads blocked on its condvar, and async tasks
/// waiting on its notifier. Each side is woken only when it has someone waiting.
#[derive(Debug, Default, Clone, Copy)]
struct Waiters {
    threads: usize,
    tasks: usize,
}

impl Waiters {
    fn any(self) -> bool {
        self.threads + self.tasks > 0
    }
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
    /// Bumped by the timer at a waiter's deadline.
    tick: u64,
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
    /// Accepted as this sequence number; `wake`: the writer must be woken (once the lock is
    /// released, so that it does not wake only to wait for the lock).
    Accepted {
        seq: u64,
        wake: bool,
    },
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
    /// How long the writer may hold one batch before it counts as stuck.
    stall: Duration,
    pub(crate) timer: Timer,
    /// `State::flushed`, readable without the lock (for [`Queue::written_soon`]).
    written: AtomicU64,
    /// The last record the writer has taken to write, readable without the lock.
    taken: AtomicU64,
    /// Whether a caller is watching for its record now.
    watching: AtomicBool,
    pub(crate) dropped: AtomicU64,
    /// CRITICAL records whose caller stopped waiting before they were written.
    pub(crate) timed_out: AtomicU64,
}

impl Queue {
    pub(crate) fn new(capacity: usize, stall: Duration) -> Self {
        Queue {
            state: Mutex::new(State::default()),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
            progress: Condvar::new(),
            room_async: Notify::new(),
            progress_async: watch::Sender::new(Progress::default()),
            capacity: capacity.max(1),
            wake_at: (capacity / 2).max(1),
            stall,
            timer: Timer::default(),
            written: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            watching: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
        }
    }

    /// Wakes every async waiter to look at its deadline (the timer's job).
    pub(crate) fn wake_async_waiters(&self) {
        self.room_async.notify_waiters();
        self.progress_async
            .send_modify(|p| p.tick = p.tick.wrapping_add(1));
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
        batch.push(record, seq);
        let urgent = record.level == LogLevel::Critical || batch.records.len() >= self.wake_at;
        let wake = (st.writer == Writer::Idle || urgent) && Self::claim_writer(st);
        Push::Accepted { seq, wake }
    }

    /// Releases the lock, then wakes the writer if `wake`.
    fn wake_writer_after(&self, st: MutexGuard<'_, State>, wake: bool) {
        drop(st);
        if wake {
            self.wake_writer.notify_one();
        }
    }

    /// Blocks the thread on `waiter`'s condition for at most `timeout`, counted among its
    /// waiting threads meanwhile, after nudging the writer.
    fn wait_on<'s>(
        &'s self,
        mut st: MutexGuard<'s, State>,
        waiter: Waiter,
        timeout: Duration,
    ) -> MutexGuard<'s, State> {
        self.nudge(&mut st);
        let (condvar, count): (&Condvar, fn(&mut State) -> &mut usize) = match waiter {
            Waiter::Room => (&self.room, |st| &mut st.room.threads),
            Waiter::Progress => (&self.progress, |st| &mut st.progress.threads),
        };
        *count(&mut st) += 1;
        let mut st = condvar
            .wait_timeout(st, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        *count(&mut st) -= 1;
        st
    }

    /// Wakes the writer unless it is busy anyway.
    fn nudge(&self, st: &mut State) {
        if Self::claim_writer(st) {
            self.wake_writer.notify_one();
        }
    }

    /// Marks the writer busy; true when it was waiting and must be woken.
    fn claim_writer(st: &mut State) -> bool {
        let waiting = st.writer != Writer::Busy;
        st.writer = Writer::Busy;
        waiting
    }

    fn refuse(&self, error: LogError) -> LogError {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        error
    }

    /// Appends a record, waiting for room unless `may_drop`, and giving up (counted as dropped)
    /// when the writer is stuck. Returns its sequence number.
    pub(crate) fn push_blocking(
        &self,
        record: &Formatted<'_>,
        may_drop: bool,
    ) -> Result<u64, LogError> {
        let since = Instant::now();
        let mut st = lock(&self.state);
        loop {
            match self.try_push(&mut st, record) {
                Push::Accepted { seq, wake } => {
                    self.wake_writer_after(st, wake);
                    return Ok(seq);
                }
                Push::Refused(e) => return Err(self.refuse(e)),
                Push::Full if may_drop => return Err(self.refuse(LogError::QueueFull)),
                Push::Full => {
                    let now = Instant::now();
                    let deadline = self.deadline(&st, since, Bound::Progress);
                    if now >= deadline {
                        return Err(self.refuse(self.stalled_error()));
                    }
                    st = self.wait_on(st, Waiter::Room, deadline - now);
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
            Push::Accepted { seq, wake } => {
                self.wake_writer_after(st, wake);
                Ok(Some(seq))
            }
            Push::Refused(e) => Err(self.refuse(e)),
            Push::Full if may_drop => Err(self.refuse(LogError::QueueFull)),
            Push::Full => Ok(None),
        }
    }

    /// Appends a record, waiting asynchronously for room, and giving up (counted as dropped)
    /// when the writer is stuck.
    pub(crate) async fn push_waiting(&self, record: &Formatted<'_>) -> Result<u64, LogError> {
        let since = Instant::now();
        loop {
            let notified = std::pin::pin!(self.room_async.notified());
            let mut notified = notified;
            notified.as_mut().enable();
            {
                let mut st = lock(&self.state);
                match self.try_push(&mut st, record) {
                    Push::Accepted { seq, wake } => {
                        self.wake_writer_after(st, wake);
                        return Ok(seq);
                    }
                    Push::Refused(e) => return Err(self.refuse(e)),
                    Push::Full => {
                        let deadline = self.deadline(&st, since, Bound::Progress);
                        if Instant::now() >= deadline {
                            return Err(self.refuse(self.stalled_error()));
                        }
                        self.timer.wake_at(deadline);
                        self.nudge(&mut st);
                        st.room.tasks += 1;
                    }
                }
            }
            let _waiting = RoomWaiting(self);
            notified.await;
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
                    st.batch_since = Some(Instant::now());
                    self.taken.store(spare.last_seq, Ordering::Release);
                    let room = st.room;
                    drop(st);
                    // Room now: wake who waits for it (after the lock is released).
                    if room.threads > 0 {
                        self.room.notify_all();
                    }
                    if room.tasks > 0 {
                        self.room_async.notify_waiters();
                    }
                    return Next::Batch;
                }
                return Next::Shutdown;
            }
            let linger = !lingered && !st.progress.any();
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
        let waiting = {
            let mut st = lock(&self.state);
            st.flushed = st.flushed.max(seq);
            self.written.store(st.flushed, Ordering::Release);
            st.batch_since = None;
            st.last_progress = Some(Instant::now());
            st.progress
        };
        // Woken after the lock is released, so that a waiter does not wake only to wait for
        // it; each kind of waiter only when there is one.
        if waiting.threads > 0 {
            self.progress.notify_all();
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

/// Counts an async room waiter for as long as it waits (even if its future is dropped).
struct RoomWaiting<'a>(&'a Queue);

impl Drop for RoomWaiting<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.room.tasks = st.room.tasks.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

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
        let queue = Queue::new(2, Duration::from_secs(60));
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
        queue.wait_blocking(2, Bound::Critical).unwrap();
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

    #[test]
    fn a_stuck_writer_bounds_every_wait_and_counts_it() {
        let queue = Queue::new(2, Duration::from_millis(50));
        let seq = queue.push_blocking(&record(b"a\n"), false).unwrap();
        // The writer takes the batch and never finishes it: a sink stuck in a write.
        let mut held = Batch::default();
        assert!(matches!(queue.next(&mut held, Duration::ZERO), Next::Batch));
        assert!(matches!(
            queue.wait_blocking(seq, Bound::Critical),
            Err(LogError::Stalled { .. })
        ));
        assert_eq!(queue.timed_out.load(Ordering::Relaxed), 1);
        assert!(queue.stalled());
        // A flush gives up too, and a record that finds no room is dropped, not held.
        assert!(matches!(
            queue.wait_blocking(seq, Bound::Progress),
            Err(LogError::Stalled { .. })
        ));
        queue.push_blocking(&record(b"b\n"), false).unwrap();
        queue.push_blocking(&record(b"c\n"), false).unwrap();
        assert!(matches!(
            queue.push_blocking(&record(b"d\n"), false),
            Err(LogError::Stalled { .. })
        ));
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 1);
        // Progress clears the stall.
        queue.publish(seq);
        assert!(!queue.stalled());
        assert_eq!(queue.timed_out.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_critical_caller_watches_for_its_record_alone_and_only_within_the_watch() {
        let queue = Queue::new(4, Duration::from_secs(60));
        let seq = queue.push_blocking(&record(b"a\n"), false).unwrap();
        // Not taken by any writer: the watch gives up after a moment, it does not hang.
        let started = Instant::now();
        assert!(!queue.written_soon(seq, Bound::Critical));
        assert!(started.elapsed() < Duration::from_secs(10));
        // A flush does not watch; a second caller does not watch while one does.
        let mut spare = Batch::default();
        assert!(matches!(
            queue.next(&mut spare, Duration::ZERO),
            Next::Batch
        ));
        queue.publish(seq);
        assert!(!queue.written_soon(seq, Bound::Progress));
        queue.watching.store(true, Ordering::SeqCst);
        assert!(!queue.written_soon(seq, Bound::Critical));
        queue.watching.store(false, Ordering::SeqCst);
        // Written: seen at once, and the wait ends without the lock-side wait.
        assert!(queue.written_soon(seq, Bound::Critical));
        queue.wait_blocking(seq, Bound::Critical).unwrap();
        assert!(!queue.watching.load(Ordering::SeqCst));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn async_waits_end_at_their_deadline_without_a_runtime_timer() {
        let queue = std::sync::Arc::new(Queue::new(1, Duration::from_millis(50)));
        let timer = {
            let queue = std::sync::Arc::clone(&queue);
            std::thread::spawn(move || queue.timer.run(|| queue.wake_async_waiters()))
        };
        let seq = queue.push_blocking(&record(b"a\n"), false).unwrap();
        let mut held = Batch::default();
        assert!(matches!(queue.next(&mut held, Duration::ZERO), Next::Batch));
        assert!(matches!(
            queue.wait(seq, Bound::Critical).await,
            Err(LogError::Stalled { .. })
        ));
        queue.push_blocking(&record(b"b\n"), false).unwrap();
        assert!(matches!(
            queue.push_waiting(&record(b"c\n")).await,
            Err(LogError::Stalled { .. })
        ));
        assert_eq!(queue.timed_out.load(Ordering::Relaxed), 1);
        assert_eq!(queue.dropped.load(Ordering::Relaxed), 1);
        queue.timer.stop();
        timer.join().unwrap();
    }
}
