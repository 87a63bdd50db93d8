//! The errors of the observer.

use andon_core::{AndonError, ConfigError};

/// What can go wrong when creating an observer or taking diagnostics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObserveError {
    /// The `[observer]` configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// This platform cannot be observed at all.
    #[error(
        "this platform cannot be observed ({reason}): turn the observer off with `[observer] enabled = false`"
    )]
    Unsupported {
        /// Why, as the backend reported it.
        reason: String,
    },

    /// The measurement stopped before it finished (the probe panicked, or the runtime is
    /// shutting down under the measuring thread).
    #[error(
        "the diagnostics measurement did not finish ({reason}): check again, and report a bug if it repeats"
    )]
    Interrupted {
        /// What the runtime or the panic reported.
        reason: String,
    },
}

impl From<ObserveError> for AndonError {
    fn from(error: ObserveError) -> Self {
        match error {
            ObserveError::Config(config) => AndonError::Config(config),
            other => AndonError::component("observe", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_convert_into_the_core_error_and_name_the_component() {
        let e: AndonError = ObserveError::Unsupported {
            reason: "unsupported".into(),
        }
        .into();
        assert!(
            e.to_string()
                .starts_with("andon observe: this platform cannot be observed"),
            "{e}"
        );
        let e: AndonError = ObserveError::Config(ConfigError::new("observer.x", "bad")).into();
        assert!(matches!(e, AndonError::Config(_)));
    }
}
