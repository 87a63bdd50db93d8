//! Measured, not asserted (ignored by default; run it once with
//! `cargo test -p andon-history --release --test postgres_measure -- --ignored --nocapture`):
//! the insert rate of one agent into a real PostgreSQL on loopback, and a fleet Pareto over
//! 24 hours of 1,000,000 signals from 20 instances. The numbers are in docs/andon-history.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: a measurement fails loudly

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use andon_core::config::{HistoryConfig, Secret};
use andon_core::{AndonSignal, Color, HistoryRecord, HistoryStore};
use andon_history::{HistoryBackend, ParetoBy, PostgresHistory, Window};
use andon_tests::postgres::Postgres;

const INSTANCES: usize = 20;
const PER_INSTANCE: usize = 50_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run once by hand, see docs/andon-history.md"]
async fn insert_rate_and_a_fleet_pareto_over_a_million_signals() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_database("measure");
    let now = SystemTime::now();
    let components = [
        "press",
        "feeder",
        "hydraulics",
        "welder",
        "paint",
        "conveyor",
        "robot",
        "vision",
    ];
    let mut rates = Vec::new();
    for i in 0..INSTANCES {
        let config = HistoryConfig {
            enabled: true,
            url: Some(Secret::new(url.clone())),
            instance: Some(format!("line-{i:02}")),
            queue_capacity: 65_536,
            batch_size: 4096,
            ..HistoryConfig::default()
        };
        let store = PostgresHistory::builder(&config)
            .unwrap()
            .connect()
            .await
            .unwrap();
        // Signals spread over the last 24 hours, built before the clock starts.
        let records: Vec<HistoryRecord> = (0..PER_INSTANCE)
            .map(|n| {
                let at = now - Duration::from_millis((n as u64 * 86_400_000) / PER_INSTANCE as u64);
                let color = if n % 3 == 0 {
                    Color::Red
                } else {
                    Color::Yellow
                };
                HistoryRecord::Signal(Arc::new(
                    AndonSignal::new(color, format!("fault {} at station {}", n % 17, n % 5))
                        .with_component(components[(n * 7 + i) % components.len()])
                        .with_timestamp(at),
                ))
            })
            .collect();
        let started = Instant::now();
        for record in records {
            store.record(record);
        }
        store.flush().await.unwrap();
        let elapsed = started.elapsed();
        let stats = store.stats();
        assert_eq!(stats.written, PER_INSTANCE as u64, "{stats:?}");
        rates.push(PER_INSTANCE as f64 / elapsed.as_secs_f64());
        store.shutdown().await.unwrap();
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "insert rate per agent ({PER_INSTANCE} signals each, {INSTANCES} agents one after another): min {:.0}/s, median {:.0}/s, max {:.0}/s",
        rates[0],
        rates[rates.len() / 2],
        rates[rates.len() - 1]
    );
    // The raw driver beside it, in the same run: the same rows, batches and statement shape
    // (one `unnest` INSERT per 4096 signals in a transaction), without queue or counts.
    let raw_db = pg.create_database("raw");
    pg.psql(
        "raw",
        "CREATE TABLE signals (seq BIGSERIAL PRIMARY KEY, instance TEXT NOT NULL, id TEXT NOT NULL, at_ms BIGINT NOT NULL, color TEXT NOT NULL, component TEXT, message TEXT NOT NULL, fingerprint TEXT NOT NULL, trace_id TEXT, attributes TEXT);
         CREATE INDEX ON signals (at_ms); CREATE INDEX ON signals (instance, at_ms); CREATE INDEX ON signals (trace_id) WHERE trace_id IS NOT NULL",
    );
    let (mut client, connection) = tokio_postgres::connect(&raw_db, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let now_ms = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let started = Instant::now();
    for chunk in (0..PER_INSTANCE).collect::<Vec<_>>().chunks(4096) {
        let ids: Vec<String> = chunk
            .iter()
            .map(|n| format!("00000000-0000-0000-0000-{n:012}"))
            .collect();
        let at: Vec<i64> = chunk
            .iter()
            .map(|n| now_ms - (*n as i64 * 86_400_000) / PER_INSTANCE as i64)
            .collect();
        let color: Vec<&str> = chunk
            .iter()
            .map(|n| if n % 3 == 0 { "red" } else { "yellow" })
            .collect();
        let component: Vec<Option<&str>> = chunk
            .iter()
            .map(|n| Some(components[n % components.len()]))
            .collect();
        let message: Vec<String> = chunk
            .iter()
            .map(|n| format!("fault {} at station {}", n % 17, n % 5))
            .collect();
        let print: Vec<&str> = chunk.iter().map(|_| "fault # at station #").collect();
        let none: Vec<Option<&str>> = vec![None; chunk.len()];
        let tx = client.transaction().await.unwrap();
        tx.execute(
            "INSERT INTO signals (instance, id, at_ms, color, component, message, fingerprint, trace_id, attributes)
             SELECT 'raw', * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])",
            &[&ids, &at, &color, &component, &message, &print, &none, &none],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    println!(
        "raw tokio-postgres, the same {PER_INSTANCE} rows in batches of 4096: {:.0}/s",
        PER_INSTANCE as f64 / started.elapsed().as_secs_f64()
    );

    let config = HistoryConfig {
        enabled: true,
        url: Some(Secret::new(url.clone())),
        instance: Some("reader".into()),
        ..HistoryConfig::default()
    };
    let reader = PostgresHistory::builder(&config)
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(
        reader.signal_count().await.unwrap(),
        (INSTANCES * PER_INSTANCE) as u64
    );
    pg.psql("measure", "ANALYZE");
    let fleet = HistoryBackend::from(reader.clone());
    let window = Window::last(Duration::from_secs(86_400), now + Duration::from_secs(1));
    for by in [
        ParetoBy::Component,
        ParetoBy::Instance,
        ParetoBy::Fingerprint,
    ] {
        let mut times = Vec::new();
        let mut total = 0;
        for _ in 0..7 {
            let started = Instant::now();
            let pareto = fleet.pareto(window, by, &[], None).await.unwrap();
            times.push(started.elapsed());
            total = pareto.total;
        }
        times.sort();
        println!(
            "fleet Pareto over 24 h by {by:?} ({total} signals): median {:?}, max {:?}",
            times[times.len() / 2],
            times[times.len() - 1]
        );
        assert_eq!(total, (INSTANCES * PER_INSTANCE) as u64);
    }
    reader.shutdown().await.unwrap();
}
