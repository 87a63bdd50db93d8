//! The agent's errors, and the exit code each one gives the `andon` command.

use andon::{AndonError, ConfigError};

/// What went wrong in the agent or in a client subcommand.
///
/// Every variant says what to do next; none ever shows the bearer token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration is invalid (the message names the file, position and key).
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// The andon system could not be built or started.
    #[error("cannot start the andon system: {0}")]
    System(#[source] AndonError),

    /// The andon system stopped with failures: a component did not flush or close in time
    /// (a stuck log sink, an unreachable alert channel). What it names was not written or
    /// delivered; everything else was.
    #[error(
        "the andon system did not shut down cleanly: {0}: what it names was not written or delivered, the rest was"
    )]
    Shutdown(#[source] AndonError),

    /// The listener could not be bound.
    #[error(
        "cannot listen on {address}: {source}: choose another address with --listen or [agent] listen"
    )]
    Bind {
        /// The address asked for.
        address: String,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },

    /// The HTTP server failed while serving.
    #[error("the agent's HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),

    /// The agent could not be reached (not running, wrong URL, network).
    #[error(
        "cannot reach the andon agent at {url}: {reason}: start it with `andon run`, or point --url / ANDON_URL at it"
    )]
    Unreachable {
        /// The URL tried.
        url: String,
        /// Why it failed.
        reason: String,
    },

    /// The agent answered with an error status.
    #[error("the andon agent refused the request ({status}): {message}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The agent's explanation.
        message: String,
    },

    /// The agent answered something that is not what the API documents.
    #[error(
        "unexpected answer from the andon agent at {url}: {reason}: check that --url points at an andon agent of this version"
    )]
    Protocol {
        /// The URL asked.
        url: String,
        /// What was wrong with the answer.
        reason: String,
    },

    /// The data directory (`--data-dir`, `$STATE_DIRECTORY`, `./andon-data`) cannot be used.
    #[error(
        "cannot use the data directory {}: {reason}: choose another with --data-dir or $STATE_DIRECTORY", path.display()
    )]
    DataDir {
        /// The data directory that was tried.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A command-line value is invalid.
    #[error("{0}")]
    Usage(String),
}

impl AgentError {
    /// The exit code of the `andon` command for this error:
    /// `1` invalid configuration, failed server or an unclean shutdown, `2` bad usage, `3` agent unreachable,
    /// `4` request refused or not understood.
    pub fn exit_code(&self) -> u8 {
        match self {
            AgentError::Config(_)
            | AgentError::System(_)
            | AgentError::Shutdown(_)
            | AgentError::Bind { .. }
            | AgentError::Serve(_)
            | AgentError::DataDir { .. } => 1,
            AgentError::Usage(_) => 2,
            AgentError::Unreachable { .. } => 3,
            AgentError::Rejected { .. } | AgentError::Protocol { .. } => 4,
        }
    }
}

impl From<AgentError> for AndonError {
    fn from(error: AgentError) -> Self {
        match error {
            AgentError::Config(config) => AndonError::Config(config),
            AgentError::System(system) | AgentError::Shutdown(system) => system,
            other => AndonError::component("agent", other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_tell_failures_apart() {
        let unreachable = AgentError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 3);
        assert!(
            unreachable
                .to_string()
                .contains("start it with `andon run`")
        );
        let rejected = AgentError::Rejected {
            status: 400,
            message: "color: unknown".into(),
        };
        assert_eq!(rejected.exit_code(), 4);
        assert_eq!(AgentError::Usage("x".into()).exit_code(), 2);
        let andon: AndonError = AgentError::Config(ConfigError::new("agent.listen", "bad")).into();
        assert!(matches!(andon, AndonError::Config(_)));
        let andon: AndonError = rejected.into();
        assert!(andon.to_string().starts_with("andon agent: "), "{andon}");
    }

    #[test]
    fn a_failed_shutdown_is_not_called_a_failed_start() {
        let failed = AgentError::Shutdown(AndonError::component("log", "a log sink is stuck"));
        assert_eq!(failed.exit_code(), 1);
        let text = failed.to_string();
        assert!(
            text.starts_with("the andon system did not shut down cleanly: "),
            "{text}"
        );
        assert!(text.contains("a log sink is stuck"), "{text}");
        assert!(!text.contains("start"), "{text}");
    }
}
