//! End to end through a whole system with real sinks: a file log, the metrics endpoint scraped
//! over HTTP, a file alert channel, the observer, and the line.

#![allow(clippy::unwrap_used, clippy::panic)] // test helpers fail the test that called them

use std::time::Duration;

use andon::{AndonConfig, AndonSignal, AndonSystem, Color, SignalError};

mod support;
use support::{full_config, read_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_red_signal_is_visible_everywhere_and_stops_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = andon_tests::free_port();
    let system = AndonSystem::new(full_config(dir.path(), port, None))
        .await
        .unwrap();
    let line = system.line().clone();
    let mut events = system.subscribe();

    system
        .signal_problem(
            AndonSignal::yellow("Queue approaching threshold").with_component("queue-handler"),
        )
        .await
        .unwrap();
    assert!(
        line.checkpoint().is_ok(),
        "YELLOW does not stop the line by default"
    );

    let outcome = system
        .signal_problem(
            AndonSignal::red("Queue overflow - stop processing")
                .with_component("queue-handler")
                .with_trace_id("trace-123"),
        )
        .await
        .unwrap();
    assert!(outcome.stopped_line);
    assert_eq!(outcome.delivered_to, ["log", "metrics", "alert"]);
    let stopped = line.checkpoint().unwrap_err();
    assert_eq!(stopped.signal.message(), "Queue overflow - stop processing");

    // The metrics endpoint shows the counter and the stopped line.
    let (status, body) =
        andon_tests::http_get(&format!("http://127.0.0.1:{port}/metrics")).unwrap();
    assert_eq!(status, 200);
    assert!(
        body.lines().any(|l| l.starts_with("andon_signals_total{")
            && l.contains("color=\"red\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    assert!(body.lines().any(|l| l == "andon_line_stopped 1"), "{body}");
    // The logger's own counters reach /metrics too, so lost records would be visible there.
    let written = andon_tests::wait_for(Duration::from_secs(10), || {
        let (_, body) = andon_tests::http_get(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
        let value = |outcome: &str| {
            body.lines()
                .find(|l| {
                    l.starts_with(&format!("andon_log_records_total{{outcome=\"{outcome}\"}}"))
                })
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        };
        let written = value("written")?;
        assert_eq!(value("dropped"), Some(0.0), "{body}");
        (written >= 2.0).then_some(written)
    });
    assert!(
        written.is_some(),
        "andon_log_records_total{{outcome=\"written\"}} never reached 2"
    );
    // So do every other component's `stats()`, exported the same way once a second.
    let every = andon_tests::wait_for(Duration::from_secs(10), || {
        let (_, body) = andon_tests::http_get(&format!("http://127.0.0.1:{port}/metrics")).ok()?;
        let has = |prefix: &str| body.lines().any(|l| l.starts_with(prefix));
        (has("andon_alert_manager_events_total{event=\"signals\"}")
            && has("andon_observer_checks_total{outcome=\"taken\"}")
            && has("andon_metrics_series "))
        .then_some(())
    });
    assert!(
        every.is_some(),
        "the alert manager's, observer's and metrics' stats never reached /metrics"
    );

    // The diagnostics snapshot for the RED arrives off the caller's path.
    let report = andon_tests::wait_for(Duration::from_secs(10), || system.last_diagnostics())
        .expect("a snapshot for RED");
    assert!(!report.summary.is_empty());

    // The alert reaches the file channel with a diagnostics summary.
    let alerts_file = support::alerts_path(dir.path());
    let alert = andon_tests::wait_for(Duration::from_secs(10), || {
        read_lines(&alerts_file).into_iter().next()
    })
    .expect("an alert in the file channel");
    let text = alert.to_string();
    assert!(text.contains("every-red"), "{text}");
    assert!(
        text.contains("trace-123"),
        "the alert carries the signal's correlation id: {text}"
    );
    assert!(
        text.to_lowercase().contains("memory"),
        "the alert carries a diagnostics summary: {text}"
    );

    // The alert's firing is a live event too, with the signal's correlation id.
    let fired = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let andon::SystemEvent::Alert(change) = events.recv().await.unwrap()
                && change.rule == "every-red"
            {
                return change;
            }
        }
    })
    .await
    .expect("an alert event");
    assert_eq!(fired.kind.as_str(), "fired");
    assert_eq!(fired.component.as_deref(), Some("queue-handler"));
    assert_eq!(fired.trace_id.as_deref(), Some("trace-123"));

    // Resuming is explicit, and visible.
    assert!(
        system
            .resume_line("alice", Some("queue drained"))
            .await
            .unwrap()
    );
    assert!(line.checkpoint().is_ok());

    system.shutdown().await.unwrap();
    assert!(matches!(
        system.signal_problem(AndonSignal::green("late")).await,
        Err(SignalError::ShutDown)
    ));

    // Nothing accepted was lost: every signal is one record in the log file.
    let records = read_lines(&support::log_path(dir.path()));
    let critical: Vec<_> = records
        .iter()
        .filter(|r| r["level"] == "CRITICAL" && r["component"] == "queue-handler")
        .collect();
    assert_eq!(critical.len(), 1, "{records:#?}");
    let critical = critical[0].to_string();
    assert!(
        critical.contains("Queue overflow - stop processing"),
        "{critical}"
    );
    assert!(critical.contains("trace-123"), "{critical}");
    assert!(records.iter().any(|r| r["level"] == "WARNING"));
    assert!(
        records
            .iter()
            .any(|r| r.to_string().contains("line resumed by alice")),
        "{records:#?}"
    );
}

#[tokio::test]
async fn line_rules_choose_which_signals_stop_it() {
    let text = r#"
[line]
stop_on = ["red", "yellow"]
components = ["db"]
auto_resume_on_green = true

[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
enabled = false
[logger]
sinks = [{ type = "Stderr", level = "CRITICAL" }]
"#;
    let system = AndonSystem::new(AndonConfig::from_toml_str(text).unwrap())
        .await
        .unwrap();
    let outcome = system
        .signal_problem(AndonSignal::red("web down").with_component("web"))
        .await
        .unwrap();
    assert!(!outcome.stopped_line, "web may not stop the line");
    let outcome = system
        .signal_problem(AndonSignal::yellow("slow").with_component("db"))
        .await
        .unwrap();
    assert!(outcome.stopped_line);
    let outcome = system
        .signal_problem(AndonSignal::green("ok").with_component("web"))
        .await
        .unwrap();
    assert!(
        !outcome.resumed_line,
        "only the stopping component's GREEN resumes"
    );
    let outcome = system
        .signal_problem(AndonSignal::green("ok").with_component("db"))
        .await
        .unwrap();
    assert!(outcome.resumed_line);
    assert!(system.line().is_running());
    let board = system.board();
    let db = board.stations.iter().find(|s| s.component == "db").unwrap();
    assert_eq!(db.color, Color::Green);
    assert_eq!(system.recent_signals(10).len(), 4);
    system.shutdown().await.unwrap();
}

/// A diagnostics source that counts its snapshots and holds each until released.
#[derive(Debug)]
struct HeldSnapshots {
    taken: std::sync::atomic::AtomicUsize,
    /// How old each snapshot says it is.
    age: Duration,
    release: tokio::sync::Semaphore,
}

#[andon::async_trait]
impl andon::DiagnosticsSource for HeldSnapshots {
    async fn snapshot(&self) -> Result<andon::DiagnosticsReport, andon::AndonError> {
        self.taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _permit = self.release.acquire().await;
        Ok(andon::DiagnosticsReport {
            taken_at: std::time::SystemTime::now() - self.age,
            health: andon::Health::default(),
            summary: "held".into(),
            details: serde_json::Value::Null,
        })
    }
}

fn quiet_config() -> AndonConfig {
    AndonConfig::from_toml_str(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
         [alerts]\nenabled = false\n[logger]\nsinks = [{ type = \"Stderr\", level = \"CRITICAL\" }]\n\
         [line]\nstop_on = []\n",
    )
    .unwrap()
}

#[tokio::test]
async fn a_red_right_after_a_snapshot_shares_it() {
    let source = std::sync::Arc::new(HeldSnapshots {
        taken: std::sync::atomic::AtomicUsize::new(0),
        age: Duration::ZERO,
        release: tokio::sync::Semaphore::new(100),
    });
    let system = AndonSystem::builder()
        .with_config(quiet_config())
        .with_diagnostics(source.clone())
        .build()
        .await
        .unwrap();
    let mut events = system.subscribe();
    system
        .signal_problem(AndonSignal::red("first"))
        .await
        .unwrap();
    while !matches!(
        events.recv().await.unwrap(),
        andon::SystemEvent::Diagnostics(_)
    ) {}
    system
        .signal_problem(AndonSignal::red("second"))
        .await
        .unwrap();
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        source.taken.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "a snapshot younger than a second serves the next RED"
    );
    system.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_storm_of_reds_shares_one_snapshot_at_a_time() {
    let source = std::sync::Arc::new(HeldSnapshots {
        taken: std::sync::atomic::AtomicUsize::new(0),
        // Old already, so the RED after the storm does not reuse it.
        age: Duration::from_secs(60),
        release: tokio::sync::Semaphore::new(0),
    });
    let config = quiet_config();
    let system = AndonSystem::builder()
        .with_config(config)
        .with_diagnostics(source.clone())
        .build()
        .await
        .unwrap();
    let mut events = system.subscribe();
    let taken = || source.taken.load(std::sync::atomic::Ordering::SeqCst);
    let settle = || async {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
    };
    for i in 0..100 {
        system
            .signal_problem(AndonSignal::red(format!("storm {i}")))
            .await
            .unwrap();
    }
    settle().await;
    assert_eq!(taken(), 1, "100 REDs while one snapshot is taken share it");

    // Once it is done, the next RED takes a new one.
    source.release.add_permits(1);
    loop {
        if let andon::SystemEvent::Diagnostics(report) = events.recv().await.unwrap() {
            assert_eq!(report.summary, "held");
            break;
        }
    }
    system
        .signal_problem(AndonSignal::red("after the storm"))
        .await
        .unwrap();
    settle().await;
    assert_eq!(taken(), 2);
    source.release.add_permits(1);
    system.shutdown().await.unwrap();
}
