//! The observer: measures on demand and on a schedule, judges health, raises signals when the
//! health changes and exports gauges.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use andon_core::config::{LineConfig, ObserverConfig};
use andon_core::{
    AndonError, AndonSignal, DiagnosticsReport, DiagnosticsSource, Health, HealthStatus,
    MetricsSink, SignalSink, async_trait,
};
use tokio::sync::{OnceCell, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::diagnostics::{Diagnostics, Reading};
use crate::error::ObserveError;
use crate::judge::{HealthJudge, Readings};
use crate::probe::{Probe, Sections, SysinfoProbe};

/// The component name on signals and errors: the one `[line]` treats as host health.
const COMPONENT: &str = LineConfig::HOST_HEALTH_COMPONENT;

/// Runtime diagnostics of the host and this process, on demand and on a schedule.
///
/// Cheap to clone: clones share the measuring state (the previous sample CPU percentages and
/// rates are measured against, and the health levels that hysteresis remembers).
///
/// # Checks and reads
///
/// A *check* ([`run_diagnostics`](Self::run_diagnostics), what the schedule runs) measures with
/// the judge's probe, over the window since the previous check, judges the health, exports the
/// gauges and becomes the [`latest`](Self::latest) snapshot. A *read* never does any of that:
/// [`current`](Self::current) serves the latest scheduled check (its `taken_at` tells its
/// age), and [`measure_now`](Self::measure_now) (the [`DiagnosticsSource`] snapshot for a RED
/// or a critical alert) measures with a probe of its own. So a burst of reads cannot shorten the
/// CPU window the next check judges by, nor count as checks toward a health change.
#[derive(Clone)]
pub struct AndonObserver {
    config: Arc<ObserverConfig>,
    sections: Sections,
    shared: Arc<Shared>,
    metrics: Option<(Arc<dyn MetricsSink>, Arc<Once>)>,
    /// The cores this process may run on, to turn its CPU percent of one core into a share.
    cores: f64,
}

struct Core {
    probe: Box<dyn Probe>,
    judge: HealthJudge,
}

struct Shared {
    core: Mutex<Core>,
    warm: OnceCell<()>,
    /// The probe of reads that measure ([`AndonObserver::measure_now`]), apart from the
    /// judge's; `None` when the probe offers none.
    on_demand: Mutex<Option<Box<dyn Probe>>>,
    /// The latest check.
    latest: watch::Sender<Option<Arc<Diagnostics>>>,
    /// Schedules running ([`AndonObserver::start`]).
    schedules: AtomicUsize,
    last_health: Mutex<Option<Health>>,
    checks: AtomicU64,
    check_failures: AtomicU64,
    signals_sent: AtomicU64,
    signal_failures: AtomicU64,
}

impl fmt::Debug for AndonObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonObserver")
            .field("sections", &self.sections)
            .field("check_interval_secs", &self.config.check_interval_secs)
            .field("metrics", &self.metrics.as_ref().map(|(sink, _)| sink))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What the observer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObserverStats {
    /// Measurements taken, on demand and scheduled.
    pub checks: u64,
    /// Scheduled checks that could not measure (the measuring thread did not finish).
    pub check_failures: u64,
    /// Health signals the sink accepted.
    pub signals_sent: u64,
    /// Health signals the sink refused or did not take within a check interval; each is sent
    /// again at the next check while the status still differs.
    pub signal_failures: u64,
}

impl AndonObserver {
    /// An observer measuring with sysinfo. Cheap: nothing is read until the first check.
    ///
    /// # Errors
    ///
    /// [`ObserveError::Config`] when `config` is invalid, [`ObserveError::Unsupported`] when
    /// this platform cannot be observed.
    pub fn new(config: ObserverConfig) -> Result<Self, ObserveError> {
        config.validate("observer")?;
        let probe = SysinfoProbe::new()?;
        Self::with_probe(config, probe)
    }

    /// An observer reading from `probe` instead of sysinfo: for tests, simulations, or another
    /// backend.
    ///
    /// # Errors
    ///
    /// [`ObserveError::Config`] when `config` is invalid.
    pub fn with_probe(config: ObserverConfig, probe: impl Probe) -> Result<Self, ObserveError> {
        config.validate("observer")?;
        let on_demand = probe.on_demand();
        Ok(AndonObserver {
            sections: Sections::from_config(&config),
            shared: Arc::new(Shared {
                core: Mutex::new(Core {
                    probe: Box::new(probe),
                    judge: HealthJudge::new(&config),
                }),
                warm: OnceCell::new(),
                on_demand: Mutex::new(on_demand),
                latest: watch::channel(None).0,
                schedules: AtomicUsize::new(0),
                last_health: Mutex::new(None),
                checks: AtomicU64::new(0),
                check_failures: AtomicU64::new(0),
                signals_sent: AtomicU64::new(0),
                signal_failures: AtomicU64::new(0),
            }),
            config: Arc::new(config),
            metrics: None,
            #[allow(clippy::cast_precision_loss)] // a core count is far below 2^53
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
        })
    }

    /// Exports every reading as gauges through `sink` (`andon_host_memory_percent`,
    /// `andon_process_resident_memory_bytes`, …; see [`GAUGES`]), each described once, on
    /// every check. With the process section on, this includes `andon_memory_usage_bytes` (the
    /// resident memory) and `andon_cpu_usage_ratio` (the process's CPU as a share of the cores
    /// it may use), which the `[metrics.thresholds]` `memory_usage_mb` and `cpu_usage_percent`
    /// watch.
    #[must_use]
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some((sink, Arc::new(Once::new())));
        self
    }

    /// The sections being measured.
    pub fn sections(&self) -> Sections {
        self.sections
    }

    /// What the observer has done so far.
    pub fn stats(&self) -> ObserverStats {
        let s = &self.shared;
        ObserverStats {
            checks: s.checks.load(Ordering::Relaxed),
            check_failures: s.check_failures.load(Ordering::Relaxed),
            signals_sent: s.signals_sent.load(Ordering::Relaxed),
            signal_failures: s.signal_failures.load(Ordering::Relaxed),
        }
    }

    /// Runs a check: measures now with the judge's probe, judges the health, exports the gauges
    /// and keeps the result as the [`latest`](Self::latest) snapshot. This is what the schedule
    /// runs; while a schedule runs, read with [`current`](Self::current) or
    /// [`measure_now`](Self::measure_now) instead, which leave the next check's window and the
    /// health hold alone.
    ///
    /// The blocking reads run on tokio's blocking pool, never on the async executor. The first
    /// call takes a first sample and waits the backend's minimum interval (200 ms for sysinfo)
    /// before measuring, so that CPU percentages and rates are real from the start; later calls
    /// measure over the time since the previous call.
    /// Calls closer together than that minimum interval repeat the host CPU reading of the
    /// previous window (the backend cannot measure CPU over less).
    ///
    /// # Errors
    ///
    /// [`ObserveError::Interrupted`] when the measuring thread did not finish.
    pub async fn run_diagnostics(&self) -> Result<Diagnostics, ObserveError> {
        let sections = self.sections;
        self.shared
            .warm
            .get_or_try_init(|| async {
                let wait = self
                    .blocking(move |core| core.probe.warm_up(sections))
                    .await?;
                tokio::time::sleep(wait).await;
                Ok::<(), ObserveError>(())
            })
            .await?;
        let shared = Arc::clone(&self.shared);
        let d = self
            .blocking(move |core| {
                let mut d = core.probe.measure(sections);
                let health = core.judge.judge(&Readings::from(&d));
                d.status = health.status;
                d.reasons.clone_from(&health.reasons);
                // Stored while the core is locked, so concurrent checks store in order.
                *lock(&shared.last_health) = Some(health);
                shared.latest.send_replace(Some(Arc::new(d.clone())));
                d
            })
            .await?;
        self.shared.checks.fetch_add(1, Ordering::Relaxed);
        self.export(&d);
        Ok(d)
    }

    /// The latest check, without measuring: `None` before the first. Its `taken_at` tells how
    /// old it is (at most one `check_interval_secs` while a schedule runs).
    pub fn latest(&self) -> Option<Arc<Diagnostics>> {
        self.shared.latest.borrow().clone()
    }

    /// The snapshot to show a reader (an HTTP endpoint, a dashboard, a CLI): while a schedule
    /// runs, the latest scheduled check, so that reads are cheap and never touch what the next
    /// check judges; before the first check has finished, or without a schedule, a
    /// [`measure_now`](Self::measure_now).
    ///
    /// # Errors
    ///
    /// As [`measure_now`](Self::measure_now).
    pub async fn current(&self) -> Result<Arc<Diagnostics>, ObserveError> {
        if let (true, Some(latest)) = (
            self.shared.schedules.load(Ordering::Acquire) > 0,
            self.latest(),
        ) {
            return Ok(latest);
        }
        self.measure_now().await.map(Arc::new)
    }

    /// [`current`](Self::current) as the report other components see (summary, health, details
    /// capped at `snapshot_max_bytes`); `taken_at` tells its age.
    ///
    /// # Errors
    ///
    /// As [`measure_now`](Self::measure_now).
    pub async fn current_report(&self) -> Result<DiagnosticsReport, ObserveError> {
        let d = self.current().await?;
        Ok(self.report(&d))
    }

    /// Measures now without touching the checks: with the probe's own on-demand probe
    /// ([`Probe::on_demand`]; sysinfo has one), which takes a first sample and waits the
    /// backend's minimum interval so its CPU percentages cover the last moment; the health is
    /// what the judge would say of these readings, without the judge remembering them. The
    /// latest check, its window and the health hold stay as they were.
    ///
    /// With a probe that has no on-demand twin: a check when no schedule runs (nothing else
    /// judges), else the latest scheduled check, waiting up to one `check_interval_secs` for
    /// the first.
    ///
    /// # Errors
    ///
    /// [`ObserveError::Interrupted`] when the measuring thread did not finish, or no scheduled
    /// check finished in time.
    pub async fn measure_now(&self) -> Result<Diagnostics, ObserveError> {
        let sections = self.sections;
        let shared = Arc::clone(&self.shared);
        let wait = self
            .run_blocking(move || {
                lock(&shared.on_demand)
                    .as_mut()
                    .map(|probe| probe.warm_up(sections))
            })
            .await?;
        let Some(wait) = wait else {
            if self.shared.schedules.load(Ordering::Acquire) == 0 {
                return self.run_diagnostics().await;
            }
            return self.first_check().await.map(|d| (*d).clone());
        };
        self.shared.checks.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(wait).await;
        let shared = Arc::clone(&self.shared);
        self.run_blocking(move || {
            let mut d = lock(&shared.on_demand)
                .as_mut()
                .map_or_else(Diagnostics::empty, |probe| probe.measure(sections));
            // A copy of the judge: these readings neither advance the hold nor move the levels.
            let mut judge = lock(&shared.core).judge.clone();
            let health = judge.judge(&Readings::from(&d));
            d.status = health.status;
            d.reasons = health.reasons;
            d
        })
        .await
    }

    /// The latest check, waiting up to one interval for the first.
    async fn first_check(&self) -> Result<Arc<Diagnostics>, ObserveError> {
        let mut latest = self.shared.latest.subscribe();
        let period = Duration::from_secs(self.config.check_interval_secs);
        match tokio::time::timeout(period, latest.wait_for(Option::is_some)).await {
            Ok(Ok(d)) => d.clone().ok_or_else(|| ObserveError::Interrupted {
                reason: "no check has finished yet".to_owned(),
            }),
            _ => Err(ObserveError::Interrupted {
                reason: format!("no scheduled check finished within {period:?}"),
            }),
        }
    }

    fn report(&self, d: &Diagnostics) -> DiagnosticsReport {
        DiagnosticsReport {
            taken_at: d.taken_at,
            health: Health {
                status: d.status,
                reasons: d.reasons.clone(),
            },
            summary: d.summary(),
            details: d.to_json_capped(self.config.snapshot_max_bytes),
        }
    }

    /// Runs `f` on the measuring state on a blocking thread (inline outside a tokio runtime).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> T + Send + 'static,
    ) -> Result<T, ObserveError> {
        let shared = Arc::clone(&self.shared);
        self.run_blocking(move || f(&mut lock(&shared.core))).await
    }

    /// Runs `run` on a blocking thread (inline outside a tokio runtime).
    async fn run_blocking<T: Send + 'static>(
        &self,
        run: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ObserveError> {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime
                    .spawn_blocking(run)
                    .await
                    .map_err(|e| ObserveError::Interrupted {
                        reason: e.to_string(),
                    })
            }
            Err(_) => Ok(run()),
        }
    }

    /// Starts checking every `check_interval_secs` on the current tokio runtime.
    ///
    /// Checks keep to a fixed grid (the first at once, then every interval from the start): a
    /// slow check does not shift the later ones, and a check missed because the previous one
    /// ran long is skipped rather than run in a burst (`MissedTickBehavior::Skip`).
    ///
    /// When the health worsens the observer sends `sink` a YELLOW (Degraded) or RED (Critical)
    /// signal with the reasons; when it recovers, a GREEN one; nothing while it stays the same.
    /// A signal the sink refuses, or does not take within one interval, is counted in
    /// [`ObserverStats::signal_failures`] and sent again at the next check.
    ///
    /// The checks stop when the handle is stopped or dropped. When `enabled` is false in the
    /// configuration, or outside a tokio runtime, no checks run and the handle is already
    /// finished.
    #[must_use = "the checks stop when the handle is dropped"]
    pub fn start(&self, sink: Arc<dyn SignalSink>) -> ObserverHandle {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.config.enabled => runtime,
            _ => {
                return ObserverHandle {
                    stop: None,
                    task: None,
                };
            }
        };
        let (stop, mut stopped) = oneshot::channel::<()>();
        let observer = self.clone();
        let period = Duration::from_secs(self.config.check_interval_secs);
        let running = Running::new(&self.shared);
        let task = runtime.spawn(async move {
            // Counted while the task lives, however it ends (stopped, or aborted on drop).
            let _running = running;
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut reported = HealthStatus::Healthy;
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {}
                }
                observer
                    .scheduled_check(sink.as_ref(), &mut reported, period)
                    .await;
            }
        });
        ObserverHandle {
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn scheduled_check(
        &self,
        sink: &dyn SignalSink,
        reported: &mut HealthStatus,
        period: Duration,
    ) {
        let d = match self.run_diagnostics().await {
            Ok(d) => d,
            Err(_) => {
                self.shared.check_failures.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        if d.status == *reported {
            return;
        }
        let signal = health_signal(&d, *reported);
        match tokio::time::timeout(period, sink.on_signal(&signal)).await {
            Ok(Ok(())) => {
                *reported = d.status;
                self.shared.signals_sent.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(_)) | Err(_) => {
                self.shared.signal_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn export(&self, d: &Diagnostics) {
        let Some((sink, described)) = &self.metrics else {
            return;
        };
        described.call_once(|| {
            for (name, help) in GAUGES {
                sink.describe(name, help);
            }
        });
        let set = |name: &str, value: f64| {
            if value.is_finite() {
                sink.set_gauge(name, &[], value);
            }
        };
        set("andon_host_memory_percent", d.memory_percent);
        set("andon_host_cpu_percent", d.cpu_percent);
        set("andon_health_status", health_value(d.status));
        if let Some(Reading::Available(s)) = &d.system {
            if let Some(swap) = s.swap_percent {
                set("andon_host_swap_percent", swap);
            }
            if let Some(load) = s.load_average.available() {
                set("andon_host_load1", load.one);
            }
            set("andon_host_processes", s.process_count as f64);
        }
        if let Some(Reading::Available(p)) = &d.process {
            set("andon_process_resident_memory_bytes", p.rss_bytes as f64);
            // The gauges `[metrics.thresholds]` memory_usage_mb and cpu_usage_percent watch.
            set("andon_memory_usage_bytes", p.rss_bytes as f64);
            if let Some(cpu) = p.cpu_percent {
                set("andon_process_cpu_percent", cpu);
                set("andon_cpu_usage_ratio", cpu / 100.0 / self.cores);
            }
            if let Some(threads) = p.threads {
                set("andon_process_threads", threads as f64);
            }
            if let Some(fds) = p.open_fds {
                set("andon_process_open_fds", fds as f64);
            }
        }
        if let Some(Reading::Available(interfaces)) = &d.network {
            for i in interfaces {
                let labels = [("interface", i.interface.as_str())];
                sink.set_gauge(
                    "andon_host_network_receive_bytes_per_second",
                    &labels,
                    i.rx_bytes_per_sec,
                );
                sink.set_gauge(
                    "andon_host_network_transmit_bytes_per_second",
                    &labels,
                    i.tx_bytes_per_sec,
                );
            }
        }
        if let Some(Reading::Available(mounts)) = &d.disks {
            for m in mounts {
                sink.set_gauge(
                    "andon_host_disk_used_percent",
                    &[("mount", m.mount_point.as_str())],
                    m.used_percent,
                );
            }
        }
    }
}

/// The gauges the observer exports, with their HELP text.
pub const GAUGES: [(&str, &str); 15] = [
    (
        "andon_host_memory_percent",
        "Memory in use on the host, percent of total.",
    ),
    (
        "andon_host_cpu_percent",
        "CPU in use on the host over the last check interval, percent of all cores.",
    ),
    (
        "andon_health_status",
        "Health judged by the observer: 0 healthy, 1 degraded, 2 critical.",
    ),
    (
        "andon_host_swap_percent",
        "Swap in use on the host, percent of total.",
    ),
    (
        "andon_host_load1",
        "Load average of the host over one minute.",
    ),
    ("andon_host_processes", "Processes running on the host."),
    (
        "andon_process_resident_memory_bytes",
        "Resident memory of this process in bytes.",
    ),
    (
        "andon_process_cpu_percent",
        "CPU used by this process over the last check interval, percent of one core.",
    ),
    ("andon_process_threads", "Threads of this process."),
    (
        "andon_process_open_fds",
        "Open file descriptors of this process.",
    ),
    (
        "andon_host_network_receive_bytes_per_second",
        "Bytes received per second by a network interface.",
    ),
    (
        "andon_host_network_transmit_bytes_per_second",
        "Bytes sent per second by a network interface.",
    ),
    (
        "andon_host_disk_used_percent",
        "Space in use on a mounted file system, percent of its size.",
    ),
    (
        "andon_memory_usage_bytes",
        "Memory used by the process, in bytes.",
    ),
    (
        "andon_cpu_usage_ratio",
        "CPU used by the process, from 0 to 1.",
    ),
];

fn health_value(status: HealthStatus) -> f64 {
    match status {
        HealthStatus::Healthy => 0.0,
        HealthStatus::Degraded => 1.0,
        HealthStatus::Critical => 2.0,
    }
}

/// The signal for a change of health from `before` to `d.status`.
fn health_signal(d: &Diagnostics, before: HealthStatus) -> AndonSignal {
    let signal = match d.status {
        HealthStatus::Healthy => AndonSignal::green(format!(
            "host health recovered: memory {:.1}%, cpu {:.1}%",
            d.memory_percent, d.cpu_percent
        )),
        HealthStatus::Degraded => {
            AndonSignal::yellow(format!("host health degraded: {}", d.reasons.join("; ")))
        }
        HealthStatus::Critical => {
            AndonSignal::red(format!("host health critical: {}", d.reasons.join("; ")))
        }
    };
    let mut signal = signal
        .with_component(COMPONENT)
        .with_timestamp(d.taken_at)
        .with_attribute("health_status", format!("{:?}", d.status))
        .with_attribute("previous_health_status", format!("{before:?}"))
        .with_attribute("reasons", d.reasons.clone());
    for (key, value) in [
        ("memory_percent", d.memory_percent),
        ("cpu_percent", d.cpu_percent),
    ] {
        if value.is_finite() {
            signal = signal.with_attribute(key, value);
        }
    }
    signal
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while measuring leaves the state usable: the next sample overwrites it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marks a schedule as running for as long as it lives.
struct Running(Arc<Shared>);

impl Running {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.schedules.fetch_add(1, Ordering::AcqRel);
        Running(Arc::clone(shared))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.schedules.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl DiagnosticsSource for AndonObserver {
    /// A fresh [`measure_now`](AndonObserver::measure_now): the scheduled checks' window and
    /// health hold are left alone.
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError> {
        let d = self.measure_now().await?;
        Ok(self.report(&d))
    }

    fn last_health(&self) -> Option<Health> {
        lock(&self.shared.last_health).clone()
    }
}

/// The scheduled checks started by [`AndonObserver::start`]. Dropping it stops them.
#[derive(Debug)]
pub struct ObserverHandle {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ObserverHandle {
    /// Stops the checks, letting a check in progress finish, and waits until they have stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Whether the checks have stopped (or never started).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for ObserverHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
