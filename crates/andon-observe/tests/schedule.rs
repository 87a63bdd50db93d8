//! The schedule, the signals and the gauges, with readings injected through a scripted probe
//! and tokio's paused clock: no real time passes and nothing depends on the host.
// Helpers outside #[test] functions may unwrap too: a failure should stop the test right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_core::config::ObserverConfig;
use andon_core::{
    AndonError, AndonSignal, Color, DiagnosticsSource, HealthStatus, MetricsSink, SignalSink,
    async_trait,
};
use andon_observe::{AndonObserver, Diagnostics, Probe, Sections};
use tokio::time::{Instant, sleep_until};

/// Returns the scripted memory percentages in turn (the last one once the script runs out).
#[derive(Debug, Clone, Default)]
struct Scripted {
    memory: Arc<Mutex<VecDeque<f64>>>,
    calls: Arc<AtomicUsize>,
    /// The probe it offers for measurements on demand, if any.
    twin: Option<Box<Scripted>>,
}

impl Scripted {
    fn new(memory: &[f64]) -> Self {
        Scripted {
            memory: Arc::new(Mutex::new(memory.iter().copied().collect())),
            calls: Arc::default(),
            twin: None,
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Probe for Scripted {
    fn measure(&mut self, _sections: Sections) -> Diagnostics {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut script = self.memory.lock().unwrap();
        let memory = if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script[0]
        };
        let mut d = Diagnostics::empty();
        d.memory_percent = memory;
        d.cpu_percent = 10.0;
        d
    }

    fn on_demand(&self) -> Option<Box<dyn Probe>> {
        self.twin.clone().map(|twin| twin as Box<dyn Probe>)
    }
}

#[derive(Debug, Default)]
struct Recorder {
    signals: Mutex<Vec<AndonSignal>>,
    /// Refuse this many signals before accepting.
    refuse: AtomicUsize,
    /// Never answer.
    hang: bool,
}

#[async_trait]
impl SignalSink for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        if self.refuse.load(Ordering::SeqCst) > 0 {
            self.refuse.fetch_sub(1, Ordering::SeqCst);
            return Err(AndonError::component("recorder", "refused"));
        }
        self.signals.lock().unwrap().push(signal.clone());
        Ok(())
    }
}

impl Recorder {
    fn colors(&self) -> Vec<Color> {
        self.signals
            .lock()
            .unwrap()
            .iter()
            .map(AndonSignal::color)
            .collect()
    }
}

/// Every health change taken at once (no hold), checks every minute.
fn config() -> ObserverConfig {
    ObserverConfig {
        check_interval_secs: 60,
        health_hold_checks: 1,
        ..ObserverConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn a_health_status_holds_for_two_checks_before_it_is_signalled() {
    // The default hold: two consecutive checks must agree. Critical level 95.
    let script = [97.0, 50.0, 97.0, 97.0, 97.0, 50.0, 50.0];
    let probe = Scripted::new(&script);
    let config = ObserverConfig {
        health_hold_checks: 2,
        ..config()
    };
    let sink = Arc::new(Recorder::default());
    let observer = AndonObserver::builder(config)
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();

    sleep_until(start + Duration::from_secs(60 * 2 + 1)).await;
    assert_eq!(probe.calls(), 3);
    assert_eq!(
        sink.colors(),
        [],
        "one sample at 97% (twice, apart) is not critical"
    );
    sleep_until(start + Duration::from_secs(60 * 3 + 1)).await;
    assert_eq!(sink.colors(), [Color::Red], "the second 97% in a row");
    sleep_until(start + Duration::from_secs(60 * 5 + 1)).await;
    assert_eq!(
        sink.colors(),
        [Color::Red],
        "one quiet check does not end it"
    );
    sleep_until(start + Duration::from_secs(60 * 6 + 1)).await;
    assert_eq!(sink.colors(), [Color::Red, Color::Green]);
    let signals = sink.signals.lock().unwrap().clone();
    assert_eq!(
        signals[0].message(),
        "host health critical: memory 97.0% is above the critical level 95%"
    );
}

#[tokio::test(start_paused = true)]
async fn reads_between_checks_neither_measure_nor_count_toward_the_hold() {
    // If reads were checks, the 97% they would measure would make the host critical at once.
    let probe = Scripted::new(&[97.0, 97.0, 10.0]);
    let config = ObserverConfig {
        health_hold_checks: 2,
        ..config()
    };
    let sink = Arc::new(Recorder::default());
    let observer = AndonObserver::builder(config)
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(1)).await;
    let first = observer.latest().expect("the first check");
    assert_eq!(first.memory_percent, 97.0);

    for _ in 0..100 {
        let read = observer.current().await.unwrap();
        assert_eq!(
            read.taken_at, first.taken_at,
            "the latest check, not a new one"
        );
        let report = observer.snapshot().await.unwrap();
        assert_eq!(report.taken_at, first.taken_at);
        assert_eq!(report.health.status, HealthStatus::Healthy);
        let now = observer.measure_now().await.unwrap();
        assert_eq!(now.taken_at, first.taken_at);
    }
    assert_eq!(probe.calls(), 1, "no read touched the judge's probe");
    assert_eq!(sink.colors(), []);

    sleep_until(start + Duration::from_secs(61)).await;
    assert_eq!(probe.calls(), 2);
    assert_eq!(
        sink.colors(),
        [Color::Red],
        "the second scheduled check is the second that agrees"
    );
    assert!(observer.latest().unwrap().taken_at > first.taken_at);
}

#[tokio::test(start_paused = true)]
async fn a_probe_with_an_on_demand_twin_measures_fresh_without_touching_the_checks() {
    let mut probe = Scripted::new(&[50.0, 60.0]);
    let twin = Scripted::new(&[99.0]);
    probe.twin = Some(Box::new(twin.clone()));
    let sink = Arc::new(Recorder::default());
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(1)).await;

    for _ in 0..10 {
        // A RED's snapshot measures now, with the twin.
        let report = observer.snapshot().await.unwrap();
        assert!(
            report.summary.contains("memory 99.0%"),
            "{}",
            report.summary
        );
        // A reader gets the latest check.
        assert_eq!(observer.current().await.unwrap().memory_percent, 50.0);
    }
    assert_eq!((probe.calls(), twin.calls()), (1, 10));
    assert_eq!(
        observer.last_health().unwrap().status,
        HealthStatus::Healthy,
        "the fresh readings were judged on a copy of the judge"
    );
    assert_eq!(sink.colors(), []);
    sleep_until(start + Duration::from_secs(61)).await;
    assert_eq!(observer.latest().unwrap().memory_percent, 60.0);
    assert_eq!(sink.colors(), []);
}

#[tokio::test(start_paused = true)]
async fn checks_fire_on_the_configured_interval_and_stop_at_shutdown() {
    let probe = Scripted::new(&[10.0]);
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(Arc::new(Recorder::default()))
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();

    let mut seen = Vec::new();
    for secs in [1, 59, 61, 119, 121, 181] {
        sleep_until(start + Duration::from_secs(secs)).await;
        seen.push((secs, probe.calls()));
    }
    // The first check at once, then one at 60, 120 and 180 seconds.
    assert_eq!(
        seen,
        [(1, 1), (59, 1), (61, 2), (119, 2), (121, 3), (181, 4)]
    );
    assert_eq!(observer.stats().checks, 4);

    assert!(
        observer
            .shutdown(Duration::from_secs(5))
            .await
            .is_complete()
    );
    sleep_until(start + Duration::from_secs(600)).await;
    assert_eq!(probe.calls(), 4, "no check after stop");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_observer_stops_the_checks() {
    let probe = Scripted::new(&[10.0]);
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(Arc::new(Recorder::default()))
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(1)).await;
    assert!(observer.is_checking());
    drop(observer);
    sleep_until(start + Duration::from_secs(600)).await;
    assert_eq!(probe.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn signals_are_sent_when_health_changes_not_on_every_check() {
    // Thresholds 80 (warning) and 95 (critical), hysteresis 5.
    let script = [50.0, 85.0, 85.0, 97.0, 92.0, 91.0, 70.0, 70.0];
    let probe = Scripted::new(&script);
    let sink = Arc::new(Recorder::default());
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(60 * 7 + 1)).await;

    assert_eq!(probe.calls(), 8);
    assert_eq!(sink.colors(), [Color::Yellow, Color::Red, Color::Green]);
    let signals = sink.signals.lock().unwrap().clone();
    assert_eq!(
        signals[0].message(),
        "host health degraded: memory 85.0% is above the warning level 80%"
    );
    assert_eq!(signals[0].component(), Some("observer"));
    assert_eq!(
        signals[1].attributes()["previous_health_status"],
        "Degraded"
    );
    assert_eq!(
        signals[2].message(),
        "host health recovered: memory 70.0%, cpu 10.0%"
    );
    assert_eq!(observer.stats().signals_sent, 3);
    assert_eq!(
        observer.last_health().unwrap().status,
        HealthStatus::Healthy
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_signal_is_counted_and_sent_again_at_the_next_check() {
    let probe = Scripted::new(&[90.0]);
    let sink = Arc::new(Recorder {
        refuse: AtomicUsize::new(1),
        ..Recorder::default()
    });
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(1)).await;
    assert_eq!(sink.colors(), []);
    assert_eq!(observer.stats().signal_failures, 1);
    sleep_until(start + Duration::from_secs(121)).await;
    assert_eq!(
        sink.colors(),
        [Color::Yellow],
        "sent once, at the second check"
    );
    assert_eq!(observer.stats().signals_sent, 1);
}

#[tokio::test(start_paused = true)]
async fn a_sink_that_never_answers_does_not_stop_the_checks() {
    let probe = Scripted::new(&[90.0]);
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(Arc::new(Recorder {
            hang: true,
            ..Recorder::default()
        }))
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    sleep_until(start + Duration::from_secs(60 * 5 + 1)).await;
    // Each signal times out after one interval; the grid skips the tick it missed.
    assert!(probe.calls() >= 3, "checks go on: {}", probe.calls());
    assert!(
        observer.stats().signal_failures >= 2,
        "{:?}",
        observer.stats()
    );
}

#[tokio::test(start_paused = true)]
async fn a_disabled_observer_starts_no_checks() {
    let probe = Scripted::new(&[10.0]);
    let config = ObserverConfig {
        enabled: false,
        ..config()
    };
    let observer = AndonObserver::builder(config)
        .with_probe(probe.clone())
        .with_signal_sink(Arc::new(Recorder::default()))
        .build()
        .unwrap();
    observer.start();
    assert!(!observer.is_checking());
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(probe.calls(), 0);
}

/// A gauge write: name, labels, value.
type GaugeWrite = (String, Vec<(String, String)>, f64);

#[derive(Debug, Default)]
struct Gauges {
    set: Mutex<Vec<GaugeWrite>>,
    described: Mutex<Vec<String>>,
}

impl MetricsSink for Gauges {
    fn set_gauge(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.set
            .lock()
            .unwrap()
            .push((name.to_owned(), labels, value));
    }

    fn describe(&self, name: &str, _help: &str) {
        self.described.lock().unwrap().push(name.to_owned());
    }
}

impl Gauges {
    fn last(&self, name: &str) -> Option<f64> {
        self.set
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, v)| *v)
    }
}

#[tokio::test(start_paused = true)]
async fn readings_are_exported_as_described_gauges() {
    let gauges = Arc::new(Gauges::default());
    let observer = AndonObserver::builder(config())
        .with_probe(Scripted::new(&[42.0, 85.0]))
        .with_metrics_sink(gauges.clone())
        .build()
        .unwrap();
    observer.run_diagnostics().await.unwrap();
    assert_eq!(gauges.last("andon_host_memory_percent"), Some(42.0));
    assert_eq!(gauges.last("andon_health_status"), Some(0.0));
    observer.run_diagnostics().await.unwrap();
    assert_eq!(gauges.last("andon_host_memory_percent"), Some(85.0));
    assert_eq!(gauges.last("andon_health_status"), Some(1.0));
    let described = gauges.described.lock().unwrap().clone();
    assert_eq!(
        described
            .iter()
            .filter(|n| *n == "andon_host_memory_percent")
            .count(),
        1,
        "described once"
    );
    assert_eq!(described.len(), andon_observe::GAUGES.len());
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_carries_health_summary_and_capped_details() {
    let config = ObserverConfig {
        snapshot_max_bytes: 256,
        ..config()
    };
    let observer = AndonObserver::builder(config)
        .with_probe(Scripted::new(&[97.0]))
        .build()
        .unwrap();
    assert_eq!(
        observer.last_health(),
        None,
        "nothing judged before the first check"
    );
    let report = observer.snapshot().await.unwrap();
    assert_eq!(report.health.status, HealthStatus::Critical);
    assert_eq!(
        report.health.reasons,
        ["memory 97.0% is above the critical level 95%"]
    );
    assert_eq!(
        report.summary,
        "critical: memory 97.0%, cpu 10.0% (memory 97.0% is above the critical level 95%)"
    );
    assert!(serde_json::to_string(&report.details).unwrap().len() <= 256);
    assert_eq!(report.details["status"], "Critical");
    assert_eq!(observer.last_health(), Some(report.health));
}

/// Takes ten seconds to accept each signal.
#[derive(Debug, Default)]
struct Slow {
    accepted: AtomicUsize,
}

#[async_trait]
impl SignalSink for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.accepted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn slow_checks_do_not_shift_the_schedule() {
    // Every check changes the health, so every check waits ten seconds for the sink.
    let probe = Scripted::new(&[85.0, 10.0, 85.0, 10.0, 85.0]);
    let sink = Arc::new(Slow::default());
    let observer = AndonObserver::builder(config())
        .with_probe(probe.clone())
        .with_signal_sink(sink.clone())
        .build()
        .unwrap();
    let start = Instant::now();
    observer.start();
    let mut seen = Vec::new();
    for secs in [59, 61, 119, 121, 179, 181] {
        sleep_until(start + Duration::from_secs(secs)).await;
        seen.push((secs, probe.calls()));
    }
    // On the grid 0, 60, 120, 180: a loop sleeping 60 s after each check would drift to
    // 0, 70, 140, 210.
    assert_eq!(
        seen,
        [(59, 1), (61, 2), (119, 2), (121, 3), (179, 3), (181, 4)]
    );
    sleep_until(start + Duration::from_secs(191)).await;
    assert_eq!(sink.accepted.load(Ordering::SeqCst), 4);
}

/// Blocks in `measure` until an async task on the same runtime answers.
#[derive(Debug)]
struct WaitsForTheExecutor {
    started: Option<tokio::sync::oneshot::Sender<()>>,
    answer: std::sync::mpsc::Receiver<()>,
    answered: Arc<std::sync::atomic::AtomicBool>,
}

impl Probe for WaitsForTheExecutor {
    fn measure(&mut self, _sections: Sections) -> Diagnostics {
        if let Some(started) = self.started.take() {
            started.send(()).unwrap();
        }
        let got = self.answer.recv_timeout(Duration::from_secs(10)).is_ok();
        self.answered.store(got, Ordering::SeqCst);
        let mut d = Diagnostics::empty();
        d.memory_percent = 1.0;
        d.cpu_percent = 1.0;
        d
    }
}

#[tokio::test(flavor = "current_thread")]
async fn measuring_never_blocks_the_async_executor() {
    // On a single-threaded runtime, the answering task can only run while the measurement
    // waits if the measurement is off the executor thread.
    let (tx, rx) = std::sync::mpsc::channel();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = WaitsForTheExecutor {
        started: Some(started_tx),
        answer: rx,
        answered: answered.clone(),
    };
    let observer = AndonObserver::builder(config())
        .with_probe(probe)
        .build()
        .unwrap();
    let answer = tokio::spawn(async move {
        // Answer only once the measurement is waiting.
        started.await.unwrap();
        tx.send(()).unwrap();
    });
    observer.run_diagnostics().await.unwrap();
    answer.await.unwrap();
    assert!(
        answered.load(Ordering::SeqCst),
        "the async task could not run during the measurement"
    );
}
