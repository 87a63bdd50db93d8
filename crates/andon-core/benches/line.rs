//! The cost of `Line::checkpoint` on a running line (one atomic load) against a bare atomic load.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use andon_core::{AndonSignal, Line};
use criterion::{Criterion, criterion_group, criterion_main};

fn checkpoint(c: &mut Criterion) {
    let mut group = c.benchmark_group("line");
    let flag = AtomicBool::new(false);
    group.bench_function("raw_atomic_load", |b| {
        b.iter(|| black_box(flag.load(Ordering::Acquire)))
    });
    let line = Line::new();
    group.bench_function("checkpoint_running", |b| {
        b.iter(|| black_box(line.checkpoint().is_ok()))
    });
    let stopped = Line::new();
    stopped.stop(AndonSignal::red("bench"));
    group.bench_function("checkpoint_stopped", |b| {
        b.iter(|| black_box(stopped.checkpoint().is_err()))
    });
    group.finish();
}

criterion_group!(benches, checkpoint);
criterion_main!(benches);
