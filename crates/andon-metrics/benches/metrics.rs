//! andon-metrics' hot paths side by side with the raw `metrics` handles and macros beneath them,
//! the cost of a metrics listener (event-driven alert rules) on watched and unwatched names, and
//! rendering 10,000 series.

#![allow(clippy::expect_used)] // a benchmark whose setup fails has nothing to measure

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use andon_core::config::MetricsConfig;
use andon_core::{AndonSignal, MetricsListener};
use andon_metrics::AndonMetrics;
use criterion::{Criterion, criterion_group, criterion_main};
use metrics::Recorder;

fn metrics() -> AndonMetrics {
    AndonMetrics::builder(MetricsConfig::default())
        .without_endpoint()
        .with_local_recorder()
        .build()
        .expect("metrics")
}

/// A raw Prometheus recorder with the same buckets, for the baseline.
fn raw() -> metrics_exporter_prometheus::PrometheusRecorder {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&MetricsConfig::default().buckets)
        .expect("buckets")
        .build_recorder()
}

fn updates(c: &mut Criterion) {
    let andon = metrics();
    let raw = raw();
    let signal = AndonSignal::red("overflow").with_component("queue-handler");
    let mut group = c.benchmark_group("update");

    group.bench_function("andon record_signal (async, polled once)", |b| {
        let mut cx = Context::from_waker(Waker::noop());
        b.iter(|| {
            let fut = pin!(andon.record_signal(black_box(&signal)));
            assert!(matches!(fut.poll(&mut cx), Poll::Ready(Ok(()))));
        });
    });
    group.bench_function("andon count_signal", |b| {
        b.iter(|| andon.count_signal(black_box(&signal)).expect("count"));
    });
    group.bench_function("raw counter! with the same two labels, owned value", |b| {
        metrics::with_local_recorder(&raw, || {
            b.iter(|| {
                metrics::counter!("andon_signals_total", "color" => "red", "component" => black_box("queue-handler").to_owned()).increment(1);
            });
        });
    });

    group.bench_function("raw counter! with the same two labels, static", |b| {
        metrics::with_local_recorder(&raw, || {
            b.iter(|| {
                metrics::counter!("andon_signals_total", "color" => "red", "component" => "queue-handler").increment(1);
            });
        });
    });
    let raw_counter = raw.register_counter(
        &metrics::Key::from_parts(
            "raw_signals_total",
            vec![
                metrics::Label::new("color", "red"),
                metrics::Label::new("component", "queue-handler"),
            ],
        ),
        &metrics::Metadata::new("bench", metrics::Level::INFO, None),
    );
    group.bench_function("raw cached counter increment", |b| {
        b.iter(|| raw_counter.increment(black_box(1)));
    });

    group.bench_function("andon update_queue_depth", |b| {
        b.iter(|| {
            andon
                .update_queue_depth(black_box("default"), black_box(150))
                .expect("gauge")
        });
    });
    group.bench_function("raw gauge! with the same label, owned value", |b| {
        metrics::with_local_recorder(&raw, || {
            b.iter(|| {
                metrics::gauge!("andon_queue_depth", "queue" => black_box("default").to_owned())
                    .set(black_box(150.0));
            });
        });
    });
    group.bench_function("raw gauge! with the same label, static", |b| {
        metrics::with_local_recorder(&raw, || {
            b.iter(|| {
                metrics::gauge!("andon_queue_depth", "queue" => "default").set(black_box(150.0));
            });
        });
    });
    let gauge = andon.queue_depth_gauge("default").expect("gauge");
    group.bench_function("andon cached queue depth gauge set", |b| {
        b.iter(|| gauge.set(black_box(150.0)));
    });
    let raw_gauge = raw.register_gauge(
        &metrics::Key::from_parts(
            "raw_queue_depth",
            vec![metrics::Label::new("queue", "default")],
        ),
        &metrics::Metadata::new("bench", metrics::Level::INFO, None),
    );
    group.bench_function("raw cached gauge set", |b| {
        b.iter(|| raw_gauge.set(black_box(150.0)));
    });

    group.bench_function("andon record_request_latency", |b| {
        b.iter(|| {
            andon
                .record_request_latency(
                    black_box("/api/test"),
                    black_box(Duration::from_micros(1500)),
                )
                .expect("histogram");
        });
    });
    group.bench_function("raw histogram! with the same label, owned value", |b| {
        metrics::with_local_recorder(&raw, || {
            b.iter(|| {
                metrics::histogram!("andon_request_duration_seconds", "endpoint" => black_box("/api/test").to_owned())
                    .record(black_box(Duration::from_micros(1500)).as_secs_f64());
            });
        });
    });
    let histogram = andon
        .request_latency_histogram("/api/test")
        .expect("histogram");
    group.bench_function("andon cached latency histogram record", |b| {
        b.iter(|| histogram.record(black_box(0.0015)));
    });
    let raw_histogram = raw.register_histogram(
        &metrics::Key::from_parts(
            "raw_latency",
            vec![metrics::Label::new("endpoint", "/api/test")],
        ),
        &metrics::Metadata::new("bench", metrics::Level::INFO, None),
    );
    group.bench_function("raw cached histogram record", |b| {
        b.iter(|| raw_histogram.record(black_box(0.0015)));
    });
    group.finish();
}

/// A listener as cheap as the contract asks: it marks and returns.
#[derive(Debug, Default)]
struct Marking {
    changes: AtomicU64,
}

impl MetricsListener for Marking {
    fn watched_metrics(&self) -> Vec<String> {
        vec!["andon_queue_depth".to_owned()]
    }

    fn metric_changed(&self, _name: &str) {
        self.changes.fetch_add(1, Ordering::Relaxed);
    }
}

/// A gauge update with and without a listener installed, on a name it does not watch and on
/// one it does, beside the raw handle.
fn listener(c: &mut Criterion) {
    let plain = metrics();
    let slot: Arc<andon_core::Deferred<dyn andon_core::MetricsListener>> = Arc::default();
    let listened = AndonMetrics::builder(MetricsConfig::default())
        .without_endpoint()
        .with_local_recorder()
        .with_metrics_listener(Arc::clone(&slot))
        .build()
        .expect("metrics");
    let marking = Arc::new(Marking::default());
    let _ = slot.bind(marking.clone());
    let raw = raw();
    let mut group = c.benchmark_group("listener");

    let unwatched = plain
        .register_gauge("bench_backlog_items", "Unwatched.", &[])
        .expect("gauge");
    group.bench_function("andon cached gauge set, unwatched, no listener", |b| {
        b.iter(|| unwatched.set(black_box(150.0)));
    });
    let unwatched = listened
        .register_gauge("bench_backlog_items", "Unwatched.", &[])
        .expect("gauge");
    group.bench_function(
        "andon cached gauge set, unwatched, listener installed",
        |b| {
            b.iter(|| unwatched.set(black_box(150.0)));
        },
    );
    let watched = listened.queue_depth_gauge("default").expect("gauge");
    group.bench_function("andon cached gauge set, watched (listener called)", |b| {
        b.iter(|| watched.set(black_box(50.0)));
    });
    let raw_gauge = raw.register_gauge(
        &metrics::Key::from_name("raw_backlog_items"),
        &metrics::Metadata::new("bench", metrics::Level::INFO, None),
    );
    group.bench_function("raw cached gauge set", |b| {
        b.iter(|| raw_gauge.set(black_box(150.0)));
    });
    group.finish();
    assert!(
        marking.changes.load(Ordering::Relaxed) > 0,
        "the listener was called"
    );
}

fn render(c: &mut Criterion) {
    let andon = metrics();
    let raw = raw();
    for i in 0..10_000 {
        let queue = format!("queue-{i}");
        andon.update_queue_depth(&queue, i).expect("gauge");
        raw.register_gauge(
            &metrics::Key::from_parts(
                "andon_queue_depth",
                vec![metrics::Label::new("queue", queue)],
            ),
            &metrics::Metadata::new("bench", metrics::Level::INFO, None),
        )
        .set(i as f64);
    }
    let handle = raw.handle();
    let mut group = c.benchmark_group("render 10000 series");
    group.sample_size(20);
    group.bench_function("andon render", |b| b.iter(|| black_box(andon.render())));
    group.bench_function("raw PrometheusHandle::render", |b| {
        b.iter(|| black_box(handle.render()))
    });
    group.finish();
}

criterion_group!(benches, updates, listener, render);
criterion_main!(benches);
