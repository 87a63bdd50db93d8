//! andon-log against the raw slog stack beneath it, in the same run:
//!
//! - `caller/*`: the cost on the calling thread of one INFO record with three fields to a
//!   buffered JSON file, for andon's hot path (`event`), andon through its slog drain, raw
//!   slog-async (block mode, explicit) + slog-json, and raw synchronous slog-json.
//! - `throughput/*`: records per second all the way to the file (100,000 records, then
//!   flush/drain).
//! - before criterion runs: andon's latency from the call to the record written to the file,
//!   p50 and p99, measured under load.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop at once

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use andon_log::LogLevel;
use criterion::{Criterion, Throughput, criterion_group};
use slog::Drain;

#[path = "support/mod.rs"]
mod support;
use support::file_logger as andon;

fn json_drain(path: &Path) -> slog_json::Json<BufWriter<File>> {
    slog_json::Json::new(BufWriter::new(File::create(path).unwrap()))
        .add_default_keys()
        .build()
}

fn raw_async(path: &Path) -> (slog::Logger, slog_async::AsyncGuard) {
    let (drain, guard) = slog_async::Async::new(json_drain(path).fuse())
        .chan_size(65_536)
        .overflow_strategy(slog_async::OverflowStrategy::Block)
        .build_with_guard();
    (slog::Logger::root(drain.fuse(), slog::o!()), guard)
}

fn raw_sync(path: &Path) -> slog::Logger {
    slog::Logger::root(Mutex::new(json_drain(path)).fuse(), slog::o!())
}

fn caller(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("caller");
    group.throughput(Throughput::Elements(1));

    let logger = andon(&dir.path().join("andon-event.log"));
    let mut n = 0u64;
    group.bench_function("andon_event_json_file", |b| {
        b.iter(|| {
            n += 1;
            logger
                .event(
                    LogLevel::Info,
                    "request served",
                    slog::o!("status" => 200u16, "path" => "/api/items", "n" => n),
                )
                .unwrap();
        })
    });
    logger.shutdown_blocking();

    let logger = andon(&dir.path().join("andon-slog.log"));
    let slog_logger = logger.slog_logger();
    group.bench_function("andon_slog_drain_json_file", |b| {
        b.iter(|| {
            n += 1;
            slog::info!(slog_logger, "request served"; "status" => 200u16, "path" => "/api/items", "n" => n);
        })
    });
    drop(slog_logger);
    logger.shutdown_blocking();

    let (raw, guard) = raw_async(&dir.path().join("raw-async.log"));
    group.bench_function("raw_slog_async_block_json_file", |b| {
        b.iter(|| {
            n += 1;
            slog::info!(raw, "request served"; "status" => 200u16, "path" => "/api/items", "n" => n);
        })
    });
    drop(raw);
    drop(guard);

    let raw = raw_sync(&dir.path().join("raw-sync.log"));
    group.bench_function("raw_slog_json_sync_file", |b| {
        b.iter(|| {
            n += 1;
            slog::info!(raw, "request served"; "status" => 200u16, "path" => "/api/items", "n" => n);
        })
    });
    group.finish();
}

const BATCH: u64 = 100_000;

fn throughput(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("throughput");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(10);

    let logger = andon(&dir.path().join("andon.log"));
    group.bench_function("andon_to_file", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for i in 0..BATCH {
                    logger
                        .event(
                            LogLevel::Info,
                            "request served",
                            slog::o!("status" => 200u16, "path" => "/api/items", "n" => i),
                        )
                        .unwrap();
                }
                logger.flush_blocking().unwrap();
            }
            start.elapsed()
        })
    });
    logger.shutdown_blocking();

    let path = dir.path().join("raw.log");
    group.bench_function("raw_slog_async_block_to_file", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let (raw, guard) = raw_async(&path);
                for i in 0..BATCH {
                    slog::info!(raw, "request served"; "status" => 200u16, "path" => "/api/items", "n" => i);
                }
                drop(raw);
                drop(guard); // waits until the writer thread has written everything
            }
            start.elapsed()
        })
    });
    group.finish();
}

/// Latency from the call to the record written to the file, measured for one record in 100
/// while another thread logs as fast as it can.
fn latency_report() {
    let dir = tempfile::tempdir().unwrap();
    let logger = andon(&dir.path().join("latency.log"));
    let stop = AtomicBool::new(false);
    let mut samples = Vec::with_capacity(2_000);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let _ = logger.event(
                    LogLevel::Info,
                    "load",
                    slog::o!("status" => 200u16, "path" => "/api/items", "n" => i),
                );
            }
        });
        for i in 0..2_000u64 {
            let start = Instant::now();
            logger
                .event(
                    LogLevel::Info,
                    "measured",
                    slog::o!("status" => 200u16, "path" => "/api/items", "n" => i),
                )
                .unwrap();
            logger.flush_blocking().unwrap();
            samples.push(start.elapsed());
            std::thread::sleep(Duration::from_micros(200));
        }
        stop.store(true, Ordering::Relaxed);
    });
    logger.shutdown_blocking();
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "latency/andon_call_to_file (under full load from another thread): p50 {:?}, p99 {:?}, max {:?}",
        pct(50),
        pct(99),
        samples[samples.len() - 1]
    );
}

criterion_group!(benches, caller, throughput);

fn main() {
    latency_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
