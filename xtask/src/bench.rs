//! `cargo xtask bench`: runs every crate's criterion benchmarks, measures the agent's memory under
//! a burst of signals, and writes `docs/benchmarks.md`.
//!
//! The report pairs each andon operation with the raw library beneath it, measured in the same
//! run ([`ROWS`] names the criterion ids of both), beside the design's SLO and our goal; renders
//! the scale curves (any benchmark with a parameter) as tables; and records the machine, the
//! toolchain and the load average at start and end, since the numbers are only as quiet as the
//! machine was. The benches run with `ANDON_PEERS_DIR` pointing at the peers `cargo xtask setup`
//! installs (its Python virtualenv is set up first when missing), so the email bench finds the
//! same aiosmtpd the tests use.
//!
//! ```text
//! cargo xtask bench                   # everything; writes docs/benchmarks.md
//! cargo xtask bench --quick           # 1 s warm-up, 2 s measurement, 20 samples
//! cargo xtask bench --only andon-alert [-- <criterion filter>]   # one crate; report to target/
//! cargo xtask bench --only memory     # only the agent memory burst
//! cargo xtask bench --skip andon-history   # everything but one crate (repeatable)
//! cargo xtask bench --burst 100000    # a smaller burst (default 1,000,000)
//! ```

mod memory;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

/// What the design promises (original-design.md, "SLOs for Andon System").
#[derive(Clone, Copy)]
enum Slo {
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
    fn bound_ns(self) -> Option<f64> {
        match self {
            Slo::Log => Some(100e6),
            Slo::Metric => Some(50e6),
            Slo::Alert => Some(5e9),
            Slo::Trace => Some(500e6),
            Slo::Diagnostics => Some(2e9),
            Slo::None => None,
        }
    }

    fn text(self) -> &'static str {
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
enum Goal {
    /// andon at most this many times the raw library.
    Ratio(f64),
    /// andon under this many nanoseconds.
    Under(f64),
    /// None stated.
    None,
}

impl Goal {
    fn text(self) -> String {
        match self {
            Goal::Ratio(r) => format!("≤ {r}x raw"),
            Goal::Under(ns) => format!("< {}", time(ns)),
            Goal::None => "–".to_owned(),
        }
    }

    fn met(self, andon: f64, raw: Option<f64>) -> &'static str {
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
struct Row {
    op: &'static str,
    andon: &'static str,
    raw: Option<&'static str>,
    raw_name: &'static str,
    slo: Slo,
    goal: Goal,
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
const ROWS: &[Row] = &[
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

/// The options of one run.
struct Options {
    quick: bool,
    only: Option<String>,
    skip: Vec<String>,
    burst: u64,
    criterion_args: Vec<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        quick: false,
        only: None,
        skip: Vec::new(),
        burst: 1_000_000,
        criterion_args: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => {
                let name = args
                    .next()
                    .context("--only: name a crate (andon-alert, andon, …) or `memory`")?;
                options.only = Some(name.clone());
            }
            "--skip" => {
                let name = args
                    .next()
                    .context("--skip: name a crate (andon-history, …) or `memory`")?;
                options.skip.push(name.clone());
            }
            "--burst" => {
                let n = args
                    .next()
                    .context("--burst: give a number of signals, such as 1000000")?;
                options.burst = n
                    .replace('_', "")
                    .parse()
                    .with_context(|| format!("--burst: `{n}` is not a number of signals"))?;
            }
            "--" => options.criterion_args.extend(args.by_ref().cloned()),
            other => bail!(
                "bench: unknown option `{other}`; use --quick, --only <crate|memory>, --skip <crate|memory>, --burst <n>, -- <criterion args>"
            ),
        }
    }
    Ok(options)
}

/// The load average (1, 5, 15 minutes) now.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The benches of every workspace crate: (package, bench), from the `[[bench]]` tables.
fn benches(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .context("cannot list crates/")?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let Some(package) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let mut in_bench = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bench = line == "[[bench]]";
            } else if in_bench && let Some(value) = line.strip_prefix("name") {
                let name = value
                    .trim()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"');
                found.push((package.clone(), name.to_owned()));
            }
        }
    }
    Ok(found)
}

/// Runs one bench with the real peers in `peers`, echoing its output; returns the lines worth
/// quoting (percentiles, counters).
fn run_bench(
    root: &Path,
    peers: &Path,
    package: &str,
    bench: &str,
    options: &Options,
) -> anyhow::Result<Vec<String>> {
    // Every feature: a bench may need one that is off by default (andon-log's `tracing`).
    let mut args: Vec<String> = [
        "bench",
        "-p",
        package,
        "--bench",
        bench,
        "--all-features",
        "--",
        "--noplot",
    ]
    .map(str::to_owned)
    .to_vec();
    if options.quick {
        args.extend(
            [
                "--warm-up-time",
                "1",
                "--measurement-time",
                "2",
                "--sample-size",
                "20",
            ]
            .map(str::to_owned),
        );
    }
    args.extend(options.criterion_args.iter().cloned());
    println!("$ cargo {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new("cargo")
        .args(&args)
        .env(crate::peers_dir_rule::PEERS_DIR_ENV, peers)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;
    let notes = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let notes = Arc::clone(&notes);
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                println!("{line}");
                let quoted = ["p50", "p99", "counters after", "receiver got", "skipped"]
                    .iter()
                    .any(|k| line.contains(k));
                if quoted && let Ok(mut notes) = notes.lock() {
                    notes.push(line.trim().to_owned());
                }
            }
        }));
    }
    let status = child.wait().context("cargo bench did not finish")?;
    for reader in readers {
        let _ = reader.join();
    }
    if !status.success() {
        bail!(
            "`cargo {}` failed ({status}) after {:.0?}",
            args.join(" "),
            started.elapsed()
        );
    }
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Ok(notes)
}

/// One criterion result.
#[derive(Debug, Clone)]
struct Measured {
    group: String,
    function: String,
    value: Option<String>,
    full_id: String,
    median_ns: f64,
    mean_ns: f64,
}

/// The value of `"key":` in a flat JSON object written by criterion: a string or `null`.
fn json_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text[at..].trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The `point_estimate` of the statistic `key` in criterion's estimates.json.
fn json_estimate(text: &str, key: &str) -> Option<f64> {
    let at = text.find(&format!("\"{key}\":"))?;
    let rest = &text[at..];
    let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let number: String = rest[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        .collect();
    number.parse().ok()
}

/// Every criterion result under `dir` written since `since`.
fn collect(dir: &Path, since: SystemTime, out: &mut Vec<Measured>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if entry.file_name() == "new" {
            let estimates = path.join("estimates.json");
            let fresh = std::fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let (Ok(benchmark), Ok(estimates)) = (
                std::fs::read_to_string(path.join("benchmark.json")),
                std::fs::read_to_string(&estimates),
            ) else {
                continue;
            };
            let (Some(group), Some(full_id), Some(median_ns), Some(mean_ns)) = (
                json_string(&benchmark, "group_id"),
                json_string(&benchmark, "full_id"),
                json_estimate(&estimates, "median"),
                json_estimate(&estimates, "mean"),
            ) else {
                continue;
            };
            out.push(Measured {
                group,
                function: json_string(&benchmark, "function_id").unwrap_or_default(),
                value: json_string(&benchmark, "value_str"),
                full_id,
                median_ns,
                mean_ns,
            });
        } else if entry.file_name() != "base" && entry.file_name() != "report" {
            collect(&path, since, out);
        }
    }
}

/// A duration in nanoseconds, in the unit that reads best.
fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// What each scale curve grows, by criterion group.
const CURVE_NOTES: &[(&str, &str)] = &[
    (
        "scale signal_problem vs rules",
        "`AndonSystem::signal_problem` (YELLOW, logs + metrics + alerts on) with n alert rules \
         loaded: signal rules for other components, so every rule is looked at and none fires.",
    ),
    (
        "scale signal_problem vs components",
        "`signal_problem` from n distinct components in turn, each seen before (board stations, \
         metric series and alert state per component; the board keeps at most 1,000 stations).",
    ),
    (
        "scale signal_problem vs label sets",
        "`signal_problem` with n other label sets (queue-depth gauges) already in the metrics \
         registry.",
    ),
    (
        "scale signal_problem vs sinks",
        "`signal_problem` with n extra signal sinks (`AndonSystemBuilder::with_sink`, each only \
         counting): the fan-out itself.",
    ),
    (
        "scale alerts check_and_fire_alerts vs rules",
        "One evaluation of n threshold rules (a quarter firing, steady state); `raw` reads and \
         compares the same n gauges with no alert bookkeeping.",
    ),
    (
        "scale alerts on_signal vs rules",
        "`AlertManager::on_signal` of a YELLOW signal with n RED signal rules for other \
         components.",
    ),
];

/// `10000` as `10,000`; anything not a number unchanged.
fn thousands(value: &str) -> String {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return value.to_owned();
    }
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i > 0 && (value.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How andon's time grows from the smallest to the largest n of a curve.
fn growth(points: &[&Measured]) -> Option<String> {
    let mut andon: Vec<(u64, f64)> = points
        .iter()
        .filter(|m| m.function == "andon")
        .filter_map(|m| Some((m.value.as_deref()?.parse().ok()?, m.median_ns)))
        .collect();
    andon.sort_by_key(|(n, _)| *n);
    let (&(n0, t0), &(n1, t1)) = (andon.first()?, andon.last()?);
    if n1 <= n0 || t0 <= 0.0 {
        return None;
    }
    Some(format!(
        "andon from n = {} to n = {}: {:.1}x the time, about {} per added item.",
        thousands(&n0.to_string()),
        thousands(&n1.to_string()),
        t1 / t0,
        time(((t1 - t0) / (n1 - n0) as f64).max(0.0))
    ))
}

fn ratio(andon: f64, raw: f64) -> String {
    if raw > 0.0 {
        format!("{:.2}x", andon / raw)
    } else {
        "–".to_owned()
    }
}

/// Everything the report says about the machine and the run.
struct Machine {
    cores: usize,
    model: String,
    memory: String,
    rustc: String,
    kernel: String,
    commit: String,
    started_at: String,
    ended_at: String,
    load_start: String,
    load_end: String,
    /// The 1-minute load average as each bench started.
    load_during: Vec<(String, String)>,
    took: Duration,
}

fn machine_at_start(root: &Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let dirty = !command_output(
        "git",
        &[
            "-C",
            &root.display().to_string(),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_empty();
    let commit = format!(
        "{}{}",
        command_output(
            "git",
            &[
                "-C",
                &root.display().to_string(),
                "rev-parse",
                "--short",
                "HEAD"
            ]
        ),
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    Machine {
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        model,
        memory,
        rustc: command_output("rustc", &["-V"]),
        kernel: command_output("uname", &["-sr"]),
        commit,
        started_at: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        ended_at: String::new(),
        load_start: load_average(),
        load_end: String::new(),
        load_during: Vec::new(),
        took: Duration::ZERO,
    }
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let root = crate::root();
    let started = Instant::now();
    let since = SystemTime::now() - Duration::from_secs(1);
    let mut machine = machine_at_start(&root);
    println!("bench: load average at start {}", machine.load_start);

    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    // The email bench sends to aiosmtpd in the peers' virtualenv: set it up as `cargo xtask
    // setup` does (nothing to do when present) and tell the benches where it is, as `cargo xtask
    // ci` tells the tests.
    if let Err(error) = crate::setup::python_peers(&root) {
        eprintln!("bench: the Python peers are not set up ({error:#}); the email bench will skip");
    }
    let peers = crate::peers_dir(&root);
    let all = benches(&root)?;
    let selected: Vec<&(String, String)> = all
        .iter()
        .filter(|(package, _)| {
            options.only.as_ref().is_none_or(|o| o == package) && !options.skip.contains(package)
        })
        .collect();
    if selected.is_empty() && options.only.as_deref() != Some("memory") {
        bail!(
            "--only {}: no such crate with benches; crates with benches: {}",
            options.only.as_deref().unwrap_or(""),
            all.iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (package, bench) in selected {
        println!("\n==> {package}: bench {bench}");
        let load = load_average();
        machine.load_during.push((
            format!("{package}/{bench}"),
            load.split_whitespace().next().unwrap_or("?").to_owned(),
        ));
        match run_bench(&root, &peers, package, bench, &options) {
            Ok(quoted) if !quoted.is_empty() => {
                notes.insert(format!("{package}/{bench}"), quoted);
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("bench: {package}/{bench} failed: {error:#}; going on with the others");
                failures.push(format!("{package}/{bench}: {error:#}"));
            }
        }
    }

    let memory_wanted =
        options.only.is_none() || matches!(options.only.as_deref(), Some("memory" | "andon-agent"));
    let memory = if memory_wanted && !options.skip.iter().any(|s| s == "memory") {
        println!(
            "\n==> agent memory under a burst of {} signals",
            options.burst
        );
        match memory::run(&root, options.burst) {
            Ok(report) => Some(report),
            Err(error) => {
                eprintln!("bench: the memory burst failed: {error:#}");
                failures.push(format!("agent memory burst: {error:#}"));
                None
            }
        }
    } else {
        None
    };

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let mut results = Vec::new();
    collect(&target.join("criterion"), since, &mut results);
    results.sort_by(|a, b| a.full_id.cmp(&b.full_id));

    machine.ended_at = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    machine.load_end = load_average();
    machine.took = started.elapsed();
    let report = render(
        &machine,
        &options,
        &results,
        &notes,
        &failures,
        memory.as_ref(),
    );
    let path = match &options.only {
        None => root.join("docs/benchmarks.md"),
        Some(only) => target.join(format!("benchmarks-{only}.md")),
    };
    std::fs::write(&path, report).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "\nbench: {} results in {:.0?}; load average at end {}; report written to {}",
        results.len(),
        machine.took,
        machine.load_end,
        path.display()
    );
    if !failures.is_empty() {
        bail!(
            "{} step(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}

fn render(
    machine: &Machine,
    options: &Options,
    results: &[Measured],
    notes: &BTreeMap<String, Vec<String>>,
    failures: &[String],
    memory: Option<&memory::Report>,
) -> String {
    let by_id: BTreeMap<&str, &Measured> =
        results.iter().map(|m| (m.full_id.as_str(), m)).collect();
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}` (do not edit by hand; rerun it). Each andon operation is \
         measured in the **same run** as the raw library beneath it; times are criterion's median \
         per operation. The design's SLOs come from the original design (log < 100 ms, metric \
         update < 50 ms, alert response < 5 s, trace export < 500 ms, diagnostics < 2 s); the goals \
         are the tighter ones the component issues set.\n",
        if options.quick { " --quick" } else { "" }
    );
    let _ = writeln!(out, "## Machine and run\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} × {} |", machine.cores, machine.model);
    let _ = writeln!(out, "| memory | {} |", machine.memory);
    let _ = writeln!(out, "| kernel | {} |", machine.kernel);
    let _ = writeln!(out, "| rustc | {} |", machine.rustc);
    let _ = writeln!(out, "| commit | {} |", machine.commit);
    let _ = writeln!(
        out,
        "| run | {} → {} ({:.0} s{}) |",
        machine.started_at,
        machine.ended_at,
        machine.took.as_secs_f64(),
        if options.quick {
            ", `--quick`: 1 s warm-up, 2 s measurement, 20 samples"
        } else {
            ", criterion defaults"
        }
    );
    let _ = writeln!(
        out,
        "| load average (1, 5, 15 min) | start {} · end {} |",
        machine.load_start, machine.load_end
    );
    if !machine.load_during.is_empty() {
        let during: Vec<String> = machine
            .load_during
            .iter()
            .map(|(bench, load)| format!("{bench} {load}"))
            .collect();
        let _ = writeln!(
            out,
            "| 1-min load as each bench started | {} |",
            during.join(" · ")
        );
    }
    let busiest = [&machine.load_start, &machine.load_end]
        .into_iter()
        .chain(machine.load_during.iter().map(|(_, l)| l))
        .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .fold(0.0_f64, f64::max);
    let _ = writeln!(
        out,
        "\n**Load note.** The machine has {} cores and other work (compilers, tests) may run beside \
         the benchmarks; {} Ratios are more trustworthy than absolute times, since both sides of \
         a pair ran seconds apart under similar load; absolute times are an upper bound.\n",
        machine.cores,
        if busiest > machine.cores as f64 {
            format!(
                "in this run the 1-minute load average reached {busiest:.2}, above the core \
                 count, so the numbers are inflated and noisy."
            )
        } else {
            format!("in this run the 1-minute load average stayed at or below {busiest:.2}.")
        }
    );

    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "**Failed in this run** (their rows are missing below):\n"
        );
        for failure in failures {
            let first = failure.lines().next().unwrap_or_default();
            let _ = writeln!(out, "- {first}");
        }
        let _ = writeln!(out);
    }
    if !options.skip.is_empty() {
        let _ = writeln!(
            out,
            "Skipped in this run (`--skip`): {}; `cargo xtask bench --only <crate>` measures one.\n",
            options.skip.join(", ")
        );
    }
    let _ = writeln!(out, "## andon against the raw libraries\n");
    let _ = writeln!(
        out,
        "| operation | andon | raw library | raw | ratio | design SLO | within SLO | our goal | goal met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let mut missing = Vec::new();
    for row in ROWS {
        let Some(andon) = by_id.get(row.andon) else {
            missing.push(row.op);
            continue;
        };
        let raw = row.raw.and_then(|id| by_id.get(id)).map(|m| m.median_ns);
        let within = row
            .slo
            .bound_ns()
            .map_or("–", |b| if andon.median_ns < b { "yes" } else { "**no**" });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.op,
            time(andon.median_ns),
            if row.raw.is_some() {
                row.raw_name
            } else {
                "–"
            },
            raw.map_or_else(|| "–".to_owned(), time),
            raw.map_or_else(|| "–".to_owned(), |r| ratio(andon.median_ns, r)),
            row.slo.text(),
            within,
            row.goal.text(),
            row.goal.met(andon.median_ns, raw),
        );
    }
    if !missing.is_empty() {
        let _ = writeln!(out, "\nNot measured in this run: {}.", missing.join("; "));
    }
    let _ = writeln!(
        out,
        "\nThe SLO column compares the measured time with the design's bound for that kind of \
         operation. Caller-side costs (log, metrics, span) are far below their bounds by \
         construction: the slow part (disk, network) happens off the caller's path, and its \
         end-to-end latency is given where measured (log call to file, signal to notification, \
         percentiles below).\n"
    );

    if !notes.is_empty() {
        let _ = writeln!(out, "### Percentiles and counters printed by the benches\n");
        for (bench, lines) in notes {
            for line in lines {
                let _ = writeln!(out, "- `{bench}`: {line}");
            }
        }
        let _ = writeln!(out);
    }

    // Scale curves: every benchmark with a parameter, per group.
    let mut curves: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in results.iter().filter(|m| m.value.is_some()) {
        curves.entry(m.group.as_str()).or_default().push(m);
    }
    if !curves.is_empty() {
        let _ = writeln!(out, "## Scale curves\n");
        let _ = writeln!(
            out,
            "Each curve grows one dimension from 1 to 10,000 with the rest small \
             (crates/andon/benches/scale.rs, crates/andon-alert/benches/scale.rs); `raw` is the \
             same work without andon where one exists.\n"
        );
        for (group, points) in curves {
            let mut functions: Vec<&str> = points.iter().map(|m| m.function.as_str()).collect();
            functions.sort_unstable();
            functions.dedup();
            let mut values: Vec<&str> = points.iter().filter_map(|m| m.value.as_deref()).collect();
            values.sort_by_key(|v| v.parse::<u64>().unwrap_or(u64::MAX));
            values.dedup();
            let _ = writeln!(out, "### {group}\n");
            if let Some((_, note)) = CURVE_NOTES.iter().find(|(g, _)| *g == group) {
                let _ = writeln!(out, "{note}\n");
            }
            let _ = write!(out, "| n |");
            for f in &functions {
                let _ = write!(out, " {f} |");
            }
            if functions.len() == 2 {
                let _ = write!(out, " ratio |");
            }
            let _ = writeln!(
                out,
                "\n|---|{}",
                "---|".repeat(functions.len() + usize::from(functions.len() == 2))
            );
            for value in values {
                let _ = write!(out, "| {} |", thousands(value));
                let mut times = Vec::new();
                for f in &functions {
                    let t = points
                        .iter()
                        .find(|m| m.function == *f && m.value.as_deref() == Some(value))
                        .map(|m| m.median_ns);
                    times.push(t);
                    let _ = write!(out, " {} |", t.map_or_else(|| "–".to_owned(), time));
                }
                if let [Some(a), Some(b)] = times[..] {
                    let _ = write!(out, " {} |", ratio(a, b));
                } else if functions.len() == 2 {
                    let _ = write!(out, " – |");
                }
                let _ = writeln!(out);
            }
            let _ = writeln!(out);
            if let Some(line) = growth(&points) {
                let _ = writeln!(out, "{line}\n");
            }
        }
    }

    if let Some(memory) = memory {
        memory.render(&mut out);
    }

    // Everything else measured, so that no number is hidden.
    let paired: Vec<&str> = ROWS
        .iter()
        .flat_map(|r| std::iter::once(r.andon).chain(r.raw))
        .collect();
    let others: Vec<&Measured> = results
        .iter()
        .filter(|m| m.value.is_none() && !paired.contains(&m.full_id.as_str()))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "## Other benchmarks in this run\n");
        let _ = writeln!(out, "| benchmark | median | mean |\n|---|---|---|");
        for m in others {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                m.full_id,
                time(m.median_ns),
                time(m.mean_ns)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Reproduce\n\n```sh\ncargo xtask bench --quick       # a few minutes\ncargo xtask bench               # criterion defaults\ncargo xtask bench --only andon-alert -- scale   # one crate, a criterion filter\ncargo xtask bench --only memory  # only the agent memory burst\n```\n\nRaw criterion output (with confidence intervals) is in `target/criterion/`. How long a new user's first build takes is measured by hand in [build-time.md](build-time.md)."
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use super::*;

    #[test]
    fn reads_criterion_json() {
        let benchmark = r#"{"group_id":"span start+end","function_id":"andon, batch","value_str":null,"throughput":null,"full_id":"span start+end/andon, batch","directory_name":"span start+end/andon, batch","title":"span start+end/andon, batch"}"#;
        assert_eq!(
            json_string(benchmark, "group_id").unwrap(),
            "span start+end"
        );
        assert_eq!(json_string(benchmark, "value_str"), None);
        assert_eq!(json_string(r#"{"a":"x\"y\u00b5"}"#, "a").unwrap(), "x\"yµ");
        let estimates = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":1.25e3,"standard_error":0.1},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":9.0,"standard_error":0.1},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":7.0,"standard_error":0.1}}"#;
        assert_eq!(json_estimate(estimates, "median"), Some(1250.0));
        assert_eq!(json_estimate(estimates, "mean"), Some(2.5));
    }

    #[test]
    fn formats_times_and_goals() {
        assert_eq!(time(12.34), "12.3 ns");
        assert_eq!(time(1_500.0), "1.50 µs");
        assert_eq!(time(2.5e6), "2.50 ms");
        assert_eq!(thousands("10000"), "10,000");
        assert_eq!(thousands("100"), "100");
        assert_eq!(thousands("1000000"), "1,000,000");
        assert_eq!(thousands("a/b"), "a/b");
        assert_eq!(Goal::Ratio(1.5).met(140.0, Some(100.0)), "yes");
        assert_eq!(Goal::Ratio(1.5).met(160.0, Some(100.0)), "**no**");
        assert_eq!(Goal::Under(100.0).met(120.0, None), "**no**");
    }

    #[test]
    fn finds_every_crate_bench() {
        let benches = benches(&crate::root()).unwrap();
        assert!(
            benches.contains(&("andon-alert".to_owned(), "scale".to_owned())),
            "{benches:?}"
        );
        assert!(
            benches.contains(&("andon-log".to_owned(), "log".to_owned())),
            "{benches:?}"
        );
    }
}
