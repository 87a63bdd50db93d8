//! Set-up shared by the alert benchmarks: a gauge source, a one-worker runtime, and a manager
//! with `n` threshold rules over `n` gauges (a quarter of them over the threshold), evaluated
//! once so that later evaluations measure the steady state.

use std::collections::HashMap;
use std::sync::Arc;

use andon_alert::{AlertCondition, AlertManager, AlertRule, Comparison, Threshold};
use andon_core::config::AlertsConfig;
use andon_core::{AlertSeverity, MetricsSource, Sample};

/// Gauges by name, one series each.
#[derive(Debug)]
pub(crate) struct Gauges(HashMap<String, f64>);

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

/// A multi-thread runtime with one worker, as a small service would run the manager.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A manager with `n` rules `gauge_i > 150` (clear at 120) over gauges valued `i % 200`, after
/// its first evaluation; the gauges; and their names, for the raw baseline.
pub(crate) fn threshold_rules(
    rt: &tokio::runtime::Runtime,
    n: usize,
) -> (AlertManager, Arc<Gauges>, Vec<String>) {
    let names: Vec<String> = (0..n).map(|i| format!("gauge_{i}")).collect();
    let metrics = Arc::new(Gauges(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), (i % 200) as f64))
            .collect(),
    ));
    let manager = rt.block_on(async {
        let manager = AlertManager::builder(AlertsConfig::default())
            .with_metrics_source(metrics.clone())
            .build()
            .unwrap();
        for (i, name) in names.iter().enumerate() {
            manager
                .add_rule(AlertRule {
                    name: format!("rule-{i}"),
                    condition: AlertCondition::Threshold(Threshold {
                        metric: name.clone(),
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
        // The first evaluation fires a quarter of them; later ones are steady state.
        manager.check_and_fire_alerts().await.unwrap();
        manager
    });
    (manager, metrics, names)
}

/// The raw baseline of an evaluation: read every gauge and compare it with the threshold.
pub(crate) fn raw_reads_and_compares(metrics: &Gauges, names: &[String]) -> usize {
    names
        .iter()
        .filter(|name| metrics.value(name, &[]).is_some_and(|v| v > 150.0))
        .count()
}
