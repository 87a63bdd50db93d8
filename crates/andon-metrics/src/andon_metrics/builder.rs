//! [`AndonMetricsBuilder`]: checks the configuration, binds the scrape endpoint, installs the
//! recorder and starts the background work (on the caller's runtime, or a thread of its own).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use andon_core::config::MetricsConfig;
use andon_core::threshold::Threshold;
use andon_core::{Deferred, MetricsListener, SignalSink};
use andon_runtime::work_queue;
use metrics::Key;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::sync::watch;

use crate::error::MetricsError;
use crate::names::{
    self, FAILURES, HELP, LINE_STOPPED, POOL_UTILIZATION, PROCESSING_DURATION, QUEUE_DEPTH,
    REQUEST_DURATION, threshold_metric,
};
use crate::recorder::{AndonRecorder, Registry};
use crate::server::Background;

use super::AndonMetrics;
use super::cache::Cache;

/// How many threshold signals may wait for the sink before new ones are dropped (and counted).
const EVENT_QUEUE: usize = 1024;

/// Builds an [`AndonMetrics`] with options beyond the configuration.
#[derive(Debug)]
#[must_use]
pub struct AndonMetricsBuilder {
    pub(super) config: MetricsConfig,
    pub(super) sink: Option<Arc<dyn SignalSink>>,
    pub(super) listener: Option<Arc<Deferred<dyn MetricsListener>>>,
    pub(super) endpoint: bool,
    pub(super) global: bool,
}

impl AndonMetricsBuilder {
    /// Sends threshold signals to `sink` (the umbrella passes its fan-out of every component).
    pub fn with_signal_sink(mut self, sink: Arc<dyn SignalSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Tells the listener bound into `slot` (the alert manager, which is built after the
    /// metrics it reads) at once of every update of the metrics it watches, so that rules on a
    /// gauge react when it changes instead of on their next evaluation tick.
    ///
    /// [`watched_metrics`](MetricsListener::watched_metrics) is read once, when the slot is
    /// bound (at once if it already is): a name it lists is marked, and each update of a series
    /// of that name (a gauge set, a counter increment, a histogram value, through andon's API,
    /// [`MetricsSink`](andon_core::MetricsSink) or the `metrics` macros) calls
    /// [`metric_changed`](MetricsListener::metric_changed) with the metric's name on the
    /// recording thread, after the new value is readable through
    /// [`MetricsSource`](andon_core::MetricsSource). An update of a name it does not watch
    /// costs the same one atomic load as without a listener.
    pub fn with_metrics_listener(mut self, slot: Arc<Deferred<dyn MetricsListener>>) -> Self {
        self.listener = Some(slot);
        self
    }

    /// Serves no endpoint of its own: for programs that serve
    /// [`render`](AndonMetrics::render) from their own HTTP server.
    pub fn without_endpoint(mut self) -> Self {
        self.endpoint = false;
        self
    }

    /// Never installs the global `metrics` recorder: only what is recorded through this value
    /// (or inside [`metrics::with_local_recorder`] with [`AndonMetrics::recorder`]) is shown.
    pub fn with_local_recorder(mut self) -> Self {
        self.global = false;
        self
    }

    /// Checks the configuration, binds the endpoint, installs the recorder and starts the
    /// background work.
    ///
    /// Inside a Tokio runtime the endpoint and the delivery of threshold signals run as tasks
    /// on it; outside one, on a thread of their own.
    ///
    /// # Errors
    ///
    /// [`MetricsError::Config`] for an invalid configuration, [`MetricsError::Bind`] when the
    /// port is taken and `free_port_if_taken` is off (or no port at all can be listened on),
    /// [`MetricsError::InvalidMetricName`] for a user threshold on an invalid
    /// name, [`MetricsError::Background`] when no thread can be started.
    pub fn build(self) -> Result<AndonMetrics, MetricsError> {
        let config = self.config;
        andon_core::SectionConfig::validate(&config)?;
        let mut builder = PrometheusBuilder::new()
            .set_buckets(&config.buckets)
            .map_err(|e| andon_core::ConfigError::new("metrics.buckets", e.to_string()))?;
        for (name, buckets) in &config.histogram_buckets {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.clone()), buckets)
                .map_err(|e| {
                    andon_core::ConfigError::new(
                        format!("metrics.histogram_buckets.{name}"),
                        e.to_string(),
                    )
                })?;
        }
        let (listener, endpoint_notice) = if config.enabled && self.endpoint {
            let (listener, notice) = bind(&config)?;
            (Some(listener), notice)
        } else {
            (None, None)
        };
        let endpoint = listener.as_ref().and_then(|l| l.local_addr().ok());
        let (events, receiver) = work_queue(EVENT_QUEUE);
        let registry = Arc::new(Registry::new(
            builder.build_recorder(),
            config.max_label_sets,
            events,
        ));
        for (name, kind, help) in HELP {
            registry.describe(kind, name, help);
        }
        for name in config.thresholds.names() {
            let (metric, factor) = threshold_metric(name);
            names::check_metric_name(metric)?;
            let threshold =
                Threshold::from_config(&config.thresholds, name).map(|t| t.scaled(factor));
            registry.set_threshold(metric, name, threshold);
        }
        let global = config.enabled
            && self.global
            && metrics::set_global_recorder(AndonRecorder {
                registry: Arc::clone(&registry),
            })
            .is_ok();
        if let Some(slot) = &self.listener {
            let registry = Arc::downgrade(&registry);
            slot.when_bound(move |listener| {
                if let Some(registry) = registry.upgrade() {
                    registry.set_listener(Some(Arc::clone(listener)));
                }
            });
        }
        let (stop, stopped) = watch::channel(false);
        let background = Background {
            registry: Arc::clone(&registry),
            events: receiver,
            sink: self.sink,
            listener: listener.map(|l| (l, Arc::from(config.scrape_path.as_str()))),
            stop: stopped,
        };
        start(background)?;
        Ok(AndonMetrics {
            line_stopped: registry.gauge(&Key::from_name(LINE_STOPPED))?,
            signals: RwLock::new(HashMap::new()),
            failures: Cache::new(FAILURES, "component"),
            queues: Cache::new(QUEUE_DEPTH, "queue"),
            pools: Cache::new(POOL_UTILIZATION, "pool"),
            requests: Cache::new(REQUEST_DURATION, "endpoint"),
            processing: Cache::new(PROCESSING_DURATION, "operation"),
            registry,
            config,
            global,
            endpoint,
            endpoint_notice,
            stop,
            shut_down: AtomicBool::new(false),
        })
    }
}

/// Listens on `bind:port`, or, when that port is taken and `free_port_if_taken` allows, on a
/// free port of the same address, with the notice that says so.
fn bind(config: &MetricsConfig) -> Result<(std::net::TcpListener, Option<String>), MetricsError> {
    let bind_error = |source| MetricsError::Bind {
        bind: config.bind.clone(),
        port: config.port,
        source,
    };
    let ip: IpAddr = config.bind.parse().map_err(|_| {
        andon_core::ConfigError::new("metrics.bind", "is not an IP address: use \"127.0.0.1\"")
    })?;
    let (listener, notice) = match std::net::TcpListener::bind(SocketAddr::new(ip, config.port)) {
        Ok(listener) => (listener, None),
        Err(taken) if config.free_port_if_taken => {
            let Ok(listener) = std::net::TcpListener::bind(SocketAddr::new(ip, 0)) else {
                return Err(bind_error(taken));
            };
            let actual = listener
                .local_addr()
                .map_or_else(|_| "a free port".to_owned(), |a| a.to_string());
            let notice = format!(
                "andon metrics: cannot listen on {}:{} ({taken}), so metrics are served at \
                 http://{actual}{} instead: set `metrics.port` to a free port for a fixed \
                 address, or `metrics.free_port_if_taken = false` to make a taken port an error",
                config.bind, config.port, config.scrape_path
            );
            (listener, Some(notice))
        }
        Err(taken) => return Err(bind_error(taken)),
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    Ok((listener, notice))
}

fn start(background: Background) -> Result<(), MetricsError> {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(background.run());
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(MetricsError::Background)?;
    std::thread::Builder::new()
        .name("andon-metrics".to_owned())
        .spawn(move || runtime.block_on(background.run()))
        .map_err(MetricsError::Background)?;
    Ok(())
}
