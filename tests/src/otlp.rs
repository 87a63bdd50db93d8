//! A real OTLP trace receiver on loopback, built on the official `opentelemetry-proto`
//! definitions: the OTLP `TraceService` over gRPC (tonic) and OTLP/HTTP with protobuf bodies
//! (`POST /v1/traces`, axum). It keeps every `ResourceSpans` it receives for assertions.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! use std::time::Duration;
//! use andon_tests::otlp::OtlpReceiver;
//!
//! let receiver = OtlpReceiver::start().await?;
//! // Point an exporter at receiver.grpc_endpoint() or receiver.http_endpoint(), then:
//! let spans = receiver.wait_for_spans(1, Duration::from_secs(10)).await;
//! assert_eq!(spans[0].name(), "request-processing");
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode as HttpStatus;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
pub use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span, status};
use prost::Message;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How a batch reached the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with a protobuf body.
    Http,
}

#[derive(Debug, Default)]
struct Store {
    received: Mutex<Vec<(Transport, ResourceSpans)>>,
    requests: Mutex<usize>,
    failures_to_inject: Mutex<(usize, bool)>,
    notify: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Test code: a poisoned lock still holds the received data.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Counts and keeps the request; `Err(retryable)` when it must be refused (an injected
    /// failure).
    fn accept(&self, transport: Transport, request: ExportTraceServiceRequest) -> Result<(), bool> {
        *lock(&self.requests) += 1;
        {
            let mut failures = lock(&self.failures_to_inject);
            if failures.0 > 0 {
                failures.0 -= 1;
                return Err(failures.1);
            }
        }
        lock(&self.received).extend(request.resource_spans.into_iter().map(|rs| (transport, rs)));
        self.notify.notify_waiters();
        Ok(())
    }
}

#[derive(Debug)]
struct GrpcService(Arc<Store>);

#[tonic::async_trait]
impl TraceService for GrpcService {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match self.0.accept(Transport::Grpc, request.into_inner()) {
            Ok(()) => Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            })),
            Err(true) => Err(tonic::Status::unavailable("injected failure")),
            Err(false) => Err(tonic::Status::invalid_argument("injected failure")),
        }
    }
}

async fn http_export(
    axum::extract::State(store): axum::extract::State<Arc<Store>>,
    body: Bytes,
) -> (HttpStatus, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (
            HttpStatus::BAD_REQUEST,
            b"not an ExportTraceServiceRequest".to_vec(),
        );
    };
    match store.accept(Transport::Http, request) {
        Ok(()) => {
            let response = ExportTraceServiceResponse {
                partial_success: None,
            };
            (HttpStatus::OK, response.encode_to_vec())
        }
        Err(true) => (
            HttpStatus::SERVICE_UNAVAILABLE,
            b"injected failure".to_vec(),
        ),
        Err(false) => (HttpStatus::BAD_REQUEST, b"injected failure".to_vec()),
    }
}

/// A running OTLP receiver; its servers stop when it is dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    grpc: SocketAddr,
    http: SocketAddr,
    store: Arc<Store>,
    tasks: Vec<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts the gRPC and HTTP servers on free loopback ports, on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// When a loopback port cannot be bound.
    pub async fn start() -> Result<Self, String> {
        Self::start_on(0, 0).await
    }

    /// Starts the gRPC and HTTP servers on the given loopback ports (0: a free one), such as
    /// the ports of a receiver that was stopped, to bring it back where exporters expect it.
    ///
    /// # Errors
    ///
    /// When a port cannot be bound.
    pub async fn start_on(grpc_port: u16, http_port: u16) -> Result<Self, String> {
        let store = Arc::new(Store::default());
        let grpc_listener = tokio::net::TcpListener::bind(("127.0.0.1", grpc_port))
            .await
            .map_err(|e| format!("cannot bind the OTLP/gRPC receiver: {e}"))?;
        let http_listener = tokio::net::TcpListener::bind(("127.0.0.1", http_port))
            .await
            .map_err(|e| format!("cannot bind the OTLP/HTTP receiver: {e}"))?;
        let grpc = grpc_listener.local_addr().map_err(|e| e.to_string())?;
        let http = http_listener.local_addr().map_err(|e| e.to_string())?;

        let service = TraceServiceServer::new(GrpcService(store.clone()));
        let grpc_task = tokio::spawn(async move {
            let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(http_export))
            .with_state(store.clone());
        let http_task = tokio::spawn(async move {
            let _ = axum::serve(http_listener, app).await;
        });
        Ok(OtlpReceiver {
            grpc,
            http,
            store,
            tasks: vec![grpc_task, http_task],
        })
    }

    /// The OTLP/gRPC endpoint, `http://127.0.0.1:PORT`.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (traces are posted to `/v1/traces`).
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http)
    }

    /// Refuses the next `count` export requests: when `retryable`, as an overloaded collector
    /// does (gRPC `UNAVAILABLE`, HTTP 503), which exporters retry; else as a bad request (gRPC
    /// `INVALID_ARGUMENT`, HTTP 400), which they do not.
    pub fn fail_next(&self, count: usize, retryable: bool) {
        *lock(&self.store.failures_to_inject) = (count, retryable);
    }

    /// Export requests received so far, refused ones included.
    pub fn requests(&self) -> usize {
        *lock(&self.store.requests)
    }

    /// Every `ResourceSpans` received, with its transport, in arrival order.
    pub fn resource_spans(&self) -> Vec<(Transport, ResourceSpans)> {
        lock(&self.store.received).clone()
    }

    /// Every span received, with its resource and scope.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut out = Vec::new();
        for (transport, rs) in lock(&self.store.received).iter() {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                let scope = ss
                    .scope
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                for span in &ss.spans {
                    out.push(ReceivedSpan {
                        transport: *transport,
                        resource: resource.clone(),
                        scope: scope.clone(),
                        span: span.clone(),
                    });
                }
            }
        }
        out
    }

    /// Waits until at least `count` spans arrived or `timeout` passed; returns what arrived.
    pub async fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.store.notify.notified();
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.spans();
            }
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One received span with the resource and instrumentation scope it came with.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// How it arrived.
    pub transport: Transport,
    /// The resource attributes (`service.name`, `host.name`, …).
    pub resource: Vec<KeyValue>,
    /// The instrumentation scope name.
    pub scope: String,
    /// The span as received.
    pub span: Span,
}

/// An attribute value as text: strings as themselves, other values in their usual form,
/// arrays as `[a,b]`.
pub fn value_text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(value_text).collect();
            format!("[{}]", items.join(","))
        }
        other => format!("{other:?}"),
    }
}

fn find(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .map(value_text)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ReceivedSpan {
    /// The span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The trace id in hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id in hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id in hex; empty for a root.
    pub fn parent_span_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// The W3C tracestate carried with the span.
    pub fn trace_state(&self) -> &str {
        &self.span.trace_state
    }

    /// Attribute `key` of the span, as text.
    pub fn attribute(&self, key: &str) -> Option<String> {
        find(&self.span.attributes, key)
    }

    /// Resource attribute `key`, as text.
    pub fn resource_attribute(&self, key: &str) -> Option<String> {
        find(&self.resource, key)
    }

    /// The status code (`Unset`, `Ok` or `Error`).
    pub fn status_code(&self) -> status::StatusCode {
        self.span
            .status
            .as_ref()
            .map_or(status::StatusCode::Unset, |s| s.code())
    }

    /// The status message.
    pub fn status_message(&self) -> &str {
        self.span.status.as_ref().map_or("", |s| s.message.as_str())
    }

    /// The names of the span's events, in order.
    pub fn event_names(&self) -> Vec<&str> {
        self.span.events.iter().map(|e| e.name.as_str()).collect()
    }

    /// Attribute `key` of the first event named `event`, as text.
    pub fn event_attribute(&self, event: &str, key: &str) -> Option<String> {
        self.span
            .events
            .iter()
            .find(|e| e.name == event)
            .and_then(|e| find(&e.attributes, key))
    }
}
