//! Structured logging for andon on slog: JSON records, file, syslog and Cloud Logging sinks, and
//! a bounded queue that never hides a drop and never stalls the host.
//!
//! # The component contract
//!
//! [`AndonLogger`] follows [`andon_core::contract`], like every andon component:
//! [`AndonLogger::builder`] takes the `[logger]` section, its `with_*` setters take a component
//! name, a trace context (the tracer) and `RUST_LOG` directives, and
//! [`build`](AndonLoggerBuilder::build) checks the section and starts the writer;
//! [`AndonLogger::flush`] and [`AndonLogger::shutdown`] (with a deadline, returning an
//! [`andon_core::ShutdownReport`]) account for every record; [`AndonLogger::stats`] returns
//! [`LogStats`], which implements [`andon_core::Stats`]; and it implements
//! [`andon_core::Component`]. `flush_blocking` and `shutdown_blocking` stay beside them for
//! programs without an async runtime.
//!
//! # Example
//!
//! ```
//! use andon_core::{AndonConfig, AndonSignal};
//! use andon_log::{AndonLogger, LogLevel};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("andon.log");
//! let config = AndonConfig::from_toml_str(&format!(
//!     r#"
//!     [logger]
//!     level = "INFO"
//!     sampling_enabled = false
//!     sinks = [{{ type = "File", path = "{}" }}]
//!     "#,
//!     path.display()
//! ))?;
//! let logger = AndonLogger::builder(config.logger)
//!     .with_component("checkout") // records that name no component of their own
//!     .build()?;
//!
//! logger.info("request served").await?;
//! logger.warn("Queue approaching threshold").await?;
//! logger.critical("Queue overflow - STOP").await?; // written before this returns
//! logger.log_signal(&AndonSignal::yellow("disk 85%").with_component("disk")).await?;
//!
//! // The hot path: synchronous, with key-values, no allocation in the common case.
//! logger.event(LogLevel::Info, "request served", slog::o!("status" => 200, "ms" => 4.5))?;
//!
//! // Existing slog code plugs in.
//! slog::info!(logger.slog_logger(), "from slog"; "user" => "alice");
//!
//! let report = logger.shutdown(std::time::Duration::from_secs(5)).await;
//! assert!(report.is_complete()); // everything accepted is written
//! let stats = logger.stats();
//! assert_eq!(stats.emitted, stats.written + stats.failed + stats.dropped);
//! assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 6);
//! # Ok(())
//! # }
//! ```
//!
//! # Records
//!
//! With `json_format = true` (the default) every record is one JSON object on one line:
//!
//! ```json
//! {"timestamp":"2026-11-26T23:41:07.123456789Z","level":"CRITICAL","message":"Queue overflow - STOP","component":"queue-handler","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","signal_id":"0192e4a4-8f7c-7cc1-9d1b-3f0e6a1b2c3d","color":"red","depth":150}
//! ```
//!
//! | Field | When | Value |
//! |-------|------|-------|
//! | `timestamp` | always | RFC 3339, UTC, nanoseconds; a signal's own timestamp for signals |
//! | `level` | always | `DEBUG`, `INFO`, `WARNING` or `CRITICAL` |
//! | `message` | always | the message; longer than `max_message_bytes` it is cut at a character boundary and ends with `… [truncated: N bytes]` |
//! | `component` | when known | the signal's component, else the logger's ([`AndonLoggerBuilder::with_component`]) |
//! | `trace_id` | in a span, or a signal with a trace id | 32 lower-case hex digits; a signal's id in any other form (upper-case hex, a UUID, `trace-123`) is mapped as its span's trace id is ([`andon_core::w3c_trace_id`]), so logs and traces join |
//! | `span_id` | in a span of the record's trace | 16 lower-case hex digits of the active span |
//! | `correlation_id` | a signal whose trace id is not lower-case W3C hex | the signal's trace id as given |
//! | `signal_id` | signals | the signal's UUID |
//! | `color` | signals | `red`, `yellow` or `green` |
//! | any other key | key-values | the signal's attributes, then the record's key-values, then the slog logger's; numbers and booleans keep their JSON type |
//!
//! A key-value named like one of the fields above is written as `kv_NAME`, so it can never
//! shadow them. Every string is escaped (quotes, backslashes, every control character including
//! newlines and DEL), so a message such as `"\n{\"level\":\"CRITICAL\"}"` stays inside its own
//! record. Rust strings are valid UTF-8; text from elsewhere is converted lossily before it gets
//! here. String key-values are cut at `max_message_bytes` like messages.
//!
//! With `json_format = false` a record is one readable line:
//! `2026-11-26T23:41:07.123456789Z WARNING [disk] disk 85% signal_id=… color=yellow free_gb=3`,
//! with values that hold spaces, quotes or `=` quoted, and control characters escaped.
//!
//! The `CloudLogging` sink writes Google Cloud Logging's structured form instead: `severity`,
//! `message`, `time`, `logging.googleapis.com/trace` (`projects/PROJECT/traces/TRACE_ID`, with a
//! `project_id`; without one the id goes in `trace_id`), `logging.googleapis.com/spanId`,
//! `logging.googleapis.com/trace_sampled`, `logging.googleapis.com/labels` (`component`,
//! `signal_id`, `color`, `correlation_id`) and `logging.googleapis.com/sourceLocation` (`file`,
//! `line` as a string, `function`), then the key-values.
//!
//! # Sinks
//!
//! `Stdout`, `Stderr`, `File` (appended; rotated at `max_bytes` to `PATH.1` … `PATH.keep`;
//! reopened when removed or replaced by someone else; its directory created; a file it creates
//! is `0600`), `Syslog` (by default the local daemon on the unix socket `/dev/log`, as
//! `syslog(3)` writes, and a start-up error when no daemon listens there; RFC 5424 over UDP or
//! TCP with RFC 6587 octet counting when `transport` asks; the MSG is the record's line) and
//! `CloudLogging` (stdout, a file rotated like `File`, or, with the `gcp` feature,
//! `output = "api"`: Cloud Logging's
//! `entries:write` in batches by count and bytes, from a thread of its own that the writer never
//! waits for, authenticated by Application Default Credentials through `gcp_auth`, retrying 429
//! and 5xx, counting what it delivers and loses in the sink's [`SinkStats`]). Each takes records
//! at its own level and above (never below the logger's).
//!
//! # Guarantees
//!
//! - Records are formatted on the caller's thread into a reused buffer and handed to one writer
//!   thread in batches; each batch is written with one call per sink where the sink allows it.
//! - The queue is bounded (`queue_capacity`). When it is full, DEBUG and INFO records wait
//!   (`overflow = "block"`) or are dropped and counted (`"drop"`); WARNING and CRITICAL wait,
//!   never dropped while the sinks make progress.
//! - A CRITICAL record is written to its sinks before `critical()` (or `log_signal` of a RED
//!   signal, a CRITICAL [`LogEntry`](andon_core::LogEntry), or a synchronous CRITICAL event)
//!   returns, or that call returns [`LogError::Stalled`] after `stall_timeout` (default 1 s):
//!   a stuck sink (a stdout pipe nobody reads) never holds a caller longer, and while the writer
//!   stays stuck no call waits at all: records that find no room are dropped and counted
//!   ([`LogStats::timed_out`], [`LogStats::stalled`], `dropped`).
//! - With `sampling_enabled`, exactly 1 in `sample_ratio` ordinary DEBUG/INFO records is kept;
//!   WARNING and CRITICAL, signals of every color and entries written through
//!   [`LogSink`](andon_core::LogSink) are never sampled away. The rest are counted in
//!   `sampled_out`.
//! - A failing sink never panics or blocks the caller forever: each failed record is counted,
//!   the error is reported to stderr at most once per `error_report_interval`, and the sink is
//!   retried (files on every batch, network peers after a second) until it recovers.
//! - [`AndonLogger::flush`] and [`AndonLogger::shutdown`] return once everything accepted is
//!   written: `emitted == written + failed + dropped` ([`LogStats`]), or with
//!   [`LogError::Stalled`] once a sink is stuck.
//!
//! # Crate feature flags
//!
// The `tracing` items exist only with the feature: linked with it, named without it.
#![cfg_attr(
    feature = "tracing",
    doc = "- `tracing` (off by default; on in the umbrella `andon`): [`AndonLogger::tracing_layer`], a
  `tracing_subscriber::Layer` that writes every `tracing` event as an andon record (ERROR →
  CRITICAL, WARN → WARNING, INFO, DEBUG/TRACE → DEBUG; fields with their JSON types; `target`,
  `file`, `line`; the active span's `trace_id`/`span_id`) through the same filter, sampling,
  queue and counters, and [`LogDirectives`]: `RUST_LOG` in `EnvFilter` syntax overrides
  `[logger] level` and filters events by target, `ANDON_LOG` sets andon's own records alone
  ([`AndonLoggerBuilder::with_env_directives`])."
)]
#![cfg_attr(
    not(feature = "tracing"),
    doc = "- `tracing` (off by default; on in the umbrella `andon`): `AndonLogger::tracing_layer`, a
  `tracing_subscriber::Layer` that writes every `tracing` event as an andon record (ERROR →
  CRITICAL, WARN → WARNING, INFO, DEBUG/TRACE → DEBUG; fields with their JSON types; `target`,
  `file`, `line`; the active span's `trace_id`/`span_id`) through the same filter, sampling,
  queue and counters, and `LogDirectives`: `RUST_LOG` in `EnvFilter` syntax overrides
  `[logger] level` and filters events by target, `ANDON_LOG` sets andon's own records alone
  (`AndonLoggerBuilder::with_env_directives`)."
)]
//! - `gcp` (off by default; on in the `andon` agent binary, `andon/gcp` in the umbrella): the
//!   `CloudLogging` sink's `output = "api"`, writing to Cloud Logging's `entries:write` with
//!   Application Default Credentials (gcp_auth, reqwest, rustls with ring). Without it such a
//!   config is refused when the logger starts, with a [`LogError::Config`] naming
//!   `logger.sinks.N.output` and this feature; the sink's stdout and file outputs need nothing
//!   more.
//!
//! # Related crates
//!
//! - `andon-core`: [`LoggerConfig`](andon_core::config::LoggerConfig), [`LogLevel`], the
//!   [`SignalSink`](andon_core::SignalSink), [`LogSink`](andon_core::LogSink) and
//!   [`TraceContext`](andon_core::TraceContext) traits this crate implements and uses.
//! - `andon-trace`: implements `TraceContext`, so records carry the active span's ids.
//! - `andon`: the umbrella, whose `AndonSystem` sends every signal here.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod bridge;
#[cfg(feature = "gcp")]
mod cloud_logging;
// Without `gcp`, a stand-in that refuses `output = "api"` with a config error naming the feature.
#[cfg(not(feature = "gcp"))]
#[path = "cloud_logging_off.rs"]
mod cloud_logging;
mod drain;
mod error;
mod features;
#[cfg(feature = "tracing")]
mod filter;
mod format;
#[cfg(feature = "tracing")]
mod layer;
mod logger;
mod pipeline;
mod queue;
mod sinks;
mod stats;
mod syslog;
mod timer;

pub use andon_core::LogLevel;
pub use bridge::LogBridge;
pub use drain::AndonDrain;
pub use error::LogError;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use filter::{ANDON_TARGET, LogDirectives};
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use layer::AndonLayer;
pub use logger::{AndonLogger, AndonLoggerBuilder};
/// The slog crate this one builds on, for `slog::o!` and friends without a separate dependency.
pub use slog;
pub use stats::{LogStats, SinkStats};
