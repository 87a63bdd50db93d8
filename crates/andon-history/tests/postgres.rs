//! The history on a real PostgreSQL server (the harness's `initdb` + `postgres`, our own child
//! process): migrations from an empty database and from the previous version, two instances in
//! one database, the server killed and restarted mid-stream, and heartbeats in both backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use andon_core::config::{HistoryConfig, Secret};
use andon_core::heartbeat::{HeartbeatEvent, HeartbeatEventKind, HeartbeatStatus};
use andon_core::{AndonSignal, Color, HistoryRecord, HistoryStore, LineEvent, SignalId};
use andon_history::{
    FleetLine, FleetReport, GroupBy, HistoryBackend, POSTGRES_SCHEMA_VERSION, ParetoBy,
    PostgresHistory, SignalQuery, SqliteHistory, Window,
};
use andon_tests::postgres::Postgres;

fn config(url: &str, instance: &str) -> HistoryConfig {
    HistoryConfig {
        enabled: true,
        url: Some(Secret::new(url)),
        instance: Some(instance.to_owned()),
        ..HistoryConfig::default()
    }
}

fn signal(color: Color, component: &str, message: &str, at: SystemTime) -> HistoryRecord {
    HistoryRecord::Signal(Arc::new(
        AndonSignal::new(color, message)
            .with_component(component)
            .with_timestamp(at),
    ))
}

fn hour_window(now: SystemTime) -> Window {
    Window::last(Duration::from_secs(3600), now + Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_from_empty_and_from_the_previous_version_keep_the_rows() {
    let Some(pg) = Postgres::start() else { return };
    // From empty: every table, at the newest version.
    let url = pg.create_database("fresh");
    let store = PostgresHistory::builder(&config(&url, "a"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        POSTGRES_SCHEMA_VERSION
    );
    assert_eq!(POSTGRES_SCHEMA_VERSION, 3);
    store.shutdown().await.unwrap();
    assert_eq!(
        pg.psql(
            "fresh",
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations"
        ),
        "1,2,3"
    );

    // From the previous version (1: no fleet table), with rows.
    let url = pg.create_database("old");
    let old = PostgresHistory::builder(&config(&url, "a"))
        .unwrap()
        .with_schema_version(1)
        .connect()
        .await
        .unwrap();
    let now = SystemTime::now();
    old.record(signal(Color::Red, "press", "jam 1", now));
    old.flush().await.unwrap();
    old.shutdown().await.unwrap();
    assert_eq!(
        pg.psql(
            "old",
            "SELECT count(*) FROM pg_tables WHERE tablename = 'fleet'"
        ),
        "0"
    );
    let new = PostgresHistory::builder(&config(&url, "a"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert_eq!(new.schema_version().await.unwrap(), POSTGRES_SCHEMA_VERSION);
    assert_eq!(
        new.signal_count().await.unwrap(),
        1,
        "the old rows are kept"
    );
    new.report_fleet(&FleetReport {
        version: "test".into(),
        interval: Duration::from_secs(10),
        ..FleetReport::default()
    })
    .await
    .unwrap();
    let fleet = new.fleet().await.unwrap();
    assert_eq!(fleet.len(), 1);
    assert_eq!(fleet[0].line, FleetLine::Running);
    new.shutdown().await.unwrap();
    // Two agents starting together on an empty database migrate once, without error.
    let url = pg.create_database("race");
    let (a, b) = tokio::join!(
        PostgresHistory::builder(&config(&url, "a"))
            .unwrap()
            .connect(),
        PostgresHistory::builder(&config(&url, "b"))
            .unwrap()
            .connect(),
    );
    a.unwrap().shutdown().await.unwrap();
    b.unwrap().shutdown().await.unwrap();
    assert_eq!(
        pg.psql("race", "SELECT count(*) FROM schema_migrations"),
        "3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_database_and_the_pareto_spans_both() {
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_database("fleet");
    let a = HistoryBackend::builder(config(&url, "press-a"))
        .build()
        .await
        .unwrap();
    let b = HistoryBackend::builder(config(&url, "press-b"))
        .build()
        .await
        .unwrap();
    assert_eq!(a.kind(), "postgres");
    let now = SystemTime::now();
    for i in 0..30 {
        a.record(signal(
            Color::Red,
            "hydraulics",
            &format!("pressure {i} bar"),
            now,
        ));
    }
    for i in 0..10 {
        b.record(signal(
            Color::Red,
            "hydraulics",
            &format!("pressure {i} bar"),
            now,
        ));
        // A NUL byte (PostgreSQL's text refuses it) must not fail the batch it is in.
        let message = if i == 0 { "slow\0feed" } else { "slow feed" };
        b.record(signal(Color::Yellow, "feeder", message, now));
    }
    a.record(HistoryRecord::Line(LineEvent::Stopped {
        at: now - Duration::from_secs(60),
        signal: SignalId::new(),
        component: Some("hydraulics".into()),
        message: "pressure 0 bar".into(),
    }));
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    assert_eq!(b.stats().failed, 0, "{:?}", b.stats());

    let window = hour_window(now);
    let fleet = a
        .pareto(window, ParetoBy::Component, &[], None)
        .await
        .unwrap();
    assert_eq!(fleet.total, 50);
    assert_eq!(fleet.rows[0].key, "hydraulics");
    assert_eq!(
        fleet.rows[0].count, 40,
        "both instances' hydraulics signals"
    );
    let by_instance = b
        .pareto(window, ParetoBy::Instance, &[], None)
        .await
        .unwrap();
    let keys: Vec<(&str, u64)> = by_instance
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.count))
        .collect();
    assert_eq!(keys, [("press-a", 30), ("press-b", 20)]);
    let only_b = a
        .pareto(window, ParetoBy::Fingerprint, &[], Some("press-b"))
        .await
        .unwrap();
    assert_eq!(only_b.total, 20);
    let signals = a
        .signals(&SignalQuery::new(window).color(Color::Yellow), None)
        .await
        .unwrap();
    assert_eq!(signals.len(), 10);
    assert_eq!(signals[0].instance.as_deref(), Some("press-b"));
    // The line of press-a has been stopped for a minute; press-b's never.
    let downtime = a
        .downtime_by_instance(window, Duration::from_secs(3600), now, None)
        .await
        .unwrap();
    let stopped: f64 = downtime["press-a"].iter().map(|d| d.stopped_seconds).sum();
    assert!((59.0..=61.0).contains(&stopped), "{stopped}");
    assert!(!downtime.contains_key("press-b"));
    let mttr = a
        .response_times(window, GroupBy::Instance, None)
        .await
        .unwrap();
    assert!(mttr.is_empty(), "no alerts were recorded");
    // An incident's timeline by trace id, across instances: b's signal, a's signal and the
    // stop it caused, then a's resumption.
    let stopping = AndonSignal::red("press jammed")
        .with_component("press")
        .with_trace_id("trace-fleet-1")
        .with_timestamp(now);
    let stopping_id = stopping.id();
    b.record(HistoryRecord::Signal(Arc::new(
        AndonSignal::yellow("press slow")
            .with_component("press")
            .with_trace_id("trace-fleet-1")
            .with_timestamp(now - Duration::from_secs(5)),
    )));
    a.record(HistoryRecord::Signal(Arc::new(stopping)));
    a.record(HistoryRecord::Line(LineEvent::Stopped {
        at: now + Duration::from_millis(1),
        signal: stopping_id,
        component: Some("press".into()),
        message: "press jammed".into(),
    }));
    a.record(HistoryRecord::Line(LineEvent::Resumed {
        at: now + Duration::from_secs(2),
        by: "alice".into(),
        note: Some("cleared".into()),
    }));
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let timeline = b.timeline_page("trace-fleet-1", 0, 100).await.unwrap();
    let kinds: Vec<&str> = timeline.entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["signal", "signal", "line.stopped", "line.resumed"],
        "{timeline:?}"
    );
    assert_eq!(timeline.entries[0].detail["instance"], "press-b");
    assert_eq!(timeline.entries[3].detail["by"], "alice");
    assert!(a.shutdown(Duration::from_secs(30)).await.is_complete());
    assert!(b.shutdown(Duration::from_secs(30)).await.is_complete());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_loses_nothing_accepted_and_drops_past_the_queue_are_counted() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    let url = pg.create_database("restart");
    let mut small = config(&url, "press-a");
    small.queue_capacity = 500;
    small.batch_size = 100;
    let store = PostgresHistory::builder(&small)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let now = SystemTime::now();
    for i in 0..300 {
        store.record(signal(Color::Red, "press", &format!("before {i}"), now));
    }
    store.flush().await.unwrap();
    // The server goes away mid-stream: what arrives meanwhile waits in the queue, up to its
    // capacity; the rest is counted as dropped.
    pg.kill();
    for i in 0..1000 {
        store.record(signal(Color::Red, "press", &format!("during {i}"), now));
    }
    let stats = store.stats();
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    assert_eq!(stats.accepted + stats.dropped_queue_full, 1300, "{stats:?}");
    assert!(store.last_error().is_some() || stats.written == 300);
    pg.restart();
    tokio::time::timeout(Duration::from_secs(60), store.flush())
        .await
        .expect("the writer reconnects after the restart")
        .unwrap();
    let stats = store.stats();
    assert_eq!(stats.failed, 0, "nothing accepted is lost: {stats:?}");
    assert_eq!(stats.written, stats.accepted, "{stats:?}");
    let rows: u64 = pg
        .psql("restart", "SELECT count(*) FROM signals")
        .parse()
        .unwrap();
    assert_eq!(
        rows, stats.accepted,
        "every accepted record is in the database"
    );
    let counted: u64 = pg
        .psql("restart", "SELECT sum(n) FROM signal_counts")
        .parse()
        .unwrap();
    assert_eq!(counted, rows, "the hourly counts agree");
    store.shutdown().await.unwrap();
}

fn heartbeat(kind: HeartbeatEventKind) -> HistoryRecord {
    HistoryRecord::Heartbeat(HeartbeatEvent {
        at: SystemTime::now(),
        name: "nightly-backup".into(),
        component: "backup".into(),
        kind,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_kept_in_both_backends() {
    let events = [
        HeartbeatEventKind::CheckIn {
            status: HeartbeatStatus::Success,
        },
        HeartbeatEventKind::Missed {
            last_check_in: Some(SystemTime::now()),
            every: Duration::from_secs(86_400),
        },
    ];
    // SQLite.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite3");
    let sqlite = SqliteHistory::open(path.to_str().unwrap()).unwrap();
    for kind in &events {
        sqlite.record(heartbeat(kind.clone()));
    }
    sqlite.shutdown().await.unwrap();
    let connection = rusqlite_count(&path);
    assert_eq!(connection, "check_in:success,missed:86400000");

    // PostgreSQL.
    let Some(pg) = Postgres::start() else { return };
    let url = pg.create_database("beats");
    let store = PostgresHistory::builder(&config(&url, "a"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for kind in &events {
        store.record(heartbeat(kind.clone()));
    }
    store.shutdown().await.unwrap();
    assert_eq!(
        pg.psql(
            "beats",
            "SELECT string_agg(kind || ':' || COALESCE(status, every_ms::text), ',' ORDER BY seq) FROM heartbeats WHERE instance = 'a' AND name = 'nightly-backup'"
        ),
        "check_in:success,missed:86400000"
    );
}

/// The heartbeat rows of a SQLite file, as `kind:status-or-every` joined by commas.
fn rusqlite_count(path: &std::path::Path) -> String {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT kind || ':' || COALESCE(status, every_ms) FROM heartbeats ORDER BY seq")
        .unwrap();
    let rows: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.join(",")
}
