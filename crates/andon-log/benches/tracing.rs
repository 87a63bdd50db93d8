//! `tracing` events into andon's log against `tracing-subscriber`'s own JSON layer, in the
//! same run: one `tracing::info!` with three fields, written as a JSON line to a file.
//!
//! - `tracing_caller/andon_layer_json_file`: [`AndonLogger::tracing_layer`] into the File sink
//!   (`overflow = "block"`: nothing dropped).
//! - `tracing_caller/fmt_json_appender_non_blocking_file`: `tracing_subscriber::fmt::layer().json()`
//!   writing through `tracing-appender`'s non-blocking writer (`lossy(false)`: nothing dropped)
//!   to a file.
//!
//! The cost measured is on the calling thread, as an application sees it; both write on a
//! background thread. The goal is andon ≤ 0.5× the baseline.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop at once

use std::fs::File;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/mod.rs"]
mod support;
use support::file_logger as andon;

fn caller(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("tracing_caller");
    group.throughput(Throughput::Elements(1));
    let mut n = 0u64;

    let logger = andon(&dir.path().join("andon.log"));
    let dispatch =
        tracing::Dispatch::new(tracing_subscriber::registry().with(logger.tracing_layer()));
    tracing::dispatcher::with_default(&dispatch, || {
        group.bench_function("andon_layer_json_file", |b| {
            b.iter(|| {
                n += 1;
                tracing::info!(status = 200u16, path = "/api/items", n, "request served");
            })
        });
    });
    drop(dispatch);
    logger.shutdown_blocking();

    let file = File::create(dir.path().join("fmt.log")).unwrap();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(file);
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().json().with_writer(writer)),
    );
    tracing::dispatcher::with_default(&dispatch, || {
        group.bench_function("fmt_json_appender_non_blocking_file", |b| {
            b.iter(|| {
                n += 1;
                tracing::info!(status = 200u16, path = "/api/items", n, "request served");
            })
        });
    });
    drop(dispatch);
    drop(guard); // waits until the writer thread has written everything
    group.finish();
}

criterion_group!(benches, caller);
criterion_main!(benches);
