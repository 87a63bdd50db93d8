//! The production line (jidoka): RUNNING, or STOPPED by a signal until someone resumes it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::signal::AndonSignal;

/// The state of a [`Line`].
///
/// It serializes as `{"state": "STOPPED", "since": "…", "signal": {…}}` or `{"state": "RUNNING",
/// "since": "…", "resumed": {…}}` and reads back from the same form, so a program can keep it
/// across a restart (the `andon` umbrella does, with `[line] state_file`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineState {
    /// Work goes on.
    Running {
        /// When the line started or was last resumed.
        #[serde(with = "crate::signal::rfc3339")]
        since: SystemTime,
        /// Who resumed it last, and why; `None` if it never stopped.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resumed: Option<Resumption>,
    },
    /// Work must halt until the line is resumed.
    Stopped {
        /// When it stopped.
        #[serde(with = "crate::signal::rfc3339")]
        since: SystemTime,
        /// The signal that stopped it.
        signal: Arc<AndonSignal>,
    },
}

impl LineState {
    /// Whether work may go on.
    pub fn is_running(&self) -> bool {
        matches!(self, LineState::Running { .. })
    }

    /// The signal that stopped the line, if it is stopped.
    pub fn stopping_signal(&self) -> Option<&Arc<AndonSignal>> {
        match self {
            LineState::Stopped { signal, .. } => Some(signal),
            LineState::Running { .. } => None,
        }
    }
}

/// Who resumed a line, when, and with what note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumption {
    /// The person or automation that resumed the line.
    pub by: String,
    /// Why it was safe to resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the line was resumed.
    #[serde(with = "crate::signal::rfc3339")]
    pub at: SystemTime,
}

/// The error a worker gets from [`Line::checkpoint`] while the line is stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStopped {
    /// The signal that stopped the line.
    pub signal: Arc<AndonSignal>,
    /// When it stopped.
    pub since: SystemTime,
}

impl fmt::Display for LineStopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the line is stopped since {} by {} (signal {}): halt, and resume the line once the problem is fixed",
            humantime::format_rfc3339_millis(self.since),
            self.signal,
            self.signal.id()
        )
    }
}

impl std::error::Error for LineStopped {}

/// A cloneable handle to the state of the production line.
///
/// Any part of the program may stop the line with the signal that made it necessary; workers call
/// [`checkpoint`](Line::checkpoint) in their loops (one atomic load while running) or await
/// [`wait_until_running`](Line::wait_until_running), and halt while it is stopped. Someone resumes
/// it once the cause is fixed.
///
/// # Example
///
/// ```
/// use andon_core::{AndonSignal, Line};
///
/// let line = Line::new();
/// assert!(line.checkpoint().is_ok());
///
/// line.stop(AndonSignal::red("Queue overflow").with_component("queue"));
/// let stopped = line.checkpoint().unwrap_err();
/// assert_eq!(stopped.signal.message(), "Queue overflow");
///
/// line.resume("alice", Some("drained the queue"));
/// assert!(line.is_running());
/// ```
#[derive(Clone)]
pub struct Line {
    inner: Arc<Inner>,
}

struct Inner {
    /// Mirrors `state` for the lock-free fast path of `checkpoint`. Written only while the watch
    /// channel's write lock is held, so it never disagrees with `state` once a change completes.
    stopped: AtomicBool,
    stops: AtomicU64,
    state: watch::Sender<LineState>,
}

impl Line {
    /// A new, running line.
    pub fn new() -> Self {
        Self::with_state(LineState::Running {
            since: SystemTime::now(),
            resumed: None,
        })
    }

    /// A line that starts in `state`: a stopped line restored after a restart stays stopped,
    /// with its stopping signal and the time it stopped.
    ///
    /// ```
    /// use andon_core::{AndonSignal, Line, LineState};
    ///
    /// let before = Line::new();
    /// before.stop(AndonSignal::red("disk full").with_component("db"));
    /// let saved = serde_json::to_string(&before.state())?;
    ///
    /// // … the process restarts …
    /// let restored: LineState = serde_json::from_str(&saved)?;
    /// let line = Line::with_state(restored);
    /// assert_eq!(line.checkpoint().unwrap_err().signal.message(), "disk full");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn with_state(state: LineState) -> Self {
        let stopped = !state.is_running();
        let (state, _) = watch::channel(state);
        Line {
            inner: Arc::new(Inner {
                stopped: AtomicBool::new(stopped),
                stops: AtomicU64::new(0),
                state,
            }),
        }
    }

    /// Stops the line because of `signal`. Returns `true` if this call stopped it, `false` if it
    /// was already stopped (the first stopping signal is kept).
    pub fn stop(&self, signal: impl Into<Arc<AndonSignal>>) -> bool {
        let signal = signal.into();
        self.inner.state.send_if_modified(|state| {
            if !state.is_running() {
                return false;
            }
            *state = LineState::Stopped {
                since: SystemTime::now(),
                signal,
            };
            self.inner.stopped.store(true, Ordering::Release);
            self.inner.stops.fetch_add(1, Ordering::Relaxed);
            true
        })
    }

    /// Resumes the line. Returns `true` if this call resumed it, `false` if it was running.
    pub fn resume(&self, by: impl Into<String>, note: Option<&str>) -> bool {
        let by = by.into();
        self.inner.state.send_if_modified(|state| {
            if state.is_running() {
                return false;
            }
            let at = SystemTime::now();
            *state = LineState::Running {
                since: at,
                resumed: Some(Resumption {
                    by,
                    note: note.map(str::to_owned),
                    at,
                }),
            };
            self.inner.stopped.store(false, Ordering::Release);
            true
        })
    }

    /// Whether work may go on.
    #[inline]
    pub fn is_running(&self) -> bool {
        !self.inner.stopped.load(Ordering::Acquire)
    }

    /// `Ok(())` while the line runs; [`LineStopped`] with the stopping signal while it is stopped.
    ///
    /// Costs one atomic load on a running line: call it in every loop iteration.
    #[inline]
    pub fn checkpoint(&self) -> Result<(), LineStopped> {
        if self.is_running() {
            Ok(())
        } else {
            self.stopped_error()
        }
    }

    #[cold]
    fn stopped_error(&self) -> Result<(), LineStopped> {
        match &*self.inner.state.borrow() {
            LineState::Stopped { since, signal } => Err(LineStopped {
                signal: Arc::clone(signal),
                since: *since,
            }),
            // Resumed between the atomic load and this read.
            LineState::Running { .. } => Ok(()),
        }
    }

    /// Waits until the line runs (returns at once if it does).
    pub async fn wait_until_running(&self) {
        let mut receiver = self.inner.state.subscribe();
        // The sender lives in `self.inner`, so the channel cannot close while we wait.
        let _ = receiver.wait_for(LineState::is_running).await;
    }

    /// The current state.
    pub fn state(&self) -> LineState {
        self.inner.state.borrow().clone()
    }

    /// Calls `f` with the line's current state, without copying it (the state cannot change
    /// while `f` runs, so keep `f` short and never stop or resume the line from it).
    pub fn inspect<R>(&self, f: impl FnOnce(&LineState) -> R) -> R {
        f(&self.inner.state.borrow())
    }

    /// How many times the line has stopped since it was created.
    pub fn stop_count(&self) -> u64 {
        self.inner.stops.load(Ordering::Relaxed)
    }

    /// A receiver of state changes, for boards, gauges and loggers.
    ///
    /// Like any watch, it sees the latest state: a stop and a resume in quick succession may show
    /// only the resume. Use [`stop_count`](Line::stop_count) to count stops.
    pub fn subscribe(&self) -> LineWatch {
        LineWatch {
            receiver: self.inner.state.subscribe(),
        }
    }
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("state", &*self.inner.state.borrow())
            .field("stops", &self.stop_count())
            .finish()
    }
}

/// Receives the changes of a [`Line`]'s state.
#[derive(Debug, Clone)]
pub struct LineWatch {
    receiver: watch::Receiver<LineState>,
}

impl LineWatch {
    /// Waits for the next change and returns the new state.
    pub async fn changed(&mut self) -> LineState {
        // The sender lives as long as any `Line` handle; when all are gone, report the last state.
        let _ = self.receiver.changed().await;
        self.receiver.borrow_and_update().clone()
    }

    /// The current state.
    pub fn current(&self) -> LineState {
        self.receiver.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stop_and_resume_follow_the_state_machine() {
        let line = Line::new();
        assert!(line.is_running());
        assert!(line.checkpoint().is_ok());

        assert!(line.stop(AndonSignal::red("first")));
        assert!(!line.stop(AndonSignal::red("second")), "already stopped");
        let err = line.checkpoint().unwrap_err();
        assert_eq!(
            err.signal.message(),
            "first",
            "the first stopping signal is kept"
        );
        assert!(err.to_string().contains("the line is stopped"));
        assert!(err.to_string().contains("resume the line"));
        assert_eq!(line.stop_count(), 1);

        assert!(line.resume("alice", Some("fixed")));
        assert!(!line.resume("bob", None), "already running");
        match line.state() {
            LineState::Running {
                resumed: Some(r), ..
            } => {
                assert_eq!(r.by, "alice");
                assert_eq!(r.note.as_deref(), Some("fixed"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(line.checkpoint().is_ok());
    }

    #[test]
    fn clones_share_the_line() {
        let a = Line::new();
        let b = a.clone();
        a.stop(AndonSignal::red("x"));
        assert!(!b.is_running());
        b.resume("ops", None);
        assert!(a.is_running());
    }

    #[test]
    fn state_serializes_for_boards() {
        let line = Line::new();
        line.stop(AndonSignal::red("boom").with_component("db"));
        let json = serde_json::to_value(line.state()).unwrap();
        assert_eq!(json["state"], "STOPPED");
        assert_eq!(json["signal"]["component"], "db");
    }

    #[test]
    fn a_saved_state_reads_back_into_the_same_line() {
        let line = Line::new();
        line.stop(
            AndonSignal::red("boom")
                .with_component("db")
                .with_attribute("line.stopped", true),
        );
        let saved = serde_json::to_string(&line.state()).unwrap();
        let restored = Line::with_state(serde_json::from_str(&saved).unwrap());
        assert!(!restored.is_running(), "a stopped line stays stopped");
        let stopped = restored.checkpoint().unwrap_err();
        let original = line.state();
        let original = original.stopping_signal().unwrap();
        assert_eq!(stopped.signal.id(), original.id());
        assert_eq!(stopped.signal.component(), Some("db"));
        assert!(restored.resume("ops", Some("fixed")));

        let saved = serde_json::to_string(&restored.state()).unwrap();
        let again = Line::with_state(serde_json::from_str(&saved).unwrap());
        assert!(again.checkpoint().is_ok());
        match again.state() {
            LineState::Running {
                resumed: Some(r), ..
            } => assert_eq!((r.by.as_str(), r.note.as_deref()), ("ops", Some("fixed"))),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn wait_until_running_returns_on_resume() {
        let line = Line::new();
        line.wait_until_running().await; // running: returns at once
        line.stop(AndonSignal::red("halt"));
        let waiter = {
            let line = line.clone();
            tokio::spawn(async move { line.wait_until_running().await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "must wait while stopped");
        line.resume("ops", None);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn subscribers_see_changes() {
        let line = Line::new();
        let mut watch = line.subscribe();
        line.stop(AndonSignal::red("halt"));
        assert!(!watch.changed().await.is_running());
        line.resume("ops", None);
        assert!(watch.changed().await.is_running());
        assert!(watch.current().is_running());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_stop_and_resume_stay_consistent() {
        let line = Line::new();
        let mut tasks = Vec::new();
        for task in 0..32 {
            let line = line.clone();
            tasks.push(tokio::spawn(async move {
                let mut stopped = 0u64;
                for i in 0..500 {
                    if (task + i) % 2 == 0 {
                        stopped += u64::from(line.stop(AndonSignal::red(format!("t{task} i{i}"))));
                    } else {
                        line.resume(format!("t{task}"), None);
                    }
                    // The fast path and the state never disagree once a change has completed:
                    // a checkpoint error always carries a stopping signal.
                    if let Err(e) = line.checkpoint() {
                        assert!(e.signal.message().starts_with('t'));
                    }
                    tokio::task::yield_now().await;
                }
                stopped
            }));
        }
        let mut successful_stops = 0;
        for t in tasks {
            successful_stops += t.await.unwrap();
        }
        assert_eq!(
            successful_stops,
            line.stop_count(),
            "every stop counted once"
        );
        assert_eq!(line.is_running(), line.state().is_running());
        // Quiescent: one final stop and resume behave exactly as on a fresh line.
        line.resume("final", None);
        assert!(line.checkpoint().is_ok());
        assert!(line.stop(AndonSignal::red("last")));
        assert_eq!(line.checkpoint().unwrap_err().signal.message(), "last");
    }
}
