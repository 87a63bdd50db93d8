//! The agent's HTTP server: the JSON API under `/v1`, the event stream, `/metrics`, the health
//! probes and the Andon board, on one listener.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use andon::config::Secret;
use andon::{AndonSystem, SignalError, SystemEvent};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::alerts::{self, Ack};
use crate::error::AgentError;
use crate::request::{self, ApiError, MAX_BODY_BYTES};

/// How long `serve` waits for open requests after a shutdown signal before flushing anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The most event streams (`GET /v1/events`) open at once; more get 503.
pub const MAX_EVENT_STREAMS: usize = 256;

/// How many recent signals `GET /v1/board` includes.
const BOARD_RECENT: usize = 20;

/// The agent: an [`AndonSystem`] behind the HTTP API and the Andon board.
///
/// ```no_run
/// use andon::{AndonConfig, AndonSystem};
/// use andon_agent::Agent;
///
/// # async fn run() -> Result<(), andon_agent::AgentError> {
/// let config = AndonConfig::default();
/// let system = AndonSystem::new(config).await.map_err(andon_agent::AgentError::System)?;
/// let agent = Agent::new(system)?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7600").await
///     .map_err(|source| andon_agent::AgentError::Bind { address: "127.0.0.1:7600".into(), source })?;
/// agent.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Agent {
    state: Arc<AgentState>,
}

struct AgentState {
    system: AndonSystem,
    /// The token write endpoints require; `None` when they require none.
    token: Option<Secret>,
    /// Whether writes need a token (bound beyond loopback, or a token configured).
    token_required: bool,
    /// Flips to `true` when the agent stops: event streams end, readiness fails.
    stopping: watch::Sender<bool>,
    /// The open alerts whenever they change, for the event streams.
    alerts: broadcast::Sender<Arc<Vec<alerts::AlertView>>>,
    /// Wakes the alert watcher at once (after an acknowledgement).
    alerts_changed: Notify,
    /// Open event streams, at most [`MAX_EVENT_STREAMS`].
    streams: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("listen", &self.state.system.config().agent.listen)
            .field("token_required", &self.state.token_required)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent for `system`, with the token rule of its `[agent]` section: write endpoints
    /// require `Authorization: Bearer <token>` when `listen` is beyond loopback or a token is
    /// configured.
    ///
    /// Fails when `listen` is not `ip:port`, or is beyond loopback with no token.
    pub fn new(system: AndonSystem) -> Result<Self, AgentError> {
        let agent = &system.config().agent;
        let address: SocketAddr = agent.listen.parse().map_err(|_| {
            andon::ConfigError::new(
                "agent.listen",
                format!(
                    "`{}` is not ip:port, such as \"127.0.0.1:7600\"",
                    agent.listen
                ),
            )
        })?;
        let token = agent.token.clone().filter(|t| !t.is_empty());
        let token_required = token.is_some() || !address.ip().is_loopback();
        if token_required && token.is_none() {
            return Err(andon::ConfigError::new(
                "agent.token",
                format!("is required when listening on {address}, beyond this machine: set token = \"${{ANDON_TOKEN}}\""),
            )
            .into());
        }
        let (stopping, _) = watch::channel(false);
        let (alerts, _) = broadcast::channel(16);
        Ok(Agent {
            state: Arc::new(AgentState {
                system,
                token,
                token_required,
                stopping,
                alerts,
                alerts_changed: Notify::new(),
                streams: Arc::new(AtomicUsize::new(0)),
            }),
        })
    }

    /// The system the agent serves.
    pub fn system(&self) -> &AndonSystem {
        &self.state.system
    }

    /// Whether write endpoints require the bearer token.
    pub fn token_required(&self) -> bool {
        self.state.token_required
    }

    /// The routes: the API under `/v1` (with `/v1/history/...`), `/v1/events`, `/metrics`,
    /// `/healthz`, `/readyz` and the board at `/`.
    pub fn router(&self) -> Router {
        let router = Router::new()
            .route("/", get(board_page))
            .route("/board.css", get(board_css))
            .route("/board.js", get(board_js))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/v1/signals", post(post_signal).get(get_signals))
            .route("/v1/board", get(get_board))
            .route("/v1/line", get(get_line))
            .route("/v1/line/resume", post(resume_line))
            .route("/v1/alerts", get(get_alerts))
            .route("/v1/alerts/{fingerprint}/ack", post(ack_alert))
            .route("/v1/diagnostics", get(get_diagnostics))
            .route("/v1/events", get(events))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(Arc::clone(&self.state));
        // The history's analyses, `GET /v1/history/...` (see the history module).
        #[cfg(feature = "full")]
        let router = router.merge(crate::history::router(self.state.system.clone()));
        router
    }

    /// Ends the event streams and fails readiness: the first step of stopping.
    pub fn begin_shutdown(&self) {
        self.state.stopping.send_replace(true);
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, ends the event
    /// streams, lets open requests finish (at most [`DRAIN_DEADLINE`]) and flushes the system.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let agent = self.clone();
        tokio::spawn(watch_alerts(Arc::clone(&self.state)));
        let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            let _ = drain_rx.await;
        });
        let mut server = tokio::spawn(async move { server.await });
        let served = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown => None,
        };
        let served = match served {
            Some(result) => result,
            None => {
                agent.begin_shutdown();
                let _ = drain_tx.send(());
                match tokio::time::timeout(DRAIN_DEADLINE, &mut server).await {
                    Ok(result) => result,
                    Err(_) => {
                        server.abort();
                        Ok(Ok(()))
                    }
                }
            }
        };
        agent.begin_shutdown();
        let flushed = agent.state.system.shutdown().await;
        match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(AgentError::Serve(e)),
            Err(e) => return Err(AgentError::Serve(std::io::Error::other(e.to_string()))),
        }
        flushed.map_err(|e| AgentError::System(e.into()))
    }
}

type Shared = State<Arc<AgentState>>;

fn authorize(state: &AgentState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !state.token_required {
        return Ok(());
    }
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this agent requires a bearer token on write endpoints: send `Authorization: Bearer <token>` (andon --token, or ANDON_TOKEN)",
        )
    };
    let Some(token) = &state.token else {
        return Err(missing());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(missing)?;
    if bool::from(given.trim().as_bytes().ct_eq(token.expose().as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the bearer token is wrong: use the token of this agent's [agent] token",
        ))
    }
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the request body is larger than {MAX_BODY_BYTES} bytes: send a smaller one"
                ),
            )
        } else {
            ApiError::new(status, rejection.body_text())
        }
    })
}

async fn post_signal(
    State(state): Shared,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let signal = request::signal(&body(raw)?)?;
    let (outcome, failures) = match state.system.signal_problem(signal).await {
        Ok(outcome) => (outcome, Vec::new()),
        Err(SignalError::Partial { outcome, failures }) => (
            outcome,
            failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ),
        Err(SignalError::ShutDown) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the agent is shutting down: send the signal to the agent once it is back",
            ));
        }
        Err(other) => {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                other.to_string(),
            ));
        }
    };
    let body = json!({
        "id": outcome.id,
        "stopped_line": outcome.stopped_line,
        "resumed_line": outcome.resumed_line,
        "delivered_to": outcome.delivered_to,
        "failures": failures,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn get_signals(
    State(state): Shared,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let query = request::signal_query(&query)?;
    let signals: Vec<_> = state
        .system
        .recent_signals(usize::MAX)
        .into_iter()
        .filter(|s| query.color.is_none_or(|c| s.color() == c))
        .filter(|s| {
            query
                .component
                .as_deref()
                .is_none_or(|c| s.component_or_unknown() == c)
        })
        .take(query.limit)
        .collect();
    Ok(Json(json!({ "signals": signals })))
}

async fn get_board(State(state): Shared) -> Json<Value> {
    let board = state.system.board();
    let open = alerts::open(&state.system);
    let alert_list = open.clone().unwrap_or_default();
    let stations: Vec<Value> = board
        .stations
        .iter()
        .map(|station| {
            let mut value = serde_json::to_value(station).unwrap_or(Value::Null);
            let mine: Vec<&alerts::AlertView> = alert_list
                .iter()
                .filter(|a| a.component.as_deref() == Some(station.component.as_str()))
                .collect();
            value["open_alerts"] = serde_json::to_value(mine).unwrap_or(Value::Null);
            value
        })
        .collect();
    Json(json!({
        "line": board.line,
        "stations": stations,
        "alerts": alert_list,
        "alerting": open.is_some(),
        "recent": state.system.recent_signals(BOARD_RECENT),
        "token_required": state.token_required,
    }))
}

async fn get_line(State(state): Shared) -> Json<Value> {
    Json(json!(state.system.line().state()))
}

async fn resume_line(
    State(state): Shared,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let resume = request::resume(&body(raw)?)?;
    let resumed = match state
        .system
        .resume_line(&resume.by, resume.note.as_deref())
        .await
    {
        Ok(resumed) => resumed,
        // The line did resume; only delivering the GREEN resumption signal failed somewhere.
        Err(SignalError::Partial { .. }) => true,
        Err(other) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                other.to_string(),
            ));
        }
    };
    Ok(Json(
        json!({ "resumed": resumed, "line": state.system.line().state() }),
    ))
}

async fn get_alerts(State(state): Shared) -> Json<Value> {
    let open = alerts::open(&state.system);
    Json(json!({ "alerting": open.is_some(), "alerts": open.unwrap_or_default() }))
}

async fn ack_alert(
    State(state): Shared,
    headers: HeaderMap,
    Path(fingerprint): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    request::fingerprint(&fingerprint)?;
    let by = request::ack(&body(raw)?)?;
    match alerts::acknowledge(&state.system, &fingerprint, &by) {
        Ack::Done(n) => {
            state.alerts_changed.notify_one();
            Ok(Json(
                json!({ "acknowledged": n, "fingerprint": fingerprint }),
            ))
        }
        Ack::Unknown(message) => Err(ApiError::new(StatusCode::NOT_FOUND, message)),
        Ack::Disabled => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "alerting is not enabled in this agent: add [alerts] rules to its configuration",
        )),
    }
}

async fn get_diagnostics(State(state): Shared) -> Result<Json<Value>, ApiError> {
    match state.system.diagnostics().await {
        Some(Ok(report)) => Ok(Json(json!(report))),
        Some(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "diagnostics are not enabled in this agent: set [observer] enabled = true",
        )),
    }
}

async fn metrics(State(state): Shared) -> Response {
    #[cfg(feature = "full")]
    if let Some(metrics) = state.system.metrics() {
        return (
            [(header::CONTENT_TYPE, andon::metrics::CONTENT_TYPE)],
            metrics.render(),
        )
            .into_response();
    }
    let _ = &state;
    ApiError::new(
        StatusCode::NOT_FOUND,
        "metrics are not enabled in this agent: set [metrics] enabled = true",
    )
    .into_response()
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): Shared) -> Response {
    if *state.stopping.borrow() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "stopping" })),
        )
            .into_response()
    } else {
        let line = if state.system.line().is_running() {
            "RUNNING"
        } else {
            "STOPPED"
        };
        Json(json!({ "status": "ready", "line": line })).into_response()
    }
}

/// Counts an open event stream; dropping it uncounts it.
struct StreamSlot(Arc<AtomicUsize>);

impl StreamSlot {
    fn take(count: &Arc<AtomicUsize>) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_EVENT_STREAMS).then_some(n + 1)
            })
            .ok()
            .map(|_| StreamSlot(Arc::clone(count)))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn events(State(state): Shared) -> Response {
    let Some(slot) = StreamSlot::take(&state.streams) else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_EVENT_STREAMS} event streams are open already: close one, or poll GET /v1/board"),
        )
        .into_response();
    };
    let mut source = state.system.subscribe();
    let mut stopping = state.stopping.subscribe();
    let mut alerts = state.alerts.subscribe();
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(async move {
        let _slot = slot;
        let hello = Event::default()
            .event("hello")
            .data(json!({ "agent": "andon", "api": "v1" }).to_string());
        if tx.send(Ok(hello)).await.is_err() {
            return;
        }
        if let Some(open) = alerts::open(&state.system) {
            let current = Event::default()
                .event("alerts")
                .data(json!({ "alerts": open }).to_string());
            if tx.send(Ok(current)).await.is_err() {
                return;
            }
        }
        loop {
            if *stopping.borrow() {
                break;
            }
            let event = tokio::select! {
                _ = stopping.changed() => break,
                () = tx.closed() => break,
                open = alerts.recv() => match open {
                    Ok(open) => Ok(SseItem::Alerts(open)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => Err(broadcast::error::RecvError::Lagged(missed)),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                received = source.recv() => received.map(SseItem::System),
            };
            let event = match event {
                Ok(SseItem::System(event)) => to_sse(&event),
                Ok(SseItem::Alerts(open)) => Some(
                    Event::default()
                        .event("alerts")
                        .data(json!({ "alerts": *open }).to_string()),
                ),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some(
                    Event::default()
                        .event("lagged")
                        .data(json!({ "missed": missed }).to_string()),
                ),
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Some(event) = event
                && tx.send(Ok(event)).await.is_err()
            {
                break;
            }
        }
    });
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What an event stream forwards: the system's events and the agent's alert changes.
enum SseItem {
    System(SystemEvent),
    Alerts(Arc<Vec<alerts::AlertView>>),
}

/// How often the open alerts are compared with the last ones sent: rules fire from metrics and
/// health on their own schedule, not only on signals.
const ALERT_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long the alert watcher gathers a burst of signals before looking again.
const ALERT_COALESCE: Duration = Duration::from_millis(50);

/// Sends the open alerts to the event streams whenever they change, until the agent stops.
async fn watch_alerts(state: Arc<AgentState>) {
    let mut stopping = state.stopping.subscribe();
    let mut signals = state.system.subscribe();
    let mut last: Option<Vec<alerts::AlertView>> = None;
    loop {
        let open = alerts::open(&state.system);
        if let Some(open) = open
            && last.as_ref() != Some(&open)
        {
            let _ = state.alerts.send(Arc::new(open.clone()));
            last = Some(open);
        }
        tokio::select! {
            _ = stopping.changed() => return,
            () = state.alerts_changed.notified() => {}
            // A signal may open an alert: look again soon.
            received = signals.recv() => {
                if matches!(received, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            () = tokio::time::sleep(ALERT_WATCH_INTERVAL) => {}
        }
        // Under a burst of signals, look once per burst rather than once per signal.
        tokio::time::sleep(ALERT_COALESCE).await;
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = signals.try_recv() {}
        if *stopping.borrow() {
            return;
        }
    }
}

fn to_sse(event: &SystemEvent) -> Option<Event> {
    let (name, data) = match event {
        SystemEvent::Signal(signal) => ("signal", signal.to_json()),
        SystemEvent::Line(line) => ("line", json!(line).to_string()),
        SystemEvent::Diagnostics(report) => ("diagnostics", json!(report).to_string()),
        _ => return None,
    };
    Some(Event::default().event(name).data(data))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see docs/agent.md for the API (the board is at /, the API under /v1)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method: see docs/agent.md",
    )
}

const BOARD_HTML: &str = include_str!("../assets/board.html");
const BOARD_CSS: &str = include_str!("../assets/board.css");
const BOARD_JS: &str = include_str!("../assets/board.js");

async fn board_page() -> Html<&'static str> {
    Html(BOARD_HTML)
}

async fn board_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        BOARD_CSS,
    )
}

async fn board_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        BOARD_JS,
    )
}
