//! `docs/openapi.yaml` held to the code: every schema there has exactly the properties (and,
//! for answers, the required list) that the `api` type of the same name writes, every object
//! schema is such a type, each endpoint names its request and answer types, and the paths in
//! the file are the paths the router serves, with the same methods. Adding a field to a type
//! without documenting it, or a route without its entry, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use andon::core::{Health, HealthStatus, Resumption};
use andon::{AndonSignal, Color, HeartbeatState, HeartbeatStatus};
use serde::Serialize;
use serde_json::{Value, json};

use super::*;

const OPENAPI: &str = include_str!("../../../../docs/openapi.yaml");

fn openapi() -> Value {
    serde_yaml::from_str(OPENAPI).expect("docs/openapi.yaml is YAML")
}

fn value(sample: impl Serialize) -> Value {
    serde_json::to_value(sample).expect("serializes")
}

/// The request bodies: optional fields are not required of the client even when the type
/// always writes them (`CheckIn`'s `status` defaults to `success`).
const REQUESTS: &[&str] = &["NewSignal", "ResumeRequest", "AckRequest", "CheckIn"];

fn signal() -> AndonSignal {
    AndonSignal::red("disk full")
        .with_component("db")
        .with_trace_id("trace-1")
        .with_attribute("depth", 150)
}

fn alert(full: bool) -> AlertView {
    AlertView {
        fingerprint: "f1".into(),
        rule: "r".into(),
        state: "firing".into(),
        severity: "critical".into(),
        component: full.then(|| "db".into()),
        summary: "s".into(),
        since: "2026-12-01T10:00:00.000Z".into(),
        count: 1,
        acknowledged_by: full.then(|| "bo".into()),
        silenced: false,
        trace_id: full.then(|| "trace-1".into()),
        trace_url: full.then(|| "http://j/trace/00".into()),
    }
}

fn heartbeat(full: bool) -> HeartbeatView {
    HeartbeatView {
        name: "nightly".into(),
        component: "backup".into(),
        every: Duration::from_secs(86_400),
        grace: Duration::from_secs(60),
        color: Color::Red,
        state: HeartbeatState::Up,
        last_check_in: full.then_some(UNIX_EPOCH),
        last_status: full.then_some(HeartbeatStatus::Success),
        next_due: full.then_some(UNIX_EPOCH),
    }
}

fn window() -> HistoryWindow {
    HistoryWindow {
        from: UNIX_EPOCH,
        to: UNIX_EPOCH + Duration::from_secs(60),
    }
}

fn fleet_instance(full: bool) -> FleetInstance {
    let text = |t: &str| full.then(|| t.to_owned());
    FleetInstance {
        instance: "press-7".into(),
        line: "STOPPED".into(),
        last_state: "STOPPED".into(),
        signal_id: text("0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b"),
        component: text("press"),
        message: text("jam"),
        stopped_at: text("2026-12-01T10:00:00Z"),
        board_url: text("http://press-7:7600/"),
        version: "0.1.0".into(),
        heartbeat_at: "2026-12-01T10:00:00Z".into(),
        age_seconds: 1.5,
    }
}

fn response_times(full: bool) -> ResponseTimes {
    ResponseTimes {
        component: "db".into(),
        fired: 2,
        acknowledged: 1,
        resolved: 1,
        escalated: 0,
        mtta_seconds: full.then_some(30.0),
        mttr_seconds: full.then_some(90.0),
    }
}

/// Every schema's samples: one with every optional field set, one with none (and, for an enum,
/// one per variant).
fn samples() -> BTreeMap<&'static str, Vec<Value>> {
    let signal = Arc::new(signal());
    let stopped = LineState::Stopped {
        since: UNIX_EPOCH,
        signal: Arc::clone(&signal),
    };
    let resumption = |note: Option<&str>| Resumption {
        by: "alice".into(),
        note: note.map(str::to_owned),
        at: UNIX_EPOCH,
    };
    let running = LineState::Running {
        since: UNIX_EPOCH,
        resumed: Some(resumption(Some("fixed"))),
    };
    let station = StationView {
        component: "db".into(),
        color: Color::Red,
        last_signal: Arc::clone(&signal),
        counts: [(Color::Red, 1)].into(),
        open_alerts: vec![alert(true)],
    };
    let board = |trace_ui_url: Option<&str>| BoardView {
        line: stopped.clone(),
        stations: vec![station.clone()],
        alerts: vec![alert(true)],
        alerting: true,
        recent: vec![Arc::clone(&signal)],
        token_required: false,
        trace_ui_url: trace_ui_url.map(str::to_owned),
    };
    let pareto = ParetoReport {
        by: "component".into(),
        window: window(),
        colors: vec![Color::Red],
        total: 1,
        rows: vec![ParetoBar {
            key: "db".into(),
            count: 1,
            percent: 100.0,
            cumulative_percent: 100.0,
        }],
    };
    let full_signal = NewSignal {
        component: Some("db".into()),
        trace_id: Some("trace-1".into()),
        timestamp: Some("2026-12-01T10:00:00Z".into()),
        attributes: [("depth".to_owned(), json!(150))].into(),
        ..NewSignal::new(Color::Red, "disk full")
    };
    let check_in = CheckIn {
        message: Some("exit 3".into()),
        attributes: [("exit_code".to_owned(), json!(3))].into(),
        ..CheckIn::new(HeartbeatStatus::Fail)
    };
    let health = Health {
        status: HealthStatus::Degraded,
        reasons: vec!["memory 91%".into()],
    };
    let report = DiagnosticsReport {
        taken_at: UNIX_EPOCH,
        health: health.clone(),
        summary: "memory 91%".into(),
        details: json!({"memory": {"used_percent": 91.0}}),
    };
    let pagerduty = |full: bool| PagerDutyReply {
        acted: full,
        event_type: "incident.acknowledged".into(),
        fingerprint: full.then(|| "f1".into()),
        by: full.then(|| "bo".into()),
        resolved: full.then_some(false),
        assignees: full.then(|| vec!["bo".into()]),
        message: "done".into(),
    };
    let slack = |full: bool| SlackReply {
        acted: full,
        by: full.then(|| "bo".into()),
        text: "done".into(),
        response_type: "ephemeral".into(),
        replace_original: false,
    };
    BTreeMap::from([
        (
            "ErrorBody",
            vec![
                value(ErrorBody {
                    error: "color: is required".into(),
                    field: Some("color".into()),
                }),
                value(ErrorBody {
                    error: "no such endpoint".into(),
                    field: None,
                }),
            ],
        ),
        ("HistoryWindow", vec![value(window())]),
        (
            "NewSignal",
            vec![value(&full_signal), value(NewSignal::new(Color::Red, "m"))],
        ),
        (
            "Signal",
            vec![value(&*signal), value(AndonSignal::red("m"))],
        ),
        (
            "SignalAccepted",
            vec![value(SignalAccepted {
                id: signal.id().to_string(),
                stopped_line: true,
                resumed_line: false,
                delivered_to: vec!["logger".into()],
                failures: Vec::new(),
            })],
        ),
        (
            "SignalList",
            vec![value(SignalList {
                signals: vec![Arc::clone(&signal)],
            })],
        ),
        (
            "LineState",
            vec![
                value(&stopped),
                value(&running),
                value(LineState::Running {
                    since: UNIX_EPOCH,
                    resumed: None,
                }),
            ],
        ),
        (
            "Resumption",
            vec![value(resumption(Some("fixed"))), value(resumption(None))],
        ),
        (
            "ResumeRequest",
            vec![
                value(ResumeRequest {
                    by: Some("alice".into()),
                    note: Some("fixed".into()),
                }),
                value(ResumeRequest::default()),
            ],
        ),
        (
            "ResumeAnswer",
            vec![value(ResumeAnswer {
                resumed: true,
                line: running.clone(),
            })],
        ),
        ("AlertView", vec![value(alert(true)), value(alert(false))]),
        (
            "AlertList",
            vec![value(AlertList {
                alerting: true,
                alerts: vec![alert(true)],
            })],
        ),
        (
            "AckRequest",
            vec![
                value(AckRequest {
                    by: Some("bo".into()),
                }),
                value(AckRequest::default()),
            ],
        ),
        (
            "Acknowledged",
            vec![value(Acknowledged {
                acknowledged: 1,
                fingerprint: "f1".into(),
            })],
        ),
        (
            "BoardView",
            vec![value(board(Some("http://j"))), value(board(None))],
        ),
        ("StationView", vec![value(&station)]),
        ("DiagnosticsReport", vec![value(&report)]),
        ("Health", vec![value(&health)]),
        (
            "HeartbeatView",
            vec![value(heartbeat(true)), value(heartbeat(false))],
        ),
        (
            "HeartbeatList",
            vec![value(HeartbeatList {
                heartbeats: vec![heartbeat(true)],
            })],
        ),
        (
            "CheckIn",
            vec![
                value(&check_in),
                value(CheckIn::new(HeartbeatStatus::Success)),
            ],
        ),
        (
            "UnknownHeartbeat",
            vec![value(UnknownHeartbeat {
                error: "no heartbeat is named `x`".into(),
                known: vec!["nightly".into()],
            })],
        ),
        (
            "FleetView",
            vec![value(FleetView {
                shared: true,
                this_instance: "press-7".into(),
                running: 0,
                stopped: 1,
                no_data: 0,
                instances: vec![fleet_instance(true)],
            })],
        ),
        (
            "FleetInstance",
            vec![value(fleet_instance(true)), value(fleet_instance(false))],
        ),
        ("ParetoReport", vec![value(&pareto)]),
        ("ParetoBar", vec![value(&pareto.rows[0])]),
        (
            "ResponseTimesReport",
            vec![value(ResponseTimesReport {
                window: window(),
                by: "component".into(),
                components: vec![response_times(true)],
            })],
        ),
        (
            "ResponseTimes",
            vec![value(response_times(true)), value(response_times(false))],
        ),
        (
            "Liveness",
            vec![value(Liveness {
                status: "ok".into(),
            })],
        ),
        (
            "Readiness",
            vec![
                value(Readiness {
                    status: "ready".into(),
                    line: Some("RUNNING".into()),
                }),
                value(Readiness {
                    status: "stopping".into(),
                    line: None,
                }),
            ],
        ),
        (
            "PagerDutyReply",
            vec![value(pagerduty(true)), value(pagerduty(false))],
        ),
        ("SlackReply", vec![value(slack(true)), value(slack(false))]),
    ])
}

/// The samples of the history's answers, whose rows are andon-history's records (`full`).
#[cfg(feature = "full")]
fn history_samples() -> BTreeMap<&'static str, Vec<Value>> {
    use andon::history::{Downtime, StoredSignal, TimelineEntry};
    let stored = |full: bool| StoredSignal {
        id: "0190b6a8-7e1c-7cc3-9b8a-3c2f1d4e5a6b".into(),
        at: UNIX_EPOCH,
        color: Color::Red,
        component: full.then(|| "db".into()),
        message: "disk full".into(),
        fingerprint: "disk full".into(),
        trace_id: full.then(|| "trace-1".into()),
        attributes: json!({}),
        instance: full.then(|| "press-7".into()),
    };
    let bucket = Downtime {
        start: UNIX_EPOCH,
        stopped_seconds: 60.0,
        stops: 1,
    };
    let per_instance = InstanceDowntime {
        stopped_seconds: 60.0,
        stops: 1,
        buckets: vec![bucket.clone()],
    };
    let downtime = |full: bool| DowntimeReport {
        window: window(),
        bucket_seconds: 86_400,
        stopped_seconds: 60.0,
        buckets: vec![bucket.clone()],
        instances: full.then(|| [("press-7".to_owned(), per_instance.clone())].into()),
    };
    let step = |full: bool| TimelineStep {
        entry: TimelineEntry {
            at: UNIX_EPOCH,
            kind: "signal".into(),
            summary: "RED db: disk full".into(),
            component: full.then(|| "db".into()),
            trace_id: full.then(|| "trace-1".into()),
            detail: json!({}),
        },
        trace_url: full.then(|| "http://j/trace/00".into()),
    };
    let timeline = |full: bool| TimelineView {
        key: "trace-1".into(),
        trace_ids: vec!["trace-1".into()],
        fingerprints: Vec::new(),
        entries: vec![step(full)],
        trace_urls: full.then(|| [("trace-1".to_owned(), "http://j/trace/00".to_owned())].into()),
        next_offset: full.then_some(1000),
    };
    BTreeMap::from([
        (
            "HistorySignals",
            vec![value(HistorySignals {
                window: window(),
                signals: vec![stored(true)],
            })],
        ),
        (
            "StoredSignal",
            vec![value(stored(true)), value(stored(false))],
        ),
        (
            "DowntimeReport",
            vec![value(downtime(true)), value(downtime(false))],
        ),
        ("Downtime", vec![value(&bucket)]),
        ("InstanceDowntime", vec![value(&per_instance)]),
        (
            "TimelineView",
            vec![value(timeline(true)), value(timeline(false))],
        ),
        ("TimelineStep", vec![value(step(true)), value(step(false))]),
    ])
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

fn names(list: Option<&Value>) -> BTreeSet<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_schema_has_the_fields_its_type_writes() {
    let doc = openapi();
    let schemas = doc["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    #[cfg(feature = "full")]
    let samples = {
        let mut samples = samples();
        samples.extend(history_samples());
        samples
    };
    // Without `full` there is no history: its records' schemas have no type to compare.
    #[cfg(not(feature = "full"))]
    let (samples, schemas) = (
        samples(),
        &schemas
            .iter()
            .filter(|(name, _)| !HISTORY_RECORDS.contains(&name.as_str()))
            .map(|(name, schema)| (name.clone(), schema.clone()))
            .collect::<serde_json::Map<String, Value>>(),
    );
    let mut wrong = Vec::new();
    for (name, values) in &samples {
        let Some(schema) = schemas.get(*name) else {
            wrong.push(format!("{name}: no schema in docs/openapi.yaml"));
            continue;
        };
        let written: BTreeSet<String> = values.iter().flat_map(keys).collect();
        let always = values
            .iter()
            .map(keys)
            .reduce(|a, b| a.intersection(&b).cloned().collect())
            .unwrap_or_default();
        let documented = keys(&schema["properties"]);
        if written != documented {
            wrong.push(format!(
                "{name}: the type writes {written:?}, docs/openapi.yaml lists {documented:?}"
            ));
        }
        let required = names(schema.get("required"));
        let fits = if REQUESTS.contains(name) {
            required.is_subset(&always)
        } else {
            required == always
        };
        if !fits {
            wrong.push(format!(
                "{name}: the type always writes {always:?}, docs/openapi.yaml requires {required:?}"
            ));
        }
    }
    // And the other way: every object schema is a type of the api module.
    for (name, schema) in schemas {
        if schema["type"] == "object" && !samples.contains_key(name.as_str()) {
            wrong.push(format!(
                "{name}: a schema in docs/openapi.yaml with no type behind it"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/openapi.yaml and src/api differ:\n{}",
        wrong.join("\n")
    );
}

/// The schemas of answers made of andon-history's records, which only `full` builds have.
#[cfg(not(feature = "full"))]
const HISTORY_RECORDS: &[&str] = &[
    "HistorySignals",
    "StoredSignal",
    "DowntimeReport",
    "Downtime",
    "InstanceDowntime",
    "TimelineView",
    "TimelineStep",
];

/// Each endpoint, the schema of its JSON request body (if any) and of its success answer.
const ENDPOINTS: &[(&str, &str, Option<&str>, &str, &str)] = &[
    (
        "post",
        "/v1/signals",
        Some("NewSignal"),
        "201",
        "SignalAccepted",
    ),
    ("get", "/v1/signals", None, "200", "SignalList"),
    ("get", "/v1/board", None, "200", "BoardView"),
    ("get", "/v1/line", None, "200", "LineState"),
    (
        "post",
        "/v1/line/resume",
        Some("ResumeRequest"),
        "200",
        "ResumeAnswer",
    ),
    ("get", "/v1/alerts", None, "200", "AlertList"),
    (
        "post",
        "/v1/alerts/{fingerprint}/ack",
        Some("AckRequest"),
        "200",
        "Acknowledged",
    ),
    ("get", "/v1/diagnostics", None, "200", "DiagnosticsReport"),
    ("get", "/v1/heartbeats", None, "200", "HeartbeatList"),
    (
        "post",
        "/v1/heartbeats/{name}",
        Some("CheckIn"),
        "200",
        "HeartbeatView",
    ),
    (
        "post",
        "/v1/heartbeats/{name}",
        Some("CheckIn"),
        "404",
        "UnknownHeartbeat",
    ),
    ("get", "/v1/fleet", None, "200", "FleetView"),
    ("get", "/v1/history/pareto", None, "200", "ParetoReport"),
    (
        "get",
        "/v1/history/mttr",
        None,
        "200",
        "ResponseTimesReport",
    ),
    ("get", "/v1/history/signals", None, "200", "HistorySignals"),
    ("get", "/v1/history/downtime", None, "200", "DowntimeReport"),
    (
        "get",
        "/v1/history/timeline/{key}",
        None,
        "200",
        "TimelineView",
    ),
    ("get", "/healthz", None, "200", "Liveness"),
    ("get", "/readyz", None, "200", "Readiness"),
    (
        "post",
        "/v1/integrations/pagerduty",
        None,
        "200",
        "PagerDutyReply",
    ),
    ("post", "/v1/integrations/slack", None, "200", "SlackReply"),
];

fn reference(schema: &Value) -> String {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or("(inline)")
        .to_owned()
}

#[test]
fn each_endpoint_names_its_types() {
    let doc = openapi();
    let mut wrong = Vec::new();
    for (method, path, request, status, answer) in ENDPOINTS {
        let operation = &doc["paths"][*path][*method];
        if let Some(request) = request {
            let given =
                reference(&operation["requestBody"]["content"]["application/json"]["schema"]);
            if given != *request {
                wrong.push(format!(
                    "{method} {path}: request body {given}, the server reads {request}"
                ));
            }
        }
        let given =
            reference(&operation["responses"][*status]["content"]["application/json"]["schema"]);
        if given != *answer {
            wrong.push(format!(
                "{method} {path} {status}: answer {given}, the server writes {answer}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The pages of the board and the Fleet view: served, but not part of the API.
#[cfg(feature = "full")]
const PAGES: &[&str] = &["/", "/board.css", "/board.js", "/fleet", "/fleet.js"];

/// Whether `router` serves `method path`: anything but its fallbacks (405, or the 404 that
/// names no endpoint) counts.
#[cfg(feature = "full")]
async fn serves(router: &axum::Router, method: &str, path: &str) -> bool {
    use tower::ServiceExt;
    let uri = path
        .replace("{fingerprint}", "f1")
        .replace("{name}", "nightly")
        .replace("{key}", "trace-1");
    let request = axum::http::Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(uri)
        .header("host", "127.0.0.1:7600")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{}"))
        .expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    if status == axum::http::StatusCode::METHOD_NOT_ALLOWED {
        return false;
    }
    if status != axum::http::StatusCode::NOT_FOUND {
        return true;
    }
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    !String::from_utf8_lossy(&body).contains("no such endpoint")
}

#[cfg(feature = "full")]
#[tokio::test]
async fn the_file_lists_every_route_the_router_serves_and_no_other() {
    let config = andon::AndonConfig::from_toml_str(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n[history]\nenabled = false\n",
    )
    .expect("a config");
    let system = andon::AndonSystem::new(config).await.expect("a system");
    let agent = crate::Agent::new(system).expect("an agent");
    let served = agent.served(None);
    let doc = openapi();
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let api: BTreeSet<&str> = served
        .paths
        .iter()
        .copied()
        .filter(|p| !PAGES.contains(p))
        .collect();
    assert_eq!(
        api, documented,
        "the router's paths (left) and docs/openapi.yaml's (right)"
    );
    let mut wrong = Vec::new();
    for path in &api {
        for method in ["get", "post"] {
            let listed = doc["paths"][*path].get(method).is_some();
            let serving = serves(&served.router, method, path).await;
            if listed != serving {
                wrong.push(format!(
                    "{method} {path}: served {serving}, in docs/openapi.yaml {listed}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let _ = agent.system().shutdown().await;
}
