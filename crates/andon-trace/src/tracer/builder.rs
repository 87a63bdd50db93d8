//! [`AndonTracerBuilder`]: the exporter (OTLP over gRPC or HTTP, or the caller's), the resource
//! that names this service and host, and the SDK provider behind the tracer.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::config::{OtlpProtocol, TracerConfig};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};

use crate::error::TraceError;
use crate::export::{self, Counters, ExportControl, QueueSettings};
use crate::sampler::sampler;
use crate::span::Table;

use super::{AndonTracer, Inner, NEXT_TRACER, SCOPE};

type SpawnExporter = Box<
    dyn FnOnce(
            QueueSettings,
            Arc<Counters>,
            &tokio::runtime::Handle,
            &Resource,
        ) -> (export::QueueProcessor, ExportControl)
        + Send,
>;

/// Builds an [`AndonTracer`]; [`AndonTracer::new`] is `builder(config).build()`.
#[must_use]
pub struct AndonTracerBuilder {
    pub(super) config: TracerConfig,
    pub(super) exporter: Option<SpawnExporter>,
}

impl fmt::Debug for AndonTracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonTracerBuilder")
            .field("service_name", &self.config.service_name)
            .field("custom_exporter", &self.exporter.is_some())
            .finish()
    }
}

impl AndonTracerBuilder {
    /// Sends spans to `exporter` instead of the OTLP exporter the configuration describes
    /// (for example the SDK's in-memory exporter in tests). The queue, batching and counters
    /// stay the same.
    pub fn with_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(Box::new(move |settings, counters, runtime, resource| {
            let mut exporter = exporter;
            exporter.set_resource(resource);
            export::spawn(exporter, settings, counters, runtime)
        }));
        self
    }

    /// Builds the tracer.
    ///
    /// # Errors
    ///
    /// An invalid configuration; with tracing enabled, no tokio runtime on this thread
    /// ([`TraceError::NoRuntime`]) or an exporter that cannot be built.
    pub fn build(self) -> Result<AndonTracer, TraceError> {
        let config = self.config;
        andon_core::SectionConfig::validate(&config)?;
        let resource = resource(&config);
        let settings = QueueSettings {
            max_queue_size: config.max_queue_size,
            max_export_batch_size: config.max_export_batch_size,
            scheduled_delay: Duration::from_millis(config.scheduled_delay_ms),
            export_timeout: Duration::from_millis(config.export_timeout_ms),
        };
        let counters = Arc::new(Counters::default());
        let mut provider = SdkTracerProvider::builder().with_resource(resource.clone());
        let control = if config.enabled {
            let runtime =
                tokio::runtime::Handle::try_current().map_err(|_| TraceError::NoRuntime)?;
            let spawn = match self.exporter {
                Some(spawn) => spawn,
                None => otlp_exporter(&config, settings.export_timeout)?,
            };
            let (processor, control) = spawn(settings, counters.clone(), &runtime, &resource);
            provider = provider
                .with_span_processor(processor)
                .with_sampler(sampler(config.sampling_ratio));
            Some(control)
        } else {
            provider = provider.with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff);
            None
        };
        let provider = provider.build();
        let scope = InstrumentationScope::builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope.clone());
        Ok(AndonTracer {
            inner: Arc::new(Inner {
                id: NEXT_TRACER.fetch_add(1, Ordering::Relaxed),
                ratio: config.sampling_ratio,
                export_timeout: settings.export_timeout,
                config,
                table: Mutex::new(Table::default()),
                counters,
                provider,
                tracer,
                scope,
                control,
                shut_down: AtomicBool::new(false),
            }),
        })
    }
}

fn otlp_exporter(config: &TracerConfig, timeout: Duration) -> Result<SpawnExporter, TraceError> {
    use opentelemetry_otlp::WithExportConfig;
    let build_error = |e: opentelemetry_otlp::ExporterBuildError| TraceError::Exporter {
        endpoint: config.otlp_endpoint.clone(),
        reason: e.to_string(),
    };
    // The OTLP/HTTP exporter builds a reqwest client, which has no crypto provider of its own
    // when another crate gives it TLS (the workspace's one TLS stack is ring): make ring the
    // process default, unless the application chose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = match config.protocol {
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(config.otlp_endpoint.clone())
            .with_timeout(timeout)
            .build()
            .map_err(build_error)?,
        OtlpProtocol::Http => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(http_traces_url(&config.otlp_endpoint))
            .with_timeout(timeout)
            .build()
            .map_err(build_error)?,
    };
    Ok(Box::new(move |settings, counters, runtime, resource| {
        let mut exporter = exporter;
        exporter.set_resource(resource);
        export::spawn(exporter, settings, counters, runtime)
    }))
}

/// The OTLP/HTTP traces URL: the endpoint as given when it has a path, else `/v1/traces` on it.
pub(crate) fn http_traces_url(endpoint: &str) -> String {
    let after_scheme = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(i) if after_scheme[i..] != *"/" => endpoint.to_owned(),
        _ => format!("{}/v1/traces", endpoint.trim_end_matches('/')),
    }
}

fn resource(config: &TracerConfig) -> Resource {
    let version = config
        .service_version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
    Resource::builder()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", version),
            KeyValue::new("host.name", host_name()),
        ])
        .build()
}

/// The host's name, from the kernel, then `HOSTNAME`/`COMPUTERNAME`, else `unknown`.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .chain(
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_endpoints_get_the_traces_path_only_when_they_have_none() {
        assert_eq!(
            http_traces_url("http://localhost:4318"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("http://localhost:4318/"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("https://otel.example/custom/path"),
            "https://otel.example/custom/path"
        );
    }
}
