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
//! # Crate feature flags
//!
//! | feature   | default | what it adds |
//! |-----------|---------|--------------|
//! | `log`     | yes     | [`log`]: structured JSON logs on slog (stdout, file, syslog, Cloud Logging) |
//! | `metrics` | yes     | [`metrics`]: Prometheus metrics, thresholds and the `/metrics` endpoint |
//! | `trace`   | yes     | [`trace`]: OpenTelemetry spans over OTLP, W3C Trace Context and Baggage |
//! | `observe` | yes     | [`observe`]: host and process diagnostics with health thresholds |
//! | `alert`   | yes     | [`alert`]: alert rules, dedup, escalation, Slack/PagerDuty/email/Alertmanager/webhook/file |
//! | `full`    | no      | all of the above |
//!
//! With a feature off, its component is absent and the others work alone.
//!
//! # Related crates
//!
//! [`andon_core`] holds the shared vocabulary, re-exported here at the root.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod board;
mod error;
mod escalate;
mod outcome;
mod system;
mod wire;

#[doc(inline)]
pub use andon_core::{
    AlertSeverity, AndonConfig, AndonError, AndonSignal, Color, ConfigError, DiagnosticsReport,
    DiagnosticsSource, Health, HealthStatus, Line, LineState, LineStopped, LogLevel, MetricsSink,
    MetricsSource, Noop, SignalId, SignalSink, TraceContext, TraceIds, async_trait, config,
};
pub use board::{BoardSnapshot, Station};
pub use error::{PartFailure, ShutdownError, SignalError};
pub use outcome::signal_for_outcome;
pub use system::{
    AndonSystem, AndonSystemBuilder, DEFAULT_SHUTDOWN_DEADLINE, SignalOutcome, SystemEvent,
};

/// The shared vocabulary: signals, configuration, the line, the component traits.
pub use andon_core as core;

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
