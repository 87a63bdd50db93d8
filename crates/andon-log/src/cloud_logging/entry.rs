//! From the Cloud layout's JSON line to an `entries:write` LogEntry, and the request around
//! a batch of them.

use std::collections::BTreeMap;

use andon_core::config::MonitoredResource;
use serde_json::{Map, Value, json};

/// The special fields of the structured-logging layout and their LogEntry names.
const SPECIAL: [(&str, &str); 5] = [
    ("logging.googleapis.com/trace", "trace"),
    ("logging.googleapis.com/spanId", "spanId"),
    ("logging.googleapis.com/trace_sampled", "traceSampled"),
    ("logging.googleapis.com/labels", "labels"),
    ("logging.googleapis.com/sourceLocation", "sourceLocation"),
];

/// The LogEntry for one Cloud-layout line; `project` turns a bare `trace_id` (written when no
/// project id was configured) into `projects/P/traces/T`. `None` when the line is not a JSON
/// object (it always is, as the formatter writes it).
pub(crate) fn to_entry(line: &[u8], project: &str) -> Option<Value> {
    let Ok(Value::Object(mut payload)) = serde_json::from_slice::<Value>(line) else {
        return None;
    };
    let mut entry = Map::new();
    if let Some(severity) = payload.remove("severity") {
        entry.insert("severity".into(), severity);
    }
    if let Some(time) = payload.remove("time") {
        entry.insert("timestamp".into(), time);
    }
    for (from, to) in SPECIAL {
        if let Some(value) = payload.remove(from) {
            entry.insert(to.into(), value);
        }
    }
    if !entry.contains_key("trace")
        && let Some(Value::String(id)) = payload.remove("trace_id")
    {
        entry.insert(
            "trace".into(),
            Value::String(format!("projects/{project}/traces/{id}")),
        );
    }
    entry.insert("jsonPayload".into(), Value::Object(payload));
    Some(Value::Object(entry))
}

/// `projects/P/logs/<log_id>`, the log id URL-encoded as the API asks (`/` as `%2F`).
pub(crate) fn log_name(project: &str, log_id: &str) -> String {
    format!("projects/{project}/logs/{}", log_id.replace('/', "%2F"))
}

/// The configured resource, else one the environment says: Cloud Run's `cloud_run_revision`
/// (`K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`). `None`: ask the metadata server, else
/// [`global`].
pub(crate) fn resource(
    configured: Option<&MonitoredResource>,
    project: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Value> {
    if let Some(resource) = configured {
        return Some(json!({ "type": resource.kind, "labels": resource.labels }));
    }
    let service = env("K_SERVICE")?;
    let mut labels = BTreeMap::new();
    labels.insert("project_id", project.to_owned());
    labels.insert("service_name", service);
    for (var, label) in [
        ("K_REVISION", "revision_name"),
        ("K_CONFIGURATION", "configuration_name"),
    ] {
        if let Some(value) = env(var) {
            labels.insert(label, value);
        }
    }
    Some(json!({ "type": "cloud_run_revision", "labels": labels }))
}

/// The `global` resource of `project`, when nothing more precise is known.
pub(crate) fn global(project: &str) -> Value {
    json!({ "type": "global", "labels": { "project_id": project } })
}

/// The `entries:write` request body for `entries`.
pub(crate) fn request(
    log_name: &str,
    resource: &Value,
    labels: &BTreeMap<String, String>,
    entries: Vec<Value>,
) -> Value {
    let mut body = Map::new();
    body.insert("logName".into(), Value::String(log_name.to_owned()));
    body.insert("resource".into(), resource.clone());
    if !labels.is_empty() {
        body.insert("labels".into(), json!(labels));
    }
    body.insert("entries".into(), Value::Array(entries));
    // One bad entry must not lose the others of its request.
    body.insert("partialSuccess".into(), Value::Bool(true));
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_fields_become_logentry_fields() {
        let line = br#"{"severity":"WARNING","message":"disk 91%","time":"2023-11-14T22:13:20.000005000Z","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","logging.googleapis.com/spanId":"00f067aa0ba902b7","logging.googleapis.com/trace_sampled":true,"logging.googleapis.com/labels":{"component":"disk"},"free_gb":3}
"#;
        let entry = to_entry(line, "p1").unwrap();
        assert_eq!(
            entry,
            json!({
                "severity": "WARNING",
                "timestamp": "2023-11-14T22:13:20.000005000Z",
                "trace": "projects/p1/traces/4bf92f3577b34da6a3ce929d0e0e4736",
                "spanId": "00f067aa0ba902b7",
                "traceSampled": true,
                "labels": { "component": "disk" },
                "jsonPayload": { "message": "disk 91%", "free_gb": 3 },
            })
        );
        assert_eq!(to_entry(b"not json", "p1"), None);
    }

    #[test]
    fn the_resource_is_configured_or_detected() {
        let none = |_: &str| None;
        assert_eq!(resource(None, "p1", none), None);
        assert_eq!(
            global("p1"),
            json!({ "type": "global", "labels": { "project_id": "p1" } })
        );
        let cloud_run = |k: &str| match k {
            "K_SERVICE" => Some("api".to_owned()),
            "K_REVISION" => Some("api-00001".to_owned()),
            _ => None,
        };
        assert_eq!(
            resource(None, "p1", cloud_run).unwrap(),
            json!({ "type": "cloud_run_revision", "labels": {
                "project_id": "p1", "service_name": "api", "revision_name": "api-00001" } })
        );
        let gce = MonitoredResource {
            kind: "gce_instance".into(),
            labels: [("zone".to_owned(), "europe-west1-b".to_owned())].into(),
        };
        assert_eq!(
            resource(Some(&gce), "p1", cloud_run).unwrap(),
            json!({ "type": "gce_instance", "labels": { "zone": "europe-west1-b" } })
        );
        assert_eq!(log_name("p1", "a/b"), "projects/p1/logs/a%2Fb");
    }
}
