//! The observer: measures on demand and on a schedule, judges health, raises signals when the
//! health changes and exports gauges.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, TryLockError};
use std::time::Duration;

use andon_core::config::{LineConfig, ObserverConfig};
use andon_core::{
    AndonError, DiagnosticsReport, DiagnosticsSource, Health, MetricsSink, SignalSink, async_trait,
};
use tokio::sync::{OnceCell, watch};

use crate::diagnostics::Diagnostics;
use crate::error::ObserveError;
use crate::judge::{HealthJudge, Readings};
use crate::probe::{Probe, Sections};

mod builder;
mod gauges;
mod schedule;

pub use builder::AndonObserverBuilder;
pub use gauges::GAUGES;
use schedule::ObserverHandle;

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
    shared: Arc<Shared>,
}

struct Core {
    probe: Box<dyn Probe>,
    judge: HealthJudge,
}

/// Everything an observer is, shared by its clones; its schedule holds it weakly.
struct Shared {
    config: ObserverConfig,
    sections: Sections,
    /// Whether the probe measures `sections` in a few microseconds ([`Probe::is_quick`]):
    /// checks then measure on the caller's task, not on a blocking thread.
    quick: bool,
    /// Where the gauges go, and whether their HELP texts were given.
    metrics: Option<(Arc<dyn MetricsSink>, Once)>,
    /// Where the schedule sends health changes (`None`: nowhere, the checks still run).
    signal_sink: Option<Arc<dyn SignalSink>>,
    /// The cores this process may run on, to turn its CPU percent of one core into a share.
    cores: f64,
    core: Mutex<Core>,
    warm: OnceCell<()>,
    /// The probe of reads that measure ([`AndonObserver::measure_now`]), apart from the
    /// judge's; `None` when the probe offers none.
    on_demand: Mutex<Option<Box<dyn Probe>>>,
    /// The latest check; its status and reasons are the health
    /// [`DiagnosticsSource::last_health`] answers. Receivers are woken only by the first
    /// check (what `first_check` waits for); later ones replace the value without waking
    /// anyone.
    latest: watch::Sender<Option<Arc<Diagnostics>>>,
    /// Schedules running ([`AndonObserver::start`]).
    schedules: AtomicUsize,
    /// The schedule [`AndonObserver::start`] started, stopped by a shutdown or with the last
    /// clone of the observer.
    schedule: Mutex<Option<ObserverHandle>>,
    checks: AtomicU64,
    check_failures: AtomicU64,
    signals_sent: AtomicU64,
    signal_failures: AtomicU64,
}

impl fmt::Debug for AndonObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AndonObserver")
            .field("sections", &self.shared.sections)
            .field(
                "check_interval_secs",
                &self.shared.config.check_interval_secs,
            )
            .field(
                "metrics",
                &self.shared.metrics.as_ref().map(|(sink, _)| sink),
            )
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
    /// An observer of `config` measuring with sysinfo, without sinks: the shorthand for
    /// `AndonObserver::builder(config).build()`. Cheap: nothing is read until the first check.
    ///
    /// # Errors
    ///
    /// As [`AndonObserverBuilder::build`].
    pub fn new(config: ObserverConfig) -> Result<Self, ObserveError> {
        Self::builder(config).build()
    }

    /// A builder for an observer of `config` (the `[observer]` section): a probe instead of
    /// sysinfo, the metrics sink its gauges go to and the signal sink health changes go to,
    /// then [`build`](AndonObserverBuilder::build). See [`andon_core::contract`] for the
    /// shape every component shares.
    pub fn builder(config: ObserverConfig) -> AndonObserverBuilder {
        AndonObserverBuilder::new(config)
    }

    /// Builds the observer from its checked parts.
    fn assemble(
        config: ObserverConfig,
        probe: Box<dyn Probe>,
        metrics: Option<Arc<dyn MetricsSink>>,
        signal_sink: Option<Arc<dyn SignalSink>>,
    ) -> Self {
        let on_demand = probe.on_demand();
        let sections = Sections::from_config(&config);
        AndonObserver {
            shared: Arc::new(Shared {
                quick: probe.is_quick(sections),
                sections,
                core: Mutex::new(Core {
                    probe,
                    judge: HealthJudge::new(&config),
                }),
                warm: OnceCell::new(),
                on_demand: Mutex::new(on_demand),
                latest: watch::channel(None).0,
                schedules: AtomicUsize::new(0),
                schedule: Mutex::new(None),
                checks: AtomicU64::new(0),
                check_failures: AtomicU64::new(0),
                signals_sent: AtomicU64::new(0),
                signal_failures: AtomicU64::new(0),
                config,
                metrics: metrics.map(|sink| (sink, Once::new())),
                signal_sink,
                #[allow(clippy::cast_precision_loss)] // a core count is far below 2^53
                cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            }),
        }
    }

    /// The sections being measured.
    pub fn sections(&self) -> Sections {
        self.shared.sections
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
    /// The blocking reads run on tokio's blocking pool, never on the async executor, unless the
    /// probe says they take only a few microseconds ([`Probe::is_quick`]: sysinfo's memory and
    /// CPU alone, with every optional section off), which cost less than handing them to
    /// another thread and back; those run on the caller's task while no other check is
    /// measuring.
    ///
    /// The first call takes a first sample and waits the backend's minimum interval (200 ms
    /// for sysinfo) before measuring, so that CPU percentages and rates are real from the
    /// start; later calls measure over the time since the previous call. Calls closer together than that minimum interval repeat the host CPU reading of the
    /// previous window (the backend cannot measure CPU over less).
    ///
    /// # Errors
    ///
    /// [`ObserveError::Interrupted`] when the measuring thread did not finish.
    pub async fn run_diagnostics(&self) -> Result<Diagnostics, ObserveError> {
        let sections = self.shared.sections;
        self.shared
            .warm
            .get_or_try_init(|| async {
                let wait = self
                    .with_core(move |core| core.probe.warm_up(sections))
                    .await?;
                tokio::time::sleep(wait).await;
                Ok::<(), ObserveError>(())
            })
            .await?;
        let shared = Arc::clone(&self.shared);
        let d = self
            .with_core(move |core| {
                let mut d = core.probe.measure(sections);
                let health = core.judge.judge(&Readings::from(&d));
                d.status = health.status;
                d.reasons = health.reasons;
                // Stored while the core is locked, so concurrent checks store in order.
                let latest = Arc::new(d.clone());
                // Only the first check wakes receivers: the one wait (`first_check`) is for the
                // first, and sees any later value when it looks. Later checks replace the value
                // without a wake-up nobody waits for.
                shared
                    .latest
                    .send_if_modified(|slot| slot.replace(latest).is_none());
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
        let sections = self.shared.sections;
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
        let period = Duration::from_secs(self.shared.config.check_interval_secs);
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
            details: d.to_json_capped(self.shared.config.snapshot_max_bytes),
        }
    }

    /// Runs `f` on the measuring state: on the caller's task when the probe measures quickly
    /// and no other check holds the state (no thread handoff), else on a blocking thread
    /// (inline outside a tokio runtime).
    async fn with_core<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> T + Send + 'static,
    ) -> Result<T, ObserveError> {
        let f = match self.try_inline(f) {
            Ok(done) => return done,
            Err(f) => f,
        };
        let shared = Arc::clone(&self.shared);
        self.run_blocking(move || f(&mut lock(&shared.core))).await
    }

    /// Runs `f` here and now when the probe is quick and the measuring state is free; hands
    /// `f` back otherwise. A panic in `f` is an [`ObserveError::Interrupted`], as it is on a
    /// blocking thread.
    fn try_inline<T, F: FnOnce(&mut Core) -> T>(&self, f: F) -> Result<Result<T, ObserveError>, F> {
        if !self.shared.quick {
            return Err(f);
        }
        let mut core = match self.shared.core.try_lock() {
            Ok(core) => core,
            // A panic while measuring leaves the state usable: the next sample overwrites it.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(f),
        };
        Ok(
            catch_unwind(AssertUnwindSafe(|| f(&mut core))).map_err(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("no message");
                ObserveError::Interrupted {
                    reason: format!("the measurement panicked: {message}"),
                }
            }),
        )
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
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while measuring leaves the state usable: the next sample overwrites it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl DiagnosticsSource for AndonObserver {
    /// A fresh [`measure_now`](AndonObserver::measure_now): the scheduled checks' window and
    /// health hold are left alone.
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError> {
        let d = self.measure_now().await?;
        Ok(self.report(&d))
    }

    /// The health of the [`latest`](AndonObserver::latest) check.
    fn last_health(&self) -> Option<Health> {
        self.latest().map(|d| Health {
            status: d.status,
            reasons: d.reasons.clone(),
        })
    }
}
