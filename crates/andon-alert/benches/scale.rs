//! Scale curves of the alert manager: the cost of one `check_and_fire_alerts` as the number of
//! threshold rules grows (1 to 10,000), beside the raw metric reads and compares beneath it, and
//! the cost of one `on_signal` as the number of signal rules grows.
//!
//! Read by `cargo xtask bench`, which renders each group as a table (rules -> time).
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on the first failure

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use andon_alert::{AlertCondition, AlertManager, AlertRule, Comparison, Threshold};
use andon_core::config::AlertsConfig;
use andon_core::{AlertSeverity, AndonSignal, Color, MetricsSource, Sample, SignalSink};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// The sizes of every curve.
const SIZES: [usize; 5] = [1, 10, 100, 1_000, 10_000];

#[derive(Debug)]
struct Gauges(HashMap<String, f64>);

impl MetricsSource for Gauges {
    fn samples(&self, name: &str) -> Vec<Sample> {
        self.0
            .get(name)
            .map(|v| {
                vec![Sample {
                    labels: Vec::new(),
                    value: *v,
                }]
            })
            .unwrap_or_default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// `check_and_fire_alerts` with `n` threshold rules, a quarter of them firing (steady state
/// after the first evaluation), beside reading and comparing the same `n` gauges directly.
fn evaluate(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("scale alerts check_and_fire_alerts vs rules");
    group.sample_size(20);
    for n in SIZES {
        let gauges: HashMap<String, f64> = (0..n)
            .map(|i| (format!("gauge_{i}"), (i % 200) as f64))
            .collect();
        let metrics = Arc::new(Gauges(gauges));
        let manager = rt.block_on(async {
            let manager = AlertManager::new(AlertsConfig::default(), metrics.clone()).unwrap();
            for i in 0..n {
                manager
                    .add_rule(AlertRule {
                        name: format!("rule-{i}"),
                        condition: AlertCondition::Threshold(Threshold {
                            metric: format!("gauge_{i}"),
                            labels: Vec::new(),
                            comparison: Comparison::Above,
                            value: 150.0,
                            clear: Some(120.0),
                            rate_over: None,
                        }),
                        severity: AlertSeverity::Warning,
                        ..Default::default()
                    })
                    .unwrap();
            }
            manager.check_and_fire_alerts().await.unwrap();
            manager
        });
        group.bench_with_input(BenchmarkId::new("andon", n), &n, |b, _| {
            b.iter(|| rt.block_on(manager.check_and_fire_alerts()).unwrap());
        });
        let names: Vec<String> = (0..n).map(|i| format!("gauge_{i}")).collect();
        group.bench_with_input(BenchmarkId::new("raw", n), &n, |b, _| {
            b.iter(|| {
                names
                    .iter()
                    .filter(|name| metrics.value(name, &[]).is_some_and(|v| v > 150.0))
                    .count()
            });
        });
        rt.block_on(async {
            let _ = manager.flush_within(Duration::from_secs(1)).await;
        });
    }
    group.finish();
}

/// `on_signal` of a YELLOW signal with `n` signal rules, each for another component and RED, so
/// that every rule is looked at and none fires: the cost of the rule count on the signal path.
fn on_signal(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("scale alerts on_signal vs rules");
    group.sample_size(20);
    for n in SIZES {
        let manager =
            AlertManager::new(AlertsConfig::default(), Arc::new(andon_core::Noop)).unwrap();
        for i in 0..n {
            manager
                .add_rule(AlertRule {
                    name: format!("rule-{i}"),
                    condition: AlertCondition::Signal {
                        color: Color::Red,
                        component: Some(format!("component-{i}")),
                        count: 1,
                        window: Duration::from_secs(60),
                    },
                    severity: AlertSeverity::Warning,
                    ..Default::default()
                })
                .unwrap();
        }
        let signal = AndonSignal::yellow("queue slow").with_component("bench");
        group.bench_with_input(BenchmarkId::new("andon", n), &n, |b, _| {
            b.iter(|| rt.block_on(manager.on_signal(black_box(&signal))).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, evaluate, on_signal);
criterion_main!(benches);
