//! `[metrics]`: Prometheus metrics, the scrape endpoint and thresholds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::ConfigError;

/// `[metrics]`: the Prometheus endpoint, histogram buckets and thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Record metrics and serve them. Default `true`.
    pub enabled: bool,
    /// The address the endpoint binds to. Default `127.0.0.1`: only this machine can scrape;
    /// set `0.0.0.0` (or an interface address) to let a Prometheus elsewhere scrape it.
    pub bind: String,
    /// The endpoint's port. Default 9090.
    pub port: u16,
    /// The endpoint's path. Default `/metrics`.
    pub scrape_path: String,
    /// Histogram buckets, in seconds, increasing.
    pub buckets: Vec<f64>,
    /// Buckets for particular histograms, by metric name, overriding `buckets`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub histogram_buckets: BTreeMap<String, Vec<f64>>,
    /// At most this many label sets per metric; beyond it new series are refused and counted.
    /// Default 10000.
    pub max_label_sets: usize,
    /// `[metrics.thresholds]`: gauge levels that raise a signal.
    pub thresholds: ThresholdsConfig,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            bind: "127.0.0.1".to_owned(),
            port: 9090,
            scrape_path: "/metrics".to_owned(),
            buckets: vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ],
            histogram_buckets: BTreeMap::new(),
            max_label_sets: 10_000,
            thresholds: ThresholdsConfig::default(),
        }
    }
}

impl MetricsConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.port == 0 {
            return Err(ConfigError::new(
                check::key(section, "port"),
                "must be a port from 1 to 65535 (got 0)",
            ));
        }
        if self.bind.parse::<std::net::IpAddr>().is_err() {
            return Err(ConfigError::new(
                check::key(section, "bind"),
                format!(
                    "`{}` is not an IP address: use \"127.0.0.1\" (this machine only) or \"0.0.0.0\" (every interface)",
                    self.bind
                ),
            ));
        }
        if !self.scrape_path.starts_with('/') {
            return Err(ConfigError::new(
                check::key(section, "scrape_path"),
                format!("must start with `/`, such as \"/metrics\" (got \"{}\")", self.scrape_path),
            ));
        }
        check_buckets(&check::key(section, "buckets"), &self.buckets)?;
        for (name, buckets) in &self.histogram_buckets {
            check_buckets(&format!("{section}.histogram_buckets.{name}"), buckets)?;
        }
        if self.max_label_sets == 0 {
            return Err(ConfigError::new(
                check::key(section, "max_label_sets"),
                "must be at least 1 (10000 is a good default)",
            ));
        }
        self.thresholds.validate(&check::key(section, "thresholds"))
    }
}

fn check_buckets(key: &str, buckets: &[f64]) -> Result<(), ConfigError> {
    if buckets.is_empty() {
        return Err(ConfigError::new(key, "must hold at least one bucket bound"));
    }
    if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
        return Err(ConfigError::new(
            key,
            "must be finite and strictly increasing, such as [0.005, 0.01, 0.1, 1.0]",
        ));
    }
    Ok(())
}

/// `[metrics.thresholds]`: when a gauge crosses one, a signal is raised.
///
/// The three named thresholds are the design's; any other key is a user threshold on a gauge of
/// that name: `my_backlog = 5000`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThresholdsConfig {
    /// Queue depth (`andon_queue_depth`) above which a signal is raised. Default 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<f64>,
    /// Process memory in MiB above which a signal is raised. Default 512.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_usage_mb: Option<f64>,
    /// CPU percent above which a signal is raised. Default 90.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_usage_percent: Option<f64>,
    /// User thresholds by gauge name.
    #[serde(flatten)]
    pub custom: BTreeMap<String, f64>,
}

impl Default for ThresholdsConfig {
    fn default() -> Self {
        ThresholdsConfig {
            queue_depth: Some(100.0),
            memory_usage_mb: Some(512.0),
            cpu_usage_percent: Some(90.0),
            custom: BTreeMap::new(),
        }
    }
}

impl ThresholdsConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let named = [
            ("queue_depth", self.queue_depth),
            ("memory_usage_mb", self.memory_usage_mb),
            ("cpu_usage_percent", self.cpu_usage_percent),
        ];
        for (field, value) in named {
            if let Some(value) = value {
                check::positive(section, field, value)?;
            }
        }
        for (name, value) in &self.custom {
            check::positive(section, name, *value)?;
        }
        Ok(())
    }
}
