//! The report's rows: each andon operation beside the raw library it is measured against,
//! with the design's SLO and our goal.

use super::render::time;

/// What the design promises (original-design.md, "SLOs for Andon System").
#[derive(Clone, Copy)]
pub(super) enum Slo {
    /// Log message latency < 100 ms.
    Log,
    /// Metric update latency < 50 ms.
    Metric,
    /// Alert response time < 5 s.
    Alert,
    /// Trace export latency < 500 ms.
    Trace,
    /// Observer diagnostics < 2 s.
    Diagnostics,
    /// The design names none.
    None,
}

impl Slo {
    pub(super) fn bound_ns(self) -> Option<f64> {
        match self {
            Slo::Log => Some(100e6),
            Slo::Metric => Some(50e6),
            Slo::Alert => Some(5e9),
            Slo::Trace => Some(500e6),
            Slo::Diagnostics => Some(2e9),
            Slo::None => None,
        }
    }

    pub(super) fn text(self) -> &'static str {
        match self {
            Slo::Log => "log < 100 ms",
            Slo::Metric => "metric update < 50 ms",
            Slo::Alert => "alert response < 5 s",
            Slo::Trace => "trace export < 500 ms",
            Slo::Diagnostics => "diagnostics < 2 s",
            Slo::None => "–",
        }
    }
}

/// Our own, tighter goal for an operation.
#[derive(Clone, Copy)]
pub(super) enum Goal {
    /// andon at most this many times the raw library.
    Ratio(f64),
    /// andon under this many nanoseconds.
    Under(f64),
    /// None stated.
    None,
}

impl Goal {
    pub(super) fn text(self) -> String {
        match self {
            Goal::Ratio(r) => format!("≤ {r}x raw"),
            Goal::Under(ns) => format!("< {}", time(ns)),
            Goal::None => "–".to_owned(),
        }
    }

    pub(super) fn met(self, andon: f64, raw: Option<f64>) -> &'static str {
        match (self, raw) {
            (Goal::Ratio(r), Some(raw)) if raw > 0.0 => {
                if andon / raw <= r {
                    "yes"
                } else {
                    "**no**"
                }
            }
            (Goal::Under(ns), _) => {
                if andon < ns {
                    "yes"
                } else {
                    "**no**"
                }
            }
            _ => "–",
        }
    }
}

/// One row of the main table: an andon operation, the raw baseline measured beside it (criterion
/// full ids, `group/function`), the SLO that bounds it and our goal.
pub(super) struct Row {
    pub(super) op: &'static str,
    pub(super) andon: &'static str,
    pub(super) raw: Option<&'static str>,
    pub(super) raw_name: &'static str,
    pub(super) slo: Slo,
    pub(super) goal: Goal,
}

const fn row(
    op: &'static str,
    andon: &'static str,
    raw: Option<&'static str>,
    raw_name: &'static str,
    slo: Slo,
    goal: Goal,
) -> Row {
    Row {
        op,
        andon,
        raw,
        raw_name,
        slo,
        goal,
    }
}

/// The pairing of andon operations with their raw baselines. A benchmark renamed in a bench
/// file must be renamed here too; rows not measured in a run say so in the report.
pub(super) const ROWS: &[Row] = &[
    row(
        "log: one INFO record, 3 fields, JSON file (caller cost)",
        "caller/andon_event_json_file",
        Some("caller/raw_slog_async_block_json_file"),
        "slog-async (block) + slog-json",
        Slo::Log,
        Goal::Ratio(1.0),
    ),
    row(
        "log: the same through andon's slog drain",
        "caller/andon_slog_drain_json_file",
        Some("caller/raw_slog_async_block_json_file"),
        "slog-async (block) + slog-json",
        Slo::Log,
        Goal::Ratio(1.0),
    ),
    row(
        "log: 100,000 records written to the file",
        "throughput/andon_to_file",
        Some("throughput/raw_slog_async_block_to_file"),
        "slog-async (block) + slog-json",
        Slo::Log,
        Goal::Ratio(1.0),
    ),
    row(
        "log: a `tracing::info!` with 3 fields into andon's file sink (caller cost)",
        "tracing_caller/andon_layer_json_file",
        Some("tracing_caller/fmt_json_appender_non_blocking_file"),
        "tracing-subscriber JSON layer + tracing-appender non-blocking",
        Slo::Log,
        Goal::Ratio(0.5),
    ),
    row(
        "metrics: count a signal (2 labels)",
        "update/andon count_signal",
        Some("update/raw counter! with the same two labels, owned value"),
        "metrics `counter!`",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "metrics: record_signal (async, polled once)",
        "update/andon record_signal (async, polled once)",
        Some("update/raw counter! with the same two labels, owned value"),
        "metrics `counter!`",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "metrics: gauge update by label",
        "update/andon update_queue_depth",
        Some("update/raw gauge! with the same label, owned value"),
        "metrics `gauge!`",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "metrics: cached gauge set",
        "update/andon cached queue depth gauge set",
        Some("update/raw cached gauge set"),
        "metrics cached `Gauge`",
        Slo::Metric,
        Goal::Under(100.0),
    ),
    row(
        "metrics: cached gauge set, unwatched name, listener installed",
        "listener/andon cached gauge set, unwatched, listener installed",
        Some("listener/raw cached gauge set"),
        "metrics cached `Gauge`",
        Slo::Metric,
        Goal::Under(100.0),
    ),
    row(
        "metrics: cached gauge set, watched name (listener called)",
        "listener/andon cached gauge set, watched (listener called)",
        Some("listener/raw cached gauge set"),
        "metrics cached `Gauge`",
        Slo::Metric,
        Goal::Under(200.0),
    ),
    row(
        "metrics: histogram record by label",
        "update/andon record_request_latency",
        Some("update/raw histogram! with the same label, owned value"),
        "metrics `histogram!`",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "metrics: cached histogram record",
        "update/andon cached latency histogram record",
        Some("update/raw cached histogram record"),
        "metrics cached `Histogram`",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "metrics: render 10,000 series",
        "render 10000 series/andon render",
        Some("render 10000 series/raw PrometheusHandle::render"),
        "metrics-exporter-prometheus render",
        Slo::Metric,
        Goal::Ratio(1.5),
    ),
    row(
        "trace: span start + end, batch processor (caller cost)",
        "span start+end/andon, batch",
        Some("span start+end/raw opentelemetry sdk, batch"),
        "opentelemetry SDK span",
        Slo::Trace,
        Goal::Ratio(1.3), // issue 17
    ),
    row(
        "trace: span start + end, sampling off",
        "span start+end/andon, sampling off",
        Some("span start+end/raw opentelemetry sdk, sampling off"),
        "opentelemetry SDK span, AlwaysOff",
        Slo::Trace,
        Goal::Under(100.0),
    ),
    row(
        "trace: child span with one attribute",
        "span start+end/andon, child with attribute",
        None,
        "",
        Slo::Trace,
        Goal::None,
    ),
    row(
        "trace: span end to an OTLP receiver (export, after flush)",
        "trace export/andon",
        Some("trace export/raw"),
        "opentelemetry-otlp exporter",
        Slo::Trace,
        Goal::Ratio(1.5),
    ),
    row(
        "diagnostics: every section",
        "diagnostics/andon run_diagnostics, every section",
        Some("diagnostics/sysinfo refresh_all"),
        "sysinfo `refresh_all`",
        Slo::Diagnostics,
        Goal::Under(50e6),
    ),
    row(
        "diagnostics: memory and CPU only",
        "diagnostics/andon run_diagnostics, memory and cpu only",
        Some("diagnostics/sysinfo memory and cpu refresh"),
        "sysinfo memory + CPU refresh",
        Slo::Diagnostics,
        Goal::Under(1e6),
    ),
    row(
        "alerts: evaluate 10,000 threshold rules",
        "evaluate_10000_rules/andon_check_and_fire_alerts",
        Some("evaluate_10000_rules/raw_metric_reads_and_compares"),
        "the same metric reads and compares",
        Slo::Alert,
        Goal::Under(5e6),
    ),
    row(
        "alerts: RED signal to webhook notification received",
        "signal_to_notification/andon_signal_to_webhook",
        Some("signal_to_notification/raw_reqwest_post"),
        "reqwest POST of the same JSON",
        Slo::Alert,
        Goal::Under(50e6),
    ),
    row(
        "alerts: RED signal to mail accepted by an SMTP server",
        "signal_to_email/andon_signal_to_smtp",
        Some("signal_to_email/raw_lettre_send"),
        "lettre SMTP send",
        Slo::Alert,
        Goal::Ratio(1.5),
    ),
    row(
        "system: signal_problem RED, every component on",
        "signal_problem/system_red",
        Some("signal_problem/components_directly_red"),
        "each component called directly",
        Slo::Log,
        Goal::Under(50e3),
    ),
    row(
        "system: signal_problem YELLOW",
        "signal_problem/system_yellow",
        None,
        "",
        Slo::Log,
        Goal::Under(50e3),
    ),
    row(
        "system: signal_problem GREEN",
        "signal_problem/system_green",
        None,
        "",
        Slo::Log,
        Goal::Under(50e3),
    ),
    row(
        "agent: POST /v1/signals over loopback HTTP",
        "post_signal/andon_agent",
        Some("post_signal/raw_axum"),
        "bare axum handler parsing the same JSON",
        Slo::None,
        Goal::None,
    ),
    row(
        "history: insert 1,000,000 signals (batched writer, 1,024 per transaction)",
        "insert_1m_signals/batched_writer/1024",
        Some("insert_1m_signals/raw_rusqlite_1024"),
        "rusqlite, 1,024 inserts per transaction",
        Slo::None,
        Goal::Under(10e9),
    ),
    row(
        "line: checkpoint on a running line",
        "line/checkpoint_running",
        Some("line/raw_atomic_load"),
        "a bare atomic load",
        Slo::None,
        Goal::None,
    ),
];
