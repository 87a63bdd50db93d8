//! Health from thresholds, with hysteresis and a hold: a pure judge fed readings, so the rules
//! can be tested with any values.

use std::collections::{BTreeMap, VecDeque};

use andon_core::config::ObserverConfig;
use andon_core::{Health, HealthStatus};

use crate::diagnostics::{Diagnostics, Reading};

/// The values health is judged on, taken from a [`Diagnostics`] or made up in a test.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Readings {
    /// Memory in use, percent of total.
    pub memory_percent: Option<f64>,
    /// CPU in use, percent of all cores.
    pub cpu_percent: Option<f64>,
    /// Use per mount point, percent.
    pub disks: Vec<(String, f64)>,
    /// Open file descriptors of this process.
    pub open_fds: Option<u64>,
}

impl From<&Diagnostics> for Readings {
    fn from(d: &Diagnostics) -> Self {
        Readings {
            memory_percent: Some(d.memory_percent).filter(|v| v.is_finite()),
            cpu_percent: Some(d.cpu_percent).filter(|v| v.is_finite()),
            disks: match &d.disks {
                Some(Reading::Available(mounts)) => mounts
                    .iter()
                    .map(|m| (m.mount_point.clone(), m.used_percent))
                    .collect(),
                _ => Vec::new(),
            },
            open_fds: d
                .process
                .as_ref()
                .and_then(Reading::available)
                .and_then(|p| p.open_fds),
        }
    }
}

/// The warning and critical levels of one value, and how far below a level the value must
/// fall before the status drops.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Limits {
    warning: Option<f64>,
    critical: Option<f64>,
    hysteresis: f64,
}

impl Limits {
    fn active(&self) -> bool {
        self.warning.is_some() || self.critical.is_some()
    }

    /// The level of `value` with every limit lowered by `slack`.
    fn level(&self, value: f64, slack: f64) -> HealthStatus {
        let above = |limit: Option<f64>| limit.is_some_and(|l| value > l - slack);
        if above(self.critical) {
            HealthStatus::Critical
        } else if above(self.warning) {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        }
    }

    /// The next level from `current`: up as soon as a level is passed, down only once the value
    /// is `hysteresis` below it.
    fn next(&self, current: HealthStatus, value: f64) -> HealthStatus {
        let raw = self.level(value, 0.0);
        if raw >= current {
            raw
        } else {
            self.level(value, self.hysteresis).min(current)
        }
    }

    fn limit_of(&self, status: HealthStatus) -> Option<f64> {
        match status {
            HealthStatus::Healthy => None,
            HealthStatus::Degraded => self.warning,
            HealthStatus::Critical => self.critical,
        }
    }
}

/// Judges health from readings against the `[observer]` thresholds, remembering the level of
/// each value so that a value at the edge does not flap.
///
/// A value raises its level as soon as it is above the warning or critical level, and lowers
/// it only once it is `hysteresis_percent` points below that level (for file descriptors,
/// `hysteresis_percent` percent of the level).
///
/// The status the judge gives then holds, like a Prometheus rule's `for`: it worsens only once
/// the last `health_hold_checks` judgements were all at least that bad, and improves only once
/// they were all at most that good. With the default of 2, one CPU sample at 100% is not a
/// critical host.
///
/// ```
/// use andon_core::config::ObserverConfig;
/// use andon_core::HealthStatus;
/// use andon_observe::{HealthJudge, Readings};
///
/// // warn 80, critical 95, hysteresis 5, two checks must agree
/// let mut judge = HealthJudge::new(&ObserverConfig::default());
/// let memory = |v| Readings { memory_percent: Some(v), ..Readings::default() };
/// assert_eq!(judge.judge(&memory(81.0)).status, HealthStatus::Healthy); // one check is not enough
/// assert_eq!(judge.judge(&memory(81.0)).status, HealthStatus::Degraded);
/// assert_eq!(judge.judge(&memory(79.0)).status, HealthStatus::Degraded); // not yet below 75
/// assert_eq!(judge.judge(&memory(74.0)).status, HealthStatus::Degraded); // held
/// assert_eq!(judge.judge(&memory(74.0)).status, HealthStatus::Healthy);
/// ```
#[derive(Debug, Clone)]
pub struct HealthJudge {
    memory: Limits,
    cpu: Limits,
    disk: Limits,
    fds: Limits,
    memory_level: HealthStatus,
    cpu_level: HealthStatus,
    disk_levels: BTreeMap<String, HealthStatus>,
    fd_level: HealthStatus,
    /// How many consecutive judgements must agree before the status changes (at least 1).
    hold: usize,
    /// The status last given.
    status: HealthStatus,
    /// The statuses of the last `hold` judgements before holding, newest last.
    recent: VecDeque<HealthStatus>,
}

impl HealthJudge {
    /// A judge with the thresholds of `config`, every value starting healthy.
    pub fn new(config: &ObserverConfig) -> Self {
        let h = config.hysteresis_percent;
        let count = |v: Option<u64>| v.map(|v| v as f64);
        let fd_hysteresis = config
            .fd_threshold
            .or(config.fd_critical)
            .map_or(0.0, |level| level as f64 * h / 100.0);
        HealthJudge {
            memory: Limits {
                warning: Some(config.memory_threshold_percent),
                critical: Some(config.memory_critical_percent),
                hysteresis: h,
            },
            cpu: Limits {
                warning: Some(config.cpu_threshold_percent),
                critical: Some(config.cpu_critical_percent),
                hysteresis: h,
            },
            disk: Limits {
                warning: config.disk_threshold_percent,
                critical: config.disk_critical_percent,
                hysteresis: h,
            },
            fds: Limits {
                warning: count(config.fd_threshold),
                critical: count(config.fd_critical),
                hysteresis: fd_hysteresis,
            },
            memory_level: HealthStatus::Healthy,
            cpu_level: HealthStatus::Healthy,
            disk_levels: BTreeMap::new(),
            fd_level: HealthStatus::Healthy,
            hold: usize::try_from(config.health_hold_checks)
                .unwrap_or(usize::MAX)
                .max(1),
            status: HealthStatus::Healthy,
            recent: VecDeque::new(),
        }
    }

    /// The status to give now that the levels say `now`: the last `hold` judgements must all
    /// be at least as bad (to worsen) or at most as bad (to improve) as the new status.
    fn held(&mut self, now: HealthStatus) -> HealthStatus {
        if self.recent.len() == self.hold {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        if self.recent.len() < self.hold {
            return self.status;
        }
        let (Some(least), Some(most)) = (self.recent.iter().min(), self.recent.iter().max()) else {
            return self.status;
        };
        if *least > self.status {
            self.status = *least;
        } else if *most < self.status {
            self.status = *most;
        }
        self.status
    }

    /// Judges `readings`, updating the remembered levels. A reading that is missing leaves
    /// its value out of the judgement (it is reported unavailable in the snapshot instead).
    pub fn judge(&mut self, readings: &Readings) -> Health {
        let mut reasons = Vec::new();
        let mut status = HealthStatus::Healthy;
        let mut take = |level: HealthStatus, reason: Option<String>| {
            status = status.max(level);
            reasons.extend(reason);
        };

        if let Some(v) = readings.memory_percent {
            self.memory_level = self.memory.next(self.memory_level, v);
            take(
                self.memory_level,
                reason("memory", v, &self.memory, self.memory_level, Unit::Percent),
            );
        }
        if let Some(v) = readings.cpu_percent {
            self.cpu_level = self.cpu.next(self.cpu_level, v);
            take(
                self.cpu_level,
                reason("cpu", v, &self.cpu, self.cpu_level, Unit::Percent),
            );
        }
        if self.disk.active() {
            let mut levels = BTreeMap::new();
            for (mount, v) in &readings.disks {
                let before = self
                    .disk_levels
                    .get(mount)
                    .copied()
                    .unwrap_or(HealthStatus::Healthy);
                let level = self.disk.next(before, *v);
                let what = format!("disk {mount}");
                take(level, reason(&what, *v, &self.disk, level, Unit::Percent));
                levels.insert(mount.clone(), level);
            }
            self.disk_levels = levels;
        }
        if let (true, Some(v)) = (self.fds.active(), readings.open_fds) {
            self.fd_level = self.fds.next(self.fd_level, v as f64);
            let why = reason(
                "open file descriptors",
                v as f64,
                &self.fds,
                self.fd_level,
                Unit::Count,
            );
            take(self.fd_level, why);
        }
        let held = self.held(status);
        if held == HealthStatus::Healthy {
            // Healthy has no reasons, even while a worse status waits for its hold.
            reasons.clear();
        } else if held != status {
            reasons.push(format!(
                "{} until {} consecutive checks agree (this one: {})",
                status_word(held),
                self.hold,
                status_word(status)
            ));
        }
        Health {
            status: held,
            reasons,
        }
    }
}

fn status_word(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Healthy => "healthy",
        HealthStatus::Degraded => "degraded",
        HealthStatus::Critical => "critical",
    }
}

#[derive(Clone, Copy)]
enum Unit {
    Percent,
    Count,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v:.1}%"),
            Unit::Count => format!("{v:.0}"),
        }
    }

    fn limit(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{v}%"),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

fn reason(
    what: &str,
    value: f64,
    limits: &Limits,
    level: HealthStatus,
    unit: Unit,
) -> Option<String> {
    let limit = limits.limit_of(level)?;
    let name = if level == HealthStatus::Critical {
        "critical"
    } else {
        "warning"
    };
    Some(if value > limit {
        format!(
            "{what} {} is above the {name} level {}",
            unit.show(value),
            unit.limit(limit)
        )
    } else {
        format!(
            "{what} {} has not yet fallen to {} (the {name} level {} less hysteresis)",
            unit.show(value),
            unit.limit(limit - limits.hysteresis),
            unit.limit(limit)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults, with every change taken at once (no hold).
    fn at_once() -> ObserverConfig {
        ObserverConfig {
            health_hold_checks: 1,
            ..ObserverConfig::default()
        }
    }

    fn cpu(v: f64) -> Readings {
        Readings {
            cpu_percent: Some(v),
            ..Readings::default()
        }
    }

    #[test]
    fn one_sample_at_100_percent_cpu_is_not_a_critical_host() {
        use HealthStatus::*;
        let mut judge = HealthJudge::new(&ObserverConfig::default()); // hold 2
        let first = judge.judge(&cpu(100.0));
        assert_eq!(first, Health::default(), "one sample changes nothing");
        assert_eq!(judge.judge(&cpu(20.0)).status, Healthy, "the spike passed");
        assert_eq!(judge.judge(&cpu(100.0)).status, Healthy);
        let second = judge.judge(&cpu(100.0));
        assert_eq!(second.status, Critical, "two checks in a row agree");
        assert_eq!(
            second.reasons,
            ["cpu 100.0% is above the critical level 98%"]
        );
        // One quiet sample does not end it either; the reasons say why it is still critical.
        let held = judge.judge(&cpu(10.0));
        assert_eq!(held.status, Critical);
        assert_eq!(
            held.reasons,
            ["critical until 2 consecutive checks agree (this one: healthy)"]
        );
        assert_eq!(judge.judge(&cpu(10.0)), Health::default());
    }

    #[test]
    fn a_hold_worsens_to_the_level_every_check_reached() {
        use HealthStatus::*;
        let mut judge = HealthJudge::new(&ObserverConfig {
            health_hold_checks: 3,
            ..ObserverConfig::default()
        });
        // Degraded, Critical, Critical: all three are at least degraded, not all critical; on
        // the way down, the worst of the last three.
        let statuses: Vec<HealthStatus> = [91.0, 99.0, 99.0, 99.0, 50.0, 92.0, 50.0, 50.0, 50.0]
            .into_iter()
            .map(|v| judge.judge(&cpu(v)).status)
            .collect();
        assert_eq!(
            statuses,
            [
                Healthy, Healthy, Degraded, Critical, Critical, Critical, Degraded, Degraded,
                Healthy
            ]
        );
    }

    fn memory(v: f64) -> Readings {
        Readings {
            memory_percent: Some(v),
            ..Readings::default()
        }
    }

    #[test]
    fn memory_walks_through_every_status_with_hysteresis() {
        let mut judge = HealthJudge::new(&at_once());
        let statuses: Vec<HealthStatus> =
            [50.0, 80.0, 80.1, 96.0, 94.0, 90.1, 90.0, 76.0, 75.0, 81.0]
                .into_iter()
                .map(|v| judge.judge(&memory(v)).status)
                .collect();
        use HealthStatus::*;
        assert_eq!(
            statuses,
            [
                Healthy, Healthy, Degraded, Critical, Critical, Critical, Degraded, Degraded,
                Healthy, Degraded
            ]
        );
    }

    #[test]
    fn a_value_flapping_at_the_edge_does_not_flap_the_status() {
        let mut judge = HealthJudge::new(&at_once());
        for v in [80.5, 79.5, 80.5, 79.5, 78.0] {
            assert_eq!(
                judge.judge(&memory(v)).status,
                HealthStatus::Degraded,
                "at {v}"
            );
        }
        let mut no_hysteresis = HealthJudge::new(&ObserverConfig {
            hysteresis_percent: 0.0,
            ..at_once()
        });
        assert_eq!(
            no_hysteresis.judge(&memory(80.5)).status,
            HealthStatus::Degraded
        );
        assert_eq!(
            no_hysteresis.judge(&memory(79.5)).status,
            HealthStatus::Healthy
        );
    }

    #[test]
    fn reasons_name_the_value_and_the_level() {
        let mut judge = HealthJudge::new(&at_once());
        let health = judge.judge(&Readings {
            memory_percent: Some(85.0),
            cpu_percent: Some(99.0),
            ..Default::default()
        });
        assert_eq!(health.status, HealthStatus::Critical);
        assert_eq!(
            health.reasons,
            vec![
                "memory 85.0% is above the warning level 80%".to_owned(),
                "cpu 99.0% is above the critical level 98%".to_owned(),
            ]
        );
        let health = judge.judge(&memory(77.0));
        assert_eq!(
            health.reasons,
            vec![
                "memory 77.0% has not yet fallen to 75% (the warning level 80% less hysteresis)"
                    .to_owned()
            ]
        );
        assert_eq!(judge.judge(&memory(10.0)), Health::default());
    }

    #[test]
    fn disks_and_file_descriptors_are_judged_only_when_configured() {
        let readings = Readings {
            disks: vec![("/".into(), 99.0), ("/data".into(), 50.0)],
            open_fds: Some(100_000),
            ..Default::default()
        };
        let mut off = HealthJudge::new(&at_once());
        assert_eq!(off.judge(&readings).status, HealthStatus::Healthy);

        let mut on = HealthJudge::new(&ObserverConfig {
            disk_threshold_percent: Some(90.0),
            disk_critical_percent: Some(98.0),
            fd_threshold: Some(1000),
            ..at_once()
        });
        let health = on.judge(&readings);
        assert_eq!(health.status, HealthStatus::Critical);
        assert_eq!(
            health.reasons,
            vec![
                "disk / 99.0% is above the critical level 98%".to_owned(),
                "open file descriptors 100000 is above the warning level 1000".to_owned(),
            ]
        );
        // File descriptors recover 5% of 1000 below the level: 950.
        let fds = |n| Readings {
            open_fds: Some(n),
            ..Default::default()
        };
        assert_eq!(on.judge(&fds(960)).status, HealthStatus::Degraded);
        assert_eq!(on.judge(&fds(950)).status, HealthStatus::Healthy);
    }

    #[test]
    fn missing_readings_are_left_out_not_taken_as_zero() {
        let mut judge = HealthJudge::new(&at_once());
        assert_eq!(judge.judge(&memory(90.0)).status, HealthStatus::Degraded);
        // Memory unreadable this time: the judge neither recovers nor invents a reason.
        assert_eq!(judge.judge(&Readings::default()), Health::default());
        assert_eq!(
            judge.judge(&memory(78.0)).status,
            HealthStatus::Degraded,
            "the level was remembered"
        );
    }
}
