//! Errors of the umbrella: which parts of a fan-out or a shutdown failed.

use std::fmt;

use andon_core::AndonError;

use crate::system::SignalOutcome;

/// One component that failed, and how.
#[derive(Debug)]
pub struct PartFailure {
    /// The component (`log`, `metrics`, `trace`, `alert`, …).
    pub component: &'static str,
    /// What went wrong.
    pub error: AndonError,
}

impl fmt::Display for PartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.component, self.error)
    }
}

fn list(failures: &[PartFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// [`AndonSystem::signal_problem`](crate::AndonSystem::signal_problem) could not deliver a
/// signal everywhere.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// Some components failed; the others took the signal (and the line was stopped if it
    /// should be).
    #[error("signal {} reached {} but failed in {}", .outcome.id, .outcome.delivered_to.join(", "), list(.failures))]
    Partial {
        /// What did happen.
        outcome: SignalOutcome,
        /// Each part that failed, with its error.
        failures: Vec<PartFailure>,
    },
    /// The system was shut down; create a new one to signal again.
    #[error("the andon system is shut down: create a new one to signal again")]
    ShutDown,
}

impl From<SignalError> for AndonError {
    fn from(error: SignalError) -> Self {
        match error {
            SignalError::ShutDown => AndonError::ShutDown {
                component: "system",
            },
            other => AndonError::component("system", other),
        }
    }
}

/// Some components did not shut down cleanly.
#[derive(Debug, thiserror::Error)]
#[error("andon shut down with failures: {}", list(.failures))]
pub struct ShutdownError {
    /// The components that failed, in shutdown order.
    pub failures: Vec<PartFailure>,
}

impl From<ShutdownError> for AndonError {
    fn from(error: ShutdownError) -> Self {
        AndonError::component("system", error)
    }
}
