//! andon span start+end against a raw OpenTelemetry SDK span in the same run, with a batch
//! processor and with sampling off; plus W3C header parsing.
//!
//! Both sides send ended spans to an exporter that discards them, so the numbers are the cost
//! on the caller's thread.
//!
//! `trace export/*`: from starting a span to its export acknowledged by a real OTLP/gRPC
//! receiver on loopback (the harness's), for andon (end, then `force_flush`) and for a raw SDK
//! provider with the opentelemetry-otlp tonic exporter and a simple processor (the export runs
//! inside `end`). The design's SLO for trace export is 500 ms.

#![allow(clippy::expect_used)] // a benchmark with a broken set-up should stop at once

use std::hint::black_box;

use andon_core::config::TracerConfig;
use andon_tests::otlp::OtlpReceiver;
use andon_trace::{AndonTracer, SpanStatus, TraceParent, extract};
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};

/// An exporter that accepts and discards every batch.
#[derive(Debug, Default)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn raw_provider(sampler: Sampler) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(Discard)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(65_536)
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .build()
}

fn andon_tracer(runtime: &tokio::runtime::Runtime, ratio: f64) -> AndonTracer {
    let _guard = runtime.enter();
    AndonTracer::builder(TracerConfig {
        sampling_ratio: ratio,
        ..TracerConfig::default()
    })
    .with_exporter(Discard)
    .build()
    .expect("tracer")
}

fn spans(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    let mut group = c.benchmark_group("span start+end");
    let raw = raw_provider(Sampler::AlwaysOn).tracer("bench");
    group.bench_function("raw opentelemetry sdk, batch", |b| {
        b.iter(|| {
            let mut span = raw.start("request-processing");
            span.end();
        })
    });
    let andon = andon_tracer(&runtime, 1.0);
    group.bench_function("andon, batch", |b| {
        b.iter(|| {
            let span = andon.start_span("request-processing").expect("start");
            andon.end_span(&span, SpanStatus::Ok).expect("end");
        })
    });
    let raw_off = raw_provider(Sampler::AlwaysOff).tracer("bench");
    group.bench_function("raw opentelemetry sdk, sampling off", |b| {
        b.iter(|| {
            let mut span = raw_off.start("request-processing");
            span.end();
        })
    });
    let andon_off = andon_tracer(&runtime, 0.0);
    group.bench_function("andon, sampling off", |b| {
        b.iter(|| {
            let span = andon_off.start_span("request-processing").expect("start");
            andon_off.end_span(&span, SpanStatus::Ok).expect("end");
        })
    });
    group.bench_function("andon, child with attribute", |b| {
        let root = andon.start_span("root").expect("root");
        b.iter(|| {
            let span = andon.start_child_span(&root, "db-query").expect("start");
            andon
                .add_span_attribute(&span, "user_id", serde_json::json!("123"))
                .expect("attribute");
            andon.end_span(&span, SpanStatus::Ok).expect("end");
        })
    });
    group.finish();
    println!("andon counters after the run: {:?}", andon.stats());

    let mut group = c.benchmark_group("w3c");
    let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    group.bench_function("traceparent parse", |b| {
        b.iter(|| TraceParent::parse(black_box(header)))
    });
    let headers = vec![
        ("traceparent".to_owned(), header.to_owned()),
        (
            "tracestate".to_owned(),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".to_owned(),
        ),
        (
            "baggage".to_owned(),
            "userId=alice,serverNode=DF%2028".to_owned(),
        ),
    ];
    group.bench_function("extract three headers", |b| {
        b.iter(|| extract(black_box(&headers)))
    });
    group.finish();
}

fn export(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let receiver = runtime
        .block_on(OtlpReceiver::start())
        .expect("OTLP receiver");
    let endpoint = receiver.grpc_endpoint();
    let (andon, raw_provider) = runtime.block_on(async {
        let andon = AndonTracer::new(TracerConfig {
            sampling_ratio: 1.0,
            otlp_endpoint: endpoint.clone(),
            ..TracerConfig::default()
        })
        .expect("tracer");
        let exporter = {
            use opentelemetry_otlp::WithExportConfig as _;
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
                .expect("raw exporter")
        };
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .build();
        (andon, provider)
    });
    let raw = raw_provider.tracer("bench");
    let mut group = c.benchmark_group("trace export");
    group.bench_function("andon", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let span = andon.start_span("exported").expect("start");
                andon.end_span(&span, SpanStatus::Ok).expect("end");
                andon.flush().await.expect("flush");
            })
        })
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let mut span = raw.start("exported");
                span.end();
            })
        })
    });
    group.finish();
    let received = receiver.spans().len();
    println!(
        "trace export: the receiver got {received} spans; andon counters {:?}",
        andon.stats()
    );
    // Only when the export benchmarks ran (a filter may have left them out).
    assert!(
        received > 0 || andon.stats().spans_started == 0,
        "no span reached the OTLP receiver"
    );
    let _ = raw_provider.shutdown();
}

criterion_group!(benches, spans, export);
criterion_main!(benches);
