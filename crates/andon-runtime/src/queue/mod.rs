//! The bounded queue between a component's callers and its worker task: a push never waits
//! (a full or closed queue refuses the item and counts it as dropped), the worker (a task, or
//! a thread of its own blocking in [`WorkReceiver::recv_timeout`]) takes items one by one or
//! in batches and marks them done, and the shared counters answer what a
//! component reports: accepted, dropped, processed, the depth for a queue-depth gauge and the
//! last error. `flush` waits, within a deadline, until everything accepted before it is done.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::lock;

mod blocking;

pub use blocking::RecvTimeoutError;

/// Why a push was refused; the item comes back so that the caller can account for it.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected<T> {
    /// The queue holds its capacity already: the worker cannot keep up.
    Full(T),
    /// The queue was closed, or its worker is gone.
    Closed(T),
}

impl<T> Rejected<T> {
    /// The refused item.
    pub fn into_inner(self) -> T {
        match self {
            Rejected::Full(item) | Rejected::Closed(item) => item,
        }
    }
}

/// Why a [`WorkQueue::flush`] returned before everything was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushError {
    /// The deadline passed with items still waiting or being processed.
    TimedOut,
    /// The worker stopped (its [`WorkReceiver`] was dropped) before finishing them.
    WorkerGone,
}

impl fmt::Display for FlushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FlushError::TimedOut => {
                "the worker did not finish the queued items within the deadline: give the flush more time or look at why the worker is slow"
            }
            FlushError::WorkerGone => {
                "the worker stopped before finishing the queued items: it was shut down or crashed"
            }
        })
    }
}

impl std::error::Error for FlushError {}

/// The last failure a worker reported, kept for stats and reports. The text must already be
/// free of secrets: it is shown as given.
#[derive(Debug, Default)]
pub struct LastError(Mutex<Option<String>>);

impl LastError {
    /// Remembers `error` as the last failure.
    pub fn set(&self, error: impl Into<String>) {
        *lock(&self.0) = Some(error.into());
    }

    /// Forgets the last failure (after a recovery, where a component reports that way).
    pub fn clear(&self) {
        *lock(&self.0) = None;
    }

    /// The last failure, if any.
    pub fn get(&self) -> Option<String> {
        lock(&self.0).clone()
    }
}

/// When an accepted item wakes the worker.
///
/// A wake costs the pushing thread a write to memory the worker's thread reads (and, if the
/// worker sleeps, a wake-up across threads), so a queue whose callers are a hot path wakes
/// its worker once per batch and lets the worker drain on its own timer in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakePolicy {
    /// Every accepted item wakes the worker at once: for queues where latency matters (alert
    /// notifications, threshold signals). [`work_queue`] builds this kind.
    EachItem,
    /// Every `n`-th accepted item wakes the worker (a full batch waits), and so do a flush,
    /// a close and the last sender going away; between wakes a push touches nothing the
    /// worker writes, and the worker drains on its own timer. For queues where the caller's
    /// cost matters more than latency (span export). `Batch(0)` and `Batch(1)` wake per item.
    Batch(usize),
}

impl WakePolicy {
    /// After how many accepted items the worker is woken (at least one).
    fn every(self) -> u64 {
        match self {
            WakePolicy::EachItem => 1,
            WakePolicy::Batch(n) => u64::try_from(n.max(1)).unwrap_or(u64::MAX),
        }
    }
}

/// A value alone on its cache lines (two, for the adjacent-line prefetcher), so that what
/// the callers write and what the worker writes do not share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// The counters only the senders write.
#[derive(Debug, Default)]
struct SenderCounts {
    accepted: AtomicU64,
    dropped: AtomicU64,
    /// In batch mode, the accepted count at which the next push wakes the worker.
    next_wake: AtomicU64,
}

/// What both ends of one queue share. Read-mostly fields first; what the senders write, what
/// the worker writes and the wake-up each sit on their own cache lines.
#[derive(Debug)]
struct Shared {
    capacity: usize,
    /// Accepted items between two wakes of the worker (1: every item wakes it).
    wake_every: u64,
    closed: AtomicBool,
    /// The [`WorkReceiver`] was dropped: nothing more will be done.
    worker_gone: AtomicBool,
    /// Live [`WorkQueue`] handles; the last one to go wakes the worker so that it can stop.
    senders: AtomicUsize,
    sent: Padded<SenderCounts>,
    /// Items the worker took out of the channel (written by the worker only).
    taken: Padded<AtomicU64>,
    /// Wakes the worker: items wait, a flush wants it to drain now, or the queue was closed.
    wake: Padded<Notify>,
    /// How many accepted items the worker has finished; flushes wait on it.
    processed: watch::Sender<u64>,
    last_error: LastError,
}

impl Shared {
    /// Whether no sender can push any more: closed, or every sender dropped.
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.senders.load(Ordering::Acquire) == 0
    }
}

/// Takes one waiting item out of the channel and counts it as taken.
fn take_one<T>(rx: &mut Mutex<Receiver<T>>, taken: &mut u64, shared: &Shared) -> Option<T> {
    let item = rx
        .get_mut()
        .unwrap_or_else(PoisonError::into_inner)
        .try_recv()
        .ok()?;
    *taken += 1;
    shared.taken.0.store(*taken, Ordering::Release);
    Some(item)
}

/// The sending side of a bounded work queue: cheap to clone, never waits.
///
/// The items sit in a preallocated ring of `capacity` slots (`std::sync::mpsc::sync_channel`,
/// as the OpenTelemetry SDK's batch processor uses): a push is one compare-and-swap on the
/// ring's tail and a count, and wakes the worker as the queue's [`WakePolicy`] says.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use andon_runtime::{Rejected, work_queue};
///
/// let (queue, mut worker) = work_queue::<u32>(2);
/// tokio::spawn(async move {
///     let mut batch = Vec::new();
///     while worker.recv_batch(&mut batch, 16).await {
///         let done = batch.len() as u64;
///         batch.clear(); // deliver them
///         worker.done(done);
///     }
/// });
/// queue.try_push(1).unwrap();
/// queue.try_push(2).unwrap();
/// assert!(matches!(queue.try_push(3), Ok(()) | Err(Rejected::Full(3))));
/// queue.flush(Duration::from_secs(5)).await.unwrap();
/// assert_eq!(queue.counts().depth(), 0);
/// # }
/// ```
#[derive(Debug)]
pub struct WorkQueue<T> {
    tx: SyncSender<T>,
    shared: Arc<Shared>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        WorkQueue {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for WorkQueue<T> {
    fn drop(&mut self) {
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last sender: a worker waiting for a wake would otherwise never learn.
            self.shared.wake.0.notify_one();
        }
    }
}

/// The counters of one [`WorkQueue`], readable without holding a sender (see
/// [`WorkQueue::counts`]).
#[derive(Debug, Clone)]
pub struct QueueCounts {
    shared: Arc<Shared>,
}

impl QueueCounts {
    /// Items accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.sent.0.accepted.load(Ordering::Acquire)
    }

    /// Items refused so far (queue full or closed).
    pub fn dropped(&self) -> u64 {
        self.shared.sent.0.dropped.load(Ordering::Relaxed)
    }

    /// Accepted items the worker has finished.
    pub fn processed(&self) -> u64 {
        *self.shared.processed.borrow()
    }

    /// Accepted items not finished yet: waiting in the queue or being processed (what a
    /// queue-depth gauge shows).
    pub fn depth(&self) -> u64 {
        self.accepted().saturating_sub(self.processed())
    }

    /// The last failure the worker reported.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.get()
    }
}

/// The worker's side of a bounded work queue: takes items and marks them done.
#[derive(Debug)]
pub struct WorkReceiver<T> {
    /// Only ever used through `&mut self` (`Mutex::get_mut`, no locking): the mutex makes the
    /// receiver shareable by reference across a worker's awaits.
    rx: Mutex<Receiver<T>>,
    /// Items taken so far, published to [`Shared::taken`].
    taken: u64,
    shared: Arc<Shared>,
}

impl<T> Drop for WorkReceiver<T> {
    fn drop(&mut self) {
        self.shared.worker_gone.store(true, Ordering::Release);
        // Wakes the flushes waiting for this worker: they return `WorkerGone`.
        self.shared.processed.send_modify(|_| {});
    }
}

/// A bounded work queue holding at most `capacity` items (at least one), whose worker is
/// woken by every accepted item ([`WakePolicy::EachItem`]): the sending side for callers and
/// the receiving side for the one worker task.
pub fn work_queue<T>(capacity: usize) -> (WorkQueue<T>, WorkReceiver<T>) {
    work_queue_with(capacity, WakePolicy::EachItem)
}

/// A bounded work queue holding at most `capacity` items (at least one), whose worker is
/// woken as `wake` says; the ring of `capacity` slots is allocated here, at once.
pub fn work_queue_with<T>(capacity: usize, wake: WakePolicy) -> (WorkQueue<T>, WorkReceiver<T>) {
    let capacity = capacity.max(1);
    let wake_every = wake.every();
    let (tx, rx) = sync_channel(capacity);
    let shared = Arc::new(Shared {
        capacity,
        wake_every,
        closed: AtomicBool::new(false),
        worker_gone: AtomicBool::new(false),
        senders: AtomicUsize::new(1),
        sent: Padded(SenderCounts {
            next_wake: AtomicU64::new(wake_every),
            ..SenderCounts::default()
        }),
        taken: Padded::default(),
        wake: Padded::default(),
        processed: watch::Sender::new(0),
        last_error: LastError::default(),
    });
    (
        WorkQueue {
            tx,
            shared: Arc::clone(&shared),
        },
        WorkReceiver {
            rx: Mutex::new(rx),
            taken: 0,
            shared,
        },
    )
}

impl<T> WorkQueue<T> {
    /// Queues `item` without waiting. A full or closed queue refuses it, counted as dropped,
    /// and hands it back.
    ///
    /// # Errors
    ///
    /// [`Rejected::Full`] when the queue holds its capacity, [`Rejected::Closed`] after
    /// [`close`](Self::close) or once the worker is gone.
    #[inline]
    pub fn try_push(&self, item: T) -> Result<(), Rejected<T>> {
        let shared = &*self.shared;
        let sent = &shared.sent.0;
        if shared.closed.load(Ordering::Acquire) {
            sent.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(Rejected::Closed(item));
        }
        match self.tx.try_send(item) {
            Ok(()) => {
                // Relaxed: the item itself is handed over by the channel; the count is for
                // flush targets, stats and the batch wake.
                let accepted = sent.accepted.fetch_add(1, Ordering::Relaxed) + 1;
                if shared.wake_every == 1 {
                    shared.wake.0.notify_one();
                } else if accepted >= sent.next_wake.load(Ordering::Relaxed) {
                    // Two senders racing here both wake the worker: harmless, and rare.
                    sent.next_wake
                        .store(accepted + shared.wake_every, Ordering::Relaxed);
                    shared.wake.0.notify_one();
                }
                Ok(())
            }
            Err(error) => {
                sent.dropped.fetch_add(1, Ordering::Relaxed);
                Err(match error {
                    TrySendError::Full(item) => Rejected::Full(item),
                    TrySendError::Disconnected(item) => Rejected::Closed(item),
                })
            }
        }
    }

    /// How many items the queue can hold.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many items wait in the queue itself (not yet taken by the worker).
    pub fn queued(&self) -> usize {
        let accepted = self.shared.sent.0.accepted.load(Ordering::Acquire);
        let taken = self.shared.taken.0.load(Ordering::Acquire);
        usize::try_from(accepted.saturating_sub(taken)).unwrap_or(usize::MAX)
    }

    /// Where the last failure is kept, to report one from the sending side.
    pub fn last_error_slot(&self) -> &LastError {
        &self.shared.last_error
    }

    /// The queue's counters (accepted, dropped, processed, depth, last error): a read-only
    /// view that does not keep the queue open, so a component's stats may outlive the senders.
    pub fn counts(&self) -> QueueCounts {
        QueueCounts {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Wakes the worker now, whatever the queue's [`WakePolicy`] (it returns from
    /// [`WorkReceiver::woken`] or re-checks in [`WorkReceiver::recv`]).
    pub fn wake(&self) {
        self.shared.wake.0.notify_one();
    }

    /// Waits until every item accepted before the call is done, at most `deadline`; wakes
    /// the worker first so that a worker draining on a timer drains now.
    ///
    /// # Errors
    ///
    /// [`FlushError::TimedOut`] when the deadline passed first, [`FlushError::WorkerGone`]
    /// when the worker stopped first.
    pub async fn flush(&self, deadline: Duration) -> Result<(), FlushError> {
        let Some(target) = self.flush_target() else {
            return Ok(());
        };
        match tokio::time::timeout(deadline, self.wait_done(target)).await {
            Ok(finished) => finished,
            Err(_) => Err(FlushError::TimedOut),
        }
    }

    /// As [`flush`](Self::flush), without a deadline: waits until every item accepted before
    /// the call is done or the worker is gone. Uses no tokio timer, so it runs in any
    /// runtime; for a component whose own flush promises no deadline (the history's).
    ///
    /// # Errors
    ///
    /// [`FlushError::WorkerGone`] when the worker stopped first.
    pub async fn flush_unbounded(&self) -> Result<(), FlushError> {
        match self.flush_target() {
            Some(target) => self.wait_done(target).await,
            None => Ok(()),
        }
    }

    /// The processed count a flush called now waits for; `None` when it is reached already.
    fn flush_target(&self) -> Option<u64> {
        let shared = &*self.shared;
        let target = shared.sent.0.accepted.load(Ordering::Acquire);
        (*shared.processed.borrow() < target).then_some(target)
    }

    /// Wakes the worker, then waits until `target` items are done (`Ok`) or the worker is
    /// gone first.
    async fn wait_done(&self, target: u64) -> Result<(), FlushError> {
        let shared = &*self.shared;
        let mut processed = shared.processed.subscribe();
        self.wake();
        let finished = processed
            .wait_for(|done| *done >= target || shared.worker_gone.load(Ordering::Acquire))
            .await
            // The sender lives in `shared`: the wait cannot fail while we hold it.
            .is_ok_and(|done| *done >= target);
        if finished {
            Ok(())
        } else {
            Err(FlushError::WorkerGone)
        }
    }

    /// Refuses every item from now on; the worker finishes what was accepted, then its
    /// [`recv`](WorkReceiver::recv) answers `None`. Whether this call closed the queue
    /// (`false`: it was closed already), so that a shutdown runs once however often called.
    pub fn close(&self) -> bool {
        let first = !self.shared.closed.swap(true, Ordering::AcqRel);
        self.wake();
        first
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<T> WorkReceiver<T> {
    /// The next item, waiting for one; `None` once the queue is closed (or every sender is
    /// gone) and drained. In a [`WakePolicy::Batch`] queue the wait lasts until a batch is
    /// full, a flush, or the close. Cancel-safe: a dropped call loses no item.
    pub async fn recv(&mut self) -> Option<T> {
        let WorkReceiver { rx, taken, shared } = self;
        let shared = &**shared;
        loop {
            if let Some(item) = take_one(rx, taken, shared) {
                return Some(item);
            }
            // Registered before the re-check below, so that a push or close between the
            // check and the wait still wakes this call.
            let notified = shared.wake.0.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.is_closed() {
                // Whatever was pushed before the close or the last sender's drop is visible.
                return take_one(rx, taken, shared);
            }
            if let Some(item) = take_one(rx, taken, shared) {
                return Some(item);
            }
            notified.await;
        }
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        take_one(&mut self.rx, &mut self.taken, &self.shared)
    }

    /// Waits for one item, then takes what else is waiting, up to `max` in `batch` (which
    /// should be empty). `false` once the queue is closed and drained: nothing was added.
    pub async fn recv_batch(&mut self, batch: &mut Vec<T>, max: usize) -> bool {
        let Some(first) = self.recv().await else {
            return false;
        };
        batch.push(first);
        self.take_waiting(batch, max);
        true
    }

    /// Takes what is waiting now, without waiting, until `batch` holds `max` items. How many
    /// were taken.
    pub fn take_waiting(&mut self, batch: &mut Vec<T>, max: usize) -> usize {
        let before = batch.len();
        let rx = self.rx.get_mut().unwrap_or_else(PoisonError::into_inner);
        while batch.len() < max {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let taken = batch.len() - before;
        if taken > 0 {
            self.taken += taken as u64;
            self.shared.taken.0.store(self.taken, Ordering::Release);
        }
        taken
    }

    /// Whether no sender can push any more: closed, or every sender dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Whether a sender called [`close`](WorkQueue::close): an explicit shutdown, not merely
    /// every sender going away. A worker that retries a lost peer may give up sooner after it.
    pub fn close_called(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Waits until the queue's [`WakePolicy`] wakes the worker, a sender
    /// [`wake`](WorkQueue::wake)s it, a flush asks it to drain, the queue is closed or the
    /// last sender is gone. A wake sent while nobody waited is kept for the next call.
    pub async fn woken(&self) {
        self.shared.wake.0.notified().await;
    }

    /// Marks `count` taken items as finished (delivered or given up on): flushes waiting for
    /// them return, and the depth goes down.
    pub fn done(&self, count: u64) {
        if count > 0 {
            self.shared.processed.send_modify(|done| *done += count);
        }
    }

    /// Remembers why processing failed, for stats and reports.
    pub fn set_last_error(&self, error: impl Into<String>) {
        self.shared.last_error.set(error);
    }

    /// Where the last failure is kept.
    pub fn last_error_slot(&self) -> &LastError {
        &self.shared.last_error
    }

    /// Items accepted so far (as [`QueueCounts::accepted`]).
    pub fn accepted(&self) -> u64 {
        self.shared.sent.0.accepted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests;
