//! The one clock andon's components read, injectable so that tests control time: the alert
//! manager's rules, deduplication and escalation, and the history's background retention.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::lock;

/// Tells a component the wall-clock time.
///
/// [`SystemClock`] reads the system's clock; [`ManualClock`] moves only when told to. Any
/// `Fn() -> SystemTime` closure is a clock too (`Arc::new(move || fixed)`), for a test that
/// needs one fixed instant.
pub trait Clock: Send + Sync {
    /// The current time as this clock sees it.
    fn now(&self) -> SystemTime;
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

impl fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock").field("now", &self.now()).finish()
    }
}

/// The system's wall clock, [`SystemTime::now`]: what every component reads unless a test
/// hands it another [`Clock`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until [`advance`](ManualClock::advance)d, for tests and
/// simulations that must see time pass without waiting for it.
///
/// ```
/// use std::time::Duration;
/// use andon_runtime::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.now().duration_since(start).unwrap(), Duration::from_secs(60));
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock stopped at the current wall-clock time.
    pub fn new() -> Self {
        ManualClock(Mutex::new(SystemTime::now()))
    }

    /// A clock stopped at `time`.
    pub fn at(time: SystemTime) -> Self {
        ManualClock(Mutex::new(time))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }

    /// Sets the clock to `time` (which may be earlier: a wall clock can jump back).
    pub fn set(&self, time: SystemTime) {
        *lock(&self.0) = time;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *lock(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = UNIX_EPOCH + Duration::from_secs(1_000);
        let clock = ManualClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + Duration::from_secs(5));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn the_system_clock_and_a_closure_are_clocks() {
        let before = SystemTime::now();
        assert!(SystemClock.now() >= before);
        let fixed = UNIX_EPOCH + Duration::from_secs(42);
        let clock: Arc<dyn Clock> = Arc::new(move || fixed);
        assert_eq!(clock.now(), fixed);
        assert!(format!("{clock:?}").starts_with("Clock"));
    }
}
