//! `[agent]`: the long-running agent's HTTP listener.

use serde::{Deserialize, Serialize};

use super::check;
use super::secret::Secret;
use crate::error::ConfigError;

/// `[agent]`: where the agent listens and the token its write endpoints require.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// `host:port` of the API, the board and `/metrics`. Default `127.0.0.1:7600`.
    pub listen: String,
    /// The bearer token write endpoints require when the agent listens beyond loopback;
    /// write `"${ANDON_TOKEN}"` to keep it out of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            listen: "127.0.0.1:7600".to_owned(),
            token: None,
        }
    }
}

impl AgentConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let address: std::net::SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError::new(
                check::key(section, "listen"),
                format!(
                    "`{}` is not ip:port, such as \"127.0.0.1:7600\"",
                    self.listen
                ),
            )
        })?;
        if !address.ip().is_loopback() && self.token.as_ref().is_none_or(Secret::is_empty) {
            return Err(ConfigError::new(
                check::key(section, "token"),
                format!(
                    "is required when listening on {address}, beyond this machine: set token = \"${{ANDON_TOKEN}}\""
                ),
            ));
        }
        Ok(())
    }
}
