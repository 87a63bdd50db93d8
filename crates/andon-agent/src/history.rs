//! `GET /v1/history/...`: the history's analyses over HTTP (signals, Pareto, MTTA/MTTR,
//! incident timeline, downtime), for `andon report` and the board's charts.
//!
//! Every endpoint takes its window as `since` (a duration before now, default `7d`) or as
//! `from` and `to` (RFC 3339), and `instance` to read one agent of a fleet's shared PostgreSQL
//! history (without it, every instance); Pareto, MTTR and downtime take `by=instance`.
//! SQLite queries run on a blocking thread, off the async workers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use andon::AndonSystem;
use andon::history::{
    GroupBy, HistoryBackend, HistoryError, MAX_TIMELINE_OFFSET, ParetoBy, SignalQuery,
    TIMELINE_PAGE, Timeline, Window,
};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;

use crate::api::{
    DowntimeReport, HistorySignals, InstanceDowntime, ParetoReport, ResponseTimesReport,
    TimelineStep, TimelineView,
};
use crate::request::{ApiError, MAX_CLOCK_SKEW, MAX_LIMIT};
use crate::server::{Routes, Served};

type Params = Result<Query<BTreeMap<String, String>>, QueryRejection>;

/// The history routes, with their own state (the system).
pub(crate) fn router(system: AndonSystem) -> Served {
    Routes::new()
        .route("/v1/history/signals", get(signals))
        .route("/v1/history/pareto", get(pareto))
        .route("/v1/history/mttr", get(mttr))
        .route("/v1/history/downtime", get(downtime))
        .route("/v1/history/timeline/{key}", get(timeline))
        .with_state(system)
}

fn store(system: &AndonSystem) -> Result<HistoryBackend, ApiError> {
    system.history().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "history is not enabled in this agent: set [history] enabled = true (and a path)",
        )
    })
}

fn params(query: Params) -> Result<BTreeMap<String, String>, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn only(params: &BTreeMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::field(
            unknown,
            format!(
                "is not a parameter of this endpoint: use {}",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn duration(
    params: &BTreeMap<String, String>,
    key: &str,
    default: Duration,
) -> Result<Duration, ApiError> {
    match params.get(key) {
        None => Ok(default),
        Some(text) => match andon::core::config::duration::parse(text) {
            Ok(d) if !d.is_zero() => Ok(d),
            Ok(_) => Err(ApiError::field(
                key,
                "must be longer than 0, such as 24h or 7d",
            )),
            Err(e) => Err(ApiError::field(key, e)),
        },
    }
}

/// The window of `since` (default 7 days) or `from`/`to`, ending now unless `to` says
/// otherwise, cut to what the history keeps: it starts no earlier than `now - retention` (the
/// Unix epoch when the history keeps everything) and ends no later than a clock skew after
/// `now`. The answer's `window` says what was read.
fn window(
    params: &BTreeMap<String, String>,
    now: SystemTime,
    retention: Duration,
) -> Result<Window, ApiError> {
    let time = |key: &str| -> Result<Option<SystemTime>, ApiError> {
        params
            .get(key)
            .map(|t| andon::core::rfc3339::parse(t).map_err(|e| ApiError::field(key, e)))
            .transpose()
    };
    let latest = now.checked_add(MAX_CLOCK_SKEW).unwrap_or(now);
    let oldest = if retention.is_zero() {
        UNIX_EPOCH
    } else {
        now.checked_sub(retention)
            .filter(|t| *t >= UNIX_EPOCH)
            .unwrap_or(UNIX_EPOCH)
    };
    let to = time("to")?.unwrap_or(now).min(latest);
    let from = match time("from")? {
        Some(from) => {
            if params.contains_key("since") {
                return Err(ApiError::field(
                    "since",
                    "give either since or from, not both",
                ));
            }
            from
        }
        None => {
            let since = duration(params, "since", Duration::from_secs(7 * 86_400))?;
            to.checked_sub(since).unwrap_or(UNIX_EPOCH)
        }
    };
    let from = from.max(oldest);
    if from >= to {
        return Err(ApiError::field(
            "from",
            format!(
                "must be before to, and the window must end after the oldest record the history keeps ([history] retention_age = {})",
                humantime::format_duration(retention)
            ),
        ));
    }
    Ok(Window::between(from, to))
}

/// The window of a request, against the history's retention.
fn window_of(system: &AndonSystem, params: &BTreeMap<String, String>) -> Result<Window, ApiError> {
    window(
        params,
        SystemTime::now(),
        system.config().history.retention_age,
    )
}

fn colors(params: &BTreeMap<String, String>) -> Result<Vec<andon::Color>, ApiError> {
    params
        .get("colors")
        .map(|list| {
            list.split(',')
                .filter(|c| !c.trim().is_empty())
                .map(|c| {
                    c.parse().map_err(|e: andon::core::ParseColorError| {
                        ApiError::field("colors", e.to_string())
                    })
                })
                .collect()
        })
        .unwrap_or_else(|| Ok(Vec::new()))
}

/// The `instance` parameter: one agent of the fleet, or all.
/// The query's parameters, refusing any but `allowed` (`instance` among them), and the
/// `instance` one, checked.
fn params_with_instance(
    query: Params,
    allowed: &[&str],
) -> Result<(BTreeMap<String, String>, Option<String>), ApiError> {
    let params = params(query)?;
    only(&params, allowed)?;
    let instance = instance(&params)?;
    Ok((params, instance))
}

fn instance(params: &BTreeMap<String, String>) -> Result<Option<String>, ApiError> {
    match params.get("instance") {
        None => Ok(None),
        Some(name) if name.is_empty() || name.len() > 128 => Err(ApiError::field(
            "instance",
            "must be an instance name of 1 to 128 characters (GET /v1/fleet lists them)",
        )),
        Some(name) => Ok(Some(name.clone())),
    }
}

/// The answer of a history query, or the HTTP error its failure is.
async fn answer<T>(
    query: impl std::future::Future<Output = Result<T, HistoryError>>,
) -> Result<T, ApiError> {
    match query.await {
        Ok(value) => Ok(value),
        Err(HistoryError::Invalid(message)) => Err(ApiError::bad_request(message)),
        Err(slow @ HistoryError::TooSlow { .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            slow.to_string(),
        )),
        Err(down @ HistoryError::Postgres { .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            down.to_string(),
        )),
        Err(error) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error.to_string(),
        )),
    }
}

async fn signals(
    State(system): State<AndonSystem>,
    query: Params,
) -> Result<Json<HistorySignals>, ApiError> {
    let (params, instance) = params_with_instance(
        query,
        &[
            "since",
            "from",
            "to",
            "component",
            "color",
            "limit",
            "instance",
        ],
    )?;
    let store = store(&system)?;
    let mut query = SignalQuery::new(window_of(&system, &params)?);
    query.component = params.get("component").cloned();
    if let Some(color) = params.get("color") {
        query.color =
            Some(color.parse().map_err(|e: andon::core::ParseColorError| {
                ApiError::field("color", e.to_string())
            })?);
    }
    if let Some(limit) = params.get("limit") {
        query.limit = limit
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::field("limit", format!("must be a number from 1 to {MAX_LIMIT}"))
            })?;
    }
    let window = query.window;
    let signals = answer(store.signals(&query, instance.as_deref())).await?;
    Ok(Json(HistorySignals { window, signals }))
}

async fn pareto(
    State(system): State<AndonSystem>,
    query: Params,
) -> Result<Json<ParetoReport>, ApiError> {
    let (params, instance) =
        params_with_instance(query, &["since", "from", "to", "by", "colors", "instance"])?;
    let store = store(&system)?;
    let window = window_of(&system, &params)?;
    let colors = colors(&params)?;
    let by = match params.get("by").map(String::as_str) {
        None | Some("component") => ParetoBy::Component,
        Some("fingerprint" | "message") => ParetoBy::Fingerprint,
        Some("instance") => ParetoBy::Instance,
        Some(other) => {
            return Err(ApiError::field(
                "by",
                format!("`{other}` is not component or fingerprint (or instance, for a fleet)"),
            ));
        }
    };
    let pareto = answer(store.pareto(window, by, &colors, instance.as_deref())).await?;
    Ok(Json(pareto))
}

async fn mttr(
    State(system): State<AndonSystem>,
    query: Params,
) -> Result<Json<ResponseTimesReport>, ApiError> {
    let (params, instance) =
        params_with_instance(query, &["since", "from", "to", "by", "instance"])?;
    let by = group_by(&params)?;
    let store = store(&system)?;
    let window = window_of(&system, &params)?;
    let components = answer(store.response_times(window, by, instance.as_deref())).await?;
    // With by=instance, each row's `component` holds the instance.
    Ok(Json(ResponseTimesReport {
        window,
        by: match by {
            GroupBy::Component => "component",
            GroupBy::Instance => "instance",
        }
        .to_owned(),
        components,
    }))
}

async fn downtime(
    State(system): State<AndonSystem>,
    query: Params,
) -> Result<Json<DowntimeReport>, ApiError> {
    let (params, instance) =
        params_with_instance(query, &["since", "from", "to", "bucket", "by", "instance"])?;
    let by = group_by(&params)?;
    let store = store(&system)?;
    let now = SystemTime::now();
    let window = window(&params, now, system.config().history.retention_age)?;
    let bucket = duration(&params, "bucket", Duration::from_secs(86_400))?;
    let buckets = answer(store.downtime(window, bucket, now, instance.as_deref())).await?;
    let total: f64 = buckets.iter().map(|b| b.stopped_seconds).sum();
    let instances = if by == GroupBy::Instance {
        let per =
            answer(store.downtime_by_instance(window, bucket, now, instance.as_deref())).await?;
        Some(
            per.into_iter()
                .map(|(name, buckets)| {
                    let downtime = InstanceDowntime {
                        stopped_seconds: buckets.iter().map(|b| b.stopped_seconds).sum(),
                        stops: buckets.iter().map(|b| b.stops).sum(),
                        buckets,
                    };
                    (name, downtime)
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(Json(DowntimeReport {
        window,
        bucket_seconds: bucket.as_secs(),
        stopped_seconds: total,
        buckets,
        instances,
    }))
}

async fn timeline(
    State(system): State<AndonSystem>,
    Path(key): Path<String>,
    query: Params,
) -> Result<Json<TimelineView>, ApiError> {
    if key.is_empty() || key.len() > 256 {
        return Err(ApiError::field(
            "key",
            "must be a trace id or an alert fingerprint of at most 256 characters",
        ));
    }
    let params = params(query)?;
    only(&params, &["limit", "offset"])?;
    let number = |name: &str, default: usize, range: std::ops::RangeInclusive<usize>| match params
        .get(name)
    {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    name,
                    format!("must be a number from {} to {}", range.start(), range.end()),
                )
            }),
    };
    let limit = number("limit", TIMELINE_PAGE, 1..=TIMELINE_PAGE)?;
    let offset = number("offset", 0, 0..=MAX_TIMELINE_OFFSET)?;
    let store = store(&system)?;
    let timeline = answer(store.timeline_page(&key, offset, limit)).await?;
    if timeline.entries.is_empty() && offset == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "nothing in the history has trace id or alert fingerprint `{}`: check the id (GET /v1/history/signals lists trace ids)",
                timeline.key
            ),
        ));
    }
    Ok(Json(timeline_view(
        timeline,
        system.config().tracer.ui_url.as_deref(),
    )))
}

/// The `by` of MTTR and downtime: `component` (the default) or `instance`.
fn group_by(params: &BTreeMap<String, String>) -> Result<GroupBy, ApiError> {
    match params.get("by").map(String::as_str) {
        None | Some("component") => Ok(GroupBy::Component),
        Some("instance") => Ok(GroupBy::Instance),
        Some(other) => Err(ApiError::field(
            "by",
            format!("`{other}` is not component or instance"),
        )),
    }
}

/// A timeline as the API shows it: with `[tracer] ui_url`, each entry with a `trace_id` gains
/// `trace_url`, and `trace_urls` maps every id in `trace_ids` to its link
/// (`<ui_url>/trace/<mapped W3C id>`).
fn timeline_view(timeline: Timeline, ui_url: Option<&str>) -> TimelineView {
    let link = |id: &str| ui_url.map(|ui_url| andon::core::trace_url(ui_url, id));
    TimelineView {
        trace_urls: ui_url.map(|_| {
            timeline
                .trace_ids
                .iter()
                .filter_map(|id| Some((id.clone(), link(id)?)))
                .collect()
        }),
        entries: timeline
            .entries
            .into_iter()
            .map(|entry| TimelineStep {
                trace_url: entry.trace_id.as_deref().and_then(link),
                entry,
            })
            .collect(),
        key: timeline.key,
        trace_ids: timeline.trace_ids,
        fingerprints: timeline.fingerprints,
        next_offset: timeline.next_offset,
    }
}
