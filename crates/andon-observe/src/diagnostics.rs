//! What a diagnostics snapshot holds, in andon's own types (so the backend can change without
//! touching users), its one-line summary and its size-capped JSON.

use std::fmt::Write as _;
use std::time::SystemTime;

use andon_core::HealthStatus;
use serde::{Deserialize, Serialize};

/// A section that could or could not be read on this platform.
///
/// A section that is switched off in the configuration is absent (`None` in [`Diagnostics`]);
/// a section that is switched on but cannot be read is `Unavailable` with the reason, never a
/// row of zeros.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading<T> {
    /// The probe answered: these are its values.
    Available(T),
    /// Why the values could not be read.
    Unavailable(String),
}

impl<T> Reading<T> {
    /// The values, when they could be read.
    pub fn available(&self) -> Option<&T> {
        match self {
            Reading::Available(value) => Some(value),
            Reading::Unavailable(_) => None,
        }
    }

    /// Why the values could not be read, when they could not.
    pub fn unavailable_reason(&self) -> Option<&str> {
        match self {
            Reading::Available(_) => None,
            Reading::Unavailable(reason) => Some(reason),
        }
    }
}

/// One diagnostics snapshot: the host, this process, network, disks and the busiest processes,
/// with the health judged from them.
///
/// CPU percentages and network rates are measured over [`window_secs`](Self::window_secs), the
/// time since the previous measurement, never from a single sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostics {
    /// When the snapshot was taken.
    #[serde(with = "andon_core::rfc3339")]
    pub taken_at: SystemTime,
    /// The seconds the CPU percentages and rates were measured over; `None` when there was no
    /// earlier measurement (only when a [`Probe`](crate::Probe) is used directly).
    pub window_secs: Option<f64>,
    /// Memory in use, percent of the host's total (always measured: health depends on it).
    /// `NaN` only if the platform reports no memory total.
    pub memory_percent: f64,
    /// CPU in use over the window, percent of all cores (always measured: health depends on it).
    pub cpu_percent: f64,
    /// The health judged from the thresholds.
    pub status: HealthStatus,
    /// Why the status is not healthy, one line per value over its threshold.
    pub reasons: Vec<String>,
    /// The host (`include_system_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Reading<SystemDiagnostics>>,
    /// This process (`include_process_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Reading<ProcessDiagnostics>>,
    /// Traffic per network interface (`include_network_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Reading<Vec<InterfaceRates>>>,
    /// Use per mounted file system, pseudo file systems excluded (`include_disk_metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Reading<Vec<MountUsage>>>,
    /// The busiest processes (`top_processes` above 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top: Option<Reading<TopProcesses>>,
    /// Set when lists were cut to fit a size cap (see [`Diagnostics::to_json_capped`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// The host: memory, swap, CPU, load, uptime and processes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemDiagnostics {
    /// Total memory in bytes.
    pub memory_total_bytes: u64,
    /// Memory in use in bytes.
    pub memory_used_bytes: u64,
    /// Memory available to new work in bytes.
    pub memory_available_bytes: u64,
    /// Memory in use, percent of total.
    pub memory_percent: f64,
    /// Total swap in bytes (0 when the host has none).
    pub swap_total_bytes: u64,
    /// Swap in use in bytes.
    pub swap_used_bytes: u64,
    /// Swap in use, percent of total; `None` when the host has no swap.
    pub swap_percent: Option<f64>,
    /// CPU in use over the window, percent of all cores.
    pub cpu_percent: f64,
    /// CPU in use over the window per core, percent of that core.
    pub cpu_per_core_percent: Vec<f64>,
    /// The load average over 1, 5 and 15 minutes.
    pub load_average: Reading<LoadAverage>,
    /// Seconds since the host booted.
    pub uptime_secs: Reading<u64>,
    /// Processes running on the host (threads not counted).
    pub process_count: usize,
}

/// The load average of the host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadAverage {
    /// Over one minute.
    pub one: f64,
    /// Over five minutes.
    pub five: f64,
    /// Over fifteen minutes.
    pub fifteen: f64,
}

/// This process as the host sees it: its id, memory, CPU and open files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessDiagnostics {
    /// The process id.
    pub pid: u32,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// Virtual memory in bytes.
    pub virtual_bytes: u64,
    /// CPU used over the window, percent of one core (a process busy on two cores shows 200).
    /// `None` without an earlier measurement.
    pub cpu_percent: Option<f64>,
    /// Threads; `None` where the platform does not report them.
    pub threads: Option<usize>,
    /// Open file descriptors; `None` where the platform does not report them.
    pub open_fds: Option<u64>,
    /// The limit on open file descriptors; `None` where the platform does not report it.
    pub fd_limit: Option<u64>,
    /// Seconds since the process started.
    pub uptime_secs: u64,
}

/// The traffic of one network interface over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceRates {
    /// The interface name (`eth0`, `lo`).
    pub interface: String,
    /// Bytes received per second.
    pub rx_bytes_per_sec: f64,
    /// Bytes sent per second.
    pub tx_bytes_per_sec: f64,
    /// Packets received per second.
    pub rx_packets_per_sec: f64,
    /// Packets sent per second.
    pub tx_packets_per_sec: f64,
    /// Receive errors per second.
    pub rx_errors_per_sec: f64,
    /// Send errors per second.
    pub tx_errors_per_sec: f64,
    /// Bytes received since the interface came up.
    pub rx_bytes_total: u64,
    /// Bytes sent since the interface came up.
    pub tx_bytes_total: u64,
}

/// The use of one mounted file system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountUsage {
    /// Where it is mounted (`/`).
    pub mount_point: String,
    /// The device (`/dev/vda`).
    pub device: String,
    /// The file system type (`ext4`).
    pub file_system: String,
    /// Size in bytes.
    pub total_bytes: u64,
    /// Bytes in use (size less available).
    pub used_bytes: u64,
    /// Bytes an unprivileged user may still write on the file system (`statvfs`'s `f_bavail`).
    pub available_bytes: u64,
    /// Bytes in use, percent of size.
    pub used_percent: f64,
}

/// The busiest processes of the host, in the spirit of Erlang's recon.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TopProcesses {
    /// The processes with the most resident memory, most first.
    pub by_memory: Vec<ProcessSummary>,
    /// The processes that used the most CPU over the window, most first.
    pub by_cpu: Vec<ProcessSummary>,
}

/// One process in a top-N list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// The process id.
    pub pid: u32,
    /// The process name.
    pub name: String,
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// CPU used over the window, percent of one core; `None` for a process first seen now.
    pub cpu_percent: Option<f64>,
}

impl Diagnostics {
    /// An empty snapshot taken now: memory and CPU unknown (`NaN`), healthy, every section
    /// absent. Probes start from it.
    pub fn empty() -> Self {
        Diagnostics {
            taken_at: SystemTime::now(),
            window_secs: None,
            memory_percent: f64::NAN,
            cpu_percent: f64::NAN,
            status: HealthStatus::Healthy,
            reasons: Vec::new(),
            system: None,
            process: None,
            network: None,
            disks: None,
            top: None,
            truncated: false,
        }
    }

    /// One human line: `healthy: memory 42.0%, cpu 12.5%, load 0.61, disk / 71%, rss 18.2 MiB`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{}: memory {:.1}%, cpu {:.1}%",
            status_name(self.status),
            self.memory_percent,
            self.cpu_percent
        );
        if let Some(load) = self
            .system
            .as_ref()
            .and_then(Reading::available)
            .and_then(|s| s.load_average.available())
        {
            let _ = write!(line, ", load {:.2}", load.one);
        }
        if let Some(fullest) = self
            .disks
            .as_ref()
            .and_then(Reading::available)
            .and_then(|d| {
                d.iter()
                    .max_by(|a, b| a.used_percent.total_cmp(&b.used_percent))
            })
        {
            let _ = write!(
                line,
                ", disk {} {:.0}%",
                fullest.mount_point, fullest.used_percent
            );
        }
        if let Some(process) = self.process.as_ref().and_then(Reading::available) {
            let _ = write!(
                line,
                ", rss {:.1} MiB",
                process.rss_bytes as f64 / 1_048_576.0
            );
        }
        if !self.reasons.is_empty() {
            let _ = write!(line, " ({})", self.reasons.join("; "));
        }
        line
    }

    /// The snapshot as compact JSON of at most `max_bytes` bytes (when even the status, the
    /// reasons and memory and CPU do not fit, the reasons are shortened too).
    ///
    /// When the whole snapshot is too large, the longest lists are cut first (per-core CPU,
    /// the top-N lists, interfaces, mounts), then whole sections are dropped, and `truncated`
    /// is set so the reader knows.
    pub fn to_json_capped(&self, max_bytes: usize) -> serde_json::Value {
        let fits = |d: &Diagnostics| json_len(d) <= max_bytes;
        if fits(self) {
            return serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        }
        let mut d = self.clone();
        d.truncated = true;
        let steps: [fn(&mut Diagnostics) -> bool; 8] = [
            |d| edit_system(d, |s| shrink(&mut s.cpu_per_core_percent, 0)),
            |d| {
                edit_top(d, |t| {
                    shrink(&mut t.by_cpu, 1) | shrink(&mut t.by_memory, 1)
                })
            },
            |d| {
                edit_list(
                    &mut d.network,
                    |n| {
                        n.sort_by(|a, b| {
                            (b.rx_bytes_per_sec + b.tx_bytes_per_sec)
                                .total_cmp(&(a.rx_bytes_per_sec + a.tx_bytes_per_sec))
                        })
                    },
                    1,
                )
            },
            |d| {
                edit_list(
                    &mut d.disks,
                    |m| m.sort_by(|a, b| b.used_percent.total_cmp(&a.used_percent)),
                    1,
                )
            },
            |d| d.top.take().is_some(),
            |d| d.network.take().is_some(),
            |d| d.disks.take().is_some(),
            |d| d.system.take().is_some() | d.process.take().is_some(),
        ];
        for step in steps {
            // Each step is repeated while it still shortens something and the JSON is too long.
            while !fits(&d) && step(&mut d) {}
            if fits(&d) {
                return serde_json::to_value(&d).unwrap_or(serde_json::Value::Null);
            }
        }
        // Only the headline is left: shorten the reasons until it fits.
        while !fits(&d) {
            match d.reasons.last_mut() {
                Some(last) if last.chars().count() > 16 => {
                    let keep = last.chars().count() / 2;
                    *last = last.chars().take(keep).collect::<String>() + "…";
                }
                Some(_) => {
                    d.reasons.pop();
                }
                None => break,
            }
        }
        serde_json::to_value(&d).unwrap_or(serde_json::Value::Null)
    }
}

fn status_name(status: HealthStatus) -> &'static str {
    match status {
        HealthStatus::Healthy => "healthy",
        HealthStatus::Degraded => "degraded",
        HealthStatus::Critical => "critical",
    }
}

fn json_len(d: &Diagnostics) -> usize {
    serde_json::to_vec(d).map(|v| v.len()).unwrap_or(usize::MAX)
}

/// Halves `list` (down to `floor` entries); whether it got shorter.
fn shrink<T>(list: &mut Vec<T>, floor: usize) -> bool {
    if list.len() <= floor {
        return false;
    }
    let keep = (list.len() / 2).max(floor);
    list.truncate(keep);
    true
}

fn edit_system(d: &mut Diagnostics, f: impl FnOnce(&mut SystemDiagnostics) -> bool) -> bool {
    match &mut d.system {
        Some(Reading::Available(s)) => f(s),
        _ => false,
    }
}

fn edit_top(d: &mut Diagnostics, f: impl FnOnce(&mut TopProcesses) -> bool) -> bool {
    match &mut d.top {
        Some(Reading::Available(t)) => f(t),
        _ => false,
    }
}

/// Sorts a list section most interesting first, then halves it.
fn edit_list<T>(
    section: &mut Option<Reading<Vec<T>>>,
    sort: impl FnOnce(&mut Vec<T>),
    floor: usize,
) -> bool {
    match section {
        Some(Reading::Available(list)) => {
            sort(list);
            shrink(list, floor)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big() -> Diagnostics {
        let mut d = Diagnostics::empty();
        d.memory_percent = 42.0;
        d.cpu_percent = 12.5;
        d.status = HealthStatus::Degraded;
        d.reasons = vec!["memory 85.0% is above the warning level 80%".into()];
        d.system = Some(Reading::Available(SystemDiagnostics {
            memory_total_bytes: 8 << 30,
            memory_used_bytes: 4 << 30,
            memory_available_bytes: 4 << 30,
            memory_percent: 50.0,
            swap_total_bytes: 0,
            swap_used_bytes: 0,
            swap_percent: None,
            cpu_percent: 12.5,
            cpu_per_core_percent: vec![12.5; 64],
            load_average: Reading::Available(LoadAverage {
                one: 0.61,
                five: 0.5,
                fifteen: 0.4,
            }),
            uptime_secs: Reading::Unavailable("unsupported".into()),
            process_count: 84,
        }));
        d.disks = Some(Reading::Available(
            (0..40)
                .map(|i| MountUsage {
                    mount_point: format!("/mnt/{i}"),
                    device: format!("/dev/sd{i}"),
                    file_system: "ext4".into(),
                    total_bytes: 100,
                    used_bytes: i,
                    available_bytes: 100 - i,
                    used_percent: i as f64,
                })
                .collect(),
        ));
        d.top = Some(Reading::Available(TopProcesses {
            by_memory: (0..50)
                .map(|i| ProcessSummary {
                    pid: i,
                    name: format!("worker-{i}"),
                    rss_bytes: 1000,
                    cpu_percent: None,
                })
                .collect(),
            by_cpu: Vec::new(),
        }));
        d
    }

    #[test]
    fn the_summary_is_one_line_with_the_headline_values() {
        let d = big();
        assert_eq!(
            d.summary(),
            "degraded: memory 42.0%, cpu 12.5%, load 0.61, disk /mnt/39 39% (memory 85.0% is above the warning level 80%)"
        );
    }

    #[test]
    fn json_fits_the_cap_and_keeps_the_fullest_disk_and_the_reasons() {
        let d = big();
        let whole = serde_json::to_vec(&d).unwrap().len();
        assert!(
            whole > 4096,
            "the fixture must be larger than the cap ({whole})"
        );
        let value = d.to_json_capped(2048);
        let text = serde_json::to_string(&value).unwrap();
        assert!(text.len() <= 2048, "{} bytes", text.len());
        assert_eq!(value["truncated"], true);
        assert_eq!(
            value["reasons"][0],
            "memory 85.0% is above the warning level 80%"
        );
        if let Some(disks) = value["disks"]["available"].as_array() {
            assert_eq!(
                disks[0]["mount_point"], "/mnt/39",
                "the fullest mount is kept first"
            );
        }
    }

    #[test]
    fn json_under_the_cap_is_untouched_and_absent_sections_are_absent() {
        let mut d = Diagnostics::empty();
        d.memory_percent = 10.0;
        d.cpu_percent = 1.0;
        let value = d.to_json_capped(16_384);
        assert!(value.get("truncated").is_none());
        for section in ["system", "process", "network", "disks", "top"] {
            assert!(
                value.get(section).is_none(),
                "{section} is switched off and must be absent"
            );
        }
        let tiny = big().to_json_capped(256);
        assert!(serde_json::to_string(&tiny).unwrap().len() <= 256);
        assert_eq!(tiny["status"], "Degraded");
    }

    #[test]
    fn unavailable_sections_carry_the_reason() {
        let reading: Reading<u64> = Reading::Unavailable("not supported on this platform".into());
        assert_eq!(
            serde_json::to_string(&reading).unwrap(),
            r#"{"unavailable":"not supported on this platform"}"#
        );
        assert_eq!(reading.available(), None);
        assert_eq!(
            reading.unavailable_reason(),
            Some("not supported on this platform")
        );
    }
}
