//! `[tracer]`: OpenTelemetry tracing.

use serde::{Deserialize, Serialize};

use super::check;
use crate::contract::SectionConfig;
use crate::error::ConfigError;

/// `[tracer]`: service identity, sampling and the OTLP exporter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracerConfig {
    /// `service.name` of every span. Default `ggen-andon`.
    pub service_name: String,
    /// `service.version` of every span; unset (the default) means the version of andon itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    /// Create and export spans. Default `true`.
    pub enabled: bool,
    /// The fraction of new traces kept, 0 to 1 (parent-based). Default 0.01: 1% in production;
    /// use 1.0 in development.
    pub sampling_ratio: f64,
    /// Where spans are sent over OTLP: a Jaeger, Tempo or OpenTelemetry Collector.
    /// Default `http://localhost:4317` (OTLP/gRPC).
    pub otlp_endpoint: String,
    /// `grpc` (default, port 4317) or `http` (OTLP/HTTP protobuf, port 4318).
    pub protocol: OtlpProtocol,
    /// Ended spans that may wait for export; beyond it spans are dropped and counted. Default
    /// 8192. The queue is a ring of this many slots held from the start (about 352 bytes each:
    /// 2.9 MB at the default), as the OpenTelemetry SDK's is (its default: 2048).
    pub max_queue_size: usize,
    /// Spans per export request. Default 512.
    pub max_export_batch_size: usize,
    /// How often queued spans are sent, in milliseconds. Default 200, well inside the design's
    /// 500 ms export budget.
    pub scheduled_delay_ms: u64,
    /// How long one export may take, in milliseconds. Default 10000.
    pub export_timeout_ms: u64,
    /// The address of a trace UI such as Jaeger's (`http://localhost:16686`): when set, the
    /// board, `andon alerts`, history timelines and Slack, PagerDuty, email and webhook
    /// notifications link each trace id to `<ui_url>/trace/<id>` (the mapped W3C id, see
    /// [`trace_url`](crate::trace_url)). Only `http://` and `https://` URLs. Default unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ui_url: Option<String>,
}

impl Default for TracerConfig {
    fn default() -> Self {
        TracerConfig {
            service_name: "ggen-andon".to_owned(),
            service_version: None,
            enabled: true,
            sampling_ratio: 0.01,
            otlp_endpoint: "http://localhost:4317".to_owned(),
            protocol: OtlpProtocol::Grpc,
            max_queue_size: 8_192,
            max_export_batch_size: 512,
            scheduled_delay_ms: 200,
            export_timeout_ms: 10_000,
            ui_url: None,
        }
    }
}

impl SectionConfig for TracerConfig {
    const SECTION: &'static str = "tracer";

    /// Checks every value of the `[tracer]` section on its own, as loading a file does and
    /// as the component's builder does for a section built in code. The first bad value is
    /// named by its key (`tracer.…`) with what to write instead.
    fn validate(&self) -> Result<(), ConfigError> {
        let section = Self::SECTION;
        check::not_empty(section, "service_name", &self.service_name)?;
        if let Some(version) = &self.service_version {
            check::not_empty(section, "service_version", version)?;
        }
        if !(0.0..=1.0).contains(&self.sampling_ratio) {
            return Err(ConfigError::new(
                check::key(section, "sampling_ratio"),
                format!(
                    "must be between 0 and 1 (got {}): use 1.0 to keep every trace, 0.01 to keep 1%",
                    self.sampling_ratio
                ),
            ));
        }
        if !(self.otlp_endpoint.starts_with("http://")
            || self.otlp_endpoint.starts_with("https://"))
        {
            return Err(ConfigError::new(
                check::key(section, "otlp_endpoint"),
                format!(
                    "`{}` is not an http:// or https:// URL, such as \"http://localhost:4317\"",
                    self.otlp_endpoint
                ),
            ));
        }
        if self.max_queue_size == 0 || self.max_export_batch_size == 0 {
            return Err(ConfigError::new(
                check::key(section, "max_queue_size"),
                "the queue and the batch must each hold at least 1 span",
            ));
        }
        if self.max_export_batch_size > self.max_queue_size {
            return Err(ConfigError::new(
                check::key(section, "max_export_batch_size"),
                "must not exceed max_queue_size",
            ));
        }
        check::not_zero(
            section,
            "scheduled_delay_ms",
            self.scheduled_delay_ms,
            " millisecond, such as 200",
        )?;
        check::not_zero(
            section,
            "export_timeout_ms",
            self.export_timeout_ms,
            " millisecond, such as 10000",
        )?;
        if let Some(problem) = self
            .ui_url
            .as_deref()
            .and_then(crate::trace_link::ui_url_problem)
        {
            return Err(ConfigError::new(check::key(section, "ui_url"), problem));
        }
        Ok(())
    }
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    /// OTLP over gRPC (port 4317).
    #[default]
    Grpc,
    /// OTLP over HTTP with protobuf bodies (port 4318).
    Http,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(config: &TracerConfig) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn the_default_is_valid_and_keeps_the_design_values() {
        let config = TracerConfig::default();
        config.validate().unwrap();
        assert_eq!(config.service_name, "ggen-andon");
        assert_eq!(config.sampling_ratio, 0.01);
        assert_eq!(config.otlp_endpoint, "http://localhost:4317");
        assert_eq!(config.service_version, None);
    }

    #[test]
    fn every_invalid_value_names_its_key() {
        let base = TracerConfig::default();
        let cases: Vec<(TracerConfig, &str)> = vec![
            (
                TracerConfig {
                    service_name: " ".into(),
                    ..base.clone()
                },
                "tracer.service_name: must not be empty",
            ),
            (
                TracerConfig {
                    service_version: Some(String::new()),
                    ..base.clone()
                },
                "tracer.service_version: must not be empty",
            ),
            (
                TracerConfig {
                    sampling_ratio: 1.5,
                    ..base.clone()
                },
                "tracer.sampling_ratio: must be between 0 and 1",
            ),
            (
                TracerConfig {
                    sampling_ratio: f64::NAN,
                    ..base.clone()
                },
                "tracer.sampling_ratio: must be between 0 and 1",
            ),
            (
                TracerConfig {
                    otlp_endpoint: "localhost:4317".into(),
                    ..base.clone()
                },
                "tracer.otlp_endpoint: `localhost:4317` is not an http",
            ),
            (
                TracerConfig {
                    max_queue_size: 0,
                    ..base.clone()
                },
                "tracer.max_queue_size: the queue and the batch",
            ),
            (
                TracerConfig {
                    max_export_batch_size: 0,
                    ..base.clone()
                },
                "tracer.max_queue_size: the queue and the batch",
            ),
            (
                TracerConfig {
                    max_queue_size: 10,
                    max_export_batch_size: 11,
                    ..base.clone()
                },
                "tracer.max_export_batch_size: must not exceed max_queue_size",
            ),
            (
                TracerConfig {
                    scheduled_delay_ms: 0,
                    ..base.clone()
                },
                "tracer.scheduled_delay_ms: must be at least 1 millisecond",
            ),
            (
                TracerConfig {
                    export_timeout_ms: 0,
                    ..base.clone()
                },
                "tracer.export_timeout_ms: must be at least 1 millisecond",
            ),
            (
                TracerConfig {
                    ui_url: Some("javascript:alert(1)".into()),
                    ..base.clone()
                },
                "tracer.ui_url: `javascript:alert(1)` is not an http:// or https:// URL",
            ),
            (
                TracerConfig {
                    ui_url: Some("localhost:16686".into()),
                    ..base.clone()
                },
                "tracer.ui_url: `localhost:16686` is not an http:// or https:// URL",
            ),
            (
                TracerConfig {
                    ui_url: Some("http://jaeger/\"><b>".into()),
                    ..base.clone()
                },
                "tracer.ui_url: `http://jaeger/\\\"><b>` holds '\"'",
            ),
        ];
        for (config, expected) in cases {
            let message = error(&config);
            assert!(
                message.starts_with(expected),
                "{message:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn toml_reads_every_field_and_rejects_unknown_keys() {
        let config: TracerConfig = toml::from_str(
            "service_name = \"shop\"\nservice_version = \"1.2.3\"\nprotocol = \"http\"\nsampling_ratio = 1.0\n",
        )
        .unwrap();
        assert_eq!(config.service_version.as_deref(), Some("1.2.3"));
        assert_eq!(config.protocol, OtlpProtocol::Http);
        let config: TracerConfig = toml::from_str("ui_url = \"http://localhost:16686\"\n").unwrap();
        config.validate().unwrap();
        assert_eq!(config.ui_url.as_deref(), Some("http://localhost:16686"));
        let err = toml::from_str::<TracerConfig>("sample_ratio = 1.0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sample_ratio"), "{err}");
    }
}
