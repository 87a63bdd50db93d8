//! The history's two numbers: inserting 1,000,000 signals through the batched background
//! writer (goal: above 100,000 signals/s), beside the same rows inserted with raw rusqlite in
//! 1024-row transactions with the same pragmas and indexes (the floor: what the queue, the
//! thread, the fingerprint and the hourly counts add); and a
//! Pareto (by component, by message fingerprint) over 1,000,000 rows (goal: under 200 ms).

#![allow(clippy::expect_used, clippy::panic)] // a benchmark whose set-up fails should stop at once, saying where

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use andon_core::config::HistoryConfig;
use andon_core::{AndonSignal, Color, HistoryRecord, HistoryStore};
use andon_history::{ParetoBy, SqliteHistory, Window, fingerprint};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIGNALS: u64 = 1_000_000;
const COMPONENTS: [&str; 8] = [
    "db", "queue", "web", "payments", "cache", "search", "auth", "mailer",
];

fn monday() -> SystemTime {
    andon_core::rfc3339::parse("2026-11-16T00:00:00Z").expect("time")
}

/// The i-th signal of a week: skewed towards the first components, as real stoppages are.
fn nth(i: u64) -> AndonSignal {
    let component = COMPONENTS[(i.trailing_zeros() as usize).min(COMPONENTS.len() - 1)];
    let color = if i.is_multiple_of(3) {
        Color::Yellow
    } else {
        Color::Red
    };
    AndonSignal::new(
        color,
        format!(
            "{component} failed after {} ms on worker-{}",
            i % 977,
            i % 13
        ),
    )
    .with_component(component)
    .with_trace_id(format!("{i:032x}"))
    .with_timestamp(monday() + Duration::from_millis(i * 600))
}

fn config(dir: &std::path::Path, name: &str, batch_size: usize) -> HistoryConfig {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    HistoryConfig {
        enabled: true,
        path: path.to_str().expect("utf-8 path").to_owned(),
        batch_size,
        retention_rows: 0,
        ..HistoryConfig::default()
    }
}

/// Records every signal, pacing on the queue (never dropping), then flushes.
fn fill(runtime: &tokio::runtime::Runtime, history: &SqliteHistory, signals: &[Arc<AndonSignal>]) {
    let capacity = HistoryConfig::default().queue_capacity as u64;
    for signal in signals {
        loop {
            let stats = history.stats();
            if stats.accepted.saturating_sub(stats.written + stats.failed) < capacity - 1 {
                break;
            }
            // A producer that finds the queue full waits rather than spinning on the 2 cores
            // the writer needs too (in production a full queue drops and counts).
            std::thread::sleep(Duration::from_micros(500));
        }
        history.record(HistoryRecord::Signal(Arc::clone(signal)));
    }
    runtime.block_on(history.flush()).expect("flush");
    let stats = history.stats();
    assert_eq!(stats.written, signals.len() as u64, "{stats:?}");
}

fn raw_insert(path: &str, signals: &[Arc<AndonSignal>]) {
    let mut connection = rusqlite::Connection::open(path).expect("open");
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 8192;
             CREATE TABLE signals (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, at_ms INTEGER NOT NULL,
               color TEXT NOT NULL, component TEXT, message TEXT NOT NULL, fingerprint TEXT NOT NULL,
               trace_id TEXT, attributes TEXT);
             CREATE INDEX signals_by_time ON signals (at_ms);
             CREATE INDEX signals_by_trace ON signals (trace_id) WHERE trace_id IS NOT NULL;",
        )
        .expect("schema");
    for chunk in signals.chunks(1024) {
        let tx = connection.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO signals (id, at_ms, color, component, message, fingerprint, trace_id, attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)")
                .expect("prepare");
            for s in chunk {
                let at = s
                    .timestamp()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .expect("after 1970")
                    .as_millis() as i64;
                insert
                    .execute(rusqlite::params![
                        s.id().to_string(),
                        at,
                        s.color().as_str(),
                        s.component(),
                        s.message(),
                        fingerprint(s.message()),
                        s.trace_id()
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
}

fn insert(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let signals: Vec<Arc<AndonSignal>> = (0..SIGNALS).map(|i| Arc::new(nth(i))).collect();

    let mut group = c.benchmark_group("insert_1m_signals");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(SIGNALS));
    for batch_size in [1024, 8192] {
        group.bench_function(BenchmarkId::new("batched_writer", batch_size), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let history =
                        SqliteHistory::builder(&config(dir.path(), "writer.sqlite3", batch_size))
                            .open()
                            .expect("open");
                    let start = Instant::now();
                    fill(&runtime, &history, &signals);
                    total += start.elapsed();
                    runtime.block_on(history.shutdown()).expect("shutdown");
                }
                total
            });
        });
    }
    group.bench_function("raw_rusqlite_1024", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let config = config(dir.path(), "raw.sqlite3", 1024);
                let start = Instant::now();
                raw_insert(&config.path, &signals);
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

fn pareto(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let history = SqliteHistory::builder(&config(dir.path(), "pareto.sqlite3", 8192))
        .open()
        .expect("open");
    {
        let signals: Vec<Arc<AndonSignal>> = (0..SIGNALS).map(|i| Arc::new(nth(i))).collect();
        fill(&runtime, &history, &signals);
    }
    // 1M signals 600 ms apart span about 7 days: the window holds every row.
    let window = Window::last(
        Duration::from_secs(8 * 86_400),
        monday() + Duration::from_secs(7 * 86_400),
    );
    let total = history
        .pareto(window, ParetoBy::Component, &[])
        .expect("pareto")
        .total;
    assert_eq!(total, SIGNALS);

    let mut group = c.benchmark_group("pareto_1m_rows");
    group.sample_size(10);
    for by in [ParetoBy::Component, ParetoBy::Fingerprint] {
        group.bench_function(format!("{by:?}").to_lowercase(), |b| {
            b.iter(|| history.pareto(window, by, &[]).expect("pareto"));
        });
    }
    // The last day only: the time index narrows the scan.
    let day = Window::last(
        Duration::from_secs(86_400),
        monday() + Duration::from_secs(7 * 86_400),
    );
    group.bench_function("component_last_day", |b| {
        b.iter(|| {
            history
                .pareto(day, ParetoBy::Component, &[])
                .expect("pareto")
        });
    });
    group.finish();
    runtime.block_on(history.shutdown()).expect("shutdown");
}

criterion_group!(benches, insert, pareto);
criterion_main!(benches);
