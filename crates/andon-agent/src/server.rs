//! The agent's HTTP server: the JSON API under `/v1`, the event stream, `/metrics`, the health
//! probes and the Andon board, on one listener.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon::config::{MIN_TOKEN_CHARS, Secret};
use andon::{AndonSystem, SignalError};
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, broadcast, watch};

use crate::alerts::{self, Ack};
use crate::connections::{self, ConnectionCounters, ConnectionStats};
use crate::edge::{self, Edge};
use crate::error::AgentError;
use crate::events;
use crate::limits::Limits;
use crate::request::{self, ApiError, MAX_BODY_BYTES};

/// How long `serve` waits for open requests after a shutdown signal before flushing anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

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
    limits: Limits,
    /// Whether writes need a token (bound beyond loopback, or a token configured).
    token_required: bool,
}

pub(crate) struct AgentState {
    pub(crate) system: AndonSystem,
    /// The token write endpoints require; `None` when they require none.
    token: Option<Secret>,
    /// Flips to `true` when the agent stops: event streams end, readiness fails.
    pub(crate) stopping: watch::Sender<bool>,
    /// The open alerts whenever they change, for the event streams.
    pub(crate) alerts: broadcast::Sender<Arc<Vec<alerts::AlertView>>>,
    /// Wakes the alert watcher at once (after an acknowledgement).
    pub(crate) alerts_changed: Notify,
    /// Open event streams, in all.
    pub(crate) streams: Arc<AtomicUsize>,
    /// Open event streams per client address.
    pub(crate) streams_by_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Connections open and cut off.
    pub(crate) connections: Arc<ConnectionCounters>,
    /// The PagerDuty and Slack endpoints' secrets, replay memory and counters.
    pub(crate) webhooks: crate::integrations::Webhooks,
}

/// What the handlers see: the shared state, with the limits and the token rule of this router.
#[derive(Clone)]
pub(crate) struct Ctx {
    state: Arc<AgentState>,
    pub(crate) limits: Limits,
    pub(crate) token_required: bool,
}

impl Deref for Ctx {
    type Target = AgentState;

    fn deref(&self) -> &AgentState {
        &self.state
    }
}

impl Ctx {
    pub(crate) fn shared(&self) -> Arc<AgentState> {
        Arc::clone(&self.state)
    }
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("listen", &self.state.system.config().agent.listen)
            .field("token_required", &self.token_required)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn token_error(address: SocketAddr) -> AgentError {
    andon::ConfigError::new(
        "agent.token",
        format!("is required when listening on {address}, beyond this machine: set token = \"${{ANDON_TOKEN}}\""),
    )
    .into()
}

impl Agent {
    /// An agent for `system`, with the token rule of its `[agent]` section: write endpoints
    /// require `Authorization: Bearer <token>` when the agent listens beyond loopback or a
    /// token is configured.
    ///
    /// Fails when `listen` is not `ip:port`, is beyond loopback with no token, or the token is
    /// shorter than 16 characters.
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
        if let Some(token) = &token {
            let chars = token.expose().chars().count();
            if chars < MIN_TOKEN_CHARS {
                return Err(andon::ConfigError::new(
                    "agent.token",
                    format!("has {chars} characters, fewer than the {MIN_TOKEN_CHARS} required: use a random one, such as the output of `openssl rand -hex 16`"),
                )
                .into());
            }
        }
        let token_required = token.is_some() || !address.ip().is_loopback();
        if token_required && token.is_none() {
            return Err(token_error(address));
        }
        let webhooks = crate::integrations::Webhooks::new(agent);
        let (stopping, _) = watch::channel(false);
        let (alerts, _) = broadcast::channel(16);
        Ok(Agent {
            state: Arc::new(AgentState {
                system,
                token,
                stopping,
                alerts,
                alerts_changed: Notify::new(),
                streams: Arc::new(AtomicUsize::new(0)),
                streams_by_client: Arc::new(Mutex::new(HashMap::new())),
                connections: Arc::new(ConnectionCounters::default()),
                webhooks,
            }),
            limits: Limits::default(),
            token_required,
        })
    }

    /// The same agent with other connection and request limits (shorter timeouts in tests).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits this agent serves with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The system the agent serves.
    pub fn system(&self) -> &AndonSystem {
        &self.state.system
    }

    /// Whether write endpoints require the bearer token.
    pub fn token_required(&self) -> bool {
        self.token_required
    }

    /// Connections open now and the ones the agent cut off (also on `/metrics` as
    /// `andon_agent_connections_open` and `andon_agent_connections_closed_total{reason}`).
    pub fn connection_stats(&self) -> ConnectionStats {
        self.state.connections.stats()
    }

    /// The routes: the API under `/v1` (with `/v1/history/...`), `/v1/events`, `/metrics`,
    /// `/healthz`, `/readyz` and the board at `/`, behind the edge rules (`Host`, write
    /// origin and content type, security headers) for the configured `listen` address.
    pub fn router(&self) -> Router {
        self.app(None)
    }

    fn app(&self, bound: Option<SocketAddr>) -> Router {
        let ctx = Ctx {
            state: Arc::clone(&self.state),
            limits: self.limits,
            token_required: self.token_required,
        };
        let config = &self.state.system.config().agent;
        let edge = Arc::new(Edge {
            bound: bound.or_else(|| config.listen.parse().ok()),
            allowed_hosts: config
                .allowed_hosts
                .iter()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
            token_configured: self.state.token.is_some(),
        });
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
            .route("/v1/heartbeats", get(crate::heartbeats::list))
            .route("/v1/heartbeats/{name}", post(crate::heartbeats::check_in))
            .route("/v1/events", get(events::events))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(ctx);
        // The history's analyses, `GET /v1/history/...` (see the history module).
        #[cfg(feature = "full")]
        let router = router.merge(crate::history::router(self.state.system.clone()));
        // The fleet's line states, `GET /v1/fleet` and the Fleet view (see the fleet module).
        #[cfg(feature = "full")]
        let router = router.merge(crate::fleet::router(
            self.state.system.clone(),
            crate::fleet::board_url(&self.state.system, bound),
        ));
        // PagerDuty's and Slack's webhooks, verified by signature (see the integrations module).
        let router = router.merge(crate::integrations::router(Arc::clone(&self.state)));
        router.layer(axum::middleware::from_fn_with_state(edge, edge::guard))
    }

    /// Ends the event streams and fails readiness: the first step of stopping.
    pub fn begin_shutdown(&self) {
        self.state.stopping.send_replace(true);
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, ends the event
    /// streams, lets open requests finish (at most [`DRAIN_DEADLINE`]) and flushes the system.
    ///
    /// Whether the agent is reachable beyond this machine is read from the socket `listener`
    /// is bound to, not from the configuration: bound beyond loopback, it refuses to serve
    /// without a token.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let bound = listener.local_addr().map_err(AgentError::Serve)?;
        self.token_required |= beyond_loopback(bound, self.state.token.is_some())?;
        let agent = self.clone();
        tokio::spawn(events::watch_alerts(Arc::clone(&self.state)));
        #[cfg(feature = "full")]
        tokio::spawn(crate::fleet::report_loop(
            self.state.system.clone(),
            crate::fleet::board_url(&self.state.system, Some(bound)),
            self.state.stopping.subscribe(),
        ));
        let (drain_tx, drain_rx) = watch::channel(false);
        let mut server = tokio::spawn(connections::serve(
            listener,
            self.app(Some(bound)),
            self.limits,
            Arc::clone(&self.state.connections),
            drain_rx,
        ));
        let served = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown => None,
        };
        let served = match served {
            Some(result) => result,
            None => {
                agent.begin_shutdown();
                let _ = drain_tx.send(true);
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

/// Whether the socket bound at `bound` is reachable beyond this machine (so writes need the
/// token); an error when it is and there is no token.
fn beyond_loopback(bound: SocketAddr, has_token: bool) -> Result<bool, AgentError> {
    let beyond = !bound.ip().to_canonical().is_loopback();
    if beyond && !has_token {
        return Err(token_error(bound));
    }
    Ok(beyond)
}

type Shared = State<Ctx>;

pub(crate) fn authorize(state: &Ctx, headers: &HeaderMap) -> Result<(), ApiError> {
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

/// Reads a request body whole: at most [`MAX_BODY_BYTES`], within the body timeout. A body
/// that has not arrived in time is answered 408 and its connection closed.
pub(crate) async fn body(state: &Ctx, body: Body) -> Result<Bytes, ApiError> {
    let read = axum::body::to_bytes(body, MAX_BODY_BYTES);
    match tokio::time::timeout(state.limits.body_timeout(), read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes, or was cut off: send a smaller one"
            ),
        )),
        Err(_) => {
            state
                .connections
                .body_timeouts
                .fetch_add(1, Ordering::Relaxed);
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive whole within {}s: send it at once",
                    state.limits.body_timeout().as_secs_f64()
                ),
            )
            .closing())
        }
    }
}

async fn post_signal(
    State(state): Shared,
    headers: HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let signal = request::signal(&body(&state, raw).await?, std::time::SystemTime::now())?;
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
        // `[tracer] ui_url`: the board links trace ids to `<ui_url>/trace/<mapped W3C id>`.
        "trace_ui_url": state.system.config().tracer.ui_url,
    }))
}

async fn get_line(State(state): Shared) -> Json<Value> {
    Json(json!(state.system.line().state()))
}

async fn resume_line(
    State(state): Shared,
    headers: HeaderMap,
    raw: Body,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    let resume = request::resume(&body(&state, raw).await?)?;
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
    raw: Body,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    request::fingerprint(&fingerprint)?;
    let by = request::ack(&body(&state, raw).await?)?;
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
        let mut text = metrics.render();
        text.push_str(&state.connections.render());
        text.push_str(&state.webhooks.render());
        return ([(header::CONTENT_TYPE, andon::metrics::CONTENT_TYPE)], text).into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_is_read_from_the_bound_socket() {
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert!(!beyond_loopback(at("127.0.0.1:7600"), false).unwrap());
        assert!(!beyond_loopback(at("[::1]:7600"), false).unwrap());
        assert!(!beyond_loopback(at("[::ffff:127.0.0.1]:7600"), false).unwrap());
        for wide in ["0.0.0.0:7600", "[::]:7600", "192.0.2.7:7600"] {
            let err = beyond_loopback(at(wide), false).unwrap_err().to_string();
            assert!(err.contains("agent.token"), "{wide}: {err}");
            assert!(beyond_loopback(at(wide), true).unwrap(), "{wide}");
        }
    }
}
