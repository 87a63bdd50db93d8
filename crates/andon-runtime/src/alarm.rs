//! [`Alarm`]: an action that runs on a thread of its own once a deadline passes, unless the
//! alarm is dropped first. It needs no runtime and no tokio timer, so it also bounds work that
//! runs where a runtime may lack one (a shutdown) or outside any runtime (a SQLite query).

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// Runs its action once `after` has passed since [`start`](Alarm::start), unless dropped
/// first. Dropping it cancels the action and waits for its thread to end, so an action that
/// has not run by then never runs later.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use andon_runtime::Alarm;
///
/// let rang = Arc::new(AtomicBool::new(false));
/// let flag = Arc::clone(&rang);
/// let alarm = Alarm::start("demo-alarm", Duration::from_secs(60), move || {
///     flag.store(true, Ordering::SeqCst)
/// });
/// assert!(alarm.is_some());
/// drop(alarm); // the work finished in time: the action never runs
/// assert!(!rang.load(Ordering::SeqCst));
/// ```
#[derive(Debug)]
pub struct Alarm {
    cancel: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Alarm {
    /// Starts a thread named `name` that runs `action` once `after` has passed, unless the
    /// alarm is dropped first. `None` when the thread cannot be started: the caller then has
    /// no deadline and says what that means for it.
    pub fn start(
        name: &str,
        after: Duration,
        action: impl FnOnce() + Send + 'static,
    ) -> Option<Alarm> {
        let (cancel, cancelled) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = cancelled.recv_timeout(after) {
                    action();
                }
            })
            .ok()?;
        Some(Alarm {
            cancel: Some(cancel),
            thread: Some(thread),
        })
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once; it ends without the action unless the
        // deadline already passed.
        drop(self.cancel.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use super::*;

    /// An alarm whose action counts its runs.
    fn counting(after: Duration) -> (Alarm, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&runs);
        let alarm = Alarm::start("test-alarm", after, move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        (alarm, runs)
    }

    #[test]
    fn the_action_runs_once_the_deadline_passes() {
        let (alarm, runs) = counting(Duration::from_millis(20));
        let waited = Instant::now();
        while runs.load(Ordering::SeqCst) == 0 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(alarm);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn dropped_in_time_it_never_runs() {
        let (alarm, runs) = counting(Duration::from_millis(50));
        drop(alarm);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }
}
