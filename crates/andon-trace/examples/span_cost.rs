//! The span hot path alone, for counting instructions with callgrind (repeatable even on a
//! loaded machine, where criterion's times are not): `andon`, `raw` (the OpenTelemetry SDK
//! with a batch processor, as in `benches/span.rs`), `andon-off` and `raw-off` (sampling off),
//! each starting and ending N spans.
//!
//! ```text
//! cargo build --profile bench -p andon-trace --example span_cost
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='span_cost::run_*' \
//!     target/release/examples/span_cost andon 20000
//! ```
//!
//! Divide the collected count by N + 100 (the warm-up) for instructions per span.
//!
//! Run plainly, it also prints on stderr the wall time and the calling thread's CPU time per
//! span, and the CPU time of every other thread of the process (the export worker) per span,
//! from Linux's `/proc/thread-self/schedstat` (on-CPU nanoseconds): unlike criterion's wall
//! time, CPU time holds on a machine shared with other builds.

#![allow(clippy::expect_used)] // a measurement with a broken set-up should stop at once

use std::hint::black_box;

use andon_core::config::TracerConfig;
use andon_trace::{AndonTracer, SpanStatus};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

#[derive(Debug, Default)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// Nanoseconds the thread has been on a CPU, from `/proc/.../schedstat` (0 where absent).
fn on_cpu_ns(schedstat: &str) -> u64 {
    std::fs::read_to_string(schedstat)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Every thread of this process but the caller: its name and on-CPU nanoseconds.
fn other_threads() -> Vec<(String, u64)> {
    let me = std::fs::read_link("/proc/thread-self").unwrap_or_default();
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        if me.file_name() == path.file_name() {
            continue;
        }
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let cpu = on_cpu_ns(&path.join("schedstat").to_string_lossy());
        threads.push((name.trim().to_owned(), cpu));
    }
    threads
}

/// Runs `spans` and reports wall and CPU time per span on stderr.
fn timed(label: &str, n: usize, spans: impl FnOnce()) {
    let others: u64 = other_threads().iter().map(|(_, cpu)| cpu).sum();
    let cpu = on_cpu_ns("/proc/thread-self/schedstat");
    let wall = std::time::Instant::now();
    spans();
    let wall = wall.elapsed().as_nanos() as f64;
    let cpu = on_cpu_ns("/proc/thread-self/schedstat").saturating_sub(cpu) as f64;
    // Let the export worker catch up before its CPU time is read.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let after: u64 = other_threads().iter().map(|(_, cpu)| cpu).sum();
    let n = n as f64;
    eprintln!(
        "{label}: wall {:.1} ns/span, caller cpu {:.1} ns/span, other threads cpu {:.1} ns/span",
        wall / n,
        cpu / n,
        after.saturating_sub(others) as f64 / n
    );
}

#[inline(never)]
fn run_raw(tracer: &opentelemetry_sdk::trace::Tracer, n: usize) {
    for _ in 0..n {
        let mut span = tracer.start("request-processing");
        span.end();
    }
}

#[inline(never)]
fn run_andon(tracer: &AndonTracer, n: usize) {
    for _ in 0..n {
        let span = tracer.start_span("request-processing").expect("start");
        tracer.end_span(&span, SpanStatus::Ok).expect("end");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let off = mode.ends_with("-off");
    if mode.starts_with("raw") {
        let processor = BatchSpanProcessor::builder(Discard)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(65_536)
                    .build(),
            )
            .build();
        let sampler = if off {
            opentelemetry_sdk::trace::Sampler::AlwaysOff
        } else {
            opentelemetry_sdk::trace::Sampler::AlwaysOn
        };
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(sampler)
            .build();
        let tracer = provider.tracer("bench");
        run_raw(&tracer, 100);
        timed(&mode, n, || run_raw(&tracer, n));
        let _ = provider.shutdown();
    } else {
        let _guard = runtime.enter();
        let tracer = AndonTracer::builder(TracerConfig {
            sampling_ratio: if off { 0.0 } else { 1.0 },
            ..TracerConfig::default()
        })
        .with_exporter(Discard)
        .build()
        .expect("tracer");
        run_andon(&tracer, 100);
        timed(&mode, n, || run_andon(&tracer, n));
        println!("{:?}", tracer.stats());
    }
}
