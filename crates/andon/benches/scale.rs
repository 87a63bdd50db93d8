//! Scale curves of `AndonSystem::signal_problem`: the caller's cost of one YELLOW signal as one
//! dimension grows from 1 to 10,000 while the others stay small:
//!
//! - `rules`: alert rules loaded (signal rules for other components, so each is looked at and
//!   none fires);
//! - `components`: distinct components signalling in turn (board stations, metric series and
//!   per-component alert state);
//! - `label sets`: metric series already in the registry (queue-depth gauges, one label set
//!   each) when the signal's counter is recorded;
//! - `sinks`: extra signal sinks registered with `AndonSystemBuilder::with_sink`.
//!
//! Every system logs to a file (rotated, so the disk use stays bounded), records metrics in a
//! local recorder and evaluates alerts; the tracer and the observer are off, so the curves show
//! the fan-out, not span export. Read by `cargo xtask bench`, which renders each group as a table.

#![allow(clippy::expect_used)] // a benchmark whose set-up fails should stop at once, saying where

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use andon::alert::{AlertCondition, AlertManager, AlertManagerBuilder, AlertRule};
use andon::core::config::AlertsConfig;
use andon::metrics::AndonMetrics;
use andon::{AndonConfig, AndonError, AndonSignal, AndonSystem, Color, SignalSink, async_trait};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, criterion_group, criterion_main};

/// The sizes of every curve.
const SIZES: [usize; 5] = [1, 10, 100, 1_000, 10_000];

fn config(dir: &std::path::Path) -> AndonConfig {
    AndonConfig::from_toml_str(&format!(
        r#"
[logger]
sampling_enabled = false
sinks = [{{ type = "File", path = "{log}", max_bytes = 33554432, keep = 1 }}]
[tracer]
enabled = false
[observer]
enabled = false
"#,
        log = dir.join("scale.log").display(),
    ))
    .expect("bench config")
}

/// A sink that only counts, to measure the fan-out itself.
#[derive(Debug, Default)]
struct Counting(AtomicU64);

#[async_trait]
impl SignalSink for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A system with local metrics (no listener), `alerts` if given, and `sinks` extra sinks.
fn system(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    alerts: Option<AlertManagerBuilder>,
    sinks: usize,
) -> AndonSystem {
    let config = config(dir);
    runtime.block_on(async {
        let metrics = AndonMetrics::builder(config.metrics.clone())
            .without_endpoint()
            .with_local_recorder();
        let mut builder = AndonSystem::builder()
            .with_config(config)
            .with_metrics(metrics);
        if let Some(alerts) = alerts {
            builder = builder.with_alerts(alerts);
        }
        for _ in 0..sinks {
            builder = builder.with_sink(Arc::new(Counting::default()));
        }
        builder.build().await.expect("system")
    })
}

/// Measures YELLOW signals from the components `components` (in turn) on `system`.
fn measure(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    system: &AndonSystem,
    n: usize,
    components: &[String],
) {
    let next = AtomicUsize::new(0);
    group.bench_with_input(BenchmarkId::new("andon", n), &n, |b, _| {
        b.to_async(runtime).iter(|| async {
            let i = next.fetch_add(1, Ordering::Relaxed) % components.len();
            let signal = AndonSignal::yellow("bench signal").with_component(components[i].as_str());
            system
                .signal_problem(signal)
                .await
                .map(|_| ())
                .unwrap_or(())
        })
    });
    runtime.block_on(async {
        let _ = system.shutdown().await;
    });
}

fn group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    group
}

fn scale(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let one = vec!["bench".to_owned()];

    let mut g = group(c, "scale signal_problem vs rules");
    for n in SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let system = system(
            &runtime,
            dir.path(),
            Some(AlertManager::builder(AlertsConfig::default())),
            0,
        );
        let alerts = system.alerts().expect("alerts on");
        for i in 0..n {
            alerts
                .add_rule(AlertRule {
                    name: format!("rule-{i}"),
                    condition: AlertCondition::Signal {
                        color: Color::Red,
                        component: Some(format!("component-{i}")),
                        count: 1,
                        window: Duration::from_secs(60),
                    },
                    ..Default::default()
                })
                .expect("rule");
        }
        measure(&mut g, &runtime, &system, n, &one);
    }
    g.finish();

    let mut g = group(c, "scale signal_problem vs components");
    for n in SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let system = system(&runtime, dir.path(), None, 0);
        let components: Vec<String> = (0..n).map(|i| format!("component-{i}")).collect();
        // Every component has signalled once before the measurement: the steady state.
        runtime.block_on(async {
            for component in &components {
                let _ = system
                    .signal_problem(
                        AndonSignal::yellow("warm-up").with_component(component.as_str()),
                    )
                    .await;
            }
        });
        measure(&mut g, &runtime, &system, n, &components);
    }
    g.finish();

    let mut g = group(c, "scale signal_problem vs label sets");
    for n in SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let system = system(&runtime, dir.path(), None, 0);
        let metrics = system.metrics().expect("metrics on");
        for i in 0..n {
            metrics
                .update_queue_depth(&format!("queue-{i}"), i as u64)
                .expect("gauge");
        }
        measure(&mut g, &runtime, &system, n, &one);
    }
    g.finish();

    let mut g = group(c, "scale signal_problem vs sinks");
    for n in SIZES {
        let dir = tempfile::tempdir().expect("temp dir");
        let system = system(&runtime, dir.path(), None, n);
        measure(&mut g, &runtime, &system, n, &one);
    }
    g.finish();
}

criterion_group!(benches, scale);
criterion_main!(benches);
