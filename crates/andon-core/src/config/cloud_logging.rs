//! The `api` table of a `CloudLogging` sink with `output = "api"`: where and how records are
//! written with Cloud Logging's `entries:write`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::check;
use crate::error::ConfigError;

/// Cloud Logging's `entries:write` endpoint.
pub const CLOUD_LOGGING_ENDPOINT: &str = "https://logging.googleapis.com/v2/entries:write";

/// How a `CloudLogging` sink with `output = "api"` writes: endpoint, credentials, log name,
/// resource, labels and batching.
///
/// ```toml
/// [logger]
/// sinks = [{ type = "CloudLogging", output = "api", api = { log_id = "andon", labels = { env = "prod" } } }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CloudLoggingApi {
    /// The `entries:write` URL. Default Google's; a test points it at a local fake.
    pub endpoint: String,
    /// A service-account key file (JSON). Without it, Application Default Credentials:
    /// `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default file, the metadata
    /// server, then `gcloud`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<PathBuf>,
    /// The log's id in `projects/P/logs/<log_id>`. Default `andon`.
    pub log_id: String,
    /// The monitored resource; without it, detected (Cloud Run from its environment, a
    /// Compute Engine VM from the metadata server, else `global` with the project id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<MonitoredResource>,
    /// Labels added to every entry of every request.
    pub labels: BTreeMap<String, String>,
    /// At most this many entries a request. Default 500 (the API takes 1000).
    pub max_batch_entries: usize,
    /// At most this many bytes of entries a request. Default 4 MiB (the API takes 10 MB).
    pub max_batch_bytes: usize,
    /// Entries waiting for the API; past it new records are dropped and counted. Default 10000.
    pub queue_capacity: usize,
    /// Retries of a request answered 429 or 5xx or not answered. Default 5.
    pub max_retries: u32,
}

/// A Cloud Logging monitored resource: `{ type = "gce_instance", labels = { ... } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoredResource {
    /// The resource type, such as `global`, `gce_instance` or `k8s_container`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The type's labels, such as `project_id`, `instance_id`, `zone`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Default for CloudLoggingApi {
    fn default() -> Self {
        CloudLoggingApi {
            endpoint: CLOUD_LOGGING_ENDPOINT.to_owned(),
            credentials: None,
            log_id: "andon".to_owned(),
            resource: None,
            labels: BTreeMap::new(),
            max_batch_entries: 500,
            max_batch_bytes: 4 * 1024 * 1024,
            queue_capacity: 10_000,
            max_retries: 5,
        }
    }
}

impl CloudLoggingApi {
    /// Checks the table; `key` names it (such as `logger.sinks.0.api`).
    pub(crate) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if !(self.endpoint.starts_with("https://") || self.endpoint.starts_with("http://")) {
            return Err(ConfigError::new(
                format!("{key}.endpoint"),
                format!(
                    "`{}` is not an http(s) URL: use \"{CLOUD_LOGGING_ENDPOINT}\"",
                    self.endpoint
                ),
            ));
        }
        let log_id_ok = !self.log_id.is_empty()
            && self.log_id.len() <= 512
            && self
                .log_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c));
        if !log_id_ok {
            return Err(ConfigError::new(
                format!("{key}.log_id"),
                format!(
                    "`{}` is not a log id: use 1 to 512 of A-Z a-z 0-9 / _ - .",
                    self.log_id
                ),
            ));
        }
        if !(1..=1000).contains(&self.max_batch_entries) {
            return Err(ConfigError::new(
                format!("{key}.max_batch_entries"),
                "must be 1 to 1000 (the API's limit a request)",
            ));
        }
        if !(1024..=10_000_000).contains(&self.max_batch_bytes) {
            return Err(ConfigError::new(
                format!("{key}.max_batch_bytes"),
                "must be 1024 to 10000000 (the API's limit is 10 MB a request)",
            ));
        }
        check::not_zero(
            key,
            "queue_capacity",
            self.queue_capacity,
            ", such as 10000",
        )?;
        if let Some(resource) = &self.resource
            && resource.kind.trim().is_empty()
        {
            return Err(ConfigError::new(
                format!("{key}.resource.type"),
                "must name a monitored resource type, such as \"global\" or \"gce_instance\"",
            ));
        }
        Ok(())
    }
}
