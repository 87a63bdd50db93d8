//! The public API against real files: records, sinks, sampling, overload and failure.
#![allow(clippy::unwrap_used, clippy::panic)] // helpers fail the test that calls them

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use andon_core::config::{CloudLoggingOutput, LoggerConfig, OverflowPolicy, SinkConfig};
use andon_core::{
    AndonSignal, LogEntry, LogLevel, LogSink, Receipt, SignalSink, TraceContext, TraceIds,
};
use andon_log::{AndonLogger, LogError};
use serde_json::Value;

fn file_sink(path: &Path) -> SinkConfig {
    SinkConfig::File {
        path: path.to_owned(),
        max_bytes: 0,
        keep: 0,
        level: None,
    }
}

fn config(sinks: Vec<SinkConfig>) -> LoggerConfig {
    LoggerConfig {
        level: LogLevel::Debug,
        sampling_enabled: false,
        sinks,
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

fn messages(path: &Path) -> Vec<String> {
    records(path)
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect()
}

#[derive(Debug)]
struct FixedSpan(TraceIds);

impl TraceContext for FixedSpan {
    fn current(&self) -> Option<TraceIds> {
        Some(self.0)
    }
}

const IDS: TraceIds = TraceIds {
    trace_id: [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ],
    span_id: [0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7],
};

#[tokio::test]
async fn records_follow_the_documented_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/andon.log"); // the directory is created
    let logger = AndonLogger::builder(config(vec![file_sink(&path)]))
        .with_component("api")
        .with_trace_context(Arc::new(FixedSpan(IDS)))
        .build()
        .unwrap();
    logger.info("request served").await.unwrap();
    logger
        .event(
            LogLevel::Warning,
            "slow",
            slog::o!("ms" => 950u32, "ratio" => 0.5, "ok" => false, "route" => "/a"),
        )
        .unwrap();
    let signal = AndonSignal::red("Queue overflow - STOP")
        .with_component("queue")
        .with_trace_id("trace-123")
        .with_attribute("depth", 150);
    logger.log_signal(&signal).await.unwrap();
    logger.flush().await.unwrap();

    let recs = records(&path);
    assert_eq!(recs.len(), 3);
    let info = &recs[0];
    assert_eq!(info["level"], "INFO");
    assert_eq!(info["message"], "request served");
    assert_eq!(info["component"], "api");
    assert_eq!(info["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(info["span_id"], "00f067aa0ba902b7");
    let ts = info["timestamp"].as_str().unwrap();
    assert!(andon_core::rfc3339::parse(ts).is_ok(), "{ts}");
    assert_eq!(ts.len(), "2026-11-26T23:41:07.123456789Z".len(), "{ts}");

    let warn = &recs[1];
    assert_eq!(warn["level"], "WARNING");
    assert_eq!(warn["ms"], 950);
    assert_eq!(warn["ratio"], 0.5);
    assert_eq!(warn["ok"], false);
    assert_eq!(warn["route"], "/a");

    let red = &recs[2];
    assert_eq!(red["level"], "CRITICAL");
    assert_eq!(red["color"], "red");
    assert_eq!(red["signal_id"], signal.id().to_string());
    assert_eq!(red["component"], "queue");
    assert_eq!(red["correlation_id"], "trace-123");
    // The signal's own trace (its id mapped as its span's is), not the active span's.
    assert_eq!(red["trace_id"], andon_core::w3c_trace_id_hex("trace-123"));
    assert!(red.get("span_id").is_none(), "{red}");
    assert_eq!(red["depth"], 150);
    assert_eq!(red["timestamp"], signal.timestamp_rfc3339());
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn a_forged_record_in_a_message_stays_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    let evil = "user input\n{\"level\":\"CRITICAL\",\"message\":\"forged\"}";
    logger.info(evil).await.unwrap();
    logger
        .event(LogLevel::Info, "kv", slog::o!("name" => evil))
        .unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    let recs = records(&path);
    assert_eq!(recs[0]["level"], "INFO");
    assert_eq!(recs[0]["message"], evil);
    assert_eq!(recs[1]["name"], evil);
}

#[tokio::test]
async fn oversized_messages_are_truncated_with_a_marker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        max_message_bytes: 100,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    logger.warn(&"x".repeat(5000)).await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let message = &messages(&path)[0];
    assert_eq!(
        message,
        &format!("{}… [truncated: 5000 bytes]", "x".repeat(100))
    );
}

#[tokio::test]
async fn critical_is_on_disk_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    for i in 0..100 {
        logger.info(&format!("before {i}")).await.unwrap();
    }
    logger.critical("Queue overflow - STOP").await.unwrap();
    // No flush: critical() itself waited for the write.
    let all = messages(&path);
    assert_eq!(
        all.last().map(String::as_str),
        Some("Queue overflow - STOP")
    );
    assert_eq!(all.len(), 101);
    // The synchronous form too.
    logger
        .event(LogLevel::Critical, "sync stop", slog::o!())
        .unwrap();
    assert_eq!(
        messages(&path).last().map(String::as_str),
        Some("sync stop")
    );
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn sampling_keeps_exactly_one_in_n_info_and_every_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        sampling_enabled: true,
        sample_ratio: 10,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    for i in 0..1000 {
        logger
            .event(LogLevel::Info, "info", slog::o!("i" => i))
            .unwrap();
        if i % 20 == 0 {
            logger.warn("warning").await.unwrap();
        }
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let recs = records(&path);
    let infos: Vec<_> = recs.iter().filter(|r| r["level"] == "INFO").collect();
    let warnings = recs.iter().filter(|r| r["level"] == "WARNING").count();
    assert_eq!(infos.len(), 100);
    assert_eq!(warnings, 50);
    // Exactly every tenth: 0, 10, 20, ...
    for (k, r) in infos.iter().enumerate() {
        assert_eq!(r["i"], k * 10);
    }
    let stats = logger.stats();
    assert_eq!(stats.sampled_out, 900);
    assert_eq!(stats.emitted, 150);
    assert_eq!(stats.written, 150);
}

#[tokio::test]
async fn levels_filter_per_logger_and_per_sink() {
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.log");
    let warn = dir.path().join("warn.log");
    let logger = AndonLogger::new(LoggerConfig {
        level: LogLevel::Info,
        ..config(vec![
            file_sink(&all),
            SinkConfig::File {
                path: warn.clone(),
                max_bytes: 0,
                keep: 0,
                level: Some(LogLevel::Warning),
            },
        ])
    })
    .unwrap();
    logger.debug("debug").await.unwrap();
    logger.info("info").await.unwrap();
    logger.warn("warn").await.unwrap();
    logger.critical("critical").await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    assert_eq!(messages(&all), ["info", "warn", "critical"]);
    assert_eq!(messages(&warn), ["warn", "critical"]);
}

#[tokio::test]
async fn files_rotate_by_size_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![SinkConfig::File {
        path: path.clone(),
        max_bytes: 2_000,
        keep: 2,
        level: None,
    }]))
    .unwrap();
    for i in 0..200 {
        logger
            .event(LogLevel::Info, "rotating", slog::o!("i" => i))
            .unwrap();
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let rotated = |n: u32| PathBuf::from(format!("{}.{n}", path.display()));
    assert!(rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "keep = 2");
    let mut seen = Vec::new();
    for file in [rotated(2), rotated(1), path.clone()] {
        let size = fs::metadata(&file).unwrap().len();
        assert!(size <= 2_000, "{} is {size} bytes", file.display());
        seen.extend(records(&file).iter().map(|r| r["i"].as_u64().unwrap()));
    }
    // Whole records, in order, ending with the newest.
    assert!(seen.windows(2).all(|w| w[1] == w[0] + 1), "{seen:?}");
    assert_eq!(seen.last(), Some(&199));
}

#[tokio::test]
async fn a_file_removed_or_moved_away_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    logger.info("one").await.unwrap();
    logger.flush().await.unwrap();
    fs::remove_file(&path).unwrap();
    logger.info("two").await.unwrap();
    logger.flush().await.unwrap();
    assert_eq!(messages(&path), ["two"]);
    // logrotate-style: moved away, then the next record starts a new file.
    let moved = dir.path().join("andon.log.old");
    fs::rename(&path, &moved).unwrap();
    logger.info("three").await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    assert_eq!(messages(&moved), ["two"]);
    assert_eq!(messages(&path), ["three"]);
    assert_eq!(logger.stats().written, 3);
}

#[tokio::test]
async fn an_unwritable_path_is_counted_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: no one, not even root, can write there.
    let blocker = dir.path().join("not-a-dir");
    fs::write(&blocker, "x").unwrap();
    let path = blocker.join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    for _ in 0..10 {
        logger.info("lost").await.unwrap();
    }
    logger.warn("lost too").await.unwrap();
    logger.flush().await.unwrap();
    let stats = logger.stats();
    assert_eq!(stats.failed, 11);
    assert_eq!(stats.written, 0);
    assert_eq!(stats.sink_errors, 11);
    let error = stats.sinks[0].last_error.clone().unwrap();
    assert!(error.contains("cannot create the directory"), "{error}");

    // The fault goes; the sink recovers on its own.
    fs::remove_file(&blocker).unwrap();
    logger.info("back").await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    assert_eq!(messages(&path), ["back"]);
    let stats = logger.stats();
    assert_eq!(stats.written, 1);
    assert_eq!(stats.emitted, stats.written + stats.failed + stats.dropped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_records_under_drop_are_all_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        queue_capacity: 1024,
        overflow: OverflowPolicy::Drop,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    let mut refused = 0u64;
    for i in 0..1_000_000u32 {
        match logger.event(LogLevel::Info, "r", slog::o!("i" => i)) {
            Ok(()) => {}
            Err(LogError::QueueFull) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        if i % 10_000 == 0 {
            // Never dropped, even while INFO records are.
            logger.warn("w").await.unwrap();
        }
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let stats = logger.stats();
    assert_eq!(stats.emitted, 1_000_100);
    assert_eq!(stats.dropped, refused);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.emitted, stats.written + stats.dropped);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count() as u64, stats.written);
    assert_eq!(
        text.lines().filter(|l| l.contains("\"WARNING\"")).count(),
        100
    );
}

#[test]
fn a_million_records_under_block_are_all_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        queue_capacity: 1024,
        overflow: OverflowPolicy::Block,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let logger = logger.clone();
            std::thread::spawn(move || {
                for i in 0..500_000u32 {
                    logger
                        .event(LogLevel::Info, "r", slog::o!("t" => t, "i" => i))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    logger.shutdown_blocking();
    let stats = logger.stats();
    assert_eq!(stats.emitted, 1_000_000);
    assert_eq!(stats.written, 1_000_000);
    assert_eq!(stats.dropped, 0);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1_000_000);
}

#[tokio::test]
async fn after_shutdown_records_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    logger.info("kept").await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    ); // idempotent
    assert!(matches!(logger.info("late").await, Err(LogError::ShutDown)));
    let err = SignalSink::on_signal(&logger, &AndonSignal::red("late"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        andon_core::AndonError::ShutDown { component: "log" }
    ));
    let stats = logger.stats();
    assert_eq!((stats.written, stats.dropped, stats.emitted), (1, 2, 3));
    assert_eq!(messages(&path), ["kept"]);
}

#[tokio::test]
async fn dropping_the_last_handle_delivers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    let slog_logger = logger.slog_logger();
    for i in 0..1000 {
        logger
            .event(LogLevel::Info, "x", slog::o!("i" => i))
            .unwrap();
    }
    drop(logger);
    slog::info!(slog_logger, "from slog after the logger is gone");
    drop(slog_logger);
    let all = messages(&path);
    assert_eq!(all.len(), 1001);
    assert_eq!(all[1000], "from slog after the logger is gone");
}

#[tokio::test]
async fn slog_and_log_records_share_the_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    let root = logger.slog_logger().new(slog::o!("service" => "billing"));
    slog::info!(root, "charged {} cents", 250; "customer" => "c-1");
    slog::error!(root, "card declined");
    slog::debug!(root, "debug detail");

    let bridge = logger.log_bridge();
    log::Log::log(
        &bridge,
        &log::Record::builder()
            .level(log::Level::Warn)
            .target("hyper::client")
            .args(format_args!("connection reset"))
            .build(),
    );
    logger.install_log_bridge().unwrap();
    log::info!(target: "app", "through the log facade");
    assert!(matches!(
        logger.install_log_bridge(),
        Err(LogError::LogBridgeTaken)
    ));
    logger.flush().await.unwrap();

    let recs = records(&path);
    assert_eq!(recs[0]["message"], "charged 250 cents");
    assert_eq!(recs[0]["customer"], "c-1");
    assert_eq!(recs[0]["service"], "billing");
    assert_eq!(recs[1]["level"], "CRITICAL");
    assert_eq!(recs[2]["level"], "DEBUG");
    assert_eq!(recs[3]["level"], "WARNING");
    assert_eq!(recs[3]["target"], "hyper::client");
    assert_eq!(recs[3]["message"], "connection reset");
    let facade = recs.iter().find(|r| r["target"] == "app").unwrap();
    assert_eq!(facade["message"], "through the log facade");
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
}

#[tokio::test]
async fn cloud_logging_records_use_googles_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud.log");
    let logger = AndonLogger::builder(config(vec![SinkConfig::CloudLogging {
        project_id: Some("my-project".into()),
        output: CloudLoggingOutput::File(path.clone()),
        level: None,
        max_bytes: 0,
        keep: 0,
        api: Default::default(),
    }]))
    .with_trace_context(Arc::new(FixedSpan(IDS)))
    .build()
    .unwrap();
    let signal = AndonSignal::yellow("disk 91%")
        .with_component("disk")
        .with_attribute("free_gb", 3);
    let line = line!() + 1;
    logger.log_signal(&signal).await.unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let recs = records(&path);
    let r = &recs[0];
    assert_eq!(r["severity"], "WARNING");
    assert_eq!(r["message"], "disk 91%");
    assert_eq!(r["time"], signal.timestamp_rfc3339());
    assert_eq!(
        r["logging.googleapis.com/trace"],
        "projects/my-project/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(r["logging.googleapis.com/spanId"], "00f067aa0ba902b7");
    assert_eq!(r["logging.googleapis.com/trace_sampled"], true);
    let labels = &r["logging.googleapis.com/labels"];
    assert_eq!(labels["component"], "disk");
    assert_eq!(labels["color"], "yellow");
    assert_eq!(labels["signal_id"], signal.id().to_string());
    let loc = &r["logging.googleapis.com/sourceLocation"];
    assert!(
        loc["file"].as_str().unwrap().ends_with("logger.rs"),
        "{loc}"
    );
    assert_eq!(loc["line"], line.to_string());
    assert_eq!(r["free_gb"], 3);
}

#[tokio::test]
async fn text_format_is_one_readable_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.txt");
    let logger = AndonLogger::new(LoggerConfig {
        json_format: false,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    logger
        .event(
            LogLevel::Warning,
            "disk almost full\nsecond line",
            slog::o!("mount" => "/var", "pct" => 91),
        )
        .unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1);
    let line = text.lines().next().unwrap();
    // slog hands key-values over last first.
    assert!(
        line.ends_with(" WARNING disk almost full\\nsecond line pct=91 mount=/var"),
        "{line}"
    );
}

#[tokio::test]
async fn the_signal_sink_logs_signals_by_color() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(config(vec![file_sink(&path)])).unwrap();
    let sink: &dyn SignalSink = &logger;
    assert_eq!(sink.name(), "log");
    let w3c = "0af7651916cd43dd8448eb211c80319c";
    sink.on_signal(&AndonSignal::green("ok")).await.unwrap();
    sink.on_signal(&AndonSignal::yellow("slow").with_trace_id(w3c))
        .await
        .unwrap();
    sink.on_signal(&AndonSignal::red("stop")).await.unwrap();
    // RED is on disk when on_signal returns.
    let recs = records(&path);
    assert_eq!(recs.len(), 3);
    let levels: Vec<_> = recs.iter().map(|r| r["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["INFO", "WARNING", "CRITICAL"]);
    assert_eq!(recs[1]["trace_id"], w3c);
    assert!(recs[1].get("correlation_id").is_none());
    sink.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_queue_never_drops_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        queue_capacity: 1,
        overflow: OverflowPolicy::Drop,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    for i in 0..20_000u32 {
        let _ = logger.event(LogLevel::Info, "i", slog::o!("i" => i));
        if i % 100 == 0 {
            logger.warn("w").await.unwrap();
        }
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let stats = logger.stats();
    assert_eq!(stats.emitted, 20_200);
    assert_eq!(stats.emitted, stats.written + stats.dropped);
    let warnings = records(&path)
        .iter()
        .filter(|r| r["level"] == "WARNING")
        .count();
    assert_eq!(warnings, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_wait_for_room_under_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::new(LoggerConfig {
        queue_capacity: 1,
        overflow: OverflowPolicy::Block,
        ..config(vec![file_sink(&path)])
    })
    .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let logger = logger.clone();
            tokio::spawn(async move {
                for i in 0..2_000 {
                    logger.info(&format!("{t}-{i}")).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let stats = logger.stats();
    assert_eq!(
        (stats.emitted, stats.written, stats.dropped),
        (16_000, 16_000, 0)
    );
    let all = messages(&path);
    assert_eq!(all.len(), 16_000);
    // Each task's records stay in its own order.
    let mine: Vec<_> = all.iter().filter(|m| m.starts_with("3-")).collect();
    let expected: Vec<_> = (0..2_000).map(|i| format!("3-{i}")).collect();
    assert_eq!(mine, expected.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn signals_and_log_entries_are_never_sampled_away() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    // The default configuration samples 1 in 10 DEBUG and INFO records.
    let defaults = LoggerConfig::default();
    assert!(defaults.sampling_enabled);
    assert_eq!(defaults.sample_ratio, 10);
    let logger = AndonLogger::new(LoggerConfig {
        sinks: vec![file_sink(&path)],
        ..defaults
    })
    .unwrap();
    let sink: &dyn SignalSink = &logger;
    for i in 0..1000 {
        let green = AndonSignal::green("line resumed by operator").with_attribute("i", i);
        assert_eq!(sink.accept(&green).await.unwrap(), Receipt::Delivered);
    }
    for _ in 0..1000 {
        logger.info("request served").await.unwrap();
    }
    for i in 0..1000 {
        LogSink::write(
            &logger,
            LogEntry {
                level: LogLevel::Info,
                message: "alert resolved".into(),
                component: Some("alerts".into()),
                fields: vec![("i".into(), serde_json::json!(i))],
            },
        )
        .unwrap();
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let recs = records(&path);
    let count = |message: &str| recs.iter().filter(|r| r["message"] == message).count();
    assert_eq!(count("line resumed by operator"), 1000);
    assert_eq!(count("request served"), 100);
    assert_eq!(count("alert resolved"), 1000);
    // Every GREEN is there, each once.
    let mut seen: Vec<u64> = recs
        .iter()
        .filter(|r| r["color"] == "green")
        .map(|r| r["i"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..1000).collect::<Vec<u64>>());
    let stats = logger.stats();
    assert_eq!(stats.sampled_out, 900);
    assert_eq!(stats.written, 2100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_entry_keeps_its_level_component_and_json_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("andon.log");
    let logger = AndonLogger::builder(config(vec![file_sink(&path)]))
        .with_component("app")
        .build()
        .unwrap();
    let diagnostics = serde_json::json!({
        "memory_percent": 41.5,
        "disks": [{"mount": "/", "used_percent": 75}],
        "status": "Critical",
    });
    let sink: Arc<dyn LogSink> = Arc::new(logger.clone());
    let entry = LogEntry {
        level: LogLevel::Critical,
        message: "alert firing: red-signal (queue-handler)".into(),
        component: Some("queue-handler".into()),
        fields: vec![
            ("rule".into(), serde_json::json!("red-signal")),
            ("count".into(), serde_json::json!(3)),
            ("paged".into(), serde_json::json!(true)),
            ("diagnostics".into(), diagnostics.clone()),
            // A field named like a record field cannot shadow it.
            ("level".into(), serde_json::json!("INFO")),
        ],
    };
    // From async code, as the alert manager calls it: CRITICAL is on disk when it returns.
    tokio::task::spawn_blocking(move || sink.write(entry))
        .await
        .unwrap()
        .unwrap();
    let recs = records(&path);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["level"], "CRITICAL");
    assert_eq!(r["message"], "alert firing: red-signal (queue-handler)");
    assert_eq!(r["component"], "queue-handler");
    assert_eq!(r["rule"], "red-signal");
    assert_eq!(r["count"], 3);
    assert_eq!(r["paged"], true);
    assert_eq!(r["diagnostics"], diagnostics);
    assert_eq!(r["kv_level"], "INFO");

    // Without a component of its own, the entry takes the logger's.
    LogSink::write(
        &logger,
        LogEntry {
            level: LogLevel::Warning,
            message: "alert acknowledged".into(),
            component: None,
            fields: Vec::new(),
        },
    )
    .unwrap();
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let recs = records(&path);
    assert_eq!(recs[1]["component"], "app");
    assert_eq!(recs[1]["level"], "WARNING");
    // After shutdown an entry is refused with an error, not lost in silence.
    let refused = LogSink::write(
        &logger,
        LogEntry {
            level: LogLevel::Info,
            message: "late".into(),
            component: None,
            fields: Vec::new(),
        },
    );
    assert!(refused.is_err());
    assert_eq!(logger.stats().dropped, 1);
}

#[cfg(unix)]
#[tokio::test]
async fn log_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/andon.log");
    let cloud = dir.path().join("cloud.log");
    let logger = AndonLogger::new(config(vec![
        SinkConfig::File {
            path: path.clone(),
            max_bytes: 200,
            keep: 2,
            level: None,
        },
        SinkConfig::CloudLogging {
            project_id: None,
            output: CloudLoggingOutput::File(cloud.clone()),
            level: None,
            max_bytes: 0,
            keep: 0,
            api: Default::default(),
        },
    ]))
    .unwrap();
    for i in 0..20 {
        logger
            .info(&format!("record {i} with a secret-ish body"))
            .await
            .unwrap();
    }
    assert!(
        logger
            .shutdown(std::time::Duration::from_secs(30))
            .await
            .is_complete()
    );
    let rotated = PathBuf::from(format!("{}.1", path.display()));
    assert!(rotated.exists(), "the file rotated");
    for file in [&path, &rotated, &cloud] {
        let mode = fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
    }
}
