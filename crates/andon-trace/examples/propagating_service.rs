//! The smallest real demonstration of cross-service trace propagation, in the shape the W3C
//! Trace Context interop suite drives: an HTTP service that, for a POST on any path whose body
//! is a JSON array of `{"url": ..., "arguments": ...}`, POSTs each `arguments` as JSON to its
//! `url` with the trace context propagated (same trace id, a new parent id, the tracestate and
//! baggage carried), then answers 200.
//!
//! ```text
//! cargo run -p andon-trace --example propagating_service -- 127.0.0.1:5000
//! ```
//!
//! Spans are exported over OTLP/gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (for example
//! `http://127.0.0.1:4317`, a Jaeger); without it the service only propagates.

use std::net::SocketAddr;

use andon_core::config::TracerConfig;
use andon_trace::{AndonTracer, SpanHandle, SpanStatus, extract};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};

#[derive(Clone)]
struct App {
    tracer: AndonTracer,
    client: reqwest::Client,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5000".to_owned())
        .parse()?;
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
    let config = TracerConfig {
        service_name: "propagating-service".to_owned(),
        sampling_ratio: 1.0,
        enabled: endpoint.is_some(),
        otlp_endpoint: endpoint.unwrap_or_else(|| TracerConfig::default().otlp_endpoint),
        ..TracerConfig::default()
    };
    let tracer = AndonTracer::new(config)?;
    // reqwest has no crypto provider of its own (the workspace's one TLS stack is ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let app = App {
        tracer: tracer.clone(),
        client: reqwest::Client::new(),
    };
    let router = Router::new().fallback(handle).with_state(app);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!(
        "propagating_service listening on {}",
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    if let Some(error) = tracer
        .shutdown(std::time::Duration::from_secs(10))
        .await
        .error
    {
        eprintln!("tracer shutdown: {error}");
    }
    Ok(())
}

async fn handle(
    State(app): State<App>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    let Ok(serde_json::Value::Array(calls)) = serde_json::from_slice::<serde_json::Value>(&body)
    else {
        return StatusCode::BAD_REQUEST;
    };
    // Continue the caller's trace (or start one when its traceparent is missing or invalid).
    let Ok(server) = app.tracer.start_span_from(&extract(&headers), "POST") else {
        return StatusCode::SERVICE_UNAVAILABLE;
    };
    for call in &calls {
        let Some(url) = call.get("url").and_then(|u| u.as_str()) else {
            continue;
        };
        let arguments = call
            .get("arguments")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        call_downstream(&app, &server, url, &arguments).await;
    }
    let _ = app.tracer.end_span(&server, SpanStatus::Ok);
    StatusCode::OK
}

/// POSTs `arguments` to `url` under a client span, whose id becomes the callee's parent id.
async fn call_downstream(app: &App, server: &SpanHandle, url: &str, arguments: &serde_json::Value) {
    let Ok(client_span) = app.tracer.start_child_span(server, "POST downstream") else {
        return;
    };
    let _ = app
        .tracer
        .add_span_attribute(&client_span, "url.full", url.into());
    let status = match app.tracer.inject(&client_span) {
        Ok(trace_headers) => {
            match app
                .client
                .post(url)
                .headers(trace_headers)
                .json(arguments)
                .send()
                .await
            {
                Ok(response) if response.status().is_success() => SpanStatus::Ok,
                Ok(response) => {
                    SpanStatus::Error(format!("downstream answered {}", response.status()))
                }
                Err(e) => SpanStatus::Error(format!("downstream unreachable: {e}")),
            }
        }
        Err(e) => SpanStatus::Error(e.to_string()),
    };
    let _ = app.tracer.end_span(&client_span, status);
}
