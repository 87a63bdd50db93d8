//! Where readings come from: the [`Probe`] trait and its sysinfo implementation.
//!
//! sysinfo stays behind this module: the rest of the crate and every user see only andon's
//! own types, so the backend can be replaced without touching them (see
//! `docs/adr/002-sysinfo-instead-of-heim.md`).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use andon_core::config::ObserverConfig;
use sysinfo::{
    CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, Pid, ProcessRefreshKind,
    ProcessesToUpdate, System,
};

use crate::diagnostics::{
    Diagnostics, InterfaceRates, LoadAverage, MountUsage, ProcessDiagnostics, ProcessSummary,
    Reading, SystemDiagnostics, TopProcesses,
};
use crate::error::ObserveError;

/// Which sections to measure, from the `include_*` switches and `top_processes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// The host's memory, swap, CPU, load, uptime and process count.
    pub system: bool,
    /// Measure this process (memory, CPU, open files) too.
    pub process: bool,
    /// Per-interface traffic rates.
    pub network: bool,
    /// Per-mount disk use.
    pub disks: bool,
    /// How many processes the top-N lists hold (0: none).
    pub top: usize,
}

impl Sections {
    /// Every section, with top-5 lists.
    pub const ALL: Sections = Sections {
        system: true,
        process: true,
        network: true,
        disks: true,
        top: 5,
    };

    /// Memory and CPU only, which health needs and every snapshot holds.
    pub const NONE: Sections = Sections {
        system: false,
        process: false,
        network: false,
        disks: false,
        top: 0,
    };

    /// The sections `config` switches on.
    pub fn from_config(config: &ObserverConfig) -> Self {
        Sections {
            system: config.include_system_metrics,
            process: config.include_process_metrics,
            network: config.include_network_metrics,
            disks: config.include_disk_metrics,
            top: config.top_processes,
        }
    }
}

/// Measures the host and the process. [`SysinfoProbe`] is the real one; tests and simulations
/// give the observer their own through
/// [`AndonObserverBuilder::with_probe`](crate::AndonObserverBuilder::with_probe).
///
/// The observer calls it one call at a time, on a blocking thread unless the probe says the
/// sections are [quick](Probe::is_quick), and judges the health itself (a probe leaves
/// `status` and `reasons` alone).
pub trait Probe: Send + fmt::Debug + 'static {
    /// Takes the first sample that rates and CPU percentages are measured against, and says how
    /// long to wait before the first real [`measure`](Probe::measure). Called once, before the
    /// first measurement. The default needs no warm-up.
    fn warm_up(&mut self, sections: Sections) -> Duration {
        let _ = sections;
        Duration::ZERO
    }

    /// Measures memory and CPU and the `sections` that are switched on; sections that are off
    /// stay `None`.
    fn measure(&mut self, sections: Sections) -> Diagnostics;

    /// Whether [`warm_up`](Probe::warm_up) and [`measure`](Probe::measure) of `sections` take
    /// only a few microseconds of blocking reads (a file or two under `/proc`), less than
    /// handing them to a blocking thread and waking the caller back. The observer then calls
    /// them on the caller's async task, as tokio allows for such short work between awaits.
    /// The default is `false`: every call runs on tokio's blocking pool, so a probe that may
    /// block for long never stalls the executor.
    fn is_quick(&self, sections: Sections) -> bool {
        let _ = sections;
        false
    }

    /// A second probe of the same kind, with its own previous sample, for measurements on
    /// demand ([`AndonObserver::measure_now`](crate::AndonObserver::measure_now)): it is warmed
    /// up before each one, so it never shortens the window of this probe's next scheduled
    /// measurement. The default has none: reads then serve the latest scheduled check.
    fn on_demand(&self) -> Option<Box<dyn Probe>> {
        None
    }
}

/// File system types that hold no user data and are never reported as disks.
const PSEUDO_FILE_SYSTEMS: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "tmpfs",
    "cgroup",
    "cgroup2",
    "pstore",
    "securityfs",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "autofs",
    "binfmt_misc",
    "rpc_pipefs",
    "nsfs",
    "squashfs",
    "ramfs",
    "rootfs",
    "efivarfs",
    "selinuxfs",
    "devfs",
];

/// Whether a mount is a pseudo file system (kernel interfaces, memory-backed, snap images).
pub(crate) fn is_pseudo_mount(file_system: &str, mount_point: &str) -> bool {
    PSEUDO_FILE_SYSTEMS.contains(&file_system)
        || ["/proc", "/sys", "/dev", "/run"].iter().any(|p| {
            mount_point == *p
                || mount_point
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// The sysinfo probe. It keeps the previous sample of every counter so that CPU percentages
/// and network rates are measured over the time between two calls.
pub struct SysinfoProbe {
    system: System,
    /// `Err` with the reason when this platform lists no disks.
    disks: Result<Disks, String>,
    /// `Err` with the reason when this platform lists no network interfaces.
    networks: Result<Networks, String>,
    pid: Result<Pid, String>,
    /// CPU time (ms) of each process at the previous sample, and when it was taken.
    cpu_times: HashMap<Pid, u64>,
    last_sample: Option<Instant>,
    last_network: Option<Instant>,
}

impl fmt::Debug for SysinfoProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SysinfoProbe")
            .field("pid", &self.pid)
            .field("processes_known", &self.cpu_times.len())
            .field("last_sample", &self.last_sample)
            .finish_non_exhaustive()
    }
}

impl SysinfoProbe {
    /// A probe with nothing sampled yet; cheap (it reads nothing).
    ///
    /// # Errors
    ///
    /// [`ObserveError::Unsupported`] when the platform reports neither memory nor CPU. Disks
    /// or networks that cannot be listed only make their sections unavailable.
    pub fn new() -> Result<Self, ObserveError> {
        let system = System::new().map_err(|e| ObserveError::Unsupported {
            reason: e.to_string(),
        })?;
        Ok(SysinfoProbe {
            system,
            disks: Disks::new()
                .map_err(|e| format!("disks cannot be listed on this platform: {e}")),
            networks: Networks::new()
                .map_err(|e| format!("network interfaces cannot be listed on this platform: {e}")),
            pid: sysinfo::get_current_pid().map_err(|e| format!("the process id is unknown: {e}")),
            cpu_times: HashMap::new(),
            last_sample: None,
            last_network: None,
        })
    }

    /// Refreshes memory (and swap when `swap`) and CPU usage: the targeted refresh health needs.
    pub fn refresh_memory_and_cpu(&mut self, swap: bool) {
        let mut memory = MemoryRefreshKind::nothing().with_ram();
        if swap {
            memory = memory.with_swap();
        }
        self.system.refresh_memory_specifics(memory);
        self.system
            .refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
    }

    /// Refreshes the processes the sections need, exactly once per process per sample (a
    /// second refresh would shorten the CPU window to nothing).
    fn refresh_processes(&mut self, sections: Sections) {
        let with_usage = ProcessRefreshKind::nothing()
            .with_memory()
            .with_cpu()
            .without_tasks();
        if sections.system || sections.top > 0 {
            let kind = if sections.process || sections.top > 0 {
                with_usage
            } else {
                ProcessRefreshKind::nothing().without_tasks()
            };
            self.system
                .refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
        } else if let (true, Ok(pid)) = (sections.process, &self.pid) {
            self.system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[*pid]),
                true,
                with_usage,
            );
        }
    }

    /// CPU percent of each process over `window`, and remembers the CPU times for the next.
    fn process_cpu(&mut self, window: Option<Duration>) -> HashMap<Pid, f64> {
        let mut percents = HashMap::new();
        let mut times = HashMap::with_capacity(self.system.processes().len());
        for (pid, process) in self.system.processes() {
            if process.thread_kind().is_some() {
                continue;
            }
            let now = process.accumulated_cpu_time();
            if let (Some(window), Some(before)) = (window, self.cpu_times.get(pid)) {
                let millis = window.as_secs_f64() * 1000.0;
                if millis > 0.0 {
                    percents.insert(*pid, now.saturating_sub(*before) as f64 / millis * 100.0);
                }
            }
            times.insert(*pid, now);
        }
        self.cpu_times = times;
        percents
    }

    fn system_section(&self) -> SystemDiagnostics {
        let s = &self.system;
        let total = s.total_memory();
        let swap_total = s.total_swap();
        SystemDiagnostics {
            memory_total_bytes: total,
            memory_used_bytes: s.used_memory(),
            memory_available_bytes: s.available_memory(),
            memory_percent: percent(s.used_memory(), total),
            swap_total_bytes: swap_total,
            swap_used_bytes: s.used_swap(),
            swap_percent: (swap_total > 0).then(|| percent(s.used_swap(), swap_total)),
            cpu_percent: f64::from(s.global_cpu_usage()),
            cpu_per_core_percent: s.cpus().iter().map(|c| f64::from(c.usage())).collect(),
            load_average: match System::load_average() {
                Ok(l) => Reading::Available(LoadAverage {
                    one: l.one,
                    five: l.five,
                    fifteen: l.fifteen,
                }),
                Err(e) => Reading::Unavailable(format!("the load average cannot be read: {e}")),
            },
            uptime_secs: match System::uptime() {
                Ok(secs) => Reading::Available(secs),
                Err(e) => Reading::Unavailable(format!("the uptime cannot be read: {e}")),
            },
            process_count: s
                .processes()
                .values()
                .filter(|p| p.thread_kind().is_none())
                .count(),
        }
    }

    fn process_section(&mut self, cpu: &HashMap<Pid, f64>) -> Reading<ProcessDiagnostics> {
        let pid = match &self.pid {
            Ok(pid) => *pid,
            Err(reason) => return Reading::Unavailable(reason.clone()),
        };
        // Threads need the task list; this refresh reads no CPU, so the CPU percent measured
        // above stands.
        self.system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            false,
            ProcessRefreshKind::nothing().with_tasks(),
        );
        let Some(process) = self.system.process(pid) else {
            return Reading::Unavailable(format!("process {pid} is not in the process table"));
        };
        Reading::Available(ProcessDiagnostics {
            pid: pid.as_u32(),
            rss_bytes: process.memory(),
            virtual_bytes: process.virtual_memory(),
            cpu_percent: cpu.get(&pid).copied(),
            threads: process.tasks().map(|t| t.len()),
            open_fds: process.open_files().map(|n| n as u64),
            fd_limit: process.open_files_limit().map(|n| n as u64),
            uptime_secs: process.run_time(),
        })
    }

    fn top_section(&self, n: usize, cpu: &HashMap<Pid, f64>) -> TopProcesses {
        let mut all: Vec<ProcessSummary> = self
            .system
            .processes()
            .iter()
            .filter(|(_, p)| p.thread_kind().is_none())
            .map(|(pid, p)| ProcessSummary {
                pid: pid.as_u32(),
                name: p.name().to_string_lossy().into_owned(),
                rss_bytes: p.memory(),
                cpu_percent: cpu.get(pid).copied(),
            })
            .collect();
        all.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
        let by_memory = all.iter().take(n).cloned().collect();
        all.retain(|p| p.cpu_percent.is_some());
        all.sort_by(|a, b| {
            b.cpu_percent
                .unwrap_or(0.0)
                .total_cmp(&a.cpu_percent.unwrap_or(0.0))
                .then(a.pid.cmp(&b.pid))
        });
        all.truncate(n);
        TopProcesses {
            by_memory,
            by_cpu: all,
        }
    }

    fn network_section(&mut self, now: Instant) -> Reading<Vec<InterfaceRates>> {
        let networks = match &mut self.networks {
            Ok(networks) => networks,
            Err(reason) => return Reading::Unavailable(reason.clone()),
        };
        networks.refresh(true);
        let Some(before) = self.last_network.replace(now) else {
            return Reading::Unavailable(
                "first sample: rates need a second measurement".to_owned(),
            );
        };
        let secs = now.duration_since(before).as_secs_f64();
        if secs <= 0.0 {
            return Reading::Unavailable("no time passed since the previous sample".to_owned());
        }
        let rate = |n: u64| n as f64 / secs;
        let mut list: Vec<InterfaceRates> = networks
            .iter()
            .map(|(name, data)| InterfaceRates {
                interface: name.to_string_lossy().into_owned(),
                rx_bytes_per_sec: rate(data.received()),
                tx_bytes_per_sec: rate(data.transmitted()),
                rx_packets_per_sec: rate(data.packets_received()),
                tx_packets_per_sec: rate(data.packets_transmitted()),
                rx_errors_per_sec: rate(data.errors_on_received()),
                tx_errors_per_sec: rate(data.errors_on_transmitted()),
                rx_bytes_total: data.total_received(),
                tx_bytes_total: data.total_transmitted(),
            })
            .collect();
        list.sort_by(|a, b| a.interface.cmp(&b.interface));
        Reading::Available(list)
    }

    fn disk_section(&mut self) -> Reading<Vec<MountUsage>> {
        let disks = match &mut self.disks {
            Ok(disks) => disks,
            Err(reason) => return Reading::Unavailable(reason.clone()),
        };
        disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        let mut mounts: Vec<MountUsage> = Vec::new();
        for disk in disks.iter() {
            let file_system = disk.file_system().to_string_lossy().into_owned();
            let mount_point = disk.mount_point().to_string_lossy().into_owned();
            let total = disk.total_space();
            if total == 0
                || is_pseudo_mount(&file_system, &mount_point)
                || mounts.iter().any(|m| m.mount_point == mount_point)
            {
                continue;
            }
            let available = disk.available_space();
            let used = total.saturating_sub(available);
            mounts.push(MountUsage {
                mount_point,
                device: disk.name().to_string_lossy().into_owned(),
                file_system,
                total_bytes: total,
                used_bytes: used,
                available_bytes: available,
                used_percent: percent(used, total),
            });
        }
        mounts.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        Reading::Available(mounts)
    }
}

impl Probe for SysinfoProbe {
    /// Memory and CPU alone (every optional section off) are two reads, `/proc/meminfo` and
    /// `/proc/stat` on Linux: quick. The host section needs the whole process table (its
    /// process count), the others the process table, the mounts or the interfaces: not quick.
    fn is_quick(&self, sections: Sections) -> bool {
        sections == Sections::NONE
    }

    fn on_demand(&self) -> Option<Box<dyn Probe>> {
        SysinfoProbe::new()
            .ok()
            .map(|probe| Box::new(probe) as Box<dyn Probe>)
    }

    fn warm_up(&mut self, sections: Sections) -> Duration {
        let now = Instant::now();
        self.refresh_memory_and_cpu(false);
        self.refresh_processes(sections);
        let _ = self.process_cpu(None);
        if let (true, Ok(networks)) = (sections.network, &mut self.networks) {
            networks.refresh(true);
            self.last_network = Some(now);
        }
        self.last_sample = Some(now);
        sysinfo::MINIMUM_CPU_UPDATE_INTERVAL
    }

    fn measure(&mut self, sections: Sections) -> Diagnostics {
        let now = Instant::now();
        let window = self.last_sample.replace(now).map(|t| now.duration_since(t));
        self.refresh_memory_and_cpu(sections.system);
        self.refresh_processes(sections);
        let cpu = if sections.process || sections.top > 0 {
            self.process_cpu(window)
        } else {
            HashMap::new()
        };

        let mut d = Diagnostics::empty();
        d.taken_at = SystemTime::now();
        d.window_secs = window.map(|w| w.as_secs_f64());
        let total = self.system.total_memory();
        d.memory_percent = if total > 0 {
            percent(self.system.used_memory(), total)
        } else {
            f64::NAN
        };
        d.cpu_percent = f64::from(self.system.global_cpu_usage());
        if sections.system {
            d.system = Some(if total > 0 {
                Reading::Available(self.system_section())
            } else {
                Reading::Unavailable("this platform reports no memory total".to_owned())
            });
        }
        if sections.top > 0 {
            d.top = Some(Reading::Available(self.top_section(sections.top, &cpu)));
        }
        if sections.process {
            d.process = Some(self.process_section(&cpu));
        }
        if sections.network {
            d.network = Some(self.network_section(now));
        }
        if sections.disks {
            d.disks = Some(self.disk_section());
        }
        d
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_file_systems_are_recognised() {
        assert!(is_pseudo_mount("proc", "/proc"));
        assert!(is_pseudo_mount("tmpfs", "/dev/shm"));
        assert!(is_pseudo_mount("cgroup2", "/sys/fs/cgroup/unified"));
        assert!(is_pseudo_mount("ext4", "/run/user/1000"));
        assert!(!is_pseudo_mount("ext4", "/"));
        assert!(!is_pseudo_mount("xfs", "/data"));
        assert!(
            !is_pseudo_mount("ext4", "/devices"),
            "a prefix of a name is not a parent directory"
        );
    }

    #[test]
    fn sections_follow_the_config() {
        let config = ObserverConfig {
            include_network_metrics: false,
            top_processes: 0,
            ..Default::default()
        };
        let s = Sections::from_config(&config);
        assert_eq!(
            s,
            Sections {
                network: false,
                top: 0,
                ..Sections::ALL
            }
        );
    }

    #[test]
    fn rates_need_a_second_sample() {
        let mut probe = SysinfoProbe::new().unwrap();
        let first = probe.measure(Sections {
            network: true,
            ..Sections::NONE
        });
        assert_eq!(first.window_secs, None);
        assert!(
            first
                .network
                .unwrap()
                .unavailable_reason()
                .unwrap()
                .contains("first sample")
        );
        let second = probe.measure(Sections {
            network: true,
            ..Sections::NONE
        });
        assert!(second.window_secs.is_some());
        assert!(second.network.unwrap().available().is_some());
    }
}
