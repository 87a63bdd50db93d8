//! Fuzz target: metric and label handling. Arbitrary metric names, label names, label values and
//! HELP texts go through every way in (andon's API, the `metrics` macros through the recorder,
//! the `MetricsSink` trait) and the rendered exposition is checked by a strict parser of the
//! Prometheus text format here, and a sample of the expositions by `promtool check metrics`
//! (`cargo xtask fuzz` runs it for a bounded time; see docs/fuzzing.md).
//!
//! Properties: the exposition always parses (names, escapes, one HELP and TYPE per family
//! before its samples, families contiguous, no duplicate label names or series); a label value
//! given through the API comes back exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use andon_core::config::MetricsConfig;
use andon_core::{AndonSignal, MetricsSink};
use andon_metrics::AndonMetrics;
use andon_tests::fuzz;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const PIECES: &[&str] = &[
    "a",
    "_",
    ":",
    ".",
    "-",
    "le",
    "quantile",
    "__",
    "_total",
    "_bucket",
    "_sum",
    "_count",
    "0",
    "andon_signals",
    "{",
    "}",
    "=",
    "\"",
    "\\",
    "\\n",
    "\n",
    " ",
    "é",
];

#[derive(Debug, Clone)]
enum How {
    Api,
    Macro,
    Sink,
}

#[derive(Debug, Clone)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug, Clone)]
struct Op {
    how: How,
    kind: Kind,
    name: String,
    help: String,
    labels: Vec<(String, String)>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z_][a-z0-9_]{0,6}",
        2 => proptest::sample::select(&["jobs", "jobs_total", "andon_signals_total", "andon_queue_depth", "a.b", "a_b", "a-b", "le", "x_bucket"][..]).prop_map(str::to_owned),
        2 => fuzz::text(PIECES, 4),
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&["kind", "queue", "component", "a_b", "a-b", "a.b", "le", "quantile", "__name__", "_x"][..]).prop_map(str::to_owned),
        2 => "[a-z_][a-z0-9_]{0,4}",
        1 => fuzz::text(PIECES, 3),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (
        prop_oneof![Just(How::Api), Just(How::Macro), Just(How::Sink)],
        prop_oneof![
            Just(Kind::Counter),
            Just(Kind::Gauge),
            Just(Kind::Histogram)
        ],
        name(),
        fuzz::text(PIECES, 6),
        proptest::collection::vec((label_name(), fuzz::text(PIECES, 8)), 0..4),
    )
        .prop_map(|(how, kind, name, help, labels)| Op {
            how,
            kind,
            name,
            help,
            labels,
        })
}

fn apply(metrics: &AndonMetrics, op: &Op) {
    let labels: Vec<(&str, &str)> = op
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match op.how {
        How::Api => {
            let _ = match op.kind {
                Kind::Counter => metrics
                    .register_counter(&op.name, &op.help, &labels)
                    .map(|c| c.increment(2)),
                Kind::Gauge => metrics
                    .register_gauge(&op.name, &op.help, &labels)
                    .map(|g| g.set(-1.5)),
                Kind::Histogram => metrics
                    .register_histogram(&op.name, &op.help, &labels)
                    .map(|h| h.record(0.2)),
            };
        }
        How::Macro => {
            let owned: Vec<metrics::Label> = op
                .labels
                .iter()
                .map(|(k, v)| metrics::Label::new(k.clone(), v.clone()))
                .collect();
            let name = op.name.clone();
            let help = op.help.clone();
            metrics::with_local_recorder(&metrics.recorder(), || match op.kind {
                Kind::Counter => {
                    metrics::describe_counter!(name.clone(), help);
                    metrics::counter!(name, owned).increment(1);
                }
                Kind::Gauge => {
                    metrics::describe_gauge!(name.clone(), help);
                    metrics::gauge!(name, owned).set(3.0);
                }
                Kind::Histogram => {
                    metrics::describe_histogram!(name.clone(), help);
                    metrics::histogram!(name, owned).record(1.0);
                }
            });
        }
        How::Sink => {
            metrics.describe(&op.name, &op.help);
            match op.kind {
                Kind::Counter => metrics.add_counter(&op.name, &labels, 1),
                Kind::Gauge => metrics.set_gauge(&op.name, &labels, 7.0),
                Kind::Histogram => metrics.record_histogram(&op.name, &labels, 0.5),
            }
        }
    }
    // andon's own metrics with arbitrary label values.
    if let Some((_, value)) = op.labels.first() {
        let _ = metrics.count_signal(&AndonSignal::yellow("m").with_component(value.clone()));
        let _ = metrics.update_queue_depth(value, 3);
    }
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads an escaped label value up to its closing quote; returns it unescaped and the rest.
fn label_value(text: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, 'n')) => out.push('\n'),
                other => return Err(format!("invalid escape `\\{other:?}`")),
            },
            '\n' => return Err("raw newline in a label value".into()),
            c => out.push(c),
        }
    }
    Err("unterminated label value".into())
}

/// The family a sample belongs to, given the TYPE lines seen.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    if types.contains_key(name) {
        return name;
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types
                .get(base)
                .is_some_and(|t| t == "histogram" || t == "summary")
        {
            return base;
        }
    }
    name
}

/// One series: its name and labels.
type Series = (String, Vec<(String, String)>);

/// A strict reading of the Prometheus text format (0.0.4): every series with its labels.
fn parse_exposition(text: &str) -> Result<Vec<Series>, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series: BTreeSet<Series> = BTreeSet::new();
    let mut out = Vec::new();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    let mut enter = |family: &str, current: &mut Option<String>| -> Result<(), String> {
        if current.as_deref() != Some(family) {
            if finished.contains(family) {
                return Err(format!("family `{family}` is not contiguous"));
            }
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            *current = Some(family.to_owned());
        }
        Ok(())
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_metric_name(name) {
                return Err(format!("HELP of an invalid name: {line:?}"));
            }
            let mut chars = help.chars();
            while let Some(c) = chars.next() {
                if c == '\\' && !matches!(chars.next(), Some('\\' | 'n')) {
                    return Err(format!("invalid escape in HELP: {line:?}"));
                }
            }
            if !helps.insert(name.to_owned()) {
                return Err(format!("second HELP for `{name}`"));
            }
            enter(name, &mut current)?;
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
            if !valid_metric_name(name) {
                return Err(format!("TYPE of an invalid name: {line:?}"));
            }
            if !matches!(
                kind,
                "counter" | "gauge" | "histogram" | "summary" | "untyped"
            ) {
                return Err(format!("unknown TYPE: {line:?}"));
            }
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(format!("second TYPE for `{name}`"));
            }
            enter(name, &mut current)?;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let end = line.find(['{', ' ']).ok_or(format!("no value: {line:?}"))?;
        let name = &line[..end];
        if !valid_metric_name(name) {
            return Err(format!("invalid metric name `{name}`: {line:?}"));
        }
        let mut rest = &line[end..];
        let mut labels: Vec<(String, String)> = Vec::new();
        if let Some(mut inside) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inside.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = inside
                    .find('=')
                    .ok_or(format!("label without `=`: {line:?}"))?;
                let label = &inside[..eq];
                if !valid_label_name(label) {
                    return Err(format!("invalid label name `{label}`: {line:?}"));
                }
                if labels.iter().any(|(l, _)| l == label) {
                    return Err(format!("duplicate label `{label}`: {line:?}"));
                }
                let quoted = inside[eq + 1..]
                    .strip_prefix('"')
                    .ok_or(format!("unquoted label value: {line:?}"))?;
                let (value, after) = label_value(quoted).map_err(|e| format!("{e}: {line:?}"))?;
                labels.push((label.to_owned(), value));
                inside = after.strip_prefix(',').unwrap_or(after);
            }
        }
        let value = rest
            .strip_prefix(' ')
            .ok_or(format!("no space before the value: {line:?}"))?;
        let value = value.split(' ').next().unwrap_or("");
        if value.parse::<f64>().is_err() && !matches!(value, "+Inf" | "-Inf" | "NaN") {
            return Err(format!("invalid value `{value}`: {line:?}"));
        }
        let family = family_of(name, &types).to_owned();
        if !types.contains_key(&family) {
            return Err(format!("sample before the TYPE of `{family}`: {line:?}"));
        }
        enter(&family, &mut current)?;
        let histogram = types.get(&family).is_some_and(|t| t == "histogram");
        if labels.iter().any(|(l, _)| l == "le") && !histogram {
            return Err(format!("`le` on a series that is not a bucket: {line:?}"));
        }
        let mut sorted = labels.clone();
        sorted.sort();
        if !series.insert((name.to_owned(), sorted)) {
            return Err(format!("duplicate series: {line:?}"));
        }
        out.push((name.to_owned(), labels));
    }
    Ok(out)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn fuzz_metric_labels() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let samples: Mutex<Vec<String>> = Mutex::new(Vec::new());
    fuzz::run(
        "metric_labels",
        file!(),
        proptest::collection::vec(op(), 1..8),
        |ops| {
            let metrics = AndonMetrics::builder(MetricsConfig {
                max_label_sets: 50,
                ..MetricsConfig::default()
            })
            .without_endpoint()
            .with_local_recorder()
            .build()
            .unwrap();
            for op in &ops {
                apply(&metrics, op);
            }
            let text = metrics.render();
            let parsed = parse_exposition(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n--- exposition ---\n{text}")))?;
            // Label values given through the API come back exactly.
            for op in ops.iter().filter(|o| matches!(o.how, How::Api)) {
                let registered = match op.kind {
                    Kind::Counter => metrics
                        .register_counter(&op.name, "", &refs(&op.labels))
                        .is_ok(),
                    Kind::Gauge => metrics
                        .register_gauge(&op.name, "", &refs(&op.labels))
                        .is_ok(),
                    Kind::Histogram => false,
                };
                if registered && !op.labels.is_empty() {
                    let mut want = op.labels.clone();
                    want.sort();
                    want.dedup_by(|a, b| a.0 == b.0);
                    let found = parsed.iter().any(|(n, labels)| {
                        let mut got = labels.clone();
                        got.sort();
                        n.starts_with(&op.name) && got == want
                    });
                    prop_assert!(
                        found,
                        "series {} {:?} not found in:\n{}",
                        op.name,
                        want,
                        text
                    );
                }
            }
            let mut samples = samples.lock().unwrap();
            if samples.len() < 24 {
                samples.push(text);
            }
            Ok(())
        },
    );
    // The real parser agrees on a sample of the expositions.
    let Some(promtool) = andon_tests::find_peer(
        "promtool",
        "apt-get install prometheus (or run `cargo xtask ci`, which sets it up)",
    ) else {
        return;
    };
    for text in samples.lock().unwrap().iter() {
        let out = andon_tests::run_with_stdin(&promtool, ["check", "metrics"], text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Lint findings (naming advice) are not parse errors.
        assert!(
            out.status.success() || !stderr.contains("error while linting"),
            "promtool check metrics refused the exposition:\n{stderr}\n--- exposition ---\n{text}"
        );
    }
}

fn refs(labels: &[(String, String)]) -> Vec<(&str, &str)> {
    labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Found by `fuzz_metric_labels`: names the exposition cannot show are refused, by the API
/// with an error and through the macros as a no-op, and the exposition still parses.
#[test]
fn names_the_exposition_cannot_show_are_refused() {
    let runtime = runtime();
    let _guard = runtime.enter();
    let metrics = AndonMetrics::builder(MetricsConfig::default())
        .without_endpoint()
        .with_local_recorder()
        .build()
        .unwrap();
    let err = metrics
        .register_counter("jobs_total", "", &[("kind", "a"), ("kind", "b")])
        .unwrap_err();
    assert!(
        matches!(err, andon_metrics::MetricsError::DuplicateLabel { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("given twice"), "{err}");
    metrics::with_local_recorder(&metrics.recorder(), || {
        metrics::counter!("_", "" => "v").increment(1);
        metrics::counter!("dashed", "a-b" => "1", "a_b" => "2").increment(1);
        metrics::counter!("", "k" => "v").increment(1);
        metrics::counter!("http.requests", "path" => "/").increment(1); // written http_requests
    });
    metrics
        .register_histogram("x", "", &[])
        .unwrap()
        .record(0.1);
    let err = metrics.register_counter("x_bucket", "", &[]).unwrap_err();
    assert!(
        matches!(err, andon_metrics::MetricsError::TypeConflict { .. }),
        "{err}"
    );
    let text = metrics.render();
    parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(
        // The duplicate label through the API and the three macro series.
        text.contains(r#"andon_metrics_rejected_total{reason="invalid_name"} 4"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests{path="/"} 1"#), "{text}");
}
