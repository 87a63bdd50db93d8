//! Wakes async waiters at their deadlines, so that a CRITICAL record (or a record waiting for
//! room) stops waiting for a stuck sink without a runtime timer: the logger works under any
//! async runtime, with or without tokio's time driver, and the writer thread, which may be the
//! stuck one, cannot be relied on to wake anybody.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::queue::lock;

/// Deadlines are rounded up to this step, so that a storm of waiters shares a few wake-ups
/// (each waiter wakes at most this much after its deadline).
const STEP: Duration = Duration::from_millis(5);

/// Deadlines to fire, earliest first, and whether to stop.
#[derive(Debug, Default)]
struct Deadlines {
    heap: BinaryHeap<Reverse<Instant>>,
    /// The deadlines are rounded from here.
    epoch: Option<Instant>,
    /// The last deadline pushed (rounded), to push each one once.
    last: Option<Instant>,
    stop: bool,
}

/// A set of deadlines served by one thread ([`run`](Timer::run)).
#[derive(Debug, Default)]
pub(crate) struct Timer {
    state: Mutex<Deadlines>,
    changed: Condvar,
}

impl Timer {
    /// Asks for a wake-up at `at`.
    pub(crate) fn wake_at(&self, at: Instant) {
        let mut st = lock(&self.state);
        let epoch = *st.epoch.get_or_insert(at);
        // Rounded up to the next step after the epoch (one before it stays as it is).
        let at = at
            .checked_duration_since(epoch)
            .and_then(|since| u32::try_from(since.as_nanos().div_ceil(STEP.as_nanos())).ok())
            .and_then(|steps| epoch.checked_add(STEP * steps))
            .unwrap_or(at);
        if st.last == Some(at) {
            return;
        }
        st.last = Some(at);
        let earlier = st.heap.peek().is_none_or(|Reverse(first)| at < *first);
        st.heap.push(Reverse(at));
        if earlier {
            self.changed.notify_one();
        }
    }

    /// Makes [`run`](Timer::run) return.
    pub(crate) fn stop(&self) {
        lock(&self.state).stop = true;
        self.changed.notify_one();
    }

    /// Calls `fire` (without the lock held) each time one or more deadlines pass, until
    /// [`stop`](Timer::stop).
    pub(crate) fn run(&self, fire: impl Fn()) {
        let mut st = lock(&self.state);
        loop {
            if st.stop {
                return;
            }
            let now = Instant::now();
            let mut due = false;
            while st.heap.peek().is_some_and(|Reverse(at)| *at <= now) {
                st.heap.pop();
                due = true;
            }
            if due {
                drop(st);
                fire();
                st = lock(&self.state);
                continue;
            }
            st = match st.heap.peek() {
                Some(Reverse(at)) => {
                    let wait = at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(st, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[test]
    fn deadlines_fire_in_order_and_stop_ends_the_thread() {
        let timer = Arc::new(Timer::default());
        let fired = Arc::new(AtomicU32::new(0));
        let thread = {
            let (timer, fired) = (Arc::clone(&timer), Arc::clone(&fired));
            std::thread::spawn(move || {
                timer.run(|| {
                    fired.fetch_add(1, Ordering::SeqCst);
                })
            })
        };
        let now = Instant::now();
        timer.wake_at(now + Duration::from_millis(20));
        timer.wake_at(now);
        let guard = Instant::now() + Duration::from_secs(30);
        // Both deadlines pass and are served; a hang would fail at the guard.
        while !lock(&timer.state).heap.is_empty() && Instant::now() < guard {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(lock(&timer.state).heap.is_empty());
        let guard = Instant::now() + Duration::from_secs(30);
        while fired.load(Ordering::SeqCst) == 0 && Instant::now() < guard {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(fired.load(Ordering::SeqCst) >= 1);
        timer.stop();
        thread.join().unwrap();
    }
}
