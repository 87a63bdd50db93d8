//! `[alerts]`: alert rules and channels.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// `[alerts]`: alert rules, channels, deduplication and escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Evaluate rules and send notifications. Default `true`.
    pub enabled: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig { enabled: true }
    }
}

impl AlertsConfig {
    pub(crate) fn validate(&self, _section: &str) -> Result<(), ConfigError> {
        Ok(())
    }
}
