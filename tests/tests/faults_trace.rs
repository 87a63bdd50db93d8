//! Trace faults (docs/faults.md): the OTLP receiver down at start and dying during export, over
//! gRPC and HTTP. Spans are queued up to `max_queue_size`, the rest dropped and counted; failed
//! exports are counted; when a receiver comes back on the same port, export resumes on its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::Duration;

use andon::trace::{AndonTracer, SpanStatus, TraceStats};
use andon_core::config::{OtlpProtocol, TracerConfig};
use andon_tests::otlp::OtlpReceiver;
use andon_tests::{free_port, wait_for};

const QUEUE: usize = 32;

/// A receiver on its own runtime, so that stopping it closes its listeners and every open
/// connection at once, as a crashed collector does.
struct Collector {
    runtime: tokio::runtime::Runtime,
    receiver: OtlpReceiver,
}

impl Collector {
    fn start(grpc: u16, http: u16) -> Collector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Started from a thread of its own (the test is async); the old listener may take a
        // moment to be released.
        let receiver = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    wait_for(Duration::from_secs(10), || {
                        runtime.block_on(OtlpReceiver::start_on(grpc, http)).ok()
                    })
                })
                .join()
                .unwrap()
        })
        .expect("the receiver's ports stay taken");
        Collector { runtime, receiver }
    }

    fn stop(self) {
        drop(self.receiver);
        self.runtime.shutdown_background();
    }
}

fn tracer(protocol: OtlpProtocol, grpc: u16, http: u16) -> AndonTracer {
    let port = match protocol {
        OtlpProtocol::Grpc => grpc,
        OtlpProtocol::Http => http,
    };
    AndonTracer::new(TracerConfig {
        service_name: "faults".into(),
        sampling_ratio: 1.0,
        otlp_endpoint: format!("http://127.0.0.1:{port}"),
        protocol,
        max_queue_size: QUEUE,
        max_export_batch_size: 16,
        scheduled_delay_ms: 50,
        export_timeout_ms: 300,
        ..TracerConfig::default()
    })
    .unwrap()
}

fn spans(tracer: &AndonTracer, name: &str, count: usize) {
    for _ in 0..count {
        let span = tracer.start_span(name.to_owned()).unwrap();
        tracer.end_span(&span, SpanStatus::Ok).unwrap();
    }
}

/// Every span is accounted for once queued spans are flushed.
fn accounted(stats: &TraceStats) {
    assert_eq!(
        stats.spans_started,
        stats.spans_queued + stats.spans_dropped + stats.spans_not_sampled,
        "{stats:?}"
    );
    assert_eq!(
        stats.spans_queued,
        stats.spans_exported + stats.spans_failed,
        "{stats:?}"
    );
}

/// Flushes until every queued span is exported or counted as failed. While the receiver is
/// down each batch may take the export timeout, so one flush can give up first (bounded, with
/// [`TraceError::Timeout`](andon::trace::TraceError::Timeout)); it never hangs.
async fn settle(tracer: &AndonTracer) -> TraceStats {
    for _ in 0..100 {
        match tracer.flush().await {
            Ok(()) | Err(andon::trace::TraceError::Timeout { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        let stats = tracer.stats();
        if stats.spans_queued == stats.spans_exported + stats.spans_failed {
            return stats;
        }
    }
    panic!("queued spans never settled: {:?}", tracer.stats());
}

/// Sends a span named `probe` and flushes until the collector has one.
async fn until_received(tracer: &AndonTracer, collector: &Collector) {
    for _ in 0..200 {
        spans(tracer, "probe", 1);
        settle(tracer).await;
        if collector
            .receiver
            .spans()
            .iter()
            .any(|s| s.name() == "probe")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("export did not resume: {:?}", tracer.stats());
}

fn count(collector: &Collector, name: &str) -> usize {
    collector
        .receiver
        .spans()
        .iter()
        .filter(|s| s.name() == name)
        .count()
}

// A current-thread runtime: the exporter cannot run while the test creates spans, so the
// queue's bound is reached exactly.
#[tokio::test]
async fn a_receiver_down_at_start_bounds_the_queue_counts_the_rest_and_export_resumes() {
    for protocol in [OtlpProtocol::Grpc, OtlpProtocol::Http] {
        let (grpc, http) = (free_port(), free_port());
        let tracer = tracer(protocol, grpc, http);

        spans(&tracer, "early", 200);
        let stats = tracer.stats();
        assert_eq!(
            (stats.spans_queued, stats.spans_dropped),
            (QUEUE as u64, 200 - QUEUE as u64),
            "{protocol:?}"
        );
        let stats = settle(&tracer).await;
        assert_eq!(
            (stats.spans_exported, stats.spans_failed),
            (0, QUEUE as u64)
        );
        assert!(stats.export_errors >= 1);
        accounted(&stats);

        let collector = Collector::start(grpc, http);
        until_received(&tracer, &collector).await;
        spans(&tracer, "late", 10);
        tracer.flush().await.unwrap();
        assert_eq!(count(&collector, "late"), 10, "{protocol:?}");
        assert_eq!(
            count(&collector, "early"),
            0,
            "dropped or failed, never sent late"
        );
        assert!(
            tracer
                .shutdown(std::time::Duration::from_secs(30))
                .await
                .is_complete()
        );
        let stats = tracer.stats();
        accounted(&stats);
        assert_eq!(
            collector.receiver.spans().len() as u64,
            stats.spans_exported,
            "{protocol:?}"
        );
        collector.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_dying_during_export_counts_the_loss_and_export_resumes_when_it_returns() {
    for protocol in [OtlpProtocol::Grpc, OtlpProtocol::Http] {
        let (grpc, http) = (free_port(), free_port());
        let collector = Collector::start(grpc, http);
        let tracer = tracer(protocol, grpc, http);
        spans(&tracer, "before", 20);
        tracer.flush().await.unwrap();
        assert_eq!(count(&collector, "before"), 20, "{protocol:?}");

        collector.stop();
        spans(&tracer, "during", 20);
        let stats = settle(&tracer).await;
        assert_eq!(stats.spans_exported, 20, "{protocol:?}: {stats:?}");
        assert_eq!(stats.spans_failed, 20, "{protocol:?}: {stats:?}");

        let collector = Collector::start(grpc, http);
        until_received(&tracer, &collector).await;
        spans(&tracer, "after", 20);
        tracer.flush().await.unwrap();
        assert_eq!(count(&collector, "after"), 20, "{protocol:?}");
        assert_eq!(count(&collector, "during"), 0);
        assert!(
            tracer
                .shutdown(std::time::Duration::from_secs(30))
                .await
                .is_complete()
        );
        let stats = tracer.stats();
        accounted(&stats);
        assert_eq!(
            20 + collector.receiver.spans().len() as u64,
            stats.spans_exported,
            "{protocol:?}"
        );
        collector.stop();
    }
}
