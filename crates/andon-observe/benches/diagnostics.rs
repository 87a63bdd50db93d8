//! `run_diagnostics` with every section on and with memory and CPU only, beside the raw
//! sysinfo refreshes beneath them, in the same run.
// Helpers outside #[test] functions may unwrap too: a failure should stop the test right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use andon_core::config::ObserverConfig;
use andon_observe::AndonObserver;
use criterion::{Criterion, criterion_group, criterion_main};
use sysinfo::{CpuRefreshKind, MemoryRefreshKind, ProcessRefreshKind, ProcessesToUpdate, System};

fn observer(config: ObserverConfig, runtime: &tokio::runtime::Runtime) -> AndonObserver {
    let observer = AndonObserver::new(config).expect("observer");
    // The first call warms up (200 ms); measure the steady state.
    runtime
        .block_on(observer.run_diagnostics())
        .expect("warm-up");
    observer
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("diagnostics");

    let everything = observer(ObserverConfig::default(), &runtime);
    group.bench_function("andon run_diagnostics, every section", |b| {
        b.iter(|| {
            runtime
                .block_on(everything.run_diagnostics())
                .expect("diagnostics")
        })
    });
    let targeted = observer(
        ObserverConfig {
            include_system_metrics: false,
            include_process_metrics: false,
            include_network_metrics: false,
            include_disk_metrics: false,
            top_processes: 0,
            ..ObserverConfig::default()
        },
        &runtime,
    );
    group.bench_function("andon run_diagnostics, memory and cpu only", |b| {
        b.iter(|| {
            runtime
                .block_on(targeted.run_diagnostics())
                .expect("diagnostics")
        })
    });

    let mut system = System::new_all().expect("sysinfo");
    group.bench_function("sysinfo refresh_all", |b| b.iter(|| system.refresh_all()));
    group.bench_function("sysinfo memory and cpu refresh", |b| {
        b.iter(|| {
            system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
            system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_usage());
        })
    });
    group.bench_function("sysinfo processes memory and cpu", |b| {
        b.iter(|| {
            system.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing()
                    .with_memory()
                    .with_cpu()
                    .without_tasks(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
