//! The history on a real SQLite file: restart, concurrent writers, retention, a failing or
//! overloaded store, and the analyses (Pareto, MTTA/MTTR, downtime, timeline) over a scripted
//! week with a controlled clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use andon_core::config::HistoryConfig;
use andon_core::{
    AlertEvent, AlertEventKind, AlertSeverity, AndonSignal, Color, DiagnosticsReport, Health,
    HealthStatus, HistoryRecord, HistoryStore, LineEvent, SignalId,
};
use andon_history::{HistoryError, ParetoBy, SignalQuery, SqliteHistory, Window};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// Monday 2026-11-16 00:00:00 UTC: the start of the scripted week.
fn monday() -> SystemTime {
    andon_core::rfc3339::parse("2026-11-16T00:00:00Z").unwrap()
}

fn config(path: &std::path::Path) -> HistoryConfig {
    HistoryConfig {
        enabled: true,
        path: path.to_str().unwrap().to_owned(),
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

fn alert(
    fingerprint: &str,
    component: &str,
    at: SystemTime,
    kind: AlertEventKind,
) -> HistoryRecord {
    HistoryRecord::Alert(AlertEvent {
        at,
        fingerprint: fingerprint.into(),
        rule: format!("{component}-down"),
        severity: AlertSeverity::Critical,
        component: Some(component.into()),
        trace_id: None,
        labels: BTreeMap::from([("component".to_owned(), component.to_owned())]),
        summary: format!("{component} is down"),
        kind,
    })
}

fn ack(by: &str) -> AlertEventKind {
    AlertEventKind::Acknowledged {
        by: by.into(),
        note: "looking".into(),
    }
}

#[tokio::test]
async fn a_restart_keeps_the_history_and_the_schema_version() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("history.sqlite3");
    let at = monday();
    {
        let history = SqliteHistory::builder(&config(&path)).open().unwrap();
        history.record(signal(Color::Red, "db", "disk full", at));
        history.record(alert("fp-1", "db", at, AlertEventKind::Fired));
        history.record(HistoryRecord::Line(LineEvent::Resumed {
            at,
            by: "alice".into(),
            note: None,
        }));
        history.shutdown().await.unwrap();
        assert_eq!(history.stats().written, 3);
        // After shutdown, records are refused and counted, never written.
        history.record(signal(Color::Red, "db", "too late", at));
        assert_eq!(history.stats().dropped_closed, 1);
    }
    let history = SqliteHistory::builder(&config(&path)).open().unwrap();
    let signals = history
        .signals(&SignalQuery::new(Window::last(DAY, at + HOUR)))
        .unwrap();
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0].message, "disk full");
    assert_eq!(signals[0].at, at);
    assert_eq!(
        history
            .response_times(Window::last(DAY, at + HOUR))
            .unwrap()[0]
            .fired,
        1
    );
    history.shutdown().await.unwrap();

    let version: i64 = rusqlite_user_version(&path);
    assert_eq!(version, andon_history::SCHEMA_VERSION);
}

fn rusqlite_user_version(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_file_from_a_newer_andon_is_refused_with_the_fix() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("new.sqlite3");
    {
        let history = SqliteHistory::builder(&config(&path)).open().unwrap();
        history.shutdown().await.unwrap();
    }
    // A newer andon migrated the file further.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = SqliteHistory::builder(&config(&path)).open().unwrap_err();
    assert!(
        matches!(err, HistoryError::TooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade andon"), "{err}");
}

#[tokio::test]
async fn a_missing_folder_names_the_path_and_the_fix() {
    let err = SqliteHistory::open("/nonexistent-andon-dir/h.sqlite3").unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-andon-dir/h.sqlite3"),
        "{err}"
    );
    assert!(err.to_string().contains("[history] path"), "{err}");
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("shared.sqlite3");
    let mut config = config(&path);
    config.batch_size = 64;
    // Two stores on one file (two agents), four threads each.
    let stores = [
        SqliteHistory::builder(&config).open().unwrap(),
        SqliteHistory::builder(&config).open().unwrap(),
    ];
    let per_thread = 2_500;
    std::thread::scope(|scope| {
        for (s, store) in stores.iter().enumerate() {
            for t in 0..4 {
                scope.spawn(move || {
                    for i in 0..per_thread {
                        // Never more than the queue holds at once: pace on the queue.
                        while {
                            let stats = store.stats();
                            stats.accepted.saturating_sub(stats.written) > 60_000
                        } {
                            std::thread::yield_now();
                        }
                        store.record(signal(
                            Color::Yellow,
                            &format!("store{s}-thread{t}"),
                            &format!("event {i}"),
                            monday() + Duration::from_millis(i),
                        ));
                    }
                });
            }
        }
    });
    for store in &stores {
        store.flush().await.unwrap();
        let stats = store.stats();
        assert_eq!(stats.accepted, 4 * per_thread, "{stats:?}");
        assert_eq!(
            stats.written,
            stats.accepted,
            "{stats:?} {:?}",
            store.last_error()
        );
        assert_eq!(stats.dropped_queue_full + stats.failed, 0);
    }
    assert_eq!(stores[0].signal_count().unwrap(), 8 * per_thread);
    let pareto = stores[1]
        .pareto(Window::last(DAY, monday() + HOUR), ParetoBy::Component, &[])
        .unwrap();
    assert_eq!(pareto.rows.len(), 8);
    assert!(pareto.rows.iter().all(|r| r.count == per_thread));
    for store in &stores {
        store.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn retention_removes_exactly_what_is_too_old_or_too_many() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("retention.sqlite3");
    let mut config = config(&path);
    config.retention_age = 2 * DAY;
    config.retention_rows = 5;
    let history = SqliteHistory::builder(&config).open().unwrap();
    let now = monday() + 10 * DAY;
    // Signals one hour apart, from 3 days ago: 24 are older than 2 days, 10 are younger.
    for i in 0..34_u32 {
        let at = now - 3 * DAY + i * HOUR;
        history.record(signal(Color::Red, "db", &format!("s{i}"), at));
    }
    // Three alert events: one too old.
    history.record(alert("fp", "db", now - 3 * DAY, AlertEventKind::Fired));
    history.record(alert("fp", "db", now - DAY, ack("bob")));
    history.record(alert("fp", "db", now - HOUR, AlertEventKind::Resolved));
    history.flush().await.unwrap();

    let report = history.enforce_retention(now).unwrap();
    // By age: i < 24 go (at < now - 2d means i*1h < 1d, i.e. i < 24). Then 10 remain, of which
    // the 5 oldest go by row count.
    assert_eq!(report.signals, 24 + 5);
    assert_eq!(report.alert_events, 1);
    assert_eq!(report.line_events, 0);
    let left = history
        .signals(&SignalQuery::new(Window::last(10 * DAY, now)))
        .unwrap();
    let messages: Vec<&str> = left.iter().map(|s| s.message.as_str()).collect();
    assert_eq!(messages, ["s33", "s32", "s31", "s30", "s29"]);
    // The hourly counts behind the Pareto lost exactly the same signals.
    let pareto = history
        .pareto(Window::last(10 * DAY, now), ParetoBy::Component, &[])
        .unwrap();
    assert_eq!((pareto.total, pareto.rows.len()), (5, 1));
    // Nothing more to do: a second pass deletes nothing.
    assert_eq!(history.enforce_retention(now).unwrap().total(), 0);
    assert_eq!(history.stats().retention_deleted, 30);
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn retention_runs_in_the_background_on_the_given_clock() {
    let dir = andon_tests::temp_dir();
    let mut config = config(&dir.path().join("bg.sqlite3"));
    config.retention_age = DAY;
    config.retention_rows = 0;
    let now = monday() + 30 * DAY;
    let history = SqliteHistory::builder(&config)
        .with_clock(Arc::new(move || now))
        .with_retention_interval(Duration::from_millis(20))
        .open()
        .unwrap();
    history.record(signal(Color::Red, "db", "old", now - 2 * DAY));
    history.record(signal(Color::Red, "db", "new", now - HOUR));
    history.flush().await.unwrap();
    let gone = andon_tests::wait_for(Duration::from_secs(10), || {
        (history.signal_count().unwrap() == 1).then_some(())
    });
    assert!(
        gone.is_some(),
        "background retention did not run: {:?}",
        history.stats()
    );
    let left = history
        .signals(&SignalQuery::new(Window::last(30 * DAY, now)))
        .unwrap();
    assert_eq!(left[0].message, "new");
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_queue_is_bounded_by_bytes_as_well_as_by_count() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("bytes.sqlite3");
    let mut config = config(&path);
    config.queue_capacity = 10_000; // the count alone would take every record below
    config.max_queue_bytes = 16 * 1024;
    config.batch_size = 1;
    let history = SqliteHistory::builder(&config)
        .with_busy_timeout(Duration::from_millis(300))
        .open()
        .unwrap();
    // The writer is stuck behind another process's lock, so records pile up in the queue.
    let locker = rusqlite_lock(&path);
    let large = "x".repeat(1000);
    for _ in 0..100 {
        history.record(signal(Color::Red, "db", &large, monday()));
    }
    let stats = history.stats();
    assert_eq!(stats.accepted + stats.dropped_queue_full, 100, "{stats:?}");
    assert!(
        stats.accepted <= 20,
        "16 KiB hold about a dozen 1 KB records (one more may sit in the writer's batch): {stats:?}"
    );
    assert!(stats.accepted >= 1, "{stats:?}");
    drop(locker);
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_locked_database_is_counted_and_never_blocks_signalling() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("locked.sqlite3");
    let mut config = config(&path);
    config.queue_capacity = 4;
    config.batch_size = 1;
    let history = SqliteHistory::builder(&config)
        .with_busy_timeout(Duration::from_millis(300))
        .open()
        .unwrap();
    // Another process takes the write lock and keeps it.
    let locker = rusqlite_lock(&path);
    for i in 0..100 {
        history.record(signal(Color::Red, "db", &format!("s{i}"), monday()));
    }
    let stats = history.stats();
    assert_eq!(stats.accepted + stats.dropped_queue_full, 100, "{stats:?}");
    assert!(
        stats.dropped_queue_full >= 95,
        "the queue holds 4: {stats:?}"
    );
    // The writer gives up on each batch after the busy timeout and counts it as failed.
    history.flush().await.unwrap();
    let stats = history.stats();
    assert_eq!(stats.failed, stats.accepted, "{stats:?}");
    assert!(
        history.last_error().unwrap().contains("locked"),
        "{:?}",
        history.last_error()
    );
    drop(locker);
    history.record(signal(Color::Red, "db", "after", monday()));
    history.flush().await.unwrap();
    assert_eq!(history.stats().written, 1);
    assert_eq!(history.signal_count().unwrap(), 1);
    history.shutdown().await.unwrap();
}

/// Holds an exclusive write lock on the database until dropped (a second connection through a
/// second store's reader would be read-only, so this opens its own).
fn rusqlite_lock(path: &std::path::Path) -> impl Drop {
    struct Locker(
        Option<std::sync::mpsc::Sender<()>>,
        Option<std::thread::JoinHandle<()>>,
    );
    impl Drop for Locker {
        fn drop(&mut self) {
            drop(self.0.take());
            if let Some(t) = self.1.take() {
                t.join().unwrap();
            }
        }
    }
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let (ready, is_ready) = std::sync::mpsc::channel::<()>();
    let path = path.to_owned();
    let thread = std::thread::spawn(move || {
        let connection = andon_history_test_connection(&path);
        connection.execute_batch("BEGIN EXCLUSIVE").unwrap();
        ready.send(()).unwrap();
        let _ = stopped.recv();
        connection.execute_batch("COMMIT").unwrap();
    });
    is_ready.recv().unwrap();
    Locker(Some(stop), Some(thread))
}

fn andon_history_test_connection(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// The scripted week: signals, alerts and line stops on a controlled clock.
async fn scripted_week(history: &SqliteHistory) {
    let start = monday();
    for day in 0..7_u32 {
        let d = start + day * DAY;
        for n in 0..5_u32 {
            history.record(signal(
                Color::Red,
                "db",
                &format!("connection pool exhausted after {} ms", 100 + n * 37 + day),
                d + 8 * HOUR + n * Duration::from_secs(60),
            ));
        }
        for n in 0..3_u32 {
            history.record(signal(
                Color::Yellow,
                "queue",
                &format!("queue depth {} on worker-{n}", 150 + day),
                d + 12 * HOUR + n * Duration::from_secs(60),
            ));
        }
        history.record(signal(
            Color::Red,
            "web",
            &format!("http 500 on /checkout/{}", 9000 + day),
            d + 18 * HOUR,
        ));
        for n in 0..10_u32 {
            history.record(signal(Color::Green, "web", "ok", d + n * HOUR));
        }
        // db's alert fires every day at 09:00, acknowledged after 5 min, resolved after 30 min.
        let fired = d + 9 * HOUR;
        history.record(alert("fp-db", "db", fired, AlertEventKind::Fired));
        history.record(alert(
            "fp-db",
            "db",
            fired + Duration::from_secs(300),
            ack("alice"),
        ));
        // A second acknowledgement does not count again.
        history.record(alert(
            "fp-db",
            "db",
            fired + Duration::from_secs(600),
            ack("bob"),
        ));
        history.record(alert(
            "fp-db",
            "db",
            fired + Duration::from_secs(1800),
            AlertEventKind::Resolved,
        ));
        // The line stops at 08:00 and resumes at 08:45: 45 minutes a day.
        history.record(HistoryRecord::Line(LineEvent::Stopped {
            at: d + 8 * HOUR,
            signal: SignalId::new(),
            component: Some("db".into()),
            message: "connection pool exhausted".into(),
        }));
        history.record(HistoryRecord::Line(LineEvent::Resumed {
            at: d + 8 * HOUR + Duration::from_secs(45 * 60),
            by: "alice".into(),
            note: None,
        }));
    }
    // queue: fired on Wednesday (acked after 2 min, resolved after 60 min) and Friday (never
    // acked, resolved after 20 min, escalated once).
    let wed = start + 2 * DAY + 13 * HOUR;
    history.record(alert("fp-queue", "queue", wed, AlertEventKind::Fired));
    history.record(alert(
        "fp-queue",
        "queue",
        wed + Duration::from_secs(120),
        ack("carol"),
    ));
    history.record(alert(
        "fp-queue",
        "queue",
        wed + HOUR,
        AlertEventKind::Resolved,
    ));
    let fri = start + 4 * DAY + 13 * HOUR;
    history.record(alert("fp-queue", "queue", fri, AlertEventKind::Fired));
    history.record(alert(
        "fp-queue",
        "queue",
        fri + Duration::from_secs(600),
        AlertEventKind::Escalated { level: 1 },
    ));
    history.record(alert(
        "fp-queue",
        "queue",
        fri + Duration::from_secs(1200),
        AlertEventKind::Resolved,
    ));
    // web: fired on Sunday, still open.
    history.record(alert(
        "fp-web",
        "web",
        start + 6 * DAY + 18 * HOUR,
        AlertEventKind::Fired,
    ));
    // Before the week: not counted.
    history.record(signal(
        Color::Red,
        "db",
        "connection pool exhausted after 1 ms",
        start - HOUR,
    ));
    history.record(alert("fp-old", "old", start - HOUR, AlertEventKind::Fired));
    history.flush().await.unwrap();
}

#[tokio::test]
async fn pareto_of_a_scripted_week() {
    let dir = andon_tests::temp_dir();
    let history = SqliteHistory::builder(&config(&dir.path().join("week.sqlite3")))
        .open()
        .unwrap();
    scripted_week(&history).await;
    let week = Window::last(7 * DAY, monday() + 7 * DAY);

    let by_component = history.pareto(week, ParetoBy::Component, &[]).unwrap();
    assert_eq!(by_component.total, 63);
    let rows: Vec<(&str, u64, f64, f64)> = by_component
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.count, r.percent, r.cumulative_percent))
        .collect();
    assert_eq!(
        rows,
        [
            ("db", 35, 55.56, 55.56),
            ("queue", 21, 33.33, 88.89),
            ("web", 7, 11.11, 100.0)
        ]
    );

    let by_message = history.pareto(week, ParetoBy::Fingerprint, &[]).unwrap();
    let keys: Vec<(&str, u64)> = by_message
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.count))
        .collect();
    assert_eq!(
        keys,
        [
            ("connection pool exhausted after # ms", 35),
            ("queue depth # on worker-#", 21),
            ("http # on /checkout/#", 7)
        ]
    );

    // Only RED, and GREEN counted when asked.
    let red = history
        .pareto(week, ParetoBy::Component, &[Color::Red])
        .unwrap();
    assert_eq!(red.total, 42);
    let green = history
        .pareto(week, ParetoBy::Component, &[Color::Green])
        .unwrap();
    assert_eq!((green.total, green.rows[0].key.as_str()), (70, "web"));

    // One day: Monday only.
    let monday_only = history
        .pareto(
            Window::between(monday(), monday() + DAY),
            ParetoBy::Component,
            &[],
        )
        .unwrap();
    assert_eq!(monday_only.total, 9);
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn mtta_and_mttr_of_a_scripted_week() {
    let history = SqliteHistory::in_memory().unwrap();
    scripted_week(&history).await;
    let week = Window::last(7 * DAY, monday() + 7 * DAY);
    let times = history.response_times(week).unwrap();
    type Row<'a> = (&'a str, u64, u64, u64, u64, Option<f64>, Option<f64>);
    let rows: Vec<Row<'_>> = times
        .iter()
        .map(|t| {
            (
                t.component.as_str(),
                t.fired,
                t.acknowledged,
                t.resolved,
                t.escalated,
                t.mtta_seconds,
                t.mttr_seconds,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("db", 7, 7, 7, 0, Some(300.0), Some(1800.0)),
            ("queue", 2, 1, 2, 1, Some(120.0), Some(2400.0)),
            ("web", 1, 0, 0, 0, None, None),
        ]
    );
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn downtime_per_day_and_per_hour() {
    let history = SqliteHistory::in_memory().unwrap();
    scripted_week(&history).await;
    let week = Window::last(7 * DAY, monday() + 7 * DAY);
    let days = history.downtime_per_day(week, monday() + 7 * DAY).unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[0].start, monday());
    assert!(
        days.iter()
            .all(|d| d.stopped_seconds == 2700.0 && d.stops == 1),
        "{days:?}"
    );

    // A stop still open counts up to now; a stop across midnight is split between the days.
    let sunday = monday() + 6 * DAY;
    history.record(HistoryRecord::Line(LineEvent::Stopped {
        at: sunday + 23 * HOUR,
        signal: SignalId::new(),
        component: Some("db".into()),
        message: "again".into(),
    }));
    history.flush().await.unwrap();
    let now = sunday + DAY + 2 * HOUR;
    let days = history
        .downtime_per_day(Window::last(2 * DAY, now), now)
        .unwrap();
    let seconds: Vec<f64> = days.iter().map(|d| d.stopped_seconds).collect();
    // Saturday from 02:00 (window start): 45 min; Sunday: 45 min + 1 h; Monday: 2 h so far.
    assert_eq!(seconds, [2700.0, 2700.0 + 3600.0, 7200.0]);
    let hours = history
        .downtime(Window::last(24 * HOUR, sunday + DAY), HOUR, sunday + DAY)
        .unwrap();
    assert_eq!(hours.len(), 24);
    assert_eq!(hours[8].stopped_seconds, 2700.0);
    assert_eq!(hours[23].stopped_seconds, 3600.0);
    assert_eq!(hours.iter().map(|h| h.stops).sum::<u64>(), 2);
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_incident_timeline_by_trace_id_or_fingerprint() {
    let history = SqliteHistory::in_memory().unwrap();
    let t = monday();
    let red = AndonSignal::red("payment gateway timeout")
        .with_component("payments")
        .with_trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
        .with_timestamp(t);
    let id = red.id();
    history.record(HistoryRecord::Signal(Arc::new(red)));
    history.record(HistoryRecord::Line(LineEvent::Stopped {
        at: t,
        signal: id,
        component: Some("payments".into()),
        message: "payment gateway timeout".into(),
    }));
    history.record(HistoryRecord::Diagnostics {
        signal: id,
        report: Arc::new(DiagnosticsReport {
            taken_at: t + Duration::from_secs(1),
            health: Health {
                status: HealthStatus::Degraded,
                reasons: vec!["cpu 95%".into()],
            },
            summary: "cpu 95.0%".into(),
            details: serde_json::json!({"cpu": 95.0}),
        }),
    });
    let mut fired = alert(
        "fp-pay",
        "payments",
        t + Duration::from_secs(2),
        AlertEventKind::Fired,
    );
    if let HistoryRecord::Alert(event) = &mut fired {
        event.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    }
    history.record(fired);
    history.record(alert(
        "fp-pay",
        "payments",
        t + Duration::from_secs(60),
        ack("dave"),
    ));
    history.record(HistoryRecord::Line(LineEvent::Resumed {
        at: t + Duration::from_secs(300),
        by: "dave".into(),
        note: Some("gateway failed over".into()),
    }));
    history.record(alert(
        "fp-pay",
        "payments",
        t + Duration::from_secs(400),
        AlertEventKind::Resolved,
    ));
    // Unrelated noise.
    history.record(signal(
        Color::Red,
        "db",
        "disk full",
        t + Duration::from_secs(30),
    ));
    history.record(alert(
        "fp-db",
        "db",
        t + Duration::from_secs(31),
        AlertEventKind::Fired,
    ));
    history.flush().await.unwrap();

    let expected = [
        "signal",
        "line.stopped",
        "diagnostics",
        "alert.fired",
        "alert.acknowledged",
        "line.resumed",
        "alert.resolved",
    ];
    for key in ["4bf92f3577b34da6a3ce929d0e0e4736", "fp-pay"] {
        let timeline = history.timeline(key).unwrap();
        let kinds: Vec<&str> = timeline.entries.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, expected, "{key}");
        assert_eq!(
            timeline.trace_ids,
            ["4bf92f3577b34da6a3ce929d0e0e4736"],
            "{key}"
        );
        assert_eq!(timeline.fingerprints, ["fp-pay"], "{key}");
        assert!(timeline.entries[4].summary.contains("acknowledged by dave"));
        assert!(timeline.entries[5].summary.contains("gateway failed over"));
    }
    let unknown = history.timeline("nothing-like-this").unwrap();
    assert!(unknown.entries.is_empty() && unknown.trace_ids.is_empty());
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn signals_by_time_component_and_color() {
    let history = SqliteHistory::in_memory().unwrap();
    scripted_week(&history).await;
    let tuesday = Window::between(monday() + DAY, monday() + 2 * DAY);
    let all = history.signals(&SignalQuery::new(tuesday)).unwrap();
    assert_eq!(all.len(), 19);
    assert!(all.windows(2).all(|w| w[0].at >= w[1].at), "newest first");
    let db = history
        .signals(&SignalQuery::new(tuesday).component("db"))
        .unwrap();
    assert_eq!(db.len(), 5);
    assert!(
        db.iter()
            .all(|s| s.fingerprint == "connection pool exhausted after # ms")
    );
    let yellow = history
        .signals(&SignalQuery::new(tuesday).color(Color::Yellow).limit(2))
        .unwrap();
    assert_eq!(yellow.len(), 2);
    assert_eq!(yellow[0].component.as_deref(), Some("queue"));
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pareto_over_any_window_equals_counting_the_signals() {
    let history = SqliteHistory::in_memory().unwrap();
    scripted_week(&history).await;
    let minute = Duration::from_secs(60);
    let windows = [
        Window::between(
            monday() + 8 * HOUR + 2 * minute,
            monday() + 3 * DAY + 12 * HOUR + minute,
        ),
        Window::between(
            monday() + 8 * HOUR + 2 * minute,
            monday() + 8 * HOUR + 4 * minute,
        ),
        Window::between(monday() - DAY, monday() + 30 * DAY),
        Window::between(monday() + 12 * HOUR + minute, monday() + 5 * DAY),
    ];
    for window in windows {
        let signals = history
            .signals(&SignalQuery::new(window).limit(1_000_000))
            .unwrap();
        for by in [ParetoBy::Component, ParetoBy::Fingerprint] {
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for s in signals.iter().filter(|s| s.color != Color::Green) {
                let key = match by {
                    ParetoBy::Component => s.component.clone().unwrap(),
                    ParetoBy::Fingerprint => s.fingerprint.clone(),
                    other => unreachable!("{other:?} is not counted here"),
                };
                *expected.entry(key).or_default() += 1;
            }
            let pareto = history.pareto(window, by, &[]).unwrap();
            let got: BTreeMap<String, u64> = pareto
                .rows
                .iter()
                .map(|r| (r.key.clone(), r.count))
                .collect();
            assert_eq!(got, expected, "{window:?} {by:?}");
            assert_eq!(pareto.total, expected.values().sum::<u64>());
        }
    }
    history.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_version_1_file_is_migrated_and_its_counts_backfilled() {
    let dir = andon_tests::temp_dir();
    let path = dir.path().join("v1.sqlite3");
    {
        let history = SqliteHistory::builder(&config(&path)).open().unwrap();
        scripted_week(&history).await;
        history.shutdown().await.unwrap();
    }
    // What the first release wrote: no hourly counts, user_version 1.
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch("DROP TABLE signal_counts; PRAGMA user_version = 1;")
            .unwrap();
    }
    let history = SqliteHistory::builder(&config(&path)).open().unwrap();
    assert_eq!(rusqlite_user_version(&path), andon_history::SCHEMA_VERSION);
    let pareto = history
        .pareto(
            Window::last(7 * DAY, monday() + 7 * DAY),
            ParetoBy::Component,
            &[],
        )
        .unwrap();
    assert_eq!(pareto.total, 63);
    assert_eq!(pareto.rows[0].count, 35);
    history.shutdown().await.unwrap();
}
