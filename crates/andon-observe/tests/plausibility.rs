//! The readings are plausible against what Linux itself says in /proc, and sections that are
//! switched off are absent. These tests measure the real machine.
#![cfg(target_os = "linux")]
// Helpers outside #[test] functions may unwrap too: a failure should stop the test right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use andon_core::config::ObserverConfig;
use andon_core::{DiagnosticsSource, HealthStatus};
use andon_observe::{AndonObserver, Diagnostics};

/// Tests compare our readings with /proc/self, so they run one at a time: a test starting a
/// runtime or a socket beside another would change its thread and descriptor counts.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A `Key: value kB` line of a /proc status file, in bytes (or the bare number).
fn proc_field(path: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    let mut parts = line.split_whitespace().skip(1);
    let value: u64 = parts.next().unwrap().parse().unwrap();
    if parts.next() == Some("kB") {
        value * 1024
    } else {
        value
    }
}

async fn measure(config: &ObserverConfig) -> (AndonObserver, Diagnostics) {
    let observer = AndonObserver::new(config.clone()).unwrap();
    let d = observer.run_diagnostics().await.unwrap();
    (observer, d)
}

#[tokio::test]
async fn host_memory_and_cpus_match_proc() {
    let _serial = SERIAL.lock().await;
    let (_, d) = measure(&ObserverConfig::default()).await;
    let system = d.system.as_ref().unwrap().available().unwrap();
    assert_eq!(
        system.memory_total_bytes,
        proc_field("/proc/meminfo", "MemTotal")
    );
    assert!(
        d.memory_percent > 0.0 && d.memory_percent < 100.0,
        "{}",
        d.memory_percent
    );
    assert_eq!(d.memory_percent, system.memory_percent);
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    assert_eq!(system.cpu_per_core_percent.len(), cores);
    assert!((0.0..=100.0).contains(&d.cpu_percent), "{}", d.cpu_percent);
    let window = d.window_secs.unwrap();
    assert!(
        window >= 0.2,
        "the first check measures over the warm-up interval, not one sample: {window}"
    );
    let load = system.load_average.available().unwrap();
    let proc_load: f64 = std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (load.one - proc_load).abs() < 1.0,
        "{} vs {proc_load}",
        load.one
    );
    assert!(system.process_count >= 1);
}

#[tokio::test]
async fn our_process_matches_proc_self_status() {
    let _serial = SERIAL.lock().await;
    let (_, d) = measure(&ObserverConfig::default()).await;
    let process = d.process.as_ref().unwrap().available().unwrap();
    let vm_rss = proc_field("/proc/self/status", "VmRSS") as f64;
    assert!(
        (process.rss_bytes as f64 - vm_rss).abs() <= vm_rss * 0.10,
        "rss {} vs VmRSS {vm_rss}",
        process.rss_bytes
    );
    assert_eq!(process.pid, std::process::id());
    let threads = proc_field("/proc/self/status", "Threads") as i64;
    let reported = process.threads.unwrap() as i64;
    // The runtime may start or retire a blocking thread between the two reads.
    assert!(
        (reported - threads).abs() <= 2,
        "threads {reported} vs {threads}"
    );
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count() as i64;
    let open = process.open_fds.unwrap() as i64;
    assert!((open - fds).abs() <= 3, "open fds {open} vs {fds}");
    assert!(process.fd_limit.unwrap() >= 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_thread_raises_our_cpu_percent() {
    let _serial = SERIAL.lock().await;
    // A top list long enough to hold every process, so ours is in it whatever else runs.
    let config = ObserverConfig {
        top_processes: 100_000,
        ..ObserverConfig::default()
    };
    let observer = AndonObserver::new(config).unwrap();
    observer.run_diagnostics().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = observer.run_diagnostics().await.unwrap();
    let idle_cpu = idle
        .process
        .unwrap()
        .available()
        .unwrap()
        .cpu_percent
        .unwrap();

    let spin = std::thread::spawn(|| {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_secs(1) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        x
    });
    tokio::task::spawn_blocking(move || spin.join().unwrap())
        .await
        .unwrap();
    let busy = observer.run_diagnostics().await.unwrap();
    let top = busy.top.as_ref().unwrap().available().unwrap();
    let ours = top
        .by_cpu
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("this process in the top list by CPU");
    let busy_cpu = busy
        .process
        .unwrap()
        .available()
        .unwrap()
        .cpu_percent
        .unwrap();
    assert!(
        busy_cpu > 25.0 && busy_cpu > idle_cpu + 20.0,
        "busy {busy_cpu}% vs idle {idle_cpu}%"
    );
    assert_eq!(
        ours.cpu_percent,
        Some(busy_cpu),
        "the top list and the process section agree"
    );
}

#[tokio::test]
async fn disks_exclude_pseudo_file_systems_and_include_root() {
    let _serial = SERIAL.lock().await;
    let (_, d) = measure(&ObserverConfig::default()).await;
    let mounts = d.disks.as_ref().unwrap().available().unwrap();
    for m in mounts {
        assert!(
            ![
                "proc", "sysfs", "tmpfs", "devtmpfs", "devpts", "cgroup", "cgroup2"
            ]
            .contains(&m.file_system.as_str()),
            "{m:?}"
        );
        assert!(
            m.used_bytes + m.available_bytes == m.total_bytes
                && (0.0..=100.0).contains(&m.used_percent),
            "{m:?}"
        );
    }
    let mounts_file = std::fs::read_to_string("/proc/mounts").unwrap();
    let root_is_real = mounts_file
        .lines()
        .any(|l| matches!(l.split(' ').collect::<Vec<_>>()[..], [_, "/", fs, ..] if !["tmpfs", "rootfs"].contains(&fs)));
    if root_is_real {
        assert!(mounts.iter().any(|m| m.mount_point == "/"), "{mounts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_traffic_shows_as_a_rate() {
    let _serial = SERIAL.lock().await;
    let config = ObserverConfig {
        top_processes: 0,
        include_disk_metrics: false,
        ..ObserverConfig::default()
    };
    let observer = AndonObserver::new(config).unwrap();
    observer.run_diagnostics().await.unwrap();

    const BYTES: usize = 4 << 20;
    tokio::task::spawn_blocking(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            conn.read_to_end(&mut sink).unwrap();
            sink.len()
        });
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.write_all(&vec![7u8; BYTES]).unwrap();
        drop(conn);
        assert_eq!(reader.join().unwrap(), BYTES);
    })
    .await
    .unwrap();

    let d = observer.run_diagnostics().await.unwrap();
    let interfaces = d.network.unwrap().available().unwrap().clone();
    let lo = interfaces
        .iter()
        .find(|i| i.interface == "lo")
        .expect("a loopback interface");
    let received = lo.rx_bytes_per_sec * d.window_secs.unwrap();
    assert!(
        received >= BYTES as f64,
        "lo received {received} bytes over the window, sent {BYTES}"
    );
}

#[tokio::test]
async fn top_processes_are_sorted_and_limited() {
    let _serial = SERIAL.lock().await;
    let config = ObserverConfig {
        top_processes: 3,
        ..ObserverConfig::default()
    };
    let (_, d) = measure(&config).await;
    let top = d.top.unwrap().available().unwrap().clone();
    assert!(!top.by_memory.is_empty() && top.by_memory.len() <= 3);
    assert!(
        top.by_memory
            .windows(2)
            .all(|w| w[0].rss_bytes >= w[1].rss_bytes),
        "{top:?}"
    );
    assert!(top.by_cpu.len() <= 3);
    assert!(
        top.by_cpu
            .windows(2)
            .all(|w| w[0].cpu_percent.unwrap() >= w[1].cpu_percent.unwrap()),
        "{top:?}"
    );
}

#[tokio::test]
async fn sections_switched_off_are_absent() {
    let _serial = SERIAL.lock().await;
    let config = ObserverConfig {
        include_system_metrics: false,
        include_process_metrics: false,
        include_network_metrics: false,
        include_disk_metrics: false,
        top_processes: 0,
        ..ObserverConfig::default()
    };
    let (_, d) = measure(&config).await;
    assert!(
        d.system.is_none()
            && d.process.is_none()
            && d.network.is_none()
            && d.disks.is_none()
            && d.top.is_none()
    );
    assert!(
        d.memory_percent > 0.0,
        "memory and CPU are always measured: health needs them"
    );
    let json = serde_json::to_value(&d).unwrap();
    for key in ["system", "process", "network", "disks", "top"] {
        assert!(json.get(key).is_none(), "{key} must be absent: {json}");
    }

    let only_network = ObserverConfig {
        include_network_metrics: true,
        ..config
    };
    let (_, d) = measure(&only_network).await;
    assert!(d.network.is_some() && d.system.is_none() && d.disks.is_none());
}

#[tokio::test]
async fn the_real_snapshot_is_healthy_json_within_the_cap() {
    let _serial = SERIAL.lock().await;
    let config = ObserverConfig {
        memory_threshold_percent: 100.0,
        memory_critical_percent: 100.0,
        cpu_threshold_percent: 100.0,
        cpu_critical_percent: 100.0,
        snapshot_max_bytes: 1024,
        ..ObserverConfig::default()
    };
    let observer = AndonObserver::new(config).unwrap();
    let report = observer.snapshot().await.unwrap();
    assert_eq!(report.health.status, HealthStatus::Healthy);
    assert!(
        report.summary.starts_with("healthy: memory "),
        "{}",
        report.summary
    );
    assert!(serde_json::to_string(&report.details).unwrap().len() <= 1024);
}
