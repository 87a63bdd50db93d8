//! Scale curves of the alert manager: the cost of one `check_and_fire_alerts` as the number of
//! threshold rules grows (1 to 10,000), beside the raw metric reads and compares beneath it, and
//! the cost of one `on_signal` as the number of signal rules grows.
//!
//! Read by `cargo xtask bench`, which renders each group as a table (rules -> time).
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on the first failure

use std::hint::black_box;
use std::time::Duration;

use andon_alert::{AlertCondition, AlertManager, AlertRule};
use andon_core::config::AlertsConfig;
use andon_core::{AlertSeverity, AndonSignal, Color, SignalSink};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// The sizes of every curve.
const SIZES: [usize; 5] = [1, 10, 100, 1_000, 10_000];

mod common;
use common::{raw_reads_and_compares, runtime, threshold_rules};

/// `check_and_fire_alerts` with `n` threshold rules, a quarter of them firing (steady state
/// after the first evaluation), beside reading and comparing the same `n` gauges directly.
fn evaluate(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("scale alerts check_and_fire_alerts vs rules");
    group.sample_size(20);
    for n in SIZES {
        let (manager, metrics, names) = threshold_rules(&rt, n);
        group.bench_with_input(BenchmarkId::new("andon", n), &n, |b, _| {
            b.iter(|| rt.block_on(manager.check_and_fire_alerts()).unwrap());
        });
        group.bench_with_input(BenchmarkId::new("raw", n), &n, |b, _| {
            b.iter(|| raw_reads_and_compares(&metrics, &names));
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
        let manager = AlertManager::builder(AlertsConfig::default())
            .build()
            .unwrap();
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
