//! The line's *policy*: what a signal does to the line, and whether an unhandled YELLOW must be
//! escalated, as pure functions of the `[line]` configuration, the line's state and the signal.
//!
//! The umbrella applies the decisions (stops or resumes the [`Line`](crate::Line), writes the
//! state file, arms timers); it holds no rule of its own, so every program and test that wants
//! to know what andon *would* do asks the same functions.

use std::time::Duration;

use crate::config::LineConfig;
use crate::line::LineState;
use crate::signal::{AndonSignal, Color};

/// The attribute of a YELLOW that andon raises about itself (a part that missed its deadline,
/// say): it reports, it never escalates to a RED that stops the line.
pub const SELF_REPORT: &str = "andon.self_report";

/// The attribute of an escalated RED naming the YELLOW it escalates.
pub const ESCALATED_FROM: &str = "andon.escalated_from";

/// What a signal does to the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineDecision {
    /// The signal stops the line (if it is running): its color and component are in `[line]`.
    Stop,
    /// A GREEN from the component that stopped the line resumes it (`auto_resume_on_green`).
    Resume {
        /// Who resumes it, as the line records it: `auto-resume: GREEN from <component>`.
        by: String,
    },
    /// The line is left as it is.
    Leave,
}

/// What a signal does to its component's YELLOW escalation timer
/// (`[line] escalate_yellow_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalation {
    /// A YELLOW that could be escalated: arm the component's timer (unless one already runs: a
    /// problem that keeps warning is not handled, so further YELLOWs do not restart it).
    Arm {
        /// When the timer runs out.
        after: Duration,
    },
    /// A GREEN or RED from the component: disarm its timer.
    Disarm,
    /// Nothing to do (no escalation configured, a self-report, or a YELLOW with nothing to
    /// escalate to).
    Ignore,
}

/// The `[line]` rules as functions.
#[derive(Debug, Clone, Copy)]
pub struct LinePolicy;

impl LinePolicy {
    /// What `signal` does to a line in `state` under `config`.
    pub fn decide(config: &LineConfig, state: &LineState, signal: &AndonSignal) -> LineDecision {
        if config.stops(signal.color(), signal.component()) {
            return LineDecision::Stop;
        }
        if signal.color() == Color::Green && config.auto_resume_on_green {
            let stopped_by_same = state
                .stopping_signal()
                .is_some_and(|s| s.component() == signal.component());
            if stopped_by_same {
                return LineDecision::Resume {
                    by: format!("auto-resume: GREEN from {}", signal.component_or_unknown()),
                };
            }
        }
        LineDecision::Leave
    }

    /// [`decide`](LinePolicy::decide), with the signal's own say on stopping the line when it
    /// has one (a heartbeat's `stop_line`): `Some(true)` stops it whatever `[line]` says (a
    /// GREEN never stops it), `Some(false)` never stops it; resuming follows `[line]` as ever.
    pub fn decide_with(
        config: &LineConfig,
        state: &LineState,
        signal: &AndonSignal,
        stop_line: Option<bool>,
    ) -> LineDecision {
        match (stop_line, LinePolicy::decide(config, state, signal)) {
            (Some(true), _) if signal.color() != Color::Green => LineDecision::Stop,
            (Some(false), LineDecision::Stop) => LineDecision::Leave,
            (_, decision) => decision,
        }
    }

    /// What `signal` does to its component's YELLOW escalation timer.
    pub fn escalation(config: &LineConfig, signal: &AndonSignal) -> Escalation {
        let Some(after) = config.escalate_yellow_after else {
            return Escalation::Ignore;
        };
        if signal.attributes().contains_key(SELF_REPORT) {
            return Escalation::Ignore;
        }
        match signal.color() {
            Color::Green | Color::Red => Escalation::Disarm,
            // A YELLOW that stops the line itself, or from a component that may not stop it,
            // has nothing to escalate to.
            Color::Yellow
                if config.stops(Color::Yellow, signal.component())
                    || !config.stops(Color::Red, signal.component()) =>
            {
                Escalation::Ignore
            }
            Color::Yellow => Escalation::Arm { after },
        }
    }

    /// The RED that an unhandled YELLOW escalates to: same component and trace, the YELLOW's id
    /// and message kept.
    pub fn escalated_red(yellow: &AndonSignal, after: Duration) -> AndonSignal {
        let mut red = AndonSignal::red(format!(
            "YELLOW not handled within {after:?}: {}",
            yellow.message()
        ))
        .with_component(yellow.component_or_unknown())
        .with_attribute(ESCALATED_FROM, yellow.id().to_string())
        .with_attribute(
            "escalated_after_ms",
            u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
        );
        if let Some(trace_id) = yellow.trace_id() {
            red = red.with_trace_id(trace_id);
        }
        red
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use super::*;

    fn running() -> LineState {
        LineState::Running {
            since: SystemTime::now(),
            resumed: None,
        }
    }

    fn stopped_by(component: &str) -> LineState {
        LineState::Stopped {
            since: SystemTime::now(),
            signal: Arc::new(AndonSignal::red("jam").with_component(component)),
        }
    }

    #[test]
    fn red_stops_and_yellow_does_not_by_default() {
        let config = LineConfig::default();
        let red = AndonSignal::red("jam").with_component("press");
        let yellow = AndonSignal::yellow("slow").with_component("press");
        assert_eq!(
            LinePolicy::decide(&config, &running(), &red),
            LineDecision::Stop
        );
        assert_eq!(
            LinePolicy::decide(&config, &running(), &yellow),
            LineDecision::Leave
        );
    }

    #[test]
    fn green_resumes_only_the_line_its_own_component_stopped_and_only_when_asked() {
        let mut config = LineConfig::default();
        let green = AndonSignal::green("cleared").with_component("press");
        assert_eq!(
            LinePolicy::decide(&config, &stopped_by("press"), &green),
            LineDecision::Leave,
            "auto_resume_on_green is off by default"
        );
        config.auto_resume_on_green = true;
        assert_eq!(
            LinePolicy::decide(&config, &stopped_by("press"), &green),
            LineDecision::Resume {
                by: "auto-resume: GREEN from press".into()
            }
        );
        assert_eq!(
            LinePolicy::decide(&config, &stopped_by("oven"), &green),
            LineDecision::Leave
        );
        assert_eq!(
            LinePolicy::decide(&config, &running(), &green),
            LineDecision::Leave
        );
    }

    #[test]
    fn a_signal_s_own_stop_line_overrides_the_line_config() {
        let config = LineConfig::default();
        let yellow = AndonSignal::yellow("late").with_component("backup");
        let red = AndonSignal::red("missed").with_component("backup");
        let green = AndonSignal::green("back").with_component("backup");
        assert_eq!(
            LinePolicy::decide_with(&config, &running(), &yellow, Some(true)),
            LineDecision::Stop
        );
        assert_eq!(
            LinePolicy::decide_with(&config, &running(), &red, Some(false)),
            LineDecision::Leave
        );
        assert_eq!(
            LinePolicy::decide_with(&config, &running(), &green, Some(true)),
            LineDecision::Leave
        );
        assert_eq!(
            LinePolicy::decide_with(&config, &running(), &red, None),
            LineDecision::Stop
        );
    }

    #[test]
    fn escalation_arms_on_yellow_disarms_on_green_or_red_and_ignores_self_reports() {
        let mut config = LineConfig::default();
        let yellow = AndonSignal::yellow("slow").with_component("press");
        assert_eq!(LinePolicy::escalation(&config, &yellow), Escalation::Ignore);
        config.escalate_yellow_after = Some(Duration::from_secs(300));
        assert_eq!(
            LinePolicy::escalation(&config, &yellow),
            Escalation::Arm {
                after: Duration::from_secs(300)
            }
        );
        let green = AndonSignal::green("ok").with_component("press");
        assert_eq!(LinePolicy::escalation(&config, &green), Escalation::Disarm);
        let report = yellow.clone().with_attribute(SELF_REPORT, true);
        assert_eq!(LinePolicy::escalation(&config, &report), Escalation::Ignore);
        config.components = vec!["oven".into()];
        assert_eq!(
            LinePolicy::escalation(&config, &yellow),
            Escalation::Ignore,
            "press may not stop the line, so its YELLOW has nothing to escalate to"
        );
    }

    #[test]
    fn the_escalated_red_names_the_yellow_and_keeps_its_trace() {
        let yellow = AndonSignal::yellow("disk 91%")
            .with_component("db")
            .with_trace_id("trace-123");
        let red = LinePolicy::escalated_red(&yellow, Duration::from_secs(60));
        assert_eq!(red.color(), Color::Red);
        assert_eq!(red.component(), Some("db"));
        assert_eq!(red.trace_id(), Some("trace-123"));
        assert!(red.message().contains("disk 91%"));
        assert_eq!(
            red.attributes().get(ESCALATED_FROM),
            Some(&serde_json::Value::String(yellow.id().to_string()))
        );
    }
}
