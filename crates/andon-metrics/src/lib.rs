//! Prometheus metrics for andon on the `metrics` facade: signal counters, gauges, histograms,
//! thresholds that raise Andon signals, and a scrape endpoint.
//!
//! # The component contract
//!
//! [`AndonMetrics`] follows [`andon_core::contract`], like every andon component:
//! [`AndonMetrics::builder`] takes the `[metrics]` section, its `with_*` setters take what the
//! recorder reports to (the signal sink for thresholds, the listener slot), and
//! [`build`](AndonMetricsBuilder::build) checks the section and starts it;
//! [`AndonMetrics::flush`] and [`AndonMetrics::shutdown`] (with a deadline, returning an
//! [`andon_core::ShutdownReport`]) deliver pending threshold signals and stop;
//! [`AndonMetrics::stats`] returns [`MetricsStats`], which implements [`andon_core::Stats`];
//! and it implements [`andon_core::Component`].
//!
//! [`AndonMetrics`] records andon's own metrics (`andon_signals_total{color,component}`,
//! `andon_queue_depth{queue}`, `andon_request_duration_seconds{endpoint}`, …), installs itself
//! as the global [`metrics`] recorder so that what the program records with
//! `metrics::counter!` appears on the same endpoint, and serves everything at
//! `http://{bind}:{port}{scrape_path}` (by default `http://127.0.0.1:9090/metrics`; a free
//! port when that one is taken, said by [`AndonMetrics::endpoint_notice`]) in the Prometheus
//! text format. Programs with an HTTP server of their own serve [`AndonMetrics::render`]
//! instead. A RED signal also counts a failure of its component (`andon_failures_total`), and
//! [`AndonMetricsBuilder::with_metrics_listener`] tells a listener (the alert manager, bound
//! later into an [`andon_core::Deferred`] slot) of every update of the metrics it watches.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use andon_core::config::MetricsConfig;
//! use andon_core::{AndonSignal, Color, MetricsSource};
//! use andon_metrics::{AndonMetrics, Threshold};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), andon_metrics::MetricsError> {
//! let metrics = AndonMetrics::builder(MetricsConfig::default())
//!     .without_endpoint() // the example serves nothing; by default 127.0.0.1:9090/metrics
//!     .build()?;
//!
//! let signal = AndonSignal::red("Queue overflow - stop processing").with_component("queue-handler");
//! metrics.record_signal(&signal).await?;
//! metrics.update_queue_depth("default", 150)?;
//! metrics.record_request_latency("/api/test", Duration::from_millis(42))?;
//!
//! // The user's own metric, watched by a threshold: RED above 5000, GREEN at 4000 or below.
//! let backlog = metrics.register_gauge("my_backlog_items", "Items not yet processed.", &[])?;
//! metrics.set_threshold("my_backlog_items", Threshold::new(5000.0).with_clear(4000.0).with_color(Color::Red))?;
//! backlog.set(120.0);
//!
//! let text = metrics.render();
//! assert!(text.contains(r#"andon_signals_total{color="red",component="queue-handler"} 1"#));
//! assert_eq!(metrics.value("andon_queue_depth", &[("queue", "default")]), Some(150.0));
//! # Ok(())
//! # }
//! ```
//!
//! # Recorders
//!
//! The first `AndonMetrics` in a process installs the global `metrics` recorder. When one is
//! already installed (a second `AndonMetrics`, as in tests, or the program's own recorder), it
//! keeps a local recorder: everything recorded through it works and is served, but the
//! `metrics` macros go to the other recorder. [`AndonMetrics::is_global`] tells which mode it
//! is in, and [`AndonMetrics::recorder`] lends the local recorder to
//! [`metrics::with_local_recorder`].
//!
//! # Thresholds
//!
//! `[metrics.thresholds]` watches `andon_queue_depth` (`queue_depth`),
//! `andon_memory_usage_bytes` (`memory_usage_mb`, compared in MiB), `andon_cpu_usage_ratio`
//! (`cpu_usage_percent`) and any other metric by its name. When a series goes above the level a
//! YELLOW (or the configured RED) signal goes to the sink given with
//! [`AndonMetricsBuilder::with_signal_sink`], once; a GREEN one follows when it falls to the
//! clear level (90% of the level unless configured). [`AndonMetrics::set_threshold`] adds
//! thresholds at run time. Delivery happens in the background, retried, and counted in
//! `andon_metrics_threshold_signals_total{outcome}`.
//!
//! # Names, labels and cardinality
//!
//! Names given to this crate are checked ([`MetricsError::InvalidMetricName`],
//! [`MetricsError::InvalidLabelName`], [`MetricsError::DuplicateLabel`]); names from the
//! `metrics` macros are checked as the exposition writes them (`http.requests` is served as
//! `http_requests`; an empty or duplicate label name is refused and counted in
//! `andon_metrics_rejected_total{reason}`), so the exposition always parses. Label values may
//! hold anything (quotes, backslashes, newlines, any UTF-8) and are escaped exactly. Each metric holds at most
//! `metrics.max_label_sets` label sets; new ones beyond are refused
//! ([`MetricsError::TooManySeries`], or a no-op handle for the macros) and counted in
//! `andon_metrics_refused_series_total{metric}`.
//!
//! # The component contract
//!
//! Like every andon component: [`AndonMetrics::builder`] takes the `[metrics]` section and
//! `build()` checks it and starts the endpoint; flushing and shutting down go through
//! [`SignalSink`](andon_core::SignalSink); [`AndonMetrics::stats`] returns [`MetricsStats`],
//! which implements [`andon_core::Stats`] (`describe` lists its lines, `export` publishes them
//! to a [`MetricsSink`](andon_core::MetricsSink), this crate's own included).
//!
//! # Crate feature flags
//!
//! This crate has no optional features.
//!
//! # Related crates
//!
//! - `andon-core`: the configuration ([`MetricsConfig`](andon_core::config::MetricsConfig)) and
//!   the traits implemented here: [`SignalSink`](andon_core::SignalSink),
//!   [`MetricsSource`](andon_core::MetricsSource), [`MetricsSink`](andon_core::MetricsSink).
//! - `andon`: the umbrella, whose `AndonSystem` wires these metrics to every other component.
//! - [`metrics`] and `metrics-exporter-prometheus`: the facade and the exporter underneath.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod andon_metrics;
mod error;
mod names;
mod recorder;
mod server;
mod stats;

pub use andon_core::threshold::Threshold;
pub use andon_metrics::{AndonMetrics, AndonMetricsBuilder, MetricsHandle};
pub use error::MetricsError;
pub use names::{
    ALERTS, CPU_USAGE, FAILURES, LINE_STOPPED, MEMORY_USAGE, POOL_UTILIZATION, PROCESSING_DURATION,
    QUEUE_DEPTH, REQUEST_DURATION, SIGNALS,
};
pub use recorder::AndonRecorder;
pub use server::CONTENT_TYPE;
pub use stats::MetricsStats;
