//! The API's handlers: signals, the board's data, the line, alerts, diagnostics, `/metrics`
//! and the health probes.

use std::collections::BTreeMap;

use andon::SignalError;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Ctx;
use super::guard::{authorize, body};
use crate::alerts::{self, Ack};
use crate::request::{self, ApiError};

/// How many recent signals `GET /v1/board` includes.
const BOARD_RECENT: usize = 20;

type Shared = State<Ctx>;

pub(super) async fn post_signal(
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

pub(super) async fn get_signals(
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

pub(super) async fn get_board(State(state): Shared) -> Json<Value> {
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

pub(super) async fn get_line(State(state): Shared) -> Json<Value> {
    Json(json!(state.system.line().state()))
}

pub(super) async fn resume_line(
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

pub(super) async fn get_alerts(State(state): Shared) -> Json<Value> {
    let open = alerts::open(&state.system);
    Json(json!({ "alerting": open.is_some(), "alerts": open.unwrap_or_default() }))
}

pub(super) async fn ack_alert(
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

pub(super) async fn get_diagnostics(State(state): Shared) -> Result<Json<Value>, ApiError> {
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

pub(super) async fn metrics(State(state): Shared) -> Response {
    #[cfg(feature = "full")]
    if let Some(metrics) = state.system.metrics() {
        let mut text = metrics.render();
        text.push_str(&state.connections.render());
        text.push_str(&state.webhooks.render());
        return (
            [(
                axum::http::header::CONTENT_TYPE,
                andon::metrics::CONTENT_TYPE,
            )],
            text,
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

pub(super) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn readyz(State(state): Shared) -> Response {
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

pub(super) async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see docs/agent.md for the API (the board is at /, the API under /v1)",
    )
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method: see docs/agent.md",
    )
}
