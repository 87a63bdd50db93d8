//! The heartbeats' deadline scan with 10,000 heartbeats (issue 20: < 1 ms per tick), beside the
//! naive alternative, a walk over every deadline per tick; and the cost of a check-in.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use andon_core::HeartbeatStatus;
use andon_core::config::HeartbeatConfig;
use andon_core::heartbeat::HeartbeatBook;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const HEARTBEATS: u64 = 10_000;

fn configs() -> Vec<HeartbeatConfig> {
    (0..HEARTBEATS)
        .map(|i| HeartbeatConfig::new(format!("job-{i}"), Duration::from_secs(60 + i)))
        .collect()
}

fn scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("heartbeat");
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let configs = configs();

    // A tick with nothing due: the common case.
    let mut book = HeartbeatBook::new(&configs, start);
    group.bench_function("scan_10k_nothing_due", |b| {
        b.iter(|| black_box(book.scan(black_box(start + Duration::from_secs(30)))))
    });

    // The raw alternative: every deadline compared on every tick.
    let deadlines: Vec<SystemTime> = configs
        .iter()
        .map(|c| start + c.every + c.effective_grace())
        .collect();
    group.bench_function("raw_walk_10k_deadlines", |b| {
        b.iter(|| {
            let now = black_box(start + Duration::from_secs(30));
            black_box(deadlines.iter().filter(|d| **d <= now).count())
        })
    });

    // A tick where 100 of the 10,000 are due (each iteration on a fresh copy of the book).
    let spread: Vec<HeartbeatConfig> = (0..HEARTBEATS)
        .map(|i| {
            HeartbeatConfig::new(
                format!("job-{i}"),
                Duration::from_millis(1_000_000 + i * 10),
            )
        })
        .collect();
    let spread_book = HeartbeatBook::new(&spread, start);
    // Deadline of heartbeat i: start + 1.1 × every = 1,100 s + 11 ms × i; 0..=99 are due.
    let tick = start + Duration::from_millis(1_100_000 + 99 * 11 + 5);
    assert_eq!(spread_book.clone().scan(tick).len(), 100);
    group.bench_function("scan_10k_100_due", |b| {
        b.iter_batched(
            || spread_book.clone(),
            // The book is returned, so that criterion drops it outside the measurement.
            |mut book| {
                let due = book.scan(tick).len();
                (book, black_box(due))
            },
            BatchSize::LargeInput,
        )
    });

    // Ticks a second apart on a simulated clock; the heartbeats that are due (about 5 a tick
    // in the steady state) check in again.
    let mut book = HeartbeatBook::new(&configs, start);
    let mut now = start;
    group.bench_function("tick_10k_steady_state_with_check_ins", |b| {
        b.iter(|| {
            now += Duration::from_secs(1);
            let due = book.scan(now);
            for d in &due {
                let _ = book.check_in(&d.config.name, HeartbeatStatus::Success, now);
            }
            black_box(due.len())
        })
    });

    let mut book = HeartbeatBook::new(&configs, start);
    let mut i = 0u64;
    group.bench_function("check_in_of_10k", |b| {
        b.iter(|| {
            i = (i + 7919) % HEARTBEATS;
            black_box(
                book.check_in(&configs[i as usize].name, HeartbeatStatus::Success, start)
                    .is_ok(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
