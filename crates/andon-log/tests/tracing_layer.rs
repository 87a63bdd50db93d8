//! The `tracing` layer (feature `tracing`): `tracing` events become andon records with their
//! level mapped, fields with their JSON types, target and callsite, through the same sampling
//! and counters as andon's own records; `RUST_LOG` / `ANDON_LOG` directives filter them and set
//! andon's level, checked end to end in a child process with the variable set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use andon_core::config::{LoggerConfig, SinkConfig};
use andon_core::{LogLevel, TraceContext, TraceIds};
use andon_log::{AndonLogger, LogDirectives};
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt as _;

fn config(path: &Path, level: LogLevel) -> LoggerConfig {
    LoggerConfig {
        level,
        sampling_enabled: false,
        sinks: vec![SinkConfig::File {
            path: path.to_owned(),
            max_bytes: 0,
            keep: 0,
            level: None,
        }],
        ..LoggerConfig::default()
    }
}

fn records(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Runs `f` with a subscriber made of a registry and the logger's layer.
fn with_layer(logger: &AndonLogger, f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(logger.tracing_layer());
    tracing::subscriber::with_default(subscriber, f);
}

#[derive(Debug)]
struct FixedSpan(TraceIds);

impl TraceContext for FixedSpan {
    fn current(&self) -> Option<TraceIds> {
        Some(self.0)
    }
}

#[test]
fn tracing_events_become_records_with_levels_fields_and_callsite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let ids = TraceIds {
        trace_id: [0x4b; 16],
        span_id: [0x07; 8],
    };
    let logger = AndonLogger::builder(config(&path, LogLevel::Debug))
        .with_component("checkout")
        .with_trace_context(Arc::new(FixedSpan(ids)))
        .build()
        .unwrap();
    let mut line = 0;
    with_layer(&logger, || {
        line = line!() + 1;
        tracing::info!(
            status = 200u16,
            ms = 4.5,
            user = "alice",
            ok = true,
            neg = -3i64,
            "served {}",
            "/cart"
        );
        tracing::warn!(target: "billing", retry = ?Some(2), "card declined");
        tracing::trace!("fine detail");
        tracing::debug!(answer = %42, "no message braces");
        tracing::error!(queue = "orders", depth = 150u64, "Queue overflow - STOP");
    });
    logger.shutdown_blocking();
    let records = records(&path);
    assert_eq!(records.len(), 5, "{records:#?}");

    let info = &records[0];
    assert_eq!(info["level"], "INFO");
    assert_eq!(info["message"], "served /cart");
    assert_eq!(info["status"], json!(200));
    assert_eq!(info["ms"], json!(4.5));
    assert_eq!(info["user"], json!("alice"));
    assert_eq!(info["ok"], json!(true));
    assert_eq!(info["neg"], json!(-3));
    assert_eq!(info["target"], "tracing_layer");
    assert_eq!(info["file"], file!());
    assert_eq!(info["line"], json!(line));
    assert_eq!(info["component"], "checkout");
    assert_eq!(info["trace_id"], "4b".repeat(16));
    assert_eq!(info["span_id"], "07".repeat(8));
    assert!(info.get("kv_message").is_none() && info.get("message").is_some());

    assert_eq!(records[1]["level"], "WARNING");
    assert_eq!(records[1]["target"], "billing");
    assert_eq!(records[1]["retry"], json!("Some(2)"));
    assert_eq!(records[2]["level"], "DEBUG");
    assert_eq!(records[2]["message"], "fine detail");
    assert_eq!(records[3]["level"], "DEBUG");
    assert_eq!(records[3]["answer"], json!("42"));
    assert_eq!(records[4]["level"], "CRITICAL");
    assert_eq!(records[4]["depth"], json!(150));

    let stats = logger.stats();
    assert_eq!((stats.emitted, stats.written), (5, 5));
}

#[test]
fn tracing_events_follow_the_loggers_level_and_sampling() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        sampling_enabled: true,
        sample_ratio: 10,
        ..config(&path, LogLevel::Info)
    })
    .unwrap();
    with_layer(&logger, || {
        for i in 0..100 {
            tracing::info!(i, "ordinary");
            tracing::debug!(i, "below the level");
        }
        tracing::warn!("never sampled");
    });
    logger.shutdown_blocking();
    let records = records(&path);
    let infos = records.iter().filter(|r| r["level"] == "INFO").count();
    assert_eq!(infos, 10, "1 in 10 INFO events kept");
    assert!(records.iter().all(|r| r["level"] != "DEBUG"));
    assert_eq!(records.last().unwrap()["message"], "never sampled");
    let stats = logger.stats();
    assert_eq!(stats.sampled_out, 90);
    assert_eq!(stats.emitted, stats.written + stats.failed + stats.dropped);
}

#[test]
fn directives_filter_tracing_events_by_target_and_set_andons_level() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let directives = LogDirectives::from_values(None, Some("warn,shop::cart=debug"))
        .unwrap()
        .unwrap();
    let logger = AndonLogger::builder(config(&path, LogLevel::Debug))
        .with_directives(Some(directives))
        .build()
        .unwrap();
    with_layer(&logger, || {
        tracing::debug!(target: "shop::cart", "kept: the cart's debug");
        tracing::debug!(target: "shop::billing", "left out: only warn for others");
        tracing::warn!(target: "shop::billing", "kept: a warning");
    });
    // andon's own records follow the bare `warn`, over `[logger] level = "DEBUG"`.
    logger
        .event(LogLevel::Info, "left out: andon's info", slog::o!())
        .unwrap();
    logger
        .event(LogLevel::Warning, "kept: andon's warning", slog::o!())
        .unwrap();
    logger.shutdown_blocking();
    let messages: Vec<String> = records(&path)
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        [
            "kept: the cart's debug",
            "kept: a warning",
            "kept: andon's warning"
        ],
        "the start-up notice is INFO, below `warn`"
    );
}

/// The child half of `rust_log_from_the_environment_end_to_end`: run with the variables set.
#[test]
#[ignore = "run as a child process by rust_log_from_the_environment_end_to_end"]
fn child_logs_with_the_environments_directives() {
    let path = PathBuf::from(std::env::var("T_ANDON_LOG_PATH").unwrap());
    let logger = AndonLogger::builder(config(&path, LogLevel::Warning))
        .with_env_directives()
        .unwrap()
        .build()
        .unwrap();
    with_layer(&logger, || {
        tracing::debug!(target: "app::db", rows = 3, "query done");
        tracing::debug!(target: "hyper::proto", "framing noise");
        tracing::info!(target: "app::http", "request served");
    });
    logger
        .event(LogLevel::Debug, "andon debug", slog::o!())
        .unwrap();
    logger.shutdown_blocking();
}

fn run_child(path: &Path, vars: &[(&str, &str)]) -> (Vec<String>, String) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--ignored",
            "--exact",
            "child_logs_with_the_environments_directives",
            "--nocapture",
        ])
        .env_remove("RUST_LOG")
        .env_remove("ANDON_LOG")
        .env("T_ANDON_LOG_PATH", path);
    for (k, v) in vars {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed: {stderr}");
    let messages = records(path)
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect();
    (messages, stderr)
}

#[test]
fn rust_log_from_the_environment_end_to_end() {
    let dir = tempfile::tempdir().unwrap();

    // RUST_LOG=debug overrides `[logger] level = "WARNING"` and lets every debug event in.
    let path = dir.path().join("debug.log");
    let (messages, stderr) = run_child(&path, &[("RUST_LOG", "debug")]);
    assert!(
        stderr.contains(
            "RUST_LOG=\"debug\": RUST_LOG overrides [logger] level = \"WARNING\": andon's records at DEBUG"
        ),
        "said once at start-up: {stderr}"
    );
    assert_eq!(stderr.matches("overrides [logger] level").count(), 1);
    assert_eq!(
        messages[1..],
        [
            "query done",
            "framing noise",
            "request served",
            "andon debug"
        ]
    );
    assert!(
        messages[0].contains("overrides [logger] level"),
        "{messages:?}"
    );

    // By target, the usual syntax: app at debug, everything else (andon too) at info.
    let path = dir.path().join("targets.log");
    let (messages, _) = run_child(&path, &[("RUST_LOG", "info,app=debug")]);
    assert_eq!(messages[1..], ["query done", "request served"]);

    // ANDON_LOG wins over RUST_LOG for andon's own records; RUST_LOG still filters events.
    let path = dir.path().join("both.log");
    let (messages, stderr) = run_child(&path, &[("RUST_LOG", "debug"), ("ANDON_LOG", "warn")]);
    assert!(stderr.contains("ANDON_LOG overrides"), "{stderr}");
    assert_eq!(messages, ["query done", "framing noise", "request served"]);

    // ANDON_LOG alone moves andon's records, not the application's events.
    let path = dir.path().join("andon_only.log");
    let (messages, stderr) = run_child(&path, &[("ANDON_LOG", "debug")]);
    assert!(
        stderr.contains("tracing events at [logger] level"),
        "{stderr}"
    );
    assert_eq!(messages[1..], ["andon debug"]);
    assert!(messages[0].contains("ANDON_LOG overrides"), "{messages:?}");

    // Unset: `[logger] level` as configured, nothing said.
    let path = dir.path().join("unset.log");
    let (messages, stderr) = run_child(&path, &[]);
    assert!(messages.is_empty(), "{messages:?}");
    assert!(!stderr.contains("overrides"), "{stderr}");

    // A directive that does not parse is an error naming the variable.
    let path = dir.path().join("bad.log");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_logs_with_the_environments_directives",
        ])
        .env("RUST_LOG", "app=loud")
        .env_remove("ANDON_LOG")
        .env("T_ANDON_LOG_PATH", &path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("RUST_LOG"), "{text}");
}
