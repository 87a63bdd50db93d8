//! The worker's side for a worker that is a plain thread rather than a task (the history's
//! SQLite writer, which blocks in SQLite between batches anyway): a receive that blocks the
//! thread, at most for a timeout, woken by the same pushes, flushes and close as
//! [`WorkReceiver::recv`].

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

use super::{WorkReceiver, take_one};

/// Why a [`WorkReceiver::recv_timeout`] returned without an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived within the timeout; the queue is still open.
    Timeout,
    /// The queue is closed (or every sender is gone) and drained: nothing more will come.
    Closed,
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecvTimeoutError::Timeout => {
                "no item arrived within the timeout: wait again or do the periodic work due"
            }
            RecvTimeoutError::Closed => {
                "the queue is closed and drained: stop the worker, nothing more will come"
            }
        })
    }
}

impl std::error::Error for RecvTimeoutError {}

impl<T> WorkReceiver<T> {
    /// The next item, blocking the calling thread for it at most `timeout`: for a worker that
    /// runs on a thread of its own, not in an async runtime (there, use [`recv`](Self::recv)).
    /// Needs no runtime and no timer: the wait is a thread park, ended by the wake of a push
    /// (as the queue's [`WakePolicy`](super::WakePolicy) says), a flush, the close or the
    /// last sender going away.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when nothing arrived in time,
    /// [`RecvTimeoutError::Closed`] once the queue is closed (or every sender is gone) and
    /// drained.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        let WorkReceiver { rx, taken, shared } = self;
        let shared = &**shared;
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            if let Some(item) = take_one(rx, taken, shared) {
                return Ok(item);
            }
            // Registered before the re-check below, as in `recv`: a push or close between the
            // check and the park still wakes this thread.
            let mut notified = pin!(shared.wake.0.notified());
            notified.as_mut().enable();
            if shared.is_closed() {
                return take_one(rx, taken, shared).ok_or(RecvTimeoutError::Closed);
            }
            if let Some(item) = take_one(rx, taken, shared) {
                return Ok(item);
            }
            if !park_until(notified, &waker, deadline) {
                return take_one(rx, taken, shared).ok_or(RecvTimeoutError::Timeout);
            }
        }
    }
}

/// Wakes a parked thread.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between polls, until it is ready (`true`) or the
/// deadline passed (`false`; `None`: no deadline).
fn park_until<F: Future>(
    mut future: Pin<&mut F>,
    waker: &Waker,
    deadline: Option<Instant>,
) -> bool {
    let mut cx = Context::from_waker(waker);
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                std::thread::park_timeout(left);
            }
        }
    }
}
