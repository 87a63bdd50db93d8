//! `AndonSystem::tracing_layers()` end to end: a `tracing` event inside a `tracing` span is an
//! andon log record carrying the W3C ids of the span that reached a real OTLP receiver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::Duration;

use andon::AndonSystem;
use andon_tests::otlp::OtlpReceiver;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt as _;

mod support;
use support::{full_config, log_path, read_lines};

/// Bounds a broken run only: the receiver answers in milliseconds.
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracing_event_in_a_span_is_logged_with_the_spans_trace_and_span_ids() {
    let receiver = OtlpReceiver::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let endpoint = receiver.grpc_endpoint();
    let config = full_config(dir.path(), andon_tests::free_port(), Some(&endpoint));
    let system = AndonSystem::new(config).await.unwrap();

    let subscriber = tracing_subscriber::registry().with(system.tracing_layers());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("checkout", order = 7);
        let _entered = span.enter();
        tracing::warn!(retries = 3u8, gateway = "stripe", "payment slow");
    });
    tracing::warn!("outside any andon subscriber: not logged");

    let spans = receiver.wait_for_spans(1, WAIT).await;
    system.shutdown().await.unwrap();
    let span = spans
        .iter()
        .find(|s| s.name() == "checkout")
        .unwrap_or_else(|| panic!("no checkout span among {} spans", spans.len()));

    let records = read_lines(&log_path(dir.path()));
    let logged: Vec<_> = records
        .iter()
        .filter(|r| r.get("target") == Some(&json!("tracing_layers")))
        .collect();
    assert_eq!(logged.len(), 1, "{records:#?}");
    let record = logged[0];
    assert_eq!(record["message"], "payment slow");
    assert_eq!(record["level"], "WARNING");
    assert_eq!(record["retries"], json!(3));
    assert_eq!(record["gateway"], json!("stripe"));
    assert_eq!(record["trace_id"].as_str().unwrap(), span.trace_id());
    assert_eq!(record["span_id"].as_str().unwrap(), span.span_id());
}
