//! Pull the Andon cord in software: one signal becomes a log record, metrics, a span, alerts, a
//! diagnostics snapshot and, for RED, a stopped line.
//!
//! In a Toyota plant, a worker who sees a problem pulls the Andon cord: a light goes on over the
//! station (RED, YELLOW, GREEN), the team comes at once, and if the problem cannot be fixed
//! quickly the line stops until it is (jidoka). [`AndonSystem`] does the same for a program.
//!
//! # Example
//!
//! ```
//! use andon::{AndonConfig, AndonSignal, AndonSystem};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), andon::AndonError> {
//! let system = AndonSystem::builder()
//!     .with_config(AndonConfig::from_toml_str("")?)
//!     .build()
//!     .await?;
//!
//! // A worker checks the line in its loop.
//! let line = system.line().clone();
//! assert!(line.checkpoint().is_ok());
//!
//! // Pull the cord: RED stops the line.
//! let signal = AndonSignal::red("Queue overflow - stop processing")
//!     .with_component("queue-handler")
//!     .with_trace_id("trace-123");
//! system.signal_problem(signal).await?;
//! assert!(line.checkpoint().is_err());
//!
//! // Someone fixes it and resumes the line.
//! system.resume_line("alice", Some("queue drained")).await?;
//! assert!(line.checkpoint().is_ok());
//! system.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Stop the line
//!
//! The `[line]` section decides which signals stop the line: `stop_on` (colors, default
//! `["red"]`), `components` (who may stop it; empty: any application component; the
//! observer's host-health signals only with `stop_on_host_health = true` or when named),
//! `auto_resume_on_green` (a GREEN
//! from the component that stopped it resumes it) and `escalate_yellow_after`: a YELLOW from a
//! component that may stop the line, not followed within that time by a GREEN from it or by
//! [`AndonSystem::acknowledge_yellow`], escalates to a RED (`YELLOW not handled within …`) that
//! stops the line and is logged, counted, traced and alerted like any RED. A stopped line shows in
//! the log (`line.stopped` on the signal), the gauge `andon_line_stopped`, the board and the live
//! events ([`AndonSystem::subscribe`], which also carries alert state changes).
//!
//! With `[line] state_file`, every stop and resume made through the system is on disk before it
//! is answered, and a new system starts with the line as it was: a crash never turns a stopped
//! line into a running one. A state file that cannot be read starts the line STOPPED, with a RED
//! saying why.
//!
//! # Every part at once
//!
//! The parts (log, metrics, trace, alert, your sinks) take a signal at the same time, each within
//! a deadline ([`AndonSystemBuilder::with_part_deadline`], default [`DEFAULT_PART_DEADLINE`]): a
//! log nobody reads never holds up the alert. A part that misses it is skipped for that signal,
//! listed in [`SignalOutcome::timed_out`], counted in `andon_signal_part_timeouts_total{part}` and
//! reported by a YELLOW from `andon`. Once the line has changed, the board, the history, the live
//! events and every part get the signal even if the caller stops waiting.
//!
//! # Examples and configuration
//!
//! - `cargo run --example andon_demo`: the quick start of the README.
//! - `cargo run -p andon --example mape_k`: a monitor-analyze-plan-execute loop on the observer,
//!   an alert rule and the line.
//! - `crates/andon/examples/andon.toml`: every section and every alert channel kind, commented.
//!
//! # Performance
//!
//! The caller's cost of [`AndonSystem::signal_problem`] with every component on is measured by
//! `cargo bench -p andon --bench signal` (criterion means, and p50/p99 over 20,000 single calls);
//! the numbers are in `docs/andon.md`.
//!
//! # Crate feature flags
//!
//! | feature   | default | what it adds |
//! |-----------|---------|--------------|
//! | `log`     | yes     | [`log`]: structured JSON logs on slog (stdout, file, syslog, Cloud Logging) |
//! | `metrics` | yes     | [`metrics`]: Prometheus metrics, thresholds and the `/metrics` endpoint |
//! | `trace`   | yes     | [`trace`]: OpenTelemetry spans over OTLP, W3C Trace Context and Baggage |
//! | `observe` | yes     | [`observe`]: host and process diagnostics with health thresholds |
//! | `alert`   | yes     | [`alert`]: alert rules, dedup, escalation, Slack/PagerDuty/email/Alertmanager/webhook/file |
//! | `history` | yes     | [`history`]: signals, alert changes, line stops and RED diagnostics kept in SQLite; Pareto, MTTA/MTTR, downtime (needs `[history] enabled`) |
//! | `tracing` | yes     | [`AndonSystem::tracing_layers`]: `tracing` events into andon's log (and spans into its traces); `RUST_LOG` / `ANDON_LOG` set andon's log level |
//! | `gcp`     | no      | the log's `CloudLogging` sink with `output = "api"`: Cloud Logging's API with Application Default Credentials (andon-log's `gcp`; without it such a config is refused at start, naming `logger.sinks.N.output` and this feature) |
//! | `full`    | no      | all of the above |
//!
//! With a feature off, its component is absent and the others work alone.
//!
//! # Related crates
//!
//! [`andon_core`] holds the shared vocabulary, re-exported here at the root.
#![cfg_attr(docsrs, feature(doc_cfg))]
// With a feature off its module is absent: the feature table then links the crate's own docs.
#![doc = ""]
#![cfg_attr(not(feature = "log"), doc = "[`log`]: https://docs.rs/andon-log")]
#![cfg_attr(
    not(feature = "metrics"),
    doc = "[`metrics`]: https://docs.rs/andon-metrics"
)]
#![cfg_attr(not(feature = "trace"), doc = "[`trace`]: https://docs.rs/andon-trace")]
#![cfg_attr(
    not(feature = "observe"),
    doc = "[`observe`]: https://docs.rs/andon-observe"
)]
#![cfg_attr(not(feature = "alert"), doc = "[`alert`]: https://docs.rs/andon-alert")]
#![cfg_attr(
    not(feature = "history"),
    doc = "[`history`]: https://docs.rs/andon-history"
)]
#![cfg_attr(
    not(feature = "tracing"),
    doc = "[`AndonSystem::tracing_layers`]: https://docs.rs/andon/latest/andon/struct.AndonSystem.html#method.tracing_layers"
)]

mod board;
mod builder;
mod error;
mod escalate;
mod fanout;
mod heartbeat;
#[cfg(feature = "tracing")]
mod layers;
mod lifecycle;
mod outcome;
mod shutdown;
mod state;
mod system;
mod wire;

#[doc(inline)]
pub use andon_core::heartbeat::{HeartbeatState, HeartbeatStatus, HeartbeatView};
#[doc(inline)]
pub use andon_core::{
    AlertSeverity, AndonConfig, AndonError, AndonSignal, Color, ConfigError, DiagnosticsReport,
    DiagnosticsSource, Health, HealthStatus, Line, LineState, LineStopped, LogLevel, MetricsSink,
    MetricsSource, Noop, SignalId, SignalSink, TraceContext, TraceIds, async_trait, config,
};
pub use board::{BoardSnapshot, Station};
pub use builder::AndonSystemBuilder;
pub use error::{PartFailure, ShutdownError, SignalError};
pub use fanout::{DEFAULT_PART_DEADLINE, SkippedPart};
pub use heartbeat::{HeartbeatError, MAX_AUTO_HEARTBEATS};
pub use outcome::signal_for_outcome;
pub use system::{AndonSystem, DEFAULT_SHUTDOWN_DEADLINE, SignalOutcome, SystemEvent};

/// The shared vocabulary: signals, configuration, the line, the component traits.
pub use andon_core as core;

/// The result of andon's operations: `andon::Result<T>` is `Result<T, AndonError>`, and the
/// errors of [`AndonSystem::signal_problem`] and [`AndonSystem::shutdown`] convert into
/// [`AndonError`] with `?`.
///
/// ```
/// use andon::{AndonConfig, AndonSignal, AndonSystem, Result};
///
/// async fn run() -> Result<()> {
///     let config = AndonConfig::from_toml_str("[metrics]\nenabled = false\n[tracer]\nenabled = false\n")?;
///     let system = AndonSystem::new(config).await?;
///     system.signal_problem(AndonSignal::yellow("queue is filling up")).await?;
///     system.shutdown().await?;
///     Ok(())
/// }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub type Result<T, E = AndonError> = std::result::Result<T, E>;

// The design's names at the root, each behind its feature; the component paths
// (`andon::log::AndonLogger`, …) stay.
#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
#[doc(no_inline)]
pub use andon_log::AndonLogger;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[doc(no_inline)]
pub use andon_metrics::AndonMetrics;

#[cfg(feature = "trace")]
#[cfg_attr(docsrs, doc(cfg(feature = "trace")))]
#[doc(no_inline)]
pub use andon_trace::{AndonTracer, SpanStatus};

#[cfg(feature = "observe")]
#[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
#[doc(no_inline)]
pub use andon_observe::AndonObserver;

#[cfg(feature = "alert")]
#[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
#[doc(no_inline)]
pub use andon_alert::{AlertChannel, AlertCondition, AlertManager, AlertRule};

#[cfg(feature = "log")]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub use andon_log as log;

#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use andon_metrics as metrics;

#[cfg(feature = "trace")]
#[cfg_attr(docsrs, doc(cfg(feature = "trace")))]
pub use andon_trace as trace;

#[cfg(feature = "observe")]
#[cfg_attr(docsrs, doc(cfg(feature = "observe")))]
pub use andon_observe as observe;

#[cfg(feature = "alert")]
#[cfg_attr(docsrs, doc(cfg(feature = "alert")))]
pub use andon_alert as alert;

#[cfg(feature = "history")]
#[cfg_attr(docsrs, doc(cfg(feature = "history")))]
pub use andon_history as history;
