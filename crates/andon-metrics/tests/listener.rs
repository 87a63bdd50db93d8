//! The metrics listener (event-driven alert rules) and the design's "failure count": what the
//! recorder tells other components as values change.

// Helpers outside #[test] functions are not covered by clippy.toml's allow-*-in-tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use andon_core::config::MetricsConfig;
use andon_core::{AndonSignal, Deferred, MetricsListener, MetricsSink, MetricsSource, SignalSink};
use andon_metrics::AndonMetrics;

fn metrics() -> Arc<AndonMetrics> {
    Arc::new(
        AndonMetrics::builder(MetricsConfig::default())
            .without_endpoint()
            .with_local_recorder()
            .build()
            .unwrap(),
    )
}

/// Metrics whose listener is bound later into the returned slot, as the umbrella binds the
/// alert manager built after them.
fn listened() -> (Arc<AndonMetrics>, Arc<Deferred<dyn MetricsListener>>) {
    let slot: Arc<Deferred<dyn MetricsListener>> = Arc::new(Deferred::new());
    let metrics = AndonMetrics::builder(MetricsConfig::default())
        .without_endpoint()
        .with_local_recorder()
        .with_metrics_listener(Arc::clone(&slot))
        .build()
        .unwrap();
    (Arc::new(metrics), slot)
}

/// Counts the calls per metric and reads the value each call announces.
#[derive(Debug, Default)]
struct Counting {
    watched: Vec<String>,
    source: OnceLock<Arc<AndonMetrics>>,
    calls: Mutex<BTreeMap<String, Vec<Option<f64>>>>,
}

impl Counting {
    fn watching(names: &[&str], source: &Arc<AndonMetrics>) -> Arc<Self> {
        let counting = Counting {
            watched: names.iter().map(|n| (*n).to_owned()).collect(),
            ..Counting::default()
        };
        counting.source.set(Arc::clone(source)).unwrap();
        Arc::new(counting)
    }

    fn seen(&self, name: &str) -> Vec<Option<f64>> {
        self.calls
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    fn names(&self) -> Vec<String> {
        self.calls.lock().unwrap().keys().cloned().collect()
    }
}

impl MetricsListener for Counting {
    fn watched_metrics(&self) -> Vec<String> {
        self.watched.clone()
    }

    fn metric_changed(&self, name: &str) {
        let value = self.source.get().and_then(|m| m.value(name, &[]));
        self.calls
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .push(value);
    }
}

#[test]
fn a_listener_hears_every_update_of_the_metrics_it_watches_and_nothing_else() {
    let (metrics, slot) = listened();
    let listener = Counting::watching(&["andon_queue_depth", "my_backlog_items"], &metrics);
    slot.bind(listener.clone()).unwrap();

    // andon's API, with the new value already readable when the listener is called.
    metrics.update_queue_depth("default", 150).unwrap();
    metrics.update_queue_depth("default", 20).unwrap();
    // A held handle, the user's registered gauge, MetricsSink and the `metrics` macros.
    metrics.queue_depth_gauge("bulk").unwrap().set(7.0);
    let backlog = metrics
        .register_gauge("my_backlog_items", "Items not yet processed.", &[])
        .unwrap();
    backlog.set(5.0);
    metrics.set_gauge("my_backlog_items", &[], 6.0);
    metrics::with_local_recorder(&metrics.recorder(), || {
        metrics::gauge!("my_backlog_items").increment(1.0);
    });
    // Not watched: signals, other gauges, histograms.
    metrics.count_signal(&AndonSignal::red("x")).unwrap();
    metrics.update_memory_usage(1 << 20).unwrap();
    metrics
        .record_request_latency("/a", std::time::Duration::from_millis(3))
        .unwrap();

    assert_eq!(
        listener.seen("andon_queue_depth"),
        [Some(150.0), Some(20.0), Some(20.0)],
        "each update, after its value is stored (the largest series is read)"
    );
    assert_eq!(
        listener.seen("my_backlog_items"),
        [Some(5.0), Some(6.0), Some(7.0)]
    );
    assert_eq!(listener.names(), ["andon_queue_depth", "my_backlog_items"]);

    // The default `queue_depth` threshold still watches the same gauge beside the listener.
    assert!(metrics.render().contains("andon_queue_depth"));

    // Bound once: a second listener is refused and hears nothing; the first keeps hearing only
    // its own names.
    let second = Counting::watching(&["andon_memory_usage_bytes"], &metrics);
    assert!(slot.bind(second.clone()).is_err());
    metrics.update_queue_depth("default", 1).unwrap();
    metrics.update_memory_usage(2 << 20).unwrap();
    assert_eq!(listener.seen("andon_queue_depth").len(), 4);
    assert!(listener.seen("andon_memory_usage_bytes").is_empty());
    assert!(second.seen("andon_memory_usage_bytes").is_empty());

    // Another recorder's listener hears only its own names.
    let slot: Arc<Deferred<dyn MetricsListener>> = Arc::new(Deferred::new());
    let other = Arc::new(
        AndonMetrics::builder(MetricsConfig::default())
            .without_endpoint()
            .with_local_recorder()
            .with_metrics_listener(Arc::clone(&slot))
            .build()
            .unwrap(),
    );
    let third = Counting::watching(&["andon_memory_usage_bytes"], &other);
    slot.bind(third.clone()).unwrap();
    other.update_queue_depth("default", 1).unwrap();
    other.update_memory_usage(2 << 20).unwrap();
    assert_eq!(
        third.seen("andon_memory_usage_bytes"),
        [Some(f64::from(2 << 20))]
    );
    assert!(third.seen("andon_queue_depth").is_empty());
}

#[test]
fn a_listener_installed_before_the_first_series_hears_it() {
    let (metrics, slot) = listened();
    let listener = Counting::watching(&["jobs_done_total"], &metrics);
    slot.bind(listener.clone()).unwrap();
    let jobs = metrics
        .register_counter("jobs_done_total", "Jobs done.", &[("kind", "import")])
        .unwrap();
    jobs.increment(2);
    jobs.increment(1);
    assert_eq!(listener.seen("jobs_done_total"), [Some(2.0), Some(3.0)]);
}

#[tokio::test]
async fn a_red_signal_counts_one_failure_of_its_component() {
    let metrics = metrics();
    let sink: &dyn SignalSink = metrics.as_ref();
    for _ in 0..3 {
        sink.on_signal(&AndonSignal::red("down").with_component("db"))
            .await
            .unwrap();
    }
    sink.on_signal(&AndonSignal::yellow("slow").with_component("db"))
        .await
        .unwrap();
    sink.on_signal(&AndonSignal::green("fine").with_component("web"))
        .await
        .unwrap();
    metrics.count_signal(&AndonSignal::red("who?")).unwrap();

    assert_eq!(
        metrics.value("andon_failures_total", &[("component", "db")]),
        Some(3.0)
    );
    assert_eq!(
        metrics.value("andon_failures_total", &[("component", "unknown")]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("andon_failures_total", &[("component", "web")]),
        Some(0.0),
        "YELLOW and GREEN are not failures (the series starts at 0 for rate())"
    );
    let text = metrics.render();
    assert!(
        text.contains(r#"andon_failures_total{component="db"} 3"#),
        "{text}"
    );
}
