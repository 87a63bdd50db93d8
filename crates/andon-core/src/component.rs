//! The traits every component implements, so the umbrella can wire them without knowing their
//! concrete types. Each has few required methods; each has a no-op implementation for tests and
//! for features that are turned off.

use std::fmt;
use std::time::SystemTime;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::AndonError;
use crate::severity::HealthStatus;
use crate::signal::AndonSignal;

/// Receives every signal: the logger, the metrics recorder, the tracer, the alert manager, a
/// history store. The umbrella fans a signal out to all of them.
///
/// `on_signal` is on the caller's hot path: do the cheap part there (format, count, enqueue) and
/// leave slow work (network, disk) to a background task.
#[async_trait]
pub trait SignalSink: Send + Sync + fmt::Debug {
    /// A short name for reports (`"log"`, `"metrics"`, `"alert"`).
    fn name(&self) -> &'static str;

    /// Takes one signal.
    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError>;

    /// Takes one signal and says what became of it: [`Receipt::Delivered`], or
    /// [`Receipt::Skipped`] with the reason when the sink took it but had nothing to do (the alert
    /// manager when no rule matched, so no notification was queued). The umbrella calls this one,
    /// so that `SignalOutcome::delivered_to` never lists a part that did nothing.
    ///
    /// The default calls [`on_signal`](SignalSink::on_signal) and answers `Delivered`.
    async fn accept(&self, signal: &AndonSignal) -> Result<Receipt, AndonError> {
        self.on_signal(signal).await.map(|()| Receipt::Delivered)
    }

    /// Delivers everything accepted so far.
    async fn flush(&self) -> Result<(), AndonError> {
        Ok(())
    }

    /// Flushes and releases resources; later signals are refused.
    async fn shutdown(&self) -> Result<(), AndonError> {
        self.flush().await
    }
}

/// What a [`SignalSink`] did with a signal it took.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Receipt {
    /// The sink did its work (wrote, counted, traced, queued a notification).
    Delivered,
    /// The sink took the signal but had nothing to do; the reason says why, for people
    /// (`"no alert rule matched"`).
    Skipped {
        /// Why nothing was done.
        reason: String,
    },
}

/// A health judgement with its reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The overall status.
    pub status: HealthStatus,
    /// Why it is not healthy, one line per value over its threshold (empty when healthy).
    pub reasons: Vec<String>,
}

/// A diagnostics snapshot as other components see it: the health, a one-line summary and the
/// details as compact JSON, for alert notifications and history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsReport {
    /// When it was taken.
    #[serde(with = "crate::signal::rfc3339")]
    pub taken_at: SystemTime,
    /// The health judged from it.
    pub health: Health,
    /// One human line, such as `memory 42.0%, cpu 12.5%, load 0.61, disk / 71%`.
    pub summary: String,
    /// The snapshot as JSON, capped in size by the producer.
    pub details: serde_json::Value,
}

/// Takes diagnostics snapshots of the host and the process (the observer implements it); the
/// alert manager and the umbrella ask it for one when something critical happens.
#[async_trait]
pub trait DiagnosticsSource: Send + Sync + fmt::Debug {
    /// Measures the host and process now and returns the snapshot (what a RED signal attaches).
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError>;

    /// The health judged at the last check, without measuring again; `None` before the first.
    fn last_health(&self) -> Option<Health> {
        None
    }
}

/// One series of a metric: its labels and current value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Label pairs, sorted by name.
    pub labels: Vec<(String, String)>,
    /// The current value (a counter's total, a gauge's value).
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if present.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads current metric values (the metrics crate implements it); alert rules use it.
pub trait MetricsSource: Send + Sync + fmt::Debug {
    /// Every series of the counter or gauge `name`, with its labels.
    fn samples(&self, name: &str) -> Vec<Sample>;

    /// The value of the series of `name` whose labels include all of `labels`; the largest if
    /// several match.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples(name)
            .into_iter()
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| s.value)
            .reduce(f64::max)
    }
}

/// Writes metric values (the metrics crate implements it); the observer exports its readings
/// and components their own counters through it.
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Sets gauge `name` with `labels` to `value`.
    fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64);

    /// Adds `delta` to counter `name` with `labels`.
    fn add_counter(&self, name: &str, labels: &[(&str, &str)], delta: u64) {
        let _ = (name, labels, delta);
    }

    /// Sets counter `name` with `labels` to `total`, a total since start that a component
    /// keeps itself (what [`Stats::export`](crate::stats::Stats::export) publishes); a counter
    /// never goes down, so a total below the one already set leaves it as it is.
    ///
    /// The default publishes the total with [`set_gauge`](MetricsSink::set_gauge), so a sink
    /// without counters of its own still shows every total rather than losing it; a sink
    /// that has counters should override it.
    fn set_counter(&self, name: &str, labels: &[(&str, &str)], total: u64) {
        #[allow(clippy::cast_precision_loss)] // a total past 2^53 is shown approximately
        self.set_gauge(name, labels, total as f64);
    }

    /// Records `value` in histogram `name` with `labels`.
    fn record_histogram(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let _ = (name, labels, value);
    }

    /// Gives `name` its HELP text; call once, before the first value.
    fn describe(&self, name: &str, help: &str) {
        let _ = (name, help);
    }
}

/// The W3C ids of a span: 16 bytes of trace id, 8 of span id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceIds {
    /// The trace id (never all zero).
    pub trace_id: [u8; 16],
    /// The span id (never all zero).
    pub span_id: [u8; 8],
}

impl TraceIds {
    /// The trace id as 32 lower-case hex digits, the W3C and OpenTelemetry form.
    pub fn trace_id_hex(&self) -> String {
        crate::hex::encode(&self.trace_id)
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id_hex(&self) -> String {
        crate::hex::encode(&self.span_id)
    }
}

/// Tells which span is active in the caller's context (the tracer implements it), so that a log
/// record carries the trace and span ids of the code that wrote it and logs join traces.
pub trait TraceContext: Send + Sync + fmt::Debug {
    /// The ids of the active span, or `None` outside any sampled span.
    fn current(&self) -> Option<TraceIds>;
}

impl TraceContext for Noop {
    fn current(&self) -> Option<TraceIds> {
        None
    }
}

/// One structured record for the log, written by a component that is not the logger (the alert
/// manager's built-in `log` channel writes its notifications through it). The logger implements
/// it; the umbrella wires it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// The record's level.
    pub level: crate::severity::LogLevel,
    /// The one-line message.
    pub message: String,
    /// The component the record is about, if any.
    pub component: Option<String>,
    /// Key-values with their JSON types (a diagnostics snapshot is one object-valued field).
    pub fields: Vec<(String, serde_json::Value)>,
}

/// Writes [`LogEntry`]s: the logger implements it, so that components without a dependency on
/// the logger (the alert manager's `log` channel) can make something visible in the log.
///
/// `write` must not block for long: a CRITICAL entry may wait a bounded time for its sink, like
/// any CRITICAL record, and is then counted as failed.
pub trait LogSink: Send + Sync + fmt::Debug {
    /// Writes one entry; an error says why it could not be accepted.
    fn write(&self, entry: LogEntry) -> Result<(), AndonError>;
}

impl LogSink for Noop {
    fn write(&self, _entry: LogEntry) -> Result<(), AndonError> {
        Ok(())
    }
}

/// Told when a metric it watches changes, so that rules on that metric react at once instead of
/// on the next evaluation tick (the alert manager implements it, the metrics recorder calls it,
/// the umbrella wires the two).
///
/// `metric_changed` is called on the recording thread, on the hot path of a gauge or counter
/// update: it must be cheap and never block (mark and wake, coalescing bursts).
pub trait MetricsListener: Send + Sync + fmt::Debug {
    /// The metric names this listener wants to hear about; read once, when it is installed.
    fn watched_metrics(&self) -> Vec<String>;

    /// The metric `name` (one of the watched ones) was updated.
    fn metric_changed(&self, name: &str);
}

/// Does nothing, successfully: the stand-in for a turned-off component.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

#[async_trait]
impl SignalSink for Noop {
    fn name(&self) -> &'static str {
        "noop"
    }

    async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
        Ok(())
    }
}

#[async_trait]
impl DiagnosticsSource for Noop {
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError> {
        Ok(DiagnosticsReport {
            taken_at: SystemTime::now(),
            health: Health::default(),
            summary: "diagnostics are turned off".to_owned(),
            details: serde_json::Value::Null,
        })
    }
}

impl MetricsSource for Noop {
    fn samples(&self, _name: &str) -> Vec<Sample> {
        Vec::new()
    }
}

impl MetricsSink for Noop {
    fn set_gauge(&self, _name: &str, _labels: &[(&str, &str)], _value: f64) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Fixed(Mutex<Vec<Sample>>);

    impl MetricsSource for Fixed {
        fn samples(&self, _name: &str) -> Vec<Sample> {
            self.0.lock().unwrap().clone()
        }
    }

    #[test]
    fn value_matches_label_subsets_and_takes_the_largest() {
        let source = Fixed(Mutex::new(vec![
            Sample {
                labels: vec![("queue".into(), "a".into()), ("zone".into(), "x".into())],
                value: 5.0,
            },
            Sample {
                labels: vec![("queue".into(), "b".into())],
                value: 9.0,
            },
        ]));
        assert_eq!(source.value("q", &[("queue", "a")]), Some(5.0));
        assert_eq!(source.value("q", &[]), Some(9.0));
        assert_eq!(source.value("q", &[("queue", "c")]), None);
    }

    #[test]
    fn trace_ids_render_as_w3c_hex() {
        let ids = TraceIds {
            trace_id: [
                0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e,
                0x47, 0x36,
            ],
            span_id: [0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
        };
        assert_eq!(ids.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id_hex(), "00f067aa0ba902b7");
        assert_eq!(TraceContext::current(&Noop), None);
    }

    #[tokio::test]
    async fn noop_is_usable_everywhere() {
        let sink: &dyn SignalSink = &Noop;
        sink.on_signal(&AndonSignal::red("x")).await.unwrap();
        sink.shutdown().await.unwrap();
        let diag: &dyn DiagnosticsSource = &Noop;
        assert_eq!(
            diag.snapshot().await.unwrap().health.status,
            HealthStatus::Healthy
        );
        assert!(MetricsSource::samples(&Noop, "x").is_empty());
    }
}
