//! The caller's cost of a record that waits until it is written: a RED signal (logged at
//! CRITICAL) through the async `log_signal`, and a blocking `event` at CRITICAL, each to one
//! JSON `File` sink, one call at a time (the writer idle between calls, as for a real RED).
//!
//! Prints p50, p99, p99.9 and max per path (`critical/log_signal_red over 20000 calls: p50 …`).
//! `ANDON_BENCH_CALLS=N` sets the number of timed calls (for `strace -f -c` over a short run),
//! `ANDON_BENCH_ONLY=log_signal_red` (or `event_critical`) runs one path alone.
//! This is the handoff the umbrella's `signal_problem/log_alone_red` measures, without the rest
//! of the system around it.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop at once

use std::time::Instant;

use andon_core::AndonSignal;
use andon_log::LogLevel;

#[path = "support/mod.rs"]
mod support;
use support::file_logger as logger;

fn main() {
    let calls: usize = std::env::var("ANDON_BENCH_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let warm_up = (calls / 10).min(2_000);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let only = std::env::var("ANDON_BENCH_ONLY").unwrap_or_default();
    let runs = |name: &str| only.is_empty() || only == name;
    let mut samples = Vec::with_capacity(calls);

    if runs("log_signal_red") {
        let log = logger(&dir.path().join("signal.log"));
        runtime.block_on(async {
            for i in 0..warm_up + calls {
                let signal = AndonSignal::red("bench signal").with_component("bench");
                let started = Instant::now();
                log.log_signal(&signal).await.unwrap();
                if i >= warm_up {
                    samples.push(started.elapsed());
                }
            }
        });
        andon_tests::print_percentiles("critical/log_signal_red", &mut samples);
        log.shutdown_blocking();
    }

    if runs("event_critical") {
        let log = logger(&dir.path().join("critical.log"));
        samples.clear();
        for i in 0..warm_up + calls {
            let started = Instant::now();
            log.event(LogLevel::Critical, "bench critical", slog::o!("n" => i))
                .unwrap();
            if i >= warm_up {
                samples.push(started.elapsed());
            }
        }
        andon_tests::print_percentiles("critical/event_critical", &mut samples);
        log.shutdown_blocking();
    }
}
