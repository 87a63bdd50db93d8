//! `[alerts.watchdog]`: the agent's own dead man's switch, an always-firing `AndonWatchdog`
//! alert sent to every Alertmanager channel so that Alertmanager notices when andon is gone.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The shortest watchdog interval accepted.
pub const MIN_WATCHDOG_INTERVAL: Duration = Duration::from_secs(1);

/// `[alerts.watchdog]`: while enabled, the alert manager sends the always-firing alert
/// `AndonWatchdog` (labels `alertname`, `instance`, `severity = "none"`) to every
/// `type = "alertmanager"` channel each `interval`, with `endsAt` three intervals ahead, so
/// Alertmanager keeps it firing only while andon keeps sending; routed to a dead man's switch
/// receiver, its silence pages. Independent of rules, silences and inhibition.
///
/// ```toml
/// [alerts.watchdog]
/// enabled = true
/// interval = "1m"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchdogConfig {
    /// Send the watchdog alert. Default `false`.
    pub enabled: bool,
    /// How often it is sent; at least `"1s"`. Default `"1m"`.
    #[serde(with = "crate::config::duration")]
    pub interval: Duration,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        WatchdogConfig {
            enabled: false,
            interval: Duration::from_secs(60),
        }
    }
}

impl WatchdogConfig {
    /// Checks the interval, and that an enabled watchdog has an Alertmanager channel to send to
    /// (`alertmanager_channels`: how many are configured).
    pub(super) fn validate(
        &self,
        key: &str,
        alertmanager_channels: usize,
    ) -> Result<(), ConfigError> {
        if self.interval < MIN_WATCHDOG_INTERVAL {
            return Err(ConfigError::new(
                format!("{key}.interval"),
                format!(
                    "must be at least 1s (got {:?}), such as \"1m\"",
                    self.interval
                ),
            ));
        }
        if self.enabled && alertmanager_channels == 0 {
            return Err(ConfigError::new(
                format!("{key}.enabled"),
                "the watchdog is sent to Alertmanager channels, and none is configured: add \
                 one under [alerts.channels.NAME] with type = \"alertmanager\", or set enabled = false",
            ));
        }
        Ok(())
    }
}
