//! Turning an operation's result and duration into a signal, as code generation steps and other
//! pipelines report themselves.

use std::fmt::Display;
use std::time::Duration;

use andon_core::AndonSignal;

/// The signal for one operation: GREEN when it succeeded within `budget`, YELLOW when it succeeded
/// but took longer, RED when it failed.
///
/// The signal carries the component, the duration in milliseconds (`duration_ms`) and the budget
/// (`budget_ms`) as attributes, and the error text for a failure.
///
/// ```
/// use std::time::Duration;
/// use andon::{signal_for_outcome, Color};
///
/// let ok: Result<(), String> = Ok(());
/// let budget = Duration::from_millis(500);
/// let fast = signal_for_outcome("codegen", &ok, Duration::from_millis(120), budget);
/// assert_eq!(fast.color(), Color::Green);
/// let slow = signal_for_outcome("codegen", &ok, Duration::from_secs(2), budget);
/// assert_eq!(slow.color(), Color::Yellow);
/// let failed: Result<(), String> = Err("template not found".into());
/// let red = signal_for_outcome("codegen", &failed, Duration::from_millis(5), budget);
/// assert_eq!(red.color(), Color::Red);
/// assert!(red.message().contains("template not found"));
/// ```
pub fn signal_for_outcome<T, E: Display>(
    component: &str,
    result: &Result<T, E>,
    duration: Duration,
    budget: Duration,
) -> AndonSignal {
    let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let signal = match result {
        Err(error) => AndonSignal::red(format!("{component} failed: {error}"))
            .with_attribute("error", error.to_string()),
        Ok(_) if duration > budget => AndonSignal::yellow(format!(
            "{component} took {} ms, over its budget of {} ms",
            millis(duration),
            millis(budget)
        )),
        Ok(_) => AndonSignal::green(format!("{component} succeeded in {} ms", millis(duration))),
    };
    signal
        .with_component(component)
        .with_attribute("duration_ms", millis(duration))
        .with_attribute("budget_ms", millis(budget))
}

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::Color;

    #[test]
    fn budget_boundary_is_green() {
        let ok: Result<u8, &str> = Ok(1);
        let s = signal_for_outcome(
            "step",
            &ok,
            Duration::from_millis(500),
            Duration::from_millis(500),
        );
        assert_eq!(s.color(), Color::Green);
        assert_eq!(s.component(), Some("step"));
        assert_eq!(s.attributes()["duration_ms"], 500);
        let s = signal_for_outcome(
            "step",
            &ok,
            Duration::from_millis(501),
            Duration::from_millis(500),
        );
        assert_eq!(s.color(), Color::Yellow);
        assert_eq!(s.message(), "step took 501 ms, over its budget of 500 ms");
    }

    #[test]
    fn failure_is_red_whatever_the_duration() {
        let failed: Result<u8, &str> = Err("boom");
        let s = signal_for_outcome("step", &failed, Duration::ZERO, Duration::from_secs(1));
        assert_eq!(s.color(), Color::Red);
        assert_eq!(s.attributes()["error"], "boom");
    }
}
