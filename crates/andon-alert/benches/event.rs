//! Benchmark: a gauge crossing its limit until the notification is queued (goal p99 under
//! 100 ms), by the event path (`MetricsListener::metric_changed` from the recorder's thread,
//! the rules of that metric evaluated by the manager's task) beside the polling path (a full
//! `check_and_fire_alerts` over every rule, which in a running system also waits for the next
//! evaluation tick: up to `evaluation_interval`, 15 s by default). 1,000 other threshold rules
//! are loaded, as in a service with many rules.
#![allow(missing_docs)] // criterion's macros generate undocumented items
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on the first failure

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use andon_alert::{
    AlertChannel, AlertCondition, AlertManager, AlertRule, Comparison, QUEUE_DEPTH_METRIC,
    Threshold,
};
use andon_core::config::AlertsConfig;
use andon_core::{AlertSeverity, MetricsListener, MetricsSource, Noop, Sample};
use criterion::{Criterion, criterion_group, criterion_main};

const OTHER_RULES: usize = 1_000;

/// The queue depth (changed by the benchmark) and fixed gauges for the other rules.
#[derive(Debug)]
struct Source {
    depth: AtomicU64,
    gauges: HashMap<String, f64>,
}

impl MetricsSource for Source {
    fn samples(&self, name: &str) -> Vec<Sample> {
        let value = if name == QUEUE_DEPTH_METRIC {
            Some(self.depth.load(Ordering::Relaxed) as f64)
        } else {
            self.gauges.get(name).copied()
        };
        value
            .map(|value| {
                vec![Sample {
                    labels: Vec::new(),
                    value,
                }]
            })
            .unwrap_or_default()
    }
}

fn setup(rt: &tokio::runtime::Runtime) -> (AlertManager, Arc<Source>) {
    let source = Arc::new(Source {
        depth: AtomicU64::new(0),
        gauges: (0..OTHER_RULES)
            .map(|i| (format!("gauge_{i}"), (i % 200) as f64))
            .collect(),
    });
    let manager = rt.block_on(async {
        let manager = AlertManager::builder(AlertsConfig::default())
            .with_metrics_source(source.clone())
            .with_log_sink(Arc::new(Noop))
            .build()
            .unwrap();
        manager
            .add_rule(AlertRule {
                name: "high-queue".into(),
                condition: AlertCondition::QueueDepth { max_depth: 100 },
                severity: AlertSeverity::Warning,
                channels: vec![AlertChannel::Log],
                ..Default::default()
            })
            .unwrap();
        for i in 0..OTHER_RULES {
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
    (manager, source)
}

/// Waits (on this thread, as a caller would) until `n` notifications were created.
fn until_notifications(manager: &AlertManager, n: u64) {
    while manager.stats().notifications < n {
        std::thread::yield_now();
    }
}

fn crossing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (manager, source) = setup(&rt);
    // One crossing by the event path: up, metric_changed, until the FIRING notification is
    // queued; then down again (resolved), outside the timing.
    let event = |source: &Source| -> Duration {
        let before = manager.stats().notifications;
        source.depth.store(150, Ordering::Relaxed);
        let start = Instant::now();
        manager.metric_changed(QUEUE_DEPTH_METRIC);
        until_notifications(&manager, before + 1);
        let elapsed = start.elapsed();
        source.depth.store(0, Ordering::Relaxed);
        manager.metric_changed(QUEUE_DEPTH_METRIC);
        until_notifications(&manager, before + 2);
        elapsed
    };
    let mut group = c.benchmark_group("gauge_crossing_to_notification_queued");
    group.bench_function("andon_event_path_metric_changed", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| event(&source)).sum());
    });
    group.bench_function("polling_path_check_and_fire_alerts", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let before = manager.stats().notifications;
                    source.depth.store(150, Ordering::Relaxed);
                    let start = Instant::now();
                    rt.block_on(manager.check_and_fire_alerts()).unwrap();
                    let elapsed = start.elapsed();
                    assert_eq!(manager.stats().notifications, before + 1);
                    source.depth.store(0, Ordering::Relaxed);
                    rt.block_on(manager.check_and_fire_alerts()).unwrap();
                    elapsed
                })
                .sum()
        });
    });
    group.finish();

    let mut samples: Vec<Duration> = (0..2000).map(|_| event(&source)).collect();
    samples.sort();
    eprintln!(
        "gauge_crossing_to_notification_queued, event path, over {} crossings: p50 {:?}, p99 {:?}, max {:?} (polling path: plus the wait for the tick, up to evaluation_interval = {:?})",
        samples.len(),
        samples[samples.len() / 2],
        samples[samples.len() * 99 / 100],
        samples[samples.len() - 1],
        AlertsConfig::default().evaluation_interval,
    );
}

criterion_group!(benches, crossing);
criterion_main!(benches);
