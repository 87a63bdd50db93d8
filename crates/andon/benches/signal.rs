//! The caller's cost of `AndonSystem::signal_problem` with every component on, for GREEN, YELLOW
//! and RED, beside the same signal handed to each component directly (the floor the umbrella
//! adds its fan-out, line and board bookkeeping to). Goal: p99 under 50 µs for RED.
//!
//! Criterion measures the means; a second pass times 20,000 single calls of each kind and prints
//! p50, p99, p99.9 and max (`signal_problem/system_red over 20000 calls: p50 …, p99 …`).

#![allow(clippy::expect_used, clippy::panic)] // a benchmark whose set-up fails should stop at once, saying where

use std::time::{Duration, Instant};

use andon::{AndonSignal, AndonSystem, SignalSink};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/support/mod.rs"]
mod support;

fn signal_problem(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = andon_tests::free_port();
    let system = runtime
        .block_on(AndonSystem::new(support::full_config(
            dir.path(),
            port,
            // Spans are exported to a closed port: the caller's cost is the same, the export
            // fails off its path.
            Some("http://127.0.0.1:9"),
        )))
        .expect("system");

    let mut group = c.benchmark_group("signal_problem");
    group.measurement_time(Duration::from_secs(3));
    for (name, make) in [
        (
            "green",
            AndonSignal::green as fn(&'static str) -> AndonSignal,
        ),
        ("yellow", AndonSignal::yellow),
        ("red", AndonSignal::red),
    ] {
        group.bench_function(format!("system_{name}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let outcome = system
                    .signal_problem(make("bench signal").with_component("bench"))
                    .await;
                // Keep the line running so every RED takes the stopping path.
                system.line().resume("bench", None);
                outcome.map(|_| ()).unwrap_or(())
            })
        });
    }
    // The floor: the same RED handed to each component in turn, without the umbrella.
    let sinks: Vec<&dyn SignalSink> = [
        system.logger().map(|l| l as &dyn SignalSink),
        system.metrics().map(|m| m as &dyn SignalSink),
        system.tracer().map(|t| t as &dyn SignalSink),
        system.alerts().map(|a| a as &dyn SignalSink),
    ]
    .into_iter()
    .flatten()
    .collect();
    group.bench_function("components_directly_red", |b| {
        b.to_async(&runtime).iter(|| async {
            let signal = AndonSignal::red("bench signal").with_component("bench");
            for sink in &sinks {
                let _ = sink.on_signal(&signal).await;
            }
        })
    });
    group.finish();

    // Criterion reports means; the goal is a p99. Time single calls, each on its own.
    runtime.block_on(async {
        for (name, make) in [
            (
                "system_green",
                AndonSignal::green as fn(&'static str) -> AndonSignal,
            ),
            ("system_yellow", AndonSignal::yellow),
            ("system_red", AndonSignal::red),
        ] {
            let mut samples = Vec::with_capacity(PERCENTILE_CALLS);
            for i in 0..WARM_UP_CALLS + PERCENTILE_CALLS {
                let signal = make("bench signal").with_component("bench");
                let started = Instant::now();
                let _ = system.signal_problem(signal).await;
                let took = started.elapsed();
                system.line().resume("bench", None);
                if i >= WARM_UP_CALLS {
                    samples.push(took);
                }
            }
            report(name, &mut samples);
        }
        let mut samples = Vec::with_capacity(PERCENTILE_CALLS);
        for i in 0..WARM_UP_CALLS + PERCENTILE_CALLS {
            let signal = AndonSignal::red("bench signal").with_component("bench");
            let started = Instant::now();
            for sink in &sinks {
                let _ = sink.on_signal(&signal).await;
            }
            if i >= WARM_UP_CALLS {
                samples.push(started.elapsed());
            }
        }
        report("components_directly_red", &mut samples);
        // Where a RED's cost goes: each component on its own.
        for sink in &sinks {
            let mut samples = Vec::with_capacity(PERCENTILE_CALLS / 4);
            for i in 0..WARM_UP_CALLS + PERCENTILE_CALLS / 4 {
                let signal = AndonSignal::red("bench signal").with_component("bench");
                let started = Instant::now();
                let _ = sink.on_signal(&signal).await;
                if i >= WARM_UP_CALLS {
                    samples.push(started.elapsed());
                }
            }
            report(&format!("{}_alone_red", sink.name()), &mut samples);
        }
        let _ = system.shutdown().await;
    });
}

/// Calls timed one by one for the percentiles, after the warm-up ones.
const PERCENTILE_CALLS: usize = 20_000;
const WARM_UP_CALLS: usize = 2_000;

/// Prints p50, p99, p99.9 and max of `samples`, in the form `cargo xtask bench` quotes.
fn report(name: &str, samples: &mut [Duration]) {
    andon_tests::print_percentiles(&format!("signal_problem/{name}"), samples);
}

criterion_group!(benches, signal_problem);
criterion_main!(benches);
