//! Waiting for the writer: how long a wait may last (the stall timeout, counted from when the
//! writer took its batch), and the waits for a record to be written, blocking or async. A
//! CRITICAL record's caller first watches a moment for its record, awake: most are written
//! within it, so the caller neither sleeps (and pays for a wake-up) nor arms the timer.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Queue, State, Waiter, lock};
use crate::error::LogError;

/// A CRITICAL record's caller first watches this long for the writer to write it, awake and
/// without the lock or the timer, before it sleeps: the write takes a few microseconds once the
/// writer runs, while a sleeping caller pays for a wake-up of its own (tens of microseconds on a
/// virtual machine) and arms the timer. One caller at a time watches; the rest sleep at once.
const WATCH: Duration = Duration::from_micros(50);
/// ... but only this long while the writer has not taken the record yet: it may be waiting for
/// the very CPU the watching caller holds. Waking the writer on another CPU takes 10-15 µs on a
/// 2-vCPU VM: at 10 µs here the watch gave up before the writer ran and saved nothing.
const WATCH_UNTAKEN: Duration = Duration::from_micros(20);

/// How long a wait may last.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    /// Until the writer is stuck (a flush, a shutdown, a record waiting for room).
    Progress,
    /// Also at most the stall timeout from now (a CRITICAL record waiting to be written).
    Critical,
}

impl Queue {
    /// When a wait that began at `since` gives up: once the writer has held its batch (or, not
    /// holding one, the waiter has waited) for the stall timeout; a CRITICAL wait also at most
    /// the stall timeout after `since`.
    pub(super) fn deadline(&self, st: &State, since: Instant, bound: Bound) -> Instant {
        // Holding a batch, the writer is stuck from when it took it; between batches, a wait
        // that began before the last batch was finished counts from then.
        let base = st
            .batch_since
            .unwrap_or_else(|| st.last_progress.map_or(since, |last| last.max(since)));
        let stuck_at = base + self.stall;
        match bound {
            Bound::Progress => stuck_at,
            Bound::Critical => stuck_at.min(since + self.stall),
        }
    }

    /// Whether the writer has held one batch for the stall timeout or longer.
    pub(crate) fn stalled(&self) -> bool {
        let st = lock(&self.state);
        st.batch_since
            .is_some_and(|since| since.elapsed() >= self.stall)
    }

    /// The error of a wait the stuck writer ended: how long the stall timeout is.
    pub(super) fn stalled_error(&self) -> LogError {
        LogError::Stalled { waited: self.stall }
    }

    /// Waits (blocking the thread) until record `seq` is written and flushed, within `bound`.
    ///
    /// # Errors
    ///
    /// [`LogError::Stalled`] when the bound passed first (a CRITICAL record's is counted in
    /// `timed_out`), [`LogError::WriterGone`] when the writer stopped first.
    pub(crate) fn wait_blocking(&self, seq: u64, bound: Bound) -> Result<(), LogError> {
        let since = Instant::now();
        if self.written_soon(seq, bound) {
            return Ok(());
        }
        let mut st = lock(&self.state);
        while st.flushed < seq && !st.writer_done {
            let now = Instant::now();
            let deadline = self.deadline(&st, since, bound);
            if now >= deadline {
                return Err(self.gave_up(bound));
            }
            st = self.wait_on(st, Waiter::Progress, deadline - now);
        }
        if st.flushed >= seq {
            Ok(())
        } else {
            Err(LogError::WriterGone)
        }
    }

    /// Waits asynchronously until record `seq` is written and flushed, within `bound`.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Self::wait_blocking).
    pub(crate) async fn wait(&self, seq: u64, bound: Bound) -> Result<(), LogError> {
        let since = Instant::now();
        if self.written_soon(seq, bound) {
            return Ok(());
        }
        let mut rx = self.progress_async.subscribe();
        let _waiting = {
            let mut st = lock(&self.state);
            if st.flushed >= seq {
                return Ok(());
            }
            self.nudge(&mut st);
            st.progress.tasks += 1;
            Waiting(self)
        };
        loop {
            // Marked seen before the state is read: a change after this wakes `changed`.
            let _ = rx.borrow_and_update();
            {
                let st = lock(&self.state);
                if st.flushed >= seq {
                    return Ok(());
                }
                if st.writer_done {
                    return Err(LogError::WriterGone);
                }
                let deadline = self.deadline(&st, since, bound);
                if Instant::now() >= deadline {
                    return Err(self.gave_up(bound));
                }
                self.timer.wake_at(deadline);
            }
            if rx.changed().await.is_err() {
                return Err(LogError::WriterGone);
            }
        }
    }

    /// Whether record `seq` is written within [`WATCH`], watched for awake by a CRITICAL
    /// record's caller (when no other caller watches already). The writer was woken when the
    /// record was queued; a caller that sees it written here neither sleeps nor arms the timer.
    /// The watch is far shorter than any stall timeout and counts towards the wait's bound.
    pub(super) fn written_soon(&self, seq: u64, bound: Bound) -> bool {
        if !matches!(bound, Bound::Critical) || self.watching.swap(true, Ordering::Acquire) {
            return false;
        }
        let started = Instant::now();
        let written = loop {
            if self.written.load(Ordering::Acquire) >= seq {
                break true;
            }
            let watched = started.elapsed();
            if watched >= WATCH
                || (watched >= WATCH_UNTAKEN && self.taken.load(Ordering::Acquire) < seq)
            {
                break false;
            }
            std::hint::spin_loop();
        };
        self.watching.store(false, Ordering::Release);
        written
    }

    /// The error of a wait that passed its bound, counting a CRITICAL record's.
    fn gave_up(&self, bound: Bound) -> LogError {
        if matches!(bound, Bound::Critical) {
            self.timed_out.fetch_add(1, Ordering::Relaxed);
        }
        self.stalled_error()
    }
}

/// Counts an async flush waiter for as long as it waits (even if its future is dropped).
struct Waiting<'a>(&'a Queue);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.progress.tasks = st.progress.tasks.saturating_sub(1);
    }
}
