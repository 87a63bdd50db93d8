//! Fuzz target: log message escaping. Arbitrary messages, components, trace ids, attribute keys
//! and values (control characters, quotes, backslashes, line and paragraph separators, any
//! UTF-8) go through a real logger into a JSON file sink and a Cloud Logging file sink
//! (`cargo xtask fuzz` runs it for a bounded time; see docs/fuzzing.md).
//!
//! Properties: every record is exactly one line that is one valid JSON object, whose message is
//! the caller's message (or its cut prefix and the truncation marker), and whose attributes
//! come back with their values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::path::Path;

use andon_core::{AndonConfig, AndonSignal, Color};
use andon_log::{AndonLogger, LogLevel};
use andon_tests::fuzz;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value};

/// `max_message_bytes` of the logger under test: small, so that cutting is fuzzed too.
const MAX: usize = 200;

const PIECES: &[&str] = &[
    "{\"level\":\"CRITICAL\",\"message\":\"forged\"}",
    "\\\"",
    "\\u0000",
    "\u{2028}",
    "\u{2029}",
    "\u{1b}[31m",
    "message",
    "é",
    "🚦",
    "\r\n",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Binary fractions: the test's reader (serde_json without `float_roundtrip`) may be
        // off by one ulp on arbitrary doubles, which says nothing about the logger.
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 8.0)),
        fuzz::text(PIECES, 10).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(fuzz::text(PIECES, 2), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone)]
struct Record {
    signal: bool,
    level: LogLevel,
    color: Color,
    message: String,
    component: Option<String>,
    trace_id: Option<String>,
    attributes: Vec<(String, Value)>,
    kv: String,
}

fn record() -> impl Strategy<Value = Record> {
    let key = prop_oneof![
        3 => fuzz::text(PIECES, 3),
        1 => proptest::sample::select(&["level", "message", "timestamp", "color", "severity", "time", "logging.googleapis.com/x", "depth"][..]).prop_map(str::to_owned),
    ];
    (
        any::<bool>(),
        proptest::sample::select(&[LogLevel::Debug, LogLevel::Info, LogLevel::Warning][..]),
        proptest::sample::select(&[Color::Yellow, Color::Green][..]),
        prop_oneof![
            4 => fuzz::text(PIECES, 24),
            1 => "[a-zé]{150,260}",
        ],
        proptest::option::of(fuzz::text(PIECES, 4)),
        proptest::option::of(prop_oneof![
            Just("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
            fuzz::text(PIECES, 4),
        ]),
        proptest::collection::vec((key, json_value()), 0..5),
        fuzz::text(PIECES, 12),
    )
        .prop_map(
            |(signal, level, color, message, component, trace_id, attributes, kv)| Record {
                signal,
                level,
                color,
                message,
                component,
                trace_id,
                attributes,
                kv,
            },
        )
}

/// What a record's `message` must read: the message, or its first bytes up to `MAX` (cut at a
/// character boundary) and the marker.
fn expected_message(message: &str) -> String {
    if message.len() <= MAX {
        return message.to_owned();
    }
    let mut cut = MAX;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [truncated: {} bytes]", &message[..cut], message.len())
}

fn reserved(cloud: bool, key: &str) -> bool {
    if cloud {
        matches!(key, "severity" | "message" | "time" | "trace_id")
            || key.starts_with("logging.googleapis.com/")
    } else {
        matches!(
            key,
            "timestamp"
                | "level"
                | "message"
                | "component"
                | "trace_id"
                | "span_id"
                | "correlation_id"
                | "signal_id"
                | "color"
        )
    }
}

/// Reads the lines appended to `path` since `offset` bytes.
fn new_lines(path: &Path, offset: &mut usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let fresh = bytes[*offset..].to_vec();
    *offset = bytes.len();
    let text = String::from_utf8(fresh).expect("log output is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a record is cut: {text:?}"
    );
    text.lines().map(str::to_owned).collect()
}

fn check(cloud: bool, line: &str, record: &Record) -> Result<(), TestCaseError> {
    let value: Value = serde_json::from_str(line)
        .map_err(|e| TestCaseError::fail(format!("not one JSON record ({e}): {line:?}")))?;
    let Value::Object(object) = value else {
        return Err(TestCaseError::fail(format!("not an object: {line}")));
    };
    let message = expected_message(&record.message);
    prop_assert_eq!(
        object.get("message").and_then(Value::as_str),
        Some(message.as_str())
    );
    if record.signal {
        check_attributes(cloud, &object, record)?;
    } else {
        let key = "fuzz_value";
        let value = expected_message(&record.kv);
        prop_assert_eq!(
            object.get(key).and_then(Value::as_str),
            Some(value.as_str())
        );
    }
    Ok(())
}

fn check_attributes(
    cloud: bool,
    object: &Map<String, Value>,
    record: &Record,
) -> Result<(), TestCaseError> {
    // The last value of a key wins in the signal; keys andon writes itself get `kv_`.
    let mut expected: Vec<(String, Value)> = Vec::new();
    for (key, value) in &record.attributes {
        expected.retain(|(k, _)| k != key);
        expected.push((key.clone(), value.clone()));
    }
    let written: Vec<String> = expected
        .iter()
        .map(|(k, _)| {
            if reserved(cloud, k) {
                format!("kv_{k}")
            } else {
                k.clone()
            }
        })
        .collect();
    for ((_, value), name) in expected.iter().zip(&written) {
        let clashes = written.iter().filter(|w| *w == name).count() > 1
            || (!reserved(cloud, name) && name.starts_with("kv_"))
            || (cloud && name.starts_with("logging.googleapis.com/"));
        if clashes {
            continue; // two attributes that end up under one name: either may be shown
        }
        prop_assert_eq!(object.get(name.as_str()), Some(value), "attribute {}", name);
    }
    Ok(())
}

#[test]
fn fuzz_log_escaping() {
    let dir = andon_tests::temp_dir();
    let json_path = dir.path().join("json.log");
    let cloud_path = dir.path().join("cloud.log");
    let config = AndonConfig::from_toml_str(&format!(
        "[logger]\nlevel = \"DEBUG\"\nsampling_enabled = false\noverflow = \"block\"\n\
         max_message_bytes = {MAX}\n\
         sinks = [{{ type = \"File\", path = {:?} }}, {{ type = \"CloudLogging\", output = {{ file = {:?} }} }}]\n",
        json_path.display().to_string(),
        cloud_path.display().to_string()
    ))
    .unwrap();
    let logger = AndonLogger::new(config.logger).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let offsets = std::sync::Mutex::new((0usize, 0usize));

    fuzz::run(
        "log_escaping",
        file!(),
        proptest::collection::vec(record(), 1..6),
        |records| {
            for record in &records {
                if record.signal {
                    let mut signal = AndonSignal::new(record.color, record.message.clone());
                    if let Some(component) = &record.component {
                        signal = signal.with_component(component.clone());
                    }
                    if let Some(trace_id) = &record.trace_id {
                        signal = signal.with_trace_id(trace_id.clone());
                    }
                    for (key, value) in &record.attributes {
                        signal = signal.with_attribute(key.clone(), value.clone());
                    }
                    runtime.block_on(logger.log_signal(&signal)).unwrap();
                } else {
                    let kv = record.kv.clone();
                    logger
                        .event(
                            record.level,
                            &record.message,
                            andon_log::slog::o!("fuzz_value" => kv),
                        )
                        .unwrap();
                }
            }
            runtime.block_on(logger.flush()).unwrap();
            let mut offsets = offsets.lock().unwrap();
            let json = new_lines(&json_path, &mut offsets.0);
            let cloud = new_lines(&cloud_path, &mut offsets.1);
            prop_assert_eq!(json.len(), records.len(), "one line per record: {:?}", json);
            prop_assert_eq!(
                cloud.len(),
                records.len(),
                "one line per record: {:?}",
                cloud
            );
            for ((record, j), c) in records.iter().zip(&json).zip(&cloud) {
                check(false, j, record)?;
                check(true, c, record)?;
            }
            Ok(())
        },
    );
    assert!(
        runtime
            .block_on(logger.shutdown(std::time::Duration::from_secs(30)))
            .is_complete()
    );
    let stats = logger.stats();
    assert_eq!(stats.failed + stats.dropped, 0, "{stats:?}");
}
