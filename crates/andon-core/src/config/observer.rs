//! `[observer]`: runtime diagnostics.

use serde::{Deserialize, Serialize};

use super::check;
use crate::contract::SectionConfig;
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
    /// Disk use (percent of a mount) above which health is Critical; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_critical_percent: Option<f64>,
    /// Open file descriptors of this process above which health is Degraded; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_threshold: Option<u64>,
    /// Open file descriptors of this process above which health is Critical; none by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_critical: Option<u64>,
    /// A value must fall this many points below a threshold before health recovers. Default 5.
    /// For file descriptors, which are a count, it is this percent of the threshold.
    pub hysteresis_percent: f64,
    /// A new health status is taken only once this many consecutive scheduled checks agree on
    /// it, like a Prometheus rule's `for`: with 2 (the default) one CPU sample at 100% is not a
    /// critical host, and one quiet sample does not end a critical one. 1 takes every change
    /// at once.
    pub health_hold_checks: u32,
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
    /// The largest a diagnostics snapshot's JSON may be, in bytes, when it is attached to an
    /// alert or a history entry; longer lists are cut to fit. Default 16384.
    pub snapshot_max_bytes: usize,
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
            disk_critical_percent: None,
            fd_threshold: None,
            fd_critical: None,
            hysteresis_percent: 5.0,
            health_hold_checks: 2,
            include_system_metrics: true,
            include_network_metrics: true,
            include_disk_metrics: true,
            include_process_metrics: true,
            top_processes: 5,
            snapshot_max_bytes: 16_384,
        }
    }
}

impl SectionConfig for ObserverConfig {
    const SECTION: &'static str = "observer";

    /// Checks every value of the `[observer]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`observer.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        check::not_zero(
            section,
            "check_interval_secs",
            self.check_interval_secs,
            " second (the design uses 60)",
        )?;
        for (field, percent) in [
            (
                "memory_threshold_percent",
                Some(self.memory_threshold_percent),
            ),
            (
                "memory_critical_percent",
                Some(self.memory_critical_percent),
            ),
            ("cpu_threshold_percent", Some(self.cpu_threshold_percent)),
            ("cpu_critical_percent", Some(self.cpu_critical_percent)),
            ("disk_threshold_percent", self.disk_threshold_percent),
            ("disk_critical_percent", self.disk_critical_percent),
        ] {
            percent.map_or(Ok(()), |percent| check::percent(section, field, percent))?;
        }
        if let Some(disk) = self.disk_critical_percent {
            let warning = self.disk_threshold_percent;
            check::not_below(
                section,
                "disk_critical_percent",
                disk,
                "disk_threshold_percent",
                warning,
            )?;
        }
        for (field, value) in [
            ("fd_threshold", self.fd_threshold),
            ("fd_critical", self.fd_critical),
        ] {
            let fix = " open file descriptor (leave it out to turn the check off)";
            value.map_or(Ok(()), |fds| check::not_zero(section, field, fds, fix))?;
        }
        if let Some(critical) = self.fd_critical {
            let warning = self.fd_threshold;
            check::not_below(section, "fd_critical", critical, "fd_threshold", warning)?;
        }
        check::not_zero(
            section,
            "health_hold_checks",
            self.health_hold_checks,
            " check (1 takes every change at once; the default is 2)",
        )?;
        if self.snapshot_max_bytes < 256 {
            return Err(ConfigError::new(
                check::key(section, "snapshot_max_bytes"),
                format!(
                    "must be at least 256 bytes (got {}; the default is 16384)",
                    self.snapshot_max_bytes
                ),
            ));
        }
        for (field, critical, warning_field, warning) in [
            (
                "memory_critical_percent",
                self.memory_critical_percent,
                "memory_threshold_percent",
                self.memory_threshold_percent,
            ),
            (
                "cpu_critical_percent",
                self.cpu_critical_percent,
                "cpu_threshold_percent",
                self.cpu_threshold_percent,
            ),
        ] {
            check::not_below(section, field, critical, warning_field, warning)?;
        }
        if !(0.0..50.0).contains(&self.hysteresis_percent) {
            return Err(ConfigError::new(
                check::key(section, "hysteresis_percent"),
                format!(
                    "must be from 0 to below 50 (got {})",
                    self.hysteresis_percent
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(config: ObserverConfig) -> ConfigError {
        match config.validate() {
            Err(e) => e,
            Ok(()) => unreachable!("expected {config:?} to be refused"),
        }
    }

    #[test]
    fn the_defaults_are_valid_and_turn_the_optional_checks_off() {
        let config = ObserverConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.disk_threshold_percent, None);
        assert_eq!(config.fd_critical, None);
        assert_eq!(config.snapshot_max_bytes, 16_384);
    }

    #[test]
    fn optional_thresholds_are_checked_and_ordered() {
        let cases = [
            (
                ObserverConfig {
                    disk_critical_percent: Some(120.0),
                    ..Default::default()
                },
                "observer.disk_critical_percent",
                "must be a percentage",
            ),
            (
                ObserverConfig {
                    disk_threshold_percent: Some(90.0),
                    disk_critical_percent: Some(80.0),
                    ..Default::default()
                },
                "observer.disk_critical_percent",
                "must not be below disk_threshold_percent",
            ),
            (
                ObserverConfig {
                    fd_threshold: Some(0),
                    ..Default::default()
                },
                "observer.fd_threshold",
                "must be at least 1",
            ),
            (
                ObserverConfig {
                    fd_critical: Some(0),
                    ..Default::default()
                },
                "observer.fd_critical",
                "must be at least 1",
            ),
            (
                ObserverConfig {
                    fd_threshold: Some(500),
                    fd_critical: Some(100),
                    ..Default::default()
                },
                "observer.fd_critical",
                "must not be below fd_threshold",
            ),
            (
                ObserverConfig {
                    health_hold_checks: 0,
                    ..Default::default()
                },
                "observer.health_hold_checks",
                "must be at least 1 check",
            ),
            (
                ObserverConfig {
                    snapshot_max_bytes: 10,
                    ..Default::default()
                },
                "observer.snapshot_max_bytes",
                "must be at least 256 bytes",
            ),
            (
                ObserverConfig {
                    hysteresis_percent: 60.0,
                    ..Default::default()
                },
                "observer.hysteresis_percent",
                "must be from 0 to below 50",
            ),
            (
                ObserverConfig {
                    cpu_critical_percent: 50.0,
                    ..Default::default()
                },
                "observer.cpu_critical_percent",
                "must not be below cpu_threshold_percent",
            ),
        ];
        for (config, key, message) in cases {
            let err = error_of(config);
            assert_eq!(err.key.as_deref(), Some(key), "{err}");
            assert!(err.message.contains(message), "{err}");
        }
    }

    #[test]
    fn a_critical_level_alone_is_allowed() {
        let config = ObserverConfig {
            disk_critical_percent: Some(97.0),
            fd_critical: Some(4000),
            ..Default::default()
        };
        assert_eq!(config.validate(), Ok(()));
    }
}
