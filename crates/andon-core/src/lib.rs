//! The shared vocabulary of andon: signals, severities, configuration, errors, the line, and
//! the traits every component implements.
//!
//! andon brings the Toyota Production System's *Andon cord* to software. Any part of a program
//! can pull the cord with an [`AndonSignal`] — RED (stop the line), YELLOW (warning) or GREEN
//! (normal) — and every component makes it visible: a log record, metrics, a span, alerts, a
//! diagnostics snapshot, and for RED a stopped [`Line`] that workers halt on until someone
//! resumes it.
//!
//! Every component follows one contract ([`contract`]): built with `X::builder(section)`, wired
//! with `with_*`, flushed and shut down within a deadline, and asked for its counters with `stats()`, which returns a type
//! implementing [`Stats`] (see [`stats`]): `describe` lists each line (name, kind, help,
//! labels, value), `export` publishes them to a [`MetricsSink`], and
//! [`stats::render_prometheus`] writes them as Prometheus text.
//!
//! This crate does no I/O and has no runtime of its own, so every andon crate can depend on it.
//! Most programs use the `andon` umbrella crate instead, which re-exports this one.
//!
//! # Example
//!
//! ```
//! use andon_core::{AndonConfig, AndonSignal, Color, Line, LogLevel};
//!
//! let config = AndonConfig::from_toml_str("[logger]\nlevel = \"WARNING\"\n")?;
//! assert_eq!(config.logger.level, LogLevel::Warning);
//!
//! let signal = AndonSignal::red("Queue overflow - stop processing")
//!     .with_component("queue-handler")
//!     .with_trace_id("trace-123");
//! assert_eq!(signal.log_level(), LogLevel::Critical);
//!
//! let line = Line::new();
//! if config.line.stops(signal.color(), signal.component()) {
//!     line.stop(signal);
//! }
//! assert!(line.checkpoint().is_err());
//! line.resume("alice", Some("queue drained"));
//! assert!(line.checkpoint().is_ok());
//! # Ok::<(), andon_core::AndonError>(())
//! ```
//!
//! # Crate feature flags
//!
//! This crate has no optional features.
//!
//! # Related crates
//!
//! - `andon`: the umbrella, with `AndonSystem`.
//! - `andon-log`, `andon-metrics`, `andon-trace`, `andon-observe`, `andon-alert`: the components,
//!   each implementing the traits in [`component`].
#![cfg_attr(docsrs, feature(doc_cfg))]

/// How the keyword enums of the vocabulary (`Color`, `LogLevel`, `AlertSeverity`, …) are
/// written and read, the same way for each: `display_as_str!(Type, …)` gives each type the
/// `Display` of its `as_str()`; `parse_keyword!(Type, ParseError, fold, { "a" | "alias" =>
/// Variant, … })` its `FromStr`, matching the trimmed text after `str::fold` (such as
/// `to_ascii_lowercase`) and refusing anything else with `ParseError(text)`.
macro_rules! display_as_str {
    ($($keyword:ty),+ $(,)?) => {$(
        impl ::std::fmt::Display for $keyword {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )+};
}

/// See `display_as_str!` above: `FromStr` for a keyword enum from its accepted spellings.
macro_rules! parse_keyword {
    ($keyword:ident, $error:ident, $fold:ident, { $($($text:literal)|+ => $variant:ident,)+ }) => {
        impl ::std::str::FromStr for $keyword {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().$fold().as_str() {
                    $($($text)|+ => Ok($keyword::$variant),)+
                    _ => Err($error(s.to_owned())),
                }
            }
        }
    };
}

pub mod component;
pub mod config;
pub mod contract;
mod error;
pub mod heartbeat;
pub mod hex;
pub mod history;
mod line;
pub mod line_policy;
pub mod names;
mod severity;
mod signal;
pub mod stats;
mod text_serde;
pub mod threshold;
mod trace_link;

#[doc(inline)]
pub use component::{
    DiagnosticsReport, DiagnosticsSource, Health, LogEntry, LogSink, MetricsListener, MetricsSink,
    MetricsSource, Noop, Receipt, Sample, SignalSink, TraceContext, TraceIds,
};
#[doc(inline)]
pub use config::AndonConfig;
pub use contract::{Component, Deferred, SectionConfig, ShutdownReport};
pub use error::{AndonError, BoxError, ConfigError};
pub use heartbeat::{HeartbeatEvent, HeartbeatEventKind, HeartbeatStatus};
pub use history::{AlertEvent, AlertEventKind, HistoryRecord, HistoryStore, LineEvent};
pub use line::{Line, LineState, LineStopped, LineWatch, Resumption};
pub use line_policy::{Escalation, LineDecision, LinePolicy};
pub use severity::{
    AlertSeverity, Color, HealthStatus, LogLevel, ParseColorError, ParseLevelError,
};
pub use signal::{AndonSignal, ParseSignalIdError, SignalId, rfc3339};
pub use stats::{StatKind, StatLine, Stats};
pub use trace_link::{is_w3c_trace_id, trace_url, w3c_trace_id, w3c_trace_id_hex};

/// The `async_trait` attribute the component traits are written with, for implementors.
pub use async_trait::async_trait;
