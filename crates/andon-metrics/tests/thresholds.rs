//! Thresholds: a scripted sequence of values produces exactly the expected signals, once per
//! crossing, with hysteresis, GREEN on recovery; failing sinks are retried and counted.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use andon_core::config::{MetricsConfig, ThresholdsConfig};
use andon_core::{AndonConfig, AndonError, AndonSignal, Color, SignalSink};
use andon_metrics::{AndonMetrics, Threshold};

#[derive(Debug, Default)]
struct Recording(Mutex<Vec<AndonSignal>>);

#[andon_core::async_trait]
impl SignalSink for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        self.0.lock().unwrap().push(signal.clone());
        Ok(())
    }
}

impl Recording {
    fn colors(&self) -> Vec<Color> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(AndonSignal::color)
            .collect()
    }
}

fn metrics(config: MetricsConfig, sink: Arc<Recording>) -> AndonMetrics {
    AndonMetrics::builder(config)
        .without_endpoint()
        .with_local_recorder()
        .with_signal_sink(sink)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_hovering_queue_depth_raises_one_yellow_and_one_green() {
    // queue_depth = 100: YELLOW above 100, GREEN at 90 or below.
    let sink = Arc::new(Recording::default());
    let metrics = metrics(MetricsConfig::default(), Arc::clone(&sink));
    let script = [50, 100, 101, 150, 99, 95, 120, 91, 90, 95, 100, 101, 30];
    for depth in script {
        metrics.update_queue_depth("default", depth).unwrap();
    }
    metrics.flush().await.unwrap();
    assert_eq!(
        sink.colors(),
        [Color::Yellow, Color::Green, Color::Yellow, Color::Green],
        "101 raises; 150..91 hover above the clear level; 90 clears; 101 raises; 30 clears"
    );
    let signals = sink.0.lock().unwrap().clone();
    let first = &signals[0];
    assert_eq!(first.component(), Some("metrics"));
    assert_eq!(
        first.message(),
        r#"andon_queue_depth{queue="default"} is 101, above its threshold 100"#
    );
    assert_eq!(first.attributes()["threshold"], "queue_depth");
    assert_eq!(first.attributes()["labels"]["queue"], "default");
    assert_eq!(
        signals[1].message(),
        r#"andon_queue_depth{queue="default"} is back to 90, at or below 90 (threshold 100)"#
    );
    assert!(
        metrics
            .render()
            .contains(r#"andon_metrics_threshold_signals_total{outcome="delivered"} 4"#),
        "{}",
        metrics.render()
    );
}

#[tokio::test]
async fn each_series_crosses_on_its_own_and_the_configured_color_and_clear_apply() {
    let config = AndonConfig::from_toml_str(
        "[metrics.thresholds]\nqueue_depth = { level = 10, clear = 2, color = \"red\" }\n",
    )
    .unwrap();
    let sink = Arc::new(Recording::default());
    let metrics = metrics(config.metrics, Arc::clone(&sink));
    metrics.update_queue_depth("a", 11).unwrap();
    metrics.update_queue_depth("b", 5).unwrap();
    metrics.update_queue_depth("a", 3).unwrap(); // above clear = 2: still raised
    metrics.update_queue_depth("b", 12).unwrap();
    metrics.update_queue_depth("a", 2).unwrap();
    metrics.flush().await.unwrap();
    let got: Vec<(Color, String)> = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.color(),
                s.attributes()["labels"]["queue"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Color::Red, "a".to_owned()),
            (Color::Red, "b".to_owned()),
            (Color::Green, "a".to_owned())
        ]
    );
}

#[tokio::test]
async fn memory_is_compared_in_mebibytes_and_cpu_in_percent() {
    let sink = Arc::new(Recording::default());
    let metrics = metrics(MetricsConfig::default(), Arc::clone(&sink));
    metrics.update_memory_usage(500 * 1024 * 1024).unwrap(); // below 512 MiB
    metrics.update_cpu_usage(89.0).unwrap();
    metrics.flush().await.unwrap();
    assert!(sink.colors().is_empty());
    metrics.update_memory_usage(600 * 1024 * 1024).unwrap();
    metrics.update_cpu_usage(95.0).unwrap();
    metrics.flush().await.unwrap();
    let signals = sink.0.lock().unwrap().clone();
    let thresholds: Vec<_> = signals
        .iter()
        .map(|s| s.attributes()["threshold"].clone())
        .collect();
    assert_eq!(thresholds, ["memory_usage_mb", "cpu_usage_percent"]);
    assert!(
        metrics.render().contains("andon_cpu_usage_ratio 0.95"),
        "{}",
        metrics.render()
    );
}

#[tokio::test]
async fn user_metrics_registered_or_recorded_with_macros_are_watched() {
    let mut config = MetricsConfig::default();
    config
        .thresholds
        .custom
        .insert("my_backlog_items".into(), 5000.0);
    let sink = Arc::new(Recording::default());
    let metrics = metrics(config, Arc::clone(&sink));

    // A threshold from the configuration, on a gauge recorded with the `metrics` macros.
    metrics::with_local_recorder(&metrics.recorder(), || {
        metrics::gauge!("my_backlog_items").set(6000.0);
        metrics::gauge!("my_backlog_items").set(4000.0);
    });
    // A threshold added at run time, on a registered counter (its total is compared) and
    // histogram (each value is compared).
    let errors = metrics
        .register_counter("my_errors_total", "Errors.", &[])
        .unwrap();
    metrics
        .set_threshold(
            "my_errors_total",
            Threshold::new(2.0).with_color(Color::Red),
        )
        .unwrap();
    let latency = metrics
        .register_histogram("my_latency_seconds", "Latency.", &[("op", "load")])
        .unwrap();
    metrics
        .set_threshold("my_latency_seconds", Threshold::new(1.0).with_clear(0.5))
        .unwrap();
    errors.increment(2);
    errors.increment(1);
    errors.increment(5);
    latency.record(0.2);
    latency.record(1.5);
    latency.record(0.7);
    latency.record(0.4);
    metrics.flush().await.unwrap();
    let got: Vec<(Color, String)> = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.color(),
                s.attributes()["metric"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Color::Yellow, "my_backlog_items".to_owned()),
            (Color::Green, "my_backlog_items".to_owned()),
            (Color::Red, "my_errors_total".to_owned()),
            (Color::Yellow, "my_latency_seconds".to_owned()),
            (Color::Green, "my_latency_seconds".to_owned()),
        ]
    );

    // Removing a threshold stops the signals.
    metrics.remove_threshold("my_latency_seconds");
    latency.record(9.0);
    metrics.flush().await.unwrap();
    assert_eq!(sink.colors().len(), 5);

    let err = metrics
        .set_threshold("my_latency_seconds", Threshold::new(1.0).with_clear(1.0))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("metrics.thresholds.my_latency_seconds.clear"),
        "{err}"
    );
    let err = metrics
        .set_threshold("bad name", Threshold::new(1.0))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`bad name` is not a valid metric name"),
        "{err}"
    );
}

#[derive(Debug, Default)]
struct Failing(Mutex<u32>);

#[andon_core::async_trait]
impl SignalSink for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }

    async fn on_signal(&self, _signal: &AndonSignal) -> Result<(), AndonError> {
        *self.0.lock().unwrap() += 1;
        Err(AndonError::component("alert", "channel down"))
    }
}

#[tokio::test]
async fn a_failing_sink_is_retried_counted_and_made_visible_without_blocking_updates() {
    let failing = Arc::new(Failing::default());
    let metrics = AndonMetrics::builder(MetricsConfig::default())
        .without_endpoint()
        .with_local_recorder()
        .with_signal_sink(Arc::clone(&failing) as Arc<dyn SignalSink>)
        .build()
        .unwrap();
    metrics.update_queue_depth("q", 500).unwrap();
    metrics.flush().await.unwrap();
    assert_eq!(*failing.0.lock().unwrap(), 3, "one attempt and two retries");
    let text = metrics.render();
    assert!(
        text.contains(r#"andon_metrics_threshold_signals_total{outcome="failed"} 1"#),
        "{text}"
    );
    assert_eq!(
        metrics.last_delivery_error().as_deref(),
        Some("signal sink `failing`: andon alert: channel down")
    );
}

#[tokio::test]
async fn without_a_sink_threshold_signals_are_counted_and_thresholds_can_be_off() {
    let mut config = MetricsConfig {
        thresholds: ThresholdsConfig {
            queue_depth: None,
            ..ThresholdsConfig::default()
        },
        ..MetricsConfig::default()
    };
    config.thresholds.custom.insert("x_depth".into(), 1.0);
    let metrics = AndonMetrics::builder(config)
        .without_endpoint()
        .with_local_recorder()
        .build()
        .unwrap();
    metrics.update_queue_depth("q", 1_000_000).unwrap(); // no queue_depth threshold
    andon_core::MetricsSink::set_gauge(&metrics, "x_depth", &[], 2.0);
    metrics.flush().await.unwrap();
    let text = metrics.render();
    assert!(
        text.contains(r#"andon_metrics_threshold_signals_total{outcome="no_sink"} 1"#),
        "{text}"
    );
}
