//! `[observer]`: runtime diagnostics.

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::ConfigError;

/// `[observer]`: what is measured, how often, and the health thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObserverConfig {
    /// Run diagnostics. Default `true`.
    pub enabled: bool,
    /// Seconds between scheduled checks. Default 60.
    pub check_interval_secs: u64,
    /// Memory use (percent of total) above which health is Degraded. Default 80.
    pub memory_threshold_percent: f64,
    /// Memory use above which health is Critical. Default 95.
    pub memory_critical_percent: f64,
    /// CPU use (percent) above which health is Degraded. Default 90.
    pub cpu_threshold_percent: f64,
    /// CPU use above which health is Critical. Default 98.
    pub cpu_critical_percent: f64,
    /// Disk use (percent of a mount) above which health is Degraded; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_threshold_percent: Option<f64>,
    /// Open file descriptors of this process above which health is Degraded; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_threshold: Option<u64>,
    /// A value must fall this many points below a threshold before health recovers. Default 5.
    pub hysteresis_percent: f64,
    /// Memory, CPU, load, uptime and processes of the host. Default `true`.
    pub include_system_metrics: bool,
    /// Per-interface traffic rates. Default `true`.
    pub include_network_metrics: bool,
    /// Per-mount disk use. Default `true`.
    pub include_disk_metrics: bool,
    /// This process: RSS, CPU, threads, file descriptors. Default `true`.
    pub include_process_metrics: bool,
    /// How many processes the top-N lists hold (0 turns them off). Default 5.
    pub top_processes: usize,
}

impl Default for ObserverConfig {
    fn default() -> Self {
        ObserverConfig {
            enabled: true,
            check_interval_secs: 60,
            memory_threshold_percent: 80.0,
            memory_critical_percent: 95.0,
            cpu_threshold_percent: 90.0,
            cpu_critical_percent: 98.0,
            disk_threshold_percent: None,
            fd_threshold: None,
            hysteresis_percent: 5.0,
            include_system_metrics: true,
            include_network_metrics: true,
            include_disk_metrics: true,
            include_process_metrics: true,
            top_processes: 5,
        }
    }
}

impl ObserverConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.check_interval_secs == 0 {
            return Err(ConfigError::new(
                check::key(section, "check_interval_secs"),
                "must be at least 1 second (the design uses 60)",
            ));
        }
        check::percent(section, "memory_threshold_percent", self.memory_threshold_percent)?;
        check::percent(section, "memory_critical_percent", self.memory_critical_percent)?;
        check::percent(section, "cpu_threshold_percent", self.cpu_threshold_percent)?;
        check::percent(section, "cpu_critical_percent", self.cpu_critical_percent)?;
        if let Some(disk) = self.disk_threshold_percent {
            check::percent(section, "disk_threshold_percent", disk)?;
        }
        if self.memory_critical_percent < self.memory_threshold_percent {
            return Err(ConfigError::new(
                check::key(section, "memory_critical_percent"),
                "must not be below memory_threshold_percent",
            ));
        }
        if self.cpu_critical_percent < self.cpu_threshold_percent {
            return Err(ConfigError::new(
                check::key(section, "cpu_critical_percent"),
                "must not be below cpu_threshold_percent",
            ));
        }
        if !(0.0..50.0).contains(&self.hysteresis_percent) {
            return Err(ConfigError::new(
                check::key(section, "hysteresis_percent"),
                format!("must be from 0 to below 50 (got {})", self.hysteresis_percent),
            ));
        }
        Ok(())
    }
}
