//! The fleet: every agent that shares one PostgreSQL history (`[history] url`) writes its line
//! state to the `fleet` table on every line change and every `[history] fleet_interval`, and
//! `GET /v1/fleet` lists them all: RUNNING, STOPPED by a signal, or NO DATA when an agent has
//! not reported for three of its intervals. `GET /fleet` is the board's Fleet view, linking each
//! instance to its own board.
//!
//! Without a PostgreSQL url (or without history) the fleet is this agent alone, read from its
//! line: the same answer shape with one row, `"shared": false`.

use std::time::{Duration, SystemTime};

use andon::AndonSystem;
use andon::core::LineState;
use andon::history::{FleetEntry, FleetLine, FleetReport, HistoryBackend, PostgresHistory};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, response::Response};
use tokio::sync::watch;

use crate::api::{FleetInstance, FleetView};
use crate::request::ApiError;
use crate::server::{Routes, Served};

const FLEET_HTML: &str = include_str!("../assets/fleet.html");
const FLEET_JS: &str = include_str!("../assets/fleet.js");

/// Fleet reports that failed (the database unreachable): a counter.
pub(crate) const FLEET_REPORT_FAILURES_TOTAL: &str = "andon_fleet_report_failures_total";

#[derive(Clone)]
struct FleetState {
    system: AndonSystem,
    board_url: String,
}

/// `GET /v1/fleet`, `GET /fleet` and `GET /fleet.js`.
pub(crate) fn router(system: AndonSystem, board_url: String) -> Served {
    Routes::new()
        .route("/v1/fleet", get(get_fleet))
        .route("/fleet", get(fleet_page))
        .route("/fleet.js", get(fleet_js))
        .with_state(FleetState { system, board_url })
}

/// The board URL others link to: `[history] board_url`, else this agent's own address.
pub(crate) fn board_url(system: &AndonSystem, bound: Option<std::net::SocketAddr>) -> String {
    if let Some(url) = &system.config().history.board_url {
        return url.clone();
    }
    match bound {
        Some(addr) => format!("http://{addr}/"),
        None => format!("http://{}/", system.config().agent.listen),
    }
}

fn postgres(system: &AndonSystem) -> Option<&PostgresHistory> {
    system.history().and_then(HistoryBackend::as_postgres)
}

fn instance(system: &AndonSystem) -> String {
    system.history().map_or_else(
        || andon::history::instance_of(&system.config().history),
        |h| h.instance().to_owned(),
    )
}

/// What this agent reports about its line.
fn report(system: &AndonSystem, board_url: &str) -> FleetReport {
    let state = system.line().state();
    let mut report = FleetReport {
        stopped: !state.is_running(),
        board_url: Some(board_url.to_owned()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        interval: system.config().history.fleet_interval,
        ..FleetReport::default()
    };
    if let LineState::Stopped { since, signal } = &state {
        report.signal_id = Some(signal.id().to_string());
        report.component = signal.component().map(str::to_owned);
        report.message = Some(signal.message().to_owned());
        report.stopped_at = Some(*since);
    }
    report
}

/// Reports this agent's line to the fleet table on every change and every interval, until
/// `stopping`; does nothing without a PostgreSQL history. A failed report is counted in
/// [`FLEET_REPORT_FAILURES_TOTAL`] and retried at the next tick; it never stops the agent.
pub(crate) async fn report_loop(
    system: AndonSystem,
    board_url: String,
    mut stopping: watch::Receiver<bool>,
) {
    let Some(store) = postgres(&system).cloned() else {
        return;
    };
    let interval = system.config().history.fleet_interval;
    let mut line = system.line().subscribe();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = line.changed() => {}
            _ = stopping.changed() => return,
        }
        if *stopping.borrow() {
            return;
        }
        let report = report(&system, &board_url);
        let sent = tokio::time::timeout(
            interval.max(Duration::from_secs(1)),
            store.report_fleet(&report),
        )
        .await;
        if !matches!(sent, Ok(Ok(())))
            && let Some(metrics) = system.metrics()
        {
            andon::core::MetricsSink::add_counter(metrics, FLEET_REPORT_FAILURES_TOTAL, &[], 1);
        }
    }
}

async fn get_fleet(State(state): State<FleetState>) -> Result<Json<FleetView>, ApiError> {
    let me = instance(&state.system);
    let Some(store) = postgres(&state.system) else {
        // A fleet of one: this agent, from its own line.
        let report = report(&state.system, &state.board_url);
        let line = if report.stopped {
            FleetLine::Stopped
        } else {
            FleetLine::Running
        };
        let entry = FleetEntry {
            instance: me.clone(),
            line,
            last_state: line,
            signal_id: report.signal_id,
            component: report.component,
            message: report.message,
            stopped_at: report.stopped_at,
            board_url: report.board_url,
            version: report.version,
            heartbeat_at: SystemTime::now(),
            age_seconds: 0.0,
        };
        return Ok(Json(answer(&me, false, vec![entry])));
    };
    match store.fleet().await {
        Ok(entries) => Ok(Json(answer(&me, true, entries))),
        Err(error) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the fleet cannot be read: {error}"),
        )),
    }
}

fn answer(me: &str, shared: bool, entries: Vec<FleetEntry>) -> FleetView {
    let count = |line: FleetLine| entries.iter().filter(|e| e.line == line).count();
    FleetView {
        shared,
        this_instance: me.to_owned(),
        running: count(FleetLine::Running),
        stopped: count(FleetLine::Stopped),
        no_data: count(FleetLine::NoData),
        instances: entries.into_iter().map(instance_view).collect(),
    }
}

/// One fleet row as the API shows it: states as words, times as RFC 3339.
fn instance_view(entry: FleetEntry) -> FleetInstance {
    let rfc3339 = |t: SystemTime| humantime::format_rfc3339_nanos(t).to_string();
    FleetInstance {
        instance: entry.instance,
        line: entry.line.as_str().to_owned(),
        last_state: entry.last_state.as_str().to_owned(),
        signal_id: entry.signal_id,
        component: entry.component,
        message: entry.message,
        stopped_at: entry.stopped_at.map(rfc3339),
        board_url: entry.board_url,
        version: entry.version,
        heartbeat_at: rfc3339(entry.heartbeat_at),
        age_seconds: entry.age_seconds,
    }
}

async fn fleet_page() -> Html<&'static str> {
    Html(FLEET_HTML)
}

async fn fleet_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        FLEET_JS,
    )
        .into_response()
}
