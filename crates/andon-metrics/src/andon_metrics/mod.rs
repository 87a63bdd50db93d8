//! `AndonMetrics`: andon's metrics, the user's, thresholds and the scrape endpoint.
//!
//! The type and its recording methods live here; `builder.rs` builds it, `cache.rs` holds the
//! per-label handle cache, `sinks.rs` implements the component traits.

mod builder;
mod cache;
mod sinks;

pub use builder::AndonMetricsBuilder;
use cache::Cache;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use andon_core::config::MetricsConfig;
use andon_core::threshold::Threshold;
use andon_core::{AlertSeverity, AndonSignal, Color};
use andon_runtime::{read, write};
use metrics::{Counter, Gauge, Histogram, Key, Label};
use tokio::sync::watch;

use crate::error::MetricsError;
use crate::names::{self, ALERTS, CPU_USAGE, FAILURES, MEMORY_USAGE, POOL_UTILIZATION, SIGNALS};
use crate::recorder::{AndonRecorder, Kind, Registry};

/// Prometheus metrics for andon: signal counters, gauges, histograms, thresholds and the scrape
/// endpoint.
///
/// Every recording method takes `&self` and is cheap: after the first use of a label value the
/// handle is cached, so an update is a hash lookup and an atomic operation. Metrics recorded
/// with the `metrics` macros (`metrics::counter!`) appear on the same endpoint when this value
/// installed the global recorder ([`is_global`](AndonMetrics::is_global)).
///
/// Dropping it stops the endpoint and the delivery of threshold signals; a global recorder
/// stays installed (the `metrics` facade cannot uninstall one) and keeps recording.
#[derive(Debug)]
pub struct AndonMetrics {
    registry: Arc<Registry>,
    config: MetricsConfig,
    global: bool,
    endpoint: Option<SocketAddr>,
    endpoint_notice: Option<String>,
    stop: watch::Sender<bool>,
    shut_down: AtomicBool,
    /// Per component: the GREEN, YELLOW and RED signal counters and the failure counter.
    signals: RwLock<HashMap<Box<str>, [Counter; 4]>>,
    failures: Cache<Counter>,
    queues: Cache<Gauge>,
    pools: Cache<Gauge>,
    requests: Cache<Histogram>,
    processing: Cache<Histogram>,
    line_stopped: Gauge,
}

/// Where a component's failure counter sits beside its three signal counters.
const FAILURE: usize = 3;

fn color_index(color: Color) -> usize {
    match color {
        Color::Green => 0,
        Color::Yellow => 1,
        Color::Red => 2,
    }
}

fn finite(metric: &str, value: f64) -> Result<f64, MetricsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(MetricsError::InvalidValue {
            metric: metric.to_owned(),
            value,
        })
    }
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    Key::from_parts(
        name.to_owned(),
        labels
            .iter()
            .map(|(k, v)| Label::new((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

impl AndonMetrics {
    /// Metrics as configured: the endpoint on `bind:port` + `scrape_path`, the global recorder
    /// installed if none is, thresholds watched (their signals are dropped, and counted, without
    /// a sink: give one with [`AndonMetricsBuilder::with_signal_sink`]). The shorthand for
    /// `AndonMetrics::builder(config).build()`.
    ///
    /// With `enabled = false` nothing is served or installed; recording still works and
    /// [`render`](AndonMetrics::render) still shows it.
    ///
    /// # Errors
    ///
    /// As [`AndonMetricsBuilder::build`].
    pub fn new(config: MetricsConfig) -> Result<Self, MetricsError> {
        Self::builder(config).build()
    }

    /// A builder for metrics of `config` (the `[metrics]` section): a signal sink for
    /// thresholds, a listener slot, no endpoint, or a local recorder, then
    /// [`build`](AndonMetricsBuilder::build). See [`andon_core::contract`] for the shape every
    /// component shares.
    pub fn builder(config: MetricsConfig) -> AndonMetricsBuilder {
        AndonMetricsBuilder {
            config,
            sink: None,
            listener: None,
            endpoint: true,
            global: true,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Whether it installed the global `metrics` recorder. `false` when another recorder was
    /// installed first (another `AndonMetrics` in the same process, as in tests, or the
    /// program's own): then only what is recorded through this value is shown on its endpoint.
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// The address the endpoint listens on, `None` without one.
    pub fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint
    }

    /// Why the endpoint is not where the configuration put it, for people: set when
    /// `metrics.port` was taken and a free port was used instead (`free_port_if_taken`). The
    /// umbrella writes it to stderr and the log; `None` when the endpoint is where configured
    /// (or there is none).
    pub fn endpoint_notice(&self) -> Option<&str> {
        self.endpoint_notice.as_deref()
    }

    /// The URL Prometheus scrapes, `None` without an endpoint.
    pub fn scrape_url(&self) -> Option<String> {
        self.endpoint
            .map(|addr| format!("http://{addr}{}", self.config.scrape_path))
    }

    /// A recorder for [`metrics::with_local_recorder`], to record with the `metrics` macros
    /// into this value when it is not the global one.
    pub fn recorder(&self) -> AndonRecorder {
        AndonRecorder {
            registry: Arc::clone(&self.registry),
        }
    }

    /// A cheap, cloneable handle that renders the exposition text, for serving it from the
    /// program's own HTTP server (see [`MetricsHandle`]).
    pub fn handle(&self) -> MetricsHandle {
        MetricsHandle {
            registry: Arc::clone(&self.registry),
        }
    }

    /// Everything in the Prometheus text exposition format (Content-Type
    /// [`CONTENT_TYPE`](crate::CONTENT_TYPE)), as the endpoint serves it.
    pub fn render(&self) -> String {
        self.registry.handle().render()
    }

    fn check_open(&self) -> Result<(), MetricsError> {
        if self.shut_down.load(Ordering::Relaxed) {
            Err(MetricsError::ShutDown)
        } else {
            Ok(())
        }
    }

    /// Counts `signal` in `andon_signals_total{color, component}` (component `unknown` when
    /// unset); a RED also counts one failure of its component in
    /// `andon_failures_total{component}` (the design's "failure count").
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`] when the component would be one too many,
    /// [`MetricsError::ShutDown`] after [`shutdown`](AndonMetrics::shutdown).
    pub async fn record_signal(&self, signal: &AndonSignal) -> Result<(), MetricsError> {
        self.count_signal(signal)
    }

    /// [`record_signal`](AndonMetrics::record_signal) without `async`, for synchronous code.
    ///
    /// # Errors
    ///
    /// As [`record_signal`](AndonMetrics::record_signal).
    pub fn count_signal(&self, signal: &AndonSignal) -> Result<(), MetricsError> {
        self.check_open()?;
        let component = signal.component_or_unknown();
        let index = color_index(signal.color());
        let red = signal.color() == Color::Red;
        if let Some(counters) = read(&self.signals).get(component) {
            counters[index].increment(1);
            if red {
                counters[FAILURE].increment(1);
            }
            return Ok(());
        }
        let make = |color: Color| {
            self.registry.counter(&Key::from_parts(
                SIGNALS,
                vec![
                    Label::new("color", color.as_str()),
                    Label::new("component", component.to_owned()),
                ],
            ))
        };
        let failures = self.registry.counter(&Key::from_parts(
            FAILURES,
            vec![Label::new("component", component.to_owned())],
        ))?;
        let counters = [
            make(Color::Green)?,
            make(Color::Yellow)?,
            make(Color::Red)?,
            failures,
        ];
        counters[index].increment(1);
        if red {
            counters[FAILURE].increment(1);
        }
        write(&self.signals).insert(component.into(), counters);
        Ok(())
    }

    /// Sets `andon_queue_depth{queue}`; watched by the `queue_depth` threshold.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn update_queue_depth(&self, queue: &str, depth: u64) -> Result<(), MetricsError> {
        self.check_open()?;
        #[allow(clippy::cast_precision_loss)] // depths are far below 2^53
        let depth = depth as f64;
        self.queues
            .with(queue, |k| self.registry.gauge(k), |g| g.set(depth))
    }

    /// The gauge of `andon_queue_depth{queue}`, to hold in a hot loop.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn queue_depth_gauge(&self, queue: &str) -> Result<Gauge, MetricsError> {
        self.check_open()?;
        self.queues.get(queue, |k| self.registry.gauge(k))
    }

    /// Records a request's latency in `andon_request_duration_seconds{endpoint}`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn record_request_latency(
        &self,
        endpoint: &str,
        duration: Duration,
    ) -> Result<(), MetricsError> {
        self.check_open()?;
        let seconds = duration.as_secs_f64();
        self.requests.with(
            endpoint,
            |k| self.registry.histogram(k),
            |h| h.record(seconds),
        )
    }

    /// The histogram of `andon_request_duration_seconds{endpoint}`, to hold in a hot loop.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn request_latency_histogram(&self, endpoint: &str) -> Result<Histogram, MetricsError> {
        self.check_open()?;
        self.requests.get(endpoint, |k| self.registry.histogram(k))
    }

    /// Records how long an operation took in `andon_processing_duration_seconds{operation}`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn record_processing_time(
        &self,
        operation: &str,
        duration: Duration,
    ) -> Result<(), MetricsError> {
        self.check_open()?;
        let seconds = duration.as_secs_f64();
        self.processing.with(
            operation,
            |k| self.registry.histogram(k),
            |h| h.record(seconds),
        )
    }

    /// Counts one failure of `component` in `andon_failures_total{component}`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn record_failure(&self, component: &str) -> Result<(), MetricsError> {
        self.check_open()?;
        self.failures
            .with(component, |k| self.registry.counter(k), |c| c.increment(1))
    }

    /// Counts one alert fired by `rule` in `andon_alerts_total{rule, severity}`.
    ///
    /// # Errors
    ///
    /// [`MetricsError::TooManySeries`], [`MetricsError::ShutDown`].
    pub fn record_alert(&self, rule: &str, severity: AlertSeverity) -> Result<(), MetricsError> {
        self.check_open()?;
        let key = Key::from_parts(
            ALERTS,
            vec![
                Label::new("rule", rule.to_owned()),
                Label::new("severity", severity.as_str()),
            ],
        );
        self.registry.counter(&key)?.increment(1);
        Ok(())
    }

    /// Sets `andon_pool_utilization_ratio{pool}` to `ratio` (0 = idle, 1 = full).
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidValue`] for NaN or infinity, [`MetricsError::TooManySeries`],
    /// [`MetricsError::ShutDown`].
    pub fn update_pool_utilization(&self, pool: &str, ratio: f64) -> Result<(), MetricsError> {
        self.check_open()?;
        let ratio = finite(POOL_UTILIZATION, ratio)?;
        self.pools
            .with(pool, |k| self.registry.gauge(k), |g| g.set(ratio))
    }

    /// Sets `andon_memory_usage_bytes`; watched by the `memory_usage_mb` threshold.
    ///
    /// # Errors
    ///
    /// [`MetricsError::ShutDown`].
    pub fn update_memory_usage(&self, bytes: u64) -> Result<(), MetricsError> {
        self.check_open()?;
        #[allow(clippy::cast_precision_loss)] // exact up to 8 PiB
        let bytes = bytes as f64;
        self.registry
            .gauge(&Key::from_name(MEMORY_USAGE))?
            .set(bytes);
        Ok(())
    }

    /// Sets `andon_cpu_usage_ratio` from a percentage; watched by the `cpu_usage_percent`
    /// threshold.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidValue`] for NaN or infinity, [`MetricsError::ShutDown`].
    pub fn update_cpu_usage(&self, percent: f64) -> Result<(), MetricsError> {
        self.check_open()?;
        let ratio = finite(CPU_USAGE, percent)? / 100.0;
        self.registry.gauge(&Key::from_name(CPU_USAGE))?.set(ratio);
        Ok(())
    }

    /// Sets `andon_line_stopped` to 1 (stopped) or 0 (running); the umbrella calls it when the
    /// line stops and resumes.
    pub fn set_line_stopped(&self, stopped: bool) {
        self.line_stopped.set(if stopped { 1.0 } else { 0.0 });
    }

    /// Registers the user's counter `name` with `labels` and HELP text, and returns its handle.
    /// Like every series it is shown on the endpoint, readable through [`MetricsSource`](andon_core::MetricsSource), and
    /// watched by a threshold on `name` ([`set_threshold`](AndonMetrics::set_threshold) or
    /// `[metrics.thresholds]`), which compares the counter's total.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidMetricName`], [`MetricsError::InvalidLabelName`],
    /// [`MetricsError::TooManySeries`], [`MetricsError::TypeConflict`].
    pub fn register_counter(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Counter, MetricsError> {
        let key = self.declare(Kind::Counter, name, help, labels)?;
        self.registry.counter(&key)
    }

    /// Registers the user's gauge `name`; a threshold on `name` compares each value set.
    ///
    /// # Errors
    ///
    /// As [`register_counter`](AndonMetrics::register_counter).
    pub fn register_gauge(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Gauge, MetricsError> {
        let key = self.declare(Kind::Gauge, name, help, labels)?;
        self.registry.gauge(&key)
    }

    /// Registers the user's histogram `name` (buckets from `metrics.histogram_buckets.<name>`
    /// or `metrics.buckets`); a threshold on `name` compares each value recorded, so one slow
    /// request raises it and the next fast one clears it.
    ///
    /// # Errors
    ///
    /// As [`register_counter`](AndonMetrics::register_counter).
    pub fn register_histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Histogram, MetricsError> {
        let key = self.declare(Kind::Histogram, name, help, labels)?;
        self.registry.histogram(&key)
    }

    /// Checks a user metric's name and labels, records its HELP text and kind, and returns the
    /// key its series is registered under: the common step of the `register_*` methods.
    fn declare(
        &self,
        kind: Kind,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
    ) -> Result<Key, MetricsError> {
        names::check(name, labels)?;
        self.registry.describe(kind, name, help);
        Ok(key(name, labels))
    }

    /// Watches metric `name` (any type, andon's or the user's, recorded through this value or
    /// the `metrics` macros) with `threshold`: a signal of its color when a series goes above
    /// the level, GREEN when it falls back to the clear level. Replaces an earlier threshold on
    /// `name`; series keep their raised or normal state.
    ///
    /// # Errors
    ///
    /// [`MetricsError::InvalidMetricName`], or [`MetricsError::Config`] for a threshold the
    /// configuration would refuse (level not above 0, clear not below level, GREEN).
    pub fn set_threshold(&self, name: &str, threshold: Threshold) -> Result<(), MetricsError> {
        names::check_metric_name(name)?;
        threshold.validate(name)?;
        self.registry.set_threshold(name, name, Some(threshold));
        Ok(())
    }

    /// Stops watching metric `name`.
    pub fn remove_threshold(&self, name: &str) {
        self.registry.set_threshold(name, name, None);
    }

    /// The last error of the signal sink when delivering a threshold signal, if any.
    pub fn last_delivery_error(&self) -> Option<String> {
        self.registry.events().counts().last_error()
    }

    /// What the registry holds: metrics, series and refused series, under the
    /// [`Stats`](andon_core::Stats) contract.
    pub fn stats(&self) -> crate::MetricsStats {
        self.registry.stats()
    }

    /// How many series of `metric` the cardinality guard refused so far.
    pub fn refused_series(&self, metric: &str) -> u64 {
        self.registry.refused_count(metric)
    }

    /// Waits until every threshold signal raised so far has been handed to the sink.
    async fn drain(&self) {
        // Unbounded as before (each delivery attempt is bounded); a stopped dispatcher ends it.
        let _ = self.registry.events().flush(Duration::MAX).await;
    }
}

/// Renders the exposition text; cheap to clone, for serving metrics from the program's own
/// HTTP server (axum, hyper, …) with Content-Type [`CONTENT_TYPE`](crate::CONTENT_TYPE).
#[derive(Debug, Clone)]
pub struct MetricsHandle {
    registry: Arc<Registry>,
}

impl MetricsHandle {
    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.registry.handle().render()
    }
}
