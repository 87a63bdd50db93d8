//! The bounded queue between a component's callers and its worker task: a push never waits
//! (a full or closed queue refuses the item and counts it as dropped), the worker takes items
//! one by one or in batches and marks them done, and the shared counters answer what a
//! component reports: accepted, dropped, processed, the depth for a queue-depth gauge and the
//! last error. `flush` waits, within a deadline, until everything accepted before it is done.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use crate::lock;

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

/// What both ends of one queue share.
#[derive(Debug)]
struct Shared {
    capacity: usize,
    accepted: AtomicU64,
    dropped: AtomicU64,
    closed: AtomicBool,
    /// How many accepted items the worker has finished; flushes wait on it.
    processed: watch::Sender<u64>,
    /// Wakes the worker: a flush wants it to drain now, or the queue was closed.
    wake: Notify,
    last_error: LastError,
}

/// The sending side of a bounded work queue: cheap to clone, never waits.
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
    tx: mpsc::Sender<T>,
    shared: Arc<Shared>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            tx: self.tx.clone(),
            shared: Arc::clone(&self.shared),
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
        self.shared.accepted.load(Ordering::Acquire)
    }

    /// Items refused so far (queue full or closed).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
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
    rx: mpsc::Receiver<T>,
    shared: Arc<Shared>,
}

/// A bounded work queue holding at most `capacity` items (at least one): the sending side
/// for callers and the receiving side for the one worker task.
pub fn work_queue<T>(capacity: usize) -> (WorkQueue<T>, WorkReceiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let shared = Arc::new(Shared {
        capacity,
        accepted: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        closed: AtomicBool::new(false),
        processed: watch::Sender::new(0),
        wake: Notify::new(),
        last_error: LastError::default(),
    });
    (
        WorkQueue {
            tx,
            shared: Arc::clone(&shared),
        },
        WorkReceiver { rx, shared },
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
        if shared.closed.load(Ordering::Acquire) {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return Err(Rejected::Closed(item));
        }
        match self.tx.try_send(item) {
            Ok(()) => {
                // Relaxed: the item itself is handed over by the channel; the count is for
                // flush targets and stats.
                shared.accepted.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(match error {
                    mpsc::error::TrySendError::Full(item) => Rejected::Full(item),
                    mpsc::error::TrySendError::Closed(item) => Rejected::Closed(item),
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
        self.shared.capacity - self.tx.capacity()
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

    /// Wakes the worker if it waits in [`WorkReceiver::woken`] (for workers that drain on a
    /// timer or a signal rather than on every item).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Waits until every item accepted before the call is done, at most `deadline`; wakes
    /// the worker first so that a worker draining on a timer drains now.
    ///
    /// # Errors
    ///
    /// [`FlushError::TimedOut`] when the deadline passed first, [`FlushError::WorkerGone`]
    /// when the worker stopped first.
    pub async fn flush(&self, deadline: Duration) -> Result<(), FlushError> {
        let target = self.shared.accepted.load(Ordering::Acquire);
        let mut processed = self.shared.processed.subscribe();
        if *processed.borrow() >= target {
            return Ok(());
        }
        self.wake();
        let finished = async {
            tokio::select! {
                biased;
                done = processed.wait_for(|done| *done >= target) => done.map(|_| true).unwrap_or(false),
                // The worker dropped its receiver: nothing more will be done.
                () = self.tx.closed() => *self.shared.processed.borrow() >= target,
            }
        };
        match tokio::time::timeout(deadline, finished).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(FlushError::WorkerGone),
            Err(_) => Err(FlushError::TimedOut),
        }
    }

    /// Refuses every item from now on; the worker finishes what was accepted, then its
    /// [`recv`](WorkReceiver::recv) answers `None`.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.wake();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl<T> WorkReceiver<T> {
    /// The next item, waiting for one; `None` once the queue is closed (or every sender is
    /// gone) and drained.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(item) = self.try_recv() {
                return Some(item);
            }
            if self.shared.closed.load(Ordering::Acquire) {
                return None;
            }
            tokio::select! {
                item = self.rx.recv() => return item,
                () = self.shared.wake.notified() => {}
            }
        }
    }

    /// The next item if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
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
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        batch.len() - before
    }

    /// Whether no sender can push any more: closed, or every sender dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire) || self.rx.is_closed()
    }

    /// Waits until a sender [`wake`](WorkQueue::wake)s the worker, a flush asks it to drain,
    /// or the queue is closed.
    pub async fn woken(&self) {
        self.shared.wake.notified().await;
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
        self.shared.accepted.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_full_queue_refuses_and_counts_instead_of_waiting() {
        let (queue, mut worker) = work_queue(2);
        assert_eq!(queue.capacity(), 2);
        queue.try_push(1).unwrap();
        queue.try_push(2).unwrap();
        assert_eq!(queue.try_push(3), Err(Rejected::Full(3)));
        assert_eq!(queue.counts().dropped(), 1);
        assert_eq!(
            (
                queue.counts().accepted(),
                queue.counts().depth(),
                queue.queued()
            ),
            (2, 2, 2)
        );

        let mut batch = Vec::new();
        assert!(worker.recv_batch(&mut batch, 8).await);
        assert_eq!(batch, vec![1, 2]);
        assert_eq!(
            (queue.counts().depth(), queue.queued()),
            (2, 0),
            "taken is not done"
        );
        worker.done(2);
        assert_eq!((queue.counts().processed(), queue.counts().depth()), (2, 0));
        queue.try_push(4).unwrap();
        assert_eq!(Rejected::Full(5).into_inner(), 5);
        let counts = queue.counts();
        drop(queue);
        assert_eq!((counts.accepted(), counts.dropped()), (3, 1));
        assert_eq!((counts.processed(), counts.depth()), (2, 1));
        assert_eq!(counts.last_error(), None);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn flush_waits_for_the_worker_within_its_deadline() {
        let (queue, mut worker) = work_queue::<u32>(8);
        // Nothing queued: a flush returns at once.
        queue.flush(Duration::ZERO).await.unwrap();

        queue.try_push(1).unwrap();
        // Nobody works: the deadline ends the flush.
        assert_eq!(
            queue.flush(Duration::from_secs(1)).await,
            Err(FlushError::TimedOut)
        );
        let task = tokio::spawn(async move {
            // A worker that drains only when woken (a timer-driven exporter).
            loop {
                worker.woken().await;
                let mut batch = Vec::new();
                let taken = worker.take_waiting(&mut batch, 16) as u64;
                worker.done(taken);
                if worker.is_closed() {
                    return worker;
                }
            }
        });
        queue.try_push(2).unwrap();
        queue.flush(Duration::from_secs(1)).await.unwrap();
        assert_eq!(queue.counts().depth(), 0);
        queue.close();
        let worker = task.await.unwrap();
        drop(worker);
        queue.try_push(3).unwrap_err();
        assert!(FlushError::TimedOut.to_string().contains("deadline"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_flush_fails_when_the_worker_is_gone() {
        let (queue, worker) = work_queue(1);
        queue.try_push(1).unwrap();
        drop(worker);
        assert_eq!(
            queue.flush(Duration::from_secs(5)).await,
            Err(FlushError::WorkerGone)
        );
        assert_eq!(queue.try_push(2), Err(Rejected::Closed(2)));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn close_refuses_new_items_and_the_worker_drains_the_rest() {
        let (queue, mut worker) = work_queue(4);
        queue.try_push(1).unwrap();
        queue.try_push(2).unwrap();
        queue.close();
        assert!(queue.is_closed() && worker.is_closed());
        assert_eq!(queue.try_push(3), Err(Rejected::Closed(3)));
        assert_eq!(queue.counts().dropped(), 1);
        assert_eq!(worker.recv().await, Some(1));
        assert_eq!(worker.recv().await, Some(2));
        assert_eq!(worker.recv().await, None);
        let mut batch = Vec::new();
        assert!(!worker.recv_batch(&mut batch, 4).await);
        assert!(batch.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_last_error_is_kept_for_reports() {
        let (queue, worker) = work_queue::<()>(1);
        assert_eq!(queue.counts().last_error(), None);
        worker.set_last_error("sink `x`: connection refused");
        assert_eq!(
            queue.counts().last_error().as_deref(),
            Some("sink `x`: connection refused")
        );
        queue.last_error_slot().set("later");
        assert_eq!(worker.last_error_slot().get().as_deref(), Some("later"));
        queue.last_error_slot().clear();
        assert_eq!(queue.counts().last_error(), None);
        assert_eq!(worker.accepted(), 0);
    }
}
