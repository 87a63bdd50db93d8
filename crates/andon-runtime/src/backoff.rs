//! Waiting between delivery attempts: exponential [`Backoff`] with jitter and a cap, a bound
//! on the number of retries, and a receiver's `Retry-After` ([`parse_retry_after`]) honoured
//! in place of the computed delay.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The delays between attempts to deliver one thing (a notification, a signal).
///
/// Retry `n` (0-based) waits `base * factor^n`, at most the cap, times a random factor
/// between 0.5 and 1.5 (unless built [`without_jitter`](Backoff::without_jitter)), so that
/// many instances do not retry in step. A receiver that says when to come back
/// ([`with_retry_after`](Backoff::with_retry_after)) is believed for the next delay, up to
/// its own cap. [`next_retry`](Backoff::next_retry) says when to give up.
///
/// ```
/// use std::time::Duration;
/// use andon_runtime::Backoff;
///
/// let mut backoff = Backoff::new(Duration::from_millis(100))
///     .with_factor(5)
///     .with_cap(Duration::from_millis(500))
///     .without_jitter()
///     .with_max_retries(2);
/// assert_eq!(backoff.next_retry(), Some(Duration::from_millis(100)));
/// assert_eq!(backoff.next_retry(), Some(Duration::from_millis(500)));
/// assert_eq!(backoff.next_retry(), None); // give up
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    factor: u32,
    cap: Duration,
    jitter: bool,
    retry_after_cap: Duration,
    max_retries: u32,
    /// Delays handed out since the last reset.
    attempt: u32,
    /// A receiver's `Retry-After`, used for the next delay instead of the computed one.
    retry_after: Option<Duration>,
}

impl Backoff {
    /// The default cap on a computed delay.
    pub const DEFAULT_CAP: Duration = Duration::from_secs(60);
    /// The default cap on a receiver's `Retry-After` (a receiver asking for an hour is
    /// retried after five minutes).
    pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

    /// Delays starting at `base`, doubling, at most [`DEFAULT_CAP`](Self::DEFAULT_CAP), with
    /// jitter, and no bound on the number of retries.
    pub fn new(base: Duration) -> Self {
        Backoff {
            base,
            factor: 2,
            cap: Self::DEFAULT_CAP,
            jitter: true,
            retry_after_cap: Self::DEFAULT_RETRY_AFTER_CAP,
            max_retries: u32::MAX,
            attempt: 0,
            retry_after: None,
        }
    }

    /// Multiplies each delay by `factor` (at least 1) instead of 2.
    #[must_use]
    pub fn with_factor(mut self, factor: u32) -> Self {
        self.factor = factor.max(1);
        self
    }

    /// Caps a computed delay (before jitter) at `cap`.
    #[must_use]
    pub fn with_cap(mut self, cap: Duration) -> Self {
        self.cap = cap;
        self
    }

    /// Caps a receiver's `Retry-After` at `cap`.
    #[must_use]
    pub fn with_retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Uses the computed delays as they are, without the random factor.
    #[must_use]
    pub fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// Gives up after `max` retries: [`next_retry`](Self::next_retry) then answers `None`.
    #[must_use]
    pub fn with_max_retries(mut self, max: u32) -> Self {
        self.max_retries = max;
        self
    }

    /// The receiver said when to come back (`Retry-After`): the next delay is `wait`, at most
    /// the `Retry-After` cap, instead of the computed one. Chains into
    /// [`next_delay`](Self::next_delay) or [`next_retry`](Self::next_retry).
    pub fn with_retry_after(&mut self, wait: Duration) -> &mut Self {
        self.retry_after = Some(wait.min(self.retry_after_cap));
        self
    }

    /// The wait before the next retry, counting it.
    pub fn next_delay(&mut self) -> Duration {
        let attempt = self.attempt;
        self.attempt = self.attempt.saturating_add(1);
        if let Some(wait) = self.retry_after.take() {
            return wait;
        }
        let exp = self
            .base
            .saturating_mul(self.factor.saturating_pow(attempt.min(16)));
        let capped = exp.min(self.cap);
        if self.jitter {
            capped.mul_f64(0.5 + random_unit())
        } else {
            capped
        }
    }

    /// The wait before the next retry, or `None` when the retries are used up (give up).
    pub fn next_retry(&mut self) -> Option<Duration> {
        if self.attempt >= self.max_retries {
            self.retry_after = None;
            return None;
        }
        Some(self.next_delay())
    }

    /// How many delays were handed out since the last [`reset`](Self::reset).
    pub fn retries(&self) -> u32 {
        self.attempt
    }

    /// Starts over from the base delay (after a success), forgetting any `Retry-After`.
    pub fn reset(&mut self) {
        self.attempt = 0;
        self.retry_after = None;
    }
}

/// A number in `[0, 1)`, from std's randomly seeded hasher (no RNG crate needed for jitter).
fn random_unit() -> f64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    // 53 random bits: every value exactly representable in an f64.
    (hasher.finish() >> 11) as f64 / (1_u64 << 53) as f64
}

/// Reads an HTTP `Retry-After` header: delay-seconds (`120`) or an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), which becomes the time from `now` until then (zero for a
/// date in the past). `None` when it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// An IMF-fixdate, the HTTP-date form servers must send: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = u32::try_from(MONTHS.iter().position(|m| m == month)? + 1).ok()?;
    let day: u32 = day.parse().ok()?;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(str::parse::<u64>);
    let (Some(Ok(h)), Some(Ok(m)), Some(Ok(s)), None) =
        (hms.next(), hms.next(), hms.next(), hms.next())
    else {
        return None;
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + h * 3_600 + m * 60 + s))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_their_jitter_bounds_and_stop_at_the_cap() {
        let base = Duration::from_millis(100);
        let mut backoff = Backoff::new(base);
        for attempt in 0..5 {
            let d = backoff.next_delay();
            let nominal = base * 2_u32.pow(attempt);
            assert!(
                d >= nominal.mul_f64(0.5) && d <= nominal.mul_f64(1.5),
                "retry {attempt}: {d:?}"
            );
        }
        let mut capped = Backoff::new(base).with_cap(Duration::from_secs(1));
        for _ in 0..30 {
            assert!(capped.next_delay() <= Duration::from_millis(1_500));
        }
        let mut late = Backoff::new(base);
        for _ in 0..40 {
            late.next_delay();
        }
        assert!(late.next_delay() <= Duration::from_secs(90));
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..20 {
            seen.insert(Backoff::new(Duration::from_secs(1)).next_delay());
        }
        assert!(
            seen.len() > 1,
            "20 jittered delays were all equal: {seen:?}"
        );
    }

    #[test]
    fn retries_are_bounded_and_reset_starts_over() {
        let mut backoff = Backoff::new(Duration::from_millis(100))
            .with_factor(5)
            .with_cap(Duration::from_millis(500))
            .without_jitter()
            .with_max_retries(2);
        assert_eq!(backoff.next_retry(), Some(Duration::from_millis(100)));
        assert_eq!(backoff.next_retry(), Some(Duration::from_millis(500)));
        assert_eq!(backoff.retries(), 2);
        assert_eq!(backoff.next_retry(), None);
        backoff.reset();
        assert_eq!(backoff.next_retry(), Some(Duration::from_millis(100)));
    }

    #[test]
    fn a_retry_after_overrides_the_next_delay_only_and_is_capped() {
        let mut backoff = Backoff::new(Duration::from_millis(100)).without_jitter();
        assert_eq!(
            backoff
                .with_retry_after(Duration::from_secs(7))
                .next_delay(),
            Duration::from_secs(7)
        );
        // It still counts as a retry: the next computed delay is the second one.
        assert_eq!(backoff.next_delay(), Duration::from_millis(200));
        backoff.with_retry_after(Duration::from_secs(3_600));
        assert_eq!(backoff.next_delay(), Backoff::DEFAULT_RETRY_AFTER_CAP);
        backoff.with_retry_after(Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_717); // Sun, 06 Nov 1994 08:48:37 GMT
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(" Sun, 06 Nov 1994 08:49:37 GMT ", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 25:00:00 GMT", now),
            None
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
    }

    #[test]
    fn http_dates_land_on_the_right_day() {
        let date = parse_http_date("Thu, 29 Feb 2024 00:00:01 GMT");
        assert_eq!(date, Some(UNIX_EPOCH + Duration::from_secs(1_709_164_801)));
        let date = parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(date, Some(UNIX_EPOCH));
    }
}
