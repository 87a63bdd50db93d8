//! The errors of the alert manager.

use andon_core::ConfigError;

/// What can go wrong while configuring or driving the alert manager.
///
/// Delivery failures are not errors of the host's calls: they are retried, counted and raised
/// as signals by the channel tasks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AlertError {
    /// The `[alerts]` configuration or a rule is invalid; the message names the key.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A rule with this name exists already.
    #[error("a rule named `{0}` is already added: give each rule a unique name")]
    DuplicateRule(String),

    /// No firing alert has this fingerprint or rule name.
    #[error(
        "no open alert has fingerprint or rule `{0}`: list open alerts to see what can be acknowledged"
    )]
    UnknownAlert(String),

    /// No silence has this id.
    #[error("no silence has id `{0}`")]
    UnknownSilence(String),

    /// A channel could not be built (its client or address).
    #[error("channel `{channel}`: {message}")]
    Channel {
        /// The channel's name.
        channel: String,
        /// What is wrong, with secrets redacted.
        message: String,
    },

    /// The outbox file could not be read or written.
    #[error("outbox {path}: {message}: check that the directory exists and is writable")]
    Outbox {
        /// The outbox file.
        path: String,
        /// What failed, as the operating system said it.
        message: String,
    },

    /// The state file of open alerts (`[alerts] state_file`) could not be read or parsed.
    #[error("alert state file {path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What failed, and what to do.
        message: String,
    },

    /// The manager was shut down.
    #[error("the alert manager is shut down: create a new one to continue")]
    ShutDown,
}

andon_core::impl_into_andon_error!(AlertError, "alert");

#[cfg(test)]
mod tests {
    use super::*;
    use andon_core::AndonError;

    #[test]
    fn errors_convert_into_andon_errors_and_say_what_to_do() {
        let e: AndonError = AlertError::ShutDown.into();
        assert!(matches!(e, AndonError::ShutDown { component: "alert" }));
        let e: AndonError = AlertError::UnknownAlert("x".into()).into();
        assert!(
            e.to_string()
                .starts_with("andon alert: no open alert has fingerprint or rule `x`")
        );
        let e: AndonError = AlertError::Config(ConfigError::new("alerts.timeout", "bad")).into();
        assert!(matches!(e, AndonError::Config(_)));
    }
}
