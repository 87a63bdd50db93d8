//! The gauges the observer exports: their names, HELP text and values.

use andon_core::HealthStatus;
use andon_core::names::{CPU_USAGE, MEMORY_USAGE};

use super::AndonObserver;
use crate::diagnostics::{Diagnostics, Reading};

/// The gauge `andon_health_status`.
const HEALTH_STATUS: &str = "andon_health_status";
/// The gauge `andon_host_cpu_percent`.
const HOST_CPU_PERCENT: &str = "andon_host_cpu_percent";
/// The gauge `andon_host_disk_used_percent`.
const HOST_DISK_USED_PERCENT: &str = "andon_host_disk_used_percent";
/// The gauge `andon_host_load1`.
const HOST_LOAD1: &str = "andon_host_load1";
/// The gauge `andon_host_memory_percent`.
const HOST_MEMORY_PERCENT: &str = "andon_host_memory_percent";
/// The gauge `andon_host_network_receive_bytes_per_second`.
const HOST_NETWORK_RECEIVE_BYTES_PER_SECOND: &str = "andon_host_network_receive_bytes_per_second";
/// The gauge `andon_host_network_transmit_bytes_per_second`.
const HOST_NETWORK_TRANSMIT_BYTES_PER_SECOND: &str = "andon_host_network_transmit_bytes_per_second";
/// The gauge `andon_host_processes`.
const HOST_PROCESSES: &str = "andon_host_processes";
/// The gauge `andon_host_swap_percent`.
const HOST_SWAP_PERCENT: &str = "andon_host_swap_percent";
/// The gauge `andon_process_cpu_percent`.
const PROCESS_CPU_PERCENT: &str = "andon_process_cpu_percent";
/// The gauge `andon_process_open_fds`.
const PROCESS_OPEN_FDS: &str = "andon_process_open_fds";
/// The gauge `andon_process_resident_memory_bytes`.
const PROCESS_RESIDENT_MEMORY_BYTES: &str = "andon_process_resident_memory_bytes";
/// The gauge `andon_process_threads`.
const PROCESS_THREADS: &str = "andon_process_threads";

impl AndonObserver {
    /// Sets the gauges from a check (described once, on the first).
    pub(super) fn export(&self, d: &Diagnostics) {
        let Some((sink, described)) = &self.shared.metrics else {
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
        set(HOST_MEMORY_PERCENT, d.memory_percent);
        set(HOST_CPU_PERCENT, d.cpu_percent);
        set(HEALTH_STATUS, health_value(d.status));
        if let Some(Reading::Available(s)) = &d.system {
            if let Some(swap) = s.swap_percent {
                set(HOST_SWAP_PERCENT, swap);
            }
            if let Some(load) = s.load_average.available() {
                set(HOST_LOAD1, load.one);
            }
            set(HOST_PROCESSES, s.process_count as f64);
        }
        if let Some(Reading::Available(p)) = &d.process {
            set(PROCESS_RESIDENT_MEMORY_BYTES, p.rss_bytes as f64);
            // The gauges `[metrics.thresholds]` memory_usage_mb and cpu_usage_percent watch.
            set(MEMORY_USAGE, p.rss_bytes as f64);
            if let Some(cpu) = p.cpu_percent {
                set(PROCESS_CPU_PERCENT, cpu);
                set(CPU_USAGE, cpu / 100.0 / self.shared.cores);
            }
            if let Some(threads) = p.threads {
                set(PROCESS_THREADS, threads as f64);
            }
            if let Some(fds) = p.open_fds {
                set(PROCESS_OPEN_FDS, fds as f64);
            }
        }
        if let Some(Reading::Available(interfaces)) = &d.network {
            for i in interfaces {
                let labels = [("interface", i.interface.as_str())];
                sink.set_gauge(
                    HOST_NETWORK_RECEIVE_BYTES_PER_SECOND,
                    &labels,
                    i.rx_bytes_per_sec,
                );
                sink.set_gauge(
                    HOST_NETWORK_TRANSMIT_BYTES_PER_SECOND,
                    &labels,
                    i.tx_bytes_per_sec,
                );
            }
        }
        if let Some(Reading::Available(mounts)) = &d.disks {
            for m in mounts {
                sink.set_gauge(
                    HOST_DISK_USED_PERCENT,
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
        HOST_MEMORY_PERCENT,
        "Memory in use on the host, percent of total.",
    ),
    (
        HOST_CPU_PERCENT,
        "CPU in use on the host over the last check interval, percent of all cores.",
    ),
    (
        HEALTH_STATUS,
        "Health judged by the observer: 0 healthy, 1 degraded, 2 critical.",
    ),
    (
        HOST_SWAP_PERCENT,
        "Swap in use on the host, percent of total.",
    ),
    (HOST_LOAD1, "Load average of the host over one minute."),
    (HOST_PROCESSES, "Processes running on the host."),
    (
        PROCESS_RESIDENT_MEMORY_BYTES,
        "Resident memory of this process in bytes.",
    ),
    (
        PROCESS_CPU_PERCENT,
        "CPU used by this process over the last check interval, percent of one core.",
    ),
    (PROCESS_THREADS, "Threads of this process."),
    (PROCESS_OPEN_FDS, "Open file descriptors of this process."),
    (
        HOST_NETWORK_RECEIVE_BYTES_PER_SECOND,
        "Bytes received per second by a network interface.",
    ),
    (
        HOST_NETWORK_TRANSMIT_BYTES_PER_SECOND,
        "Bytes sent per second by a network interface.",
    ),
    (
        HOST_DISK_USED_PERCENT,
        "Space in use on a mounted file system, percent of its size.",
    ),
    (MEMORY_USAGE, "Memory used by the process, in bytes."),
    (CPU_USAGE, "CPU used by the process, from 0 to 1."),
];

fn health_value(status: HealthStatus) -> f64 {
    match status {
        HealthStatus::Healthy => 0.0,
        HealthStatus::Degraded => 1.0,
        HealthStatus::Critical => 2.0,
    }
}
