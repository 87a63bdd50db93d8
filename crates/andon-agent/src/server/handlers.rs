//! The API's handlers: signals, the board's data, the line, alerts, diagnostics, `/metrics`
//! and the health probes.

use std::collections::BTreeMap;

use andon::SignalError;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Ctx;
use super::guard::{authorize, body};
use crate::alerts::{self, Ack};
use crate::api::{
    AcceptedAnswer, Acknowledged, AlertList, BoardView, DiagnosticsReport, LineState, Liveness,
    Readiness, ResumeAnswer, SignalList, StationView,
};
use crate::request::{self, ApiError};

/// How many recent signals `GET /v1/board` includes.
const BOARD_RECENT: usize = 20;

type Shared = State<Ctx>;

/// `POST /v1/signals`. It takes the request whole (its headers read in place, not copied) as
/// this is the agent's busiest write.
pub(super) async fn post_signal(State(state): Shared, raw: Request) -> Result<Response, ApiError> {
    authorize(&state, raw.headers())?;
    let signal = request::signal(
        &body(&state, raw.into_body()).await?,
        std::time::SystemTime::now(),
    )?;
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
    let accepted = AcceptedAnswer {
        id: outcome.id,
        stopped_line: outcome.stopped_line,
        resumed_line: outcome.resumed_line,
        delivered_to: &outcome.delivered_to,
        failures: &failures,
    };
    Ok(created(&accepted))
}

/// A 201 answer with `value` as its JSON body, written into one buffer the size of a signal's
/// answer.
fn created(value: &impl serde::Serialize) -> Response {
    let mut json = Vec::with_capacity(256);
    match serde_json::to_writer(&mut json, value) {
        Ok(()) => (
            StatusCode::CREATED,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(error) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
        }
    }
}

pub(super) async fn get_signals(
    State(state): Shared,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Json<SignalList>, ApiError> {
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
    Ok(Json(SignalList { signals }))
}

pub(super) async fn get_board(State(state): Shared) -> Json<BoardView> {
    let board = state.system.board();
    let open = alerts::open(&state.system);
    let alerting = open.is_some();
    let alerts = open.unwrap_or_default();
    let stations = board
        .stations
        .into_iter()
        .map(|station| StationView {
            open_alerts: alerts
                .iter()
                .filter(|a| a.component.as_deref() == Some(station.component.as_str()))
                .cloned()
                .collect(),
            component: station.component,
            color: station.color,
            last_signal: station.last_signal,
            counts: station.counts,
        })
        .collect();
    Json(BoardView {
        line: board.line,
        stations,
        alerts,
        alerting,
        recent: state.system.recent_signals(BOARD_RECENT),
        token_required: state.token_required,
        trace_ui_url: state.system.config().tracer.ui_url.clone(),
    })
}

pub(super) async fn get_line(State(state): Shared) -> Json<LineState> {
    Json(state.system.line().state())
}

pub(super) async fn resume_line(
    State(state): Shared,
    headers: HeaderMap,
    raw: Body,
) -> Result<Json<ResumeAnswer>, ApiError> {
    authorize(&state, &headers)?;
    let resume = request::resume(&body(&state, raw).await?)?;
    let by = resume.by.as_deref().unwrap_or(request::DEFAULT_BY);
    let resumed = match state.system.resume_line(by, resume.note.as_deref()).await {
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
    Ok(Json(ResumeAnswer {
        resumed,
        line: state.system.line().state(),
    }))
}

pub(super) async fn get_alerts(State(state): Shared) -> Json<AlertList> {
    let open = alerts::open(&state.system);
    Json(AlertList {
        alerting: open.is_some(),
        alerts: open.unwrap_or_default(),
    })
}

pub(super) async fn ack_alert(
    State(state): Shared,
    headers: HeaderMap,
    Path(fingerprint): Path<String>,
    raw: Body,
) -> Result<Json<Acknowledged>, ApiError> {
    authorize(&state, &headers)?;
    request::fingerprint(&fingerprint)?;
    let ack = request::ack(&body(&state, raw).await?)?;
    let by = ack.by.as_deref().unwrap_or(request::DEFAULT_BY);
    match alerts::acknowledge(&state.system, &fingerprint, by) {
        #[cfg(feature = "full")]
        Ack::Done(acknowledged) => {
            state.alerts_changed.notify_one();
            Ok(Json(Acknowledged {
                acknowledged,
                fingerprint,
            }))
        }
        #[cfg(feature = "full")]
        Ack::Unknown(message) => Err(ApiError::new(StatusCode::NOT_FOUND, message)),
        Ack::Disabled => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "alerting is not enabled in this agent: add [alerts] rules to its configuration",
        )),
    }
}

pub(super) async fn get_diagnostics(
    State(state): Shared,
) -> Result<Json<DiagnosticsReport>, ApiError> {
    match state.system.diagnostics().await {
        Some(Ok(report)) => Ok(Json(report)),
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

pub(super) async fn healthz() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_owned(),
    })
}

pub(super) async fn readyz(State(state): Shared) -> Response {
    if *state.stopping.borrow() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: "stopping".to_owned(),
                line: None,
            }),
        )
            .into_response()
    } else {
        let line = if state.system.line().is_running() {
            "RUNNING"
        } else {
            "STOPPED"
        };
        Json(Readiness {
            status: "ready".to_owned(),
            line: Some(line.to_owned()),
        })
        .into_response()
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
