//! `docs/openapi.yaml` held to the code: every schema there has exactly the properties (and,
//! for answers, the required list) that the `api` type of the same name writes, every object
//! schema is such a type, each endpoint names its request and answer types, and the paths in
//! the file are the paths the router serves, with the same methods. Adding a field to a type
//! without documenting it, or a route without its entry, fails here.

mod samples;

use std::collections::BTreeSet;

use serde_json::Value;

#[cfg(feature = "full")]
use samples::history_samples;
use samples::samples;

/// The workspace's `docs/openapi.yaml`, read when the test runs (it is not part of the
/// published crate, so it is not embedded in the source).
fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).expect("docs/openapi.yaml is readable");
    serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML")
}

/// The request bodies: optional fields are not required of the client even when the type
/// always writes them (`CheckIn`'s `status` defaults to `success`).
const REQUESTS: &[&str] = &["NewSignal", "ResumeRequest", "AckRequest", "CheckIn"];

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

/// Each endpoint, one a line: method, path, the schema of its JSON request body (`-`: none),
/// and the status and schema of its success answer.
const ENDPOINTS: &str = "
    post /v1/signals                  NewSignal     201 SignalAccepted
    get  /v1/signals                  -             200 SignalList
    get  /v1/board                    -             200 BoardView
    get  /v1/line                     -             200 LineState
    post /v1/line/resume              ResumeRequest 200 ResumeAnswer
    get  /v1/alerts                   -             200 AlertList
    post /v1/alerts/{fingerprint}/ack AckRequest    200 Acknowledged
    get  /v1/diagnostics              -             200 DiagnosticsReport
    get  /v1/heartbeats               -             200 HeartbeatList
    post /v1/heartbeats/{name}        CheckIn       200 HeartbeatView
    post /v1/heartbeats/{name}        CheckIn       404 UnknownHeartbeat
    get  /v1/fleet                    -             200 FleetView
    get  /v1/history/pareto           -             200 ParetoReport
    get  /v1/history/mttr             -             200 ResponseTimesReport
    get  /v1/history/signals          -             200 HistorySignals
    get  /v1/history/downtime         -             200 DowntimeReport
    get  /v1/history/timeline/{key}   -             200 TimelineView
    get  /healthz                     -             200 Liveness
    get  /readyz                      -             200 Readiness
    post /v1/integrations/pagerduty   -             200 PagerDutyReply
    post /v1/integrations/slack       -             200 SlackReply
";

/// The rows of [`ENDPOINTS`]: `[method, path, request, status, answer]`.
fn endpoints() -> Vec<[&'static str; 5]> {
    ENDPOINTS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [method, path, request, status, answer] => [method, path, request, status, answer],
                _ => panic!("an ENDPOINTS line has five columns: {line}"),
            },
        )
        .collect()
}

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
    for [method, path, request, status, answer] in endpoints() {
        let operation = &doc["paths"][path][method];
        if request != "-" {
            let given =
                reference(&operation["requestBody"]["content"]["application/json"]["schema"]);
            if given != request {
                wrong.push(format!(
                    "{method} {path}: request body {given}, the server reads {request}"
                ));
            }
        }
        let given =
            reference(&operation["responses"][status]["content"]["application/json"]["schema"]);
        if given != answer {
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
