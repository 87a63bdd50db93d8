//! Acknowledging where people are: PagerDuty v3 webhooks and Slack's buttons, sent to the real
//! agent over HTTP, signed exactly as the providers document (PagerDuty: `v1=` hex HMAC-SHA256
//! of the raw body, several comma-separated; Slack: `v0=` hex HMAC-SHA256 of
//! `v0:{timestamp}:{body}`), and also forged, unsigned, stale and replayed. Only the verified
//! ones act: an acknowledged alert stops escalating, a resolved incident leaves an alert whose
//! condition holds open, a Slack user resumes the line, each recorded with who did it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::TestAgent;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const PD_SECRET: &str = "pd-webhook-secret-0123456789";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn config(dir: &Path) -> String {
    format!(
        r#"
[tracer]
enabled = false
[observer]
enabled = false
[logger]
level = "CRITICAL"
sinks = ["Stderr"]
[history]
enabled = true
path = "{history}"
[agent]
pagerduty_webhook_secret = "{PD_SECRET}"
slack_signing_secret = "{SLACK_SECRET}"
[alerts]
evaluation_interval = "1s"
escalate_after = "1s"
[alerts.channels.first]
type = "file"
path = "{first}"
[alerts.channels.oncall]
type = "file"
path = "{oncall}"
[[alerts.escalation]]
channels = ["oncall"]
[[alerts.rules]]
name = "red"
condition = {{ type = "signal", color = "red", window = "10m" }}
severity = "critical"
channels = ["first"]
"#,
        history = dir.join("history.sqlite3").display(),
        first = dir.join("first.jsonl").display(),
        oncall = dir.join("oncall.jsonl").display(),
    )
}

fn hex_hmac(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A PagerDuty v3 webhook body for `event_type` on the incident with `incident_key`.
fn pd_event(id: &str, event_type: &str, incident_key: &str, occurred_at: SystemTime) -> String {
    json!({
        "event": {
            "id": id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": humantime::format_rfc3339_millis(occurred_at).to_string(),
            "agent": { "id": "PLH1HKV", "summary": "Ana Ops", "type": "user_reference" },
            "client": null,
            "data": {
                "id": "PGR0VU2",
                "type": "incident",
                "number": 2,
                "status": "acknowledged",
                "incident_key": incident_key,
                "title": "db pulled the cord",
                "assignees": [{ "id": "PTUXL6G", "summary": "Bo Backup", "type": "user_reference" }],
            },
        }
    })
    .to_string()
}

async fn pd_post(agent: &TestAgent, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut request = agent
        .http
        .post(agent.at("/v1/integrations/pagerduty"))
        .header("content-type", "application/json")
        .header("x-webhook-subscription", "PSO6Q0G")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-pagerduty-signature", signature);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A Slack `block_actions` form body pressing `action_id` with `value`, by user U024BE7LH.
fn slack_form(action_id: &str, value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": "U024BE7LH", "username": "ana", "name": "ana", "team_id": "T0CAG" },
        "team": { "id": "T0CAG", "domain": "acme" },
        "channel": { "id": "C0LAN2Q65", "name": "ops" },
        "response_url": "https://hooks.slack.com/actions/T0CAG/1/xyz",
        "actions": [{
            "type": "button",
            "action_id": action_id,
            "block_id": "andon_actions",
            "value": value,
            "action_ts": "1548426417.840180",
        }],
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

/// Posts a form to the Slack endpoint with `timestamp`, signed with `secret`.
async fn slack_post(agent: &TestAgent, body: &str, timestamp: u64, secret: &str) -> (u16, Value) {
    let ts = timestamp.to_string();
    let signature = format!(
        "v0={}",
        hex_hmac(secret, &[b"v0:", ts.as_bytes(), b":", body.as_bytes()])
    );
    slack_send(agent, body, &ts, &signature).await
}

async fn slack_send(agent: &TestAgent, body: &str, ts: &str, signature: &str) -> (u16, Value) {
    // As Slack sends it: a form, not JSON, from no browser page.
    let response = agent
        .http
        .post(agent.at("/v1/integrations/slack"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Polls until `ready` gives a value (a generous hang guard, not a timing assertion).
async fn eventually<T>(what: &str, mut ready: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..600 {
        if let Some(value) = ready().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never happened");
}

async fn red(agent: &TestAgent, component: &str) {
    let body = json!({"color": "red", "message": format!("{component} is down"), "component": component, "trace_id": format!("trace-{component}")});
    let (status, answer) = agent.post("/v1/signals", &body.to_string()).await;
    assert!(status == 200 || status == 201, "{status} {answer}");
}

/// The open alerts' fingerprint and acknowledgement, by component.
async fn alert_of(agent: &TestAgent, component: &str) -> Option<(String, Value)> {
    let (_, alerts) = agent.get("/v1/alerts").await;
    alerts["alerts"]
        .as_array()?
        .iter()
        .find(|a| a["component"] == component)
        .map(|a| {
            (
                a["fingerprint"].as_str().unwrap().to_owned(),
                a["acknowledged_by"].clone(),
            )
        })
}

async fn metric(agent: &TestAgent, provider: &str, result: &str) -> u64 {
    let text = agent
        .http
        .get(agent.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("# HELP andon_agent_webhooks_total "),
        "{text}"
    );
    let prefix =
        format!("andon_agent_webhooks_total{{provider=\"{provider}\",result=\"{result}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{prefix} missing: {text}"))
        .parse()
        .unwrap()
}

/// The fingerprints that the escalation channel was notified of as firing.
fn escalated(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("oncall.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| {
            a["status"]
                .as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case("firing"))
        })
        .filter_map(|a| a["fingerprint"].as_str().map(str::to_owned))
        .collect()
}

/// The timeline entries of `trace` of `kind`, once the history writer has them.
async fn timeline(agent: &TestAgent, trace: &str, kind: &str) -> Value {
    eventually(&format!("{kind} in the history of {trace}"), async || {
        let (_, body) = agent.get(&format!("/v1/history/timeline/{trace}")).await;
        body["entries"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == kind)
            .cloned()
    })
    .await
}

type Events = tokio::io::BufReader<tokio::net::TcpStream>;

/// Opens `GET /v1/events`, the board's live stream.
async fn open_events(agent: &TestAgent) -> Events {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let address = agent.address();
    let mut reader =
        tokio::io::BufReader::new(tokio::net::TcpStream::connect(&address).await.unwrap());
    reader
        .get_mut()
        .write_all(format!("GET /v1/events HTTP/1.1\r\nHost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut status = String::new();
    reader.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    reader
}

/// Reads the stream until an `alerts` event whose data satisfies `wanted`.
async fn next_alerts(reader: &mut Events, wanted: impl Fn(&Value) -> bool) -> Value {
    use tokio::io::AsyncBufReadExt;
    let mut current = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.unwrap();
        assert!(n > 0, "the event stream ended");
        let line = line.trim_end();
        if let Some(event) = line.strip_prefix("event:") {
            current = event.trim().to_owned();
        } else if let Some(data) = line.strip_prefix("data:")
            && current == "alerts"
        {
            let data: Value = serde_json::from_str(data.trim()).unwrap();
            if wanted(&data) {
                return data;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pagerduty_acknowledgement_stops_escalation_and_only_signed_fresh_webhooks_act() {
    let dir = tempfile::tempdir().unwrap();
    let agent = TestAgent::start(&config(dir.path())).await;
    red(&agent, "db").await;
    red(&agent, "queue").await;
    let db = eventually("the db alert", async || alert_of(&agent, "db").await)
        .await
        .0;
    eventually("the queue alert", async || alert_of(&agent, "queue").await).await;

    let now = SystemTime::now();
    let ack = pd_event("01DEN6", "incident.acknowledged", &db, now);
    let good = format!("v1={}", hex_hmac(PD_SECRET, &[ack.as_bytes()]));
    // Unsigned, forged (another secret, or the body changed after signing) and stale: 401.
    let (status, _) = pd_post(&agent, &ack, None).await;
    assert_eq!(status, 401);
    let forged = format!(
        "v1={}",
        hex_hmac("not-the-secret-0123456789", &[ack.as_bytes()])
    );
    let (status, answer) = pd_post(&agent, &ack, Some(forged)).await;
    assert_eq!(status, 401, "{answer}");
    let tampered = ack.replace("Ana Ops", "Mallory");
    let (status, _) = pd_post(&agent, &tampered, Some(good.clone())).await;
    assert_eq!(status, 401);
    let old = pd_event(
        "01DEN5",
        "incident.acknowledged",
        &db,
        now - Duration::from_secs(600),
    );
    let old_signature = format!("v1={}", hex_hmac(PD_SECRET, &[old.as_bytes()]));
    let (status, answer) = pd_post(&agent, &old, Some(old_signature)).await;
    assert_eq!(status, 401, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("replay window"),
        "{answer}"
    );
    assert_eq!(
        alert_of(&agent, "db").await.unwrap().1,
        Value::Null,
        "none of them acted"
    );

    // Signed as PagerDuty does during a secret rotation: one of several signatures matches.
    let rotated = format!(
        "v1={},{good}",
        hex_hmac("old-secret-0123456789abc", &[ack.as_bytes()])
    );
    let (status, answer) = pd_post(&agent, &ack, Some(rotated.clone())).await;
    assert_eq!(
        (status, answer["acted"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    assert_eq!(
        alert_of(&agent, "db").await.unwrap().1,
        "Ana Ops (PagerDuty)"
    );
    // The same delivery again is a replay: refused, not acted on twice.
    let (status, answer) = pd_post(&agent, &ack, Some(rotated)).await;
    assert_eq!(status, 401, "{answer}");

    // The unacknowledged queue alert escalates; the acknowledged db alert does not.
    let queue = alert_of(&agent, "queue").await.unwrap().0;
    eventually("the queue alert escalates", async || {
        escalated(dir.path()).contains(&queue).then_some(())
    })
    .await;
    assert!(
        !escalated(dir.path()).contains(&db),
        "{:?}",
        escalated(dir.path())
    );

    // An incident key that names a rule, not an alert, acknowledges nothing.
    let by_rule = pd_event("01DEN9", "incident.acknowledged", "red", SystemTime::now());
    let signature = format!("v1={}", hex_hmac(PD_SECRET, &[by_rule.as_bytes()]));
    let (status, answer) = pd_post(&agent, &by_rule, Some(signature)).await;
    assert_eq!(
        (status, answer["acted"].clone()),
        (200, json!(false)),
        "{answer}"
    );
    assert_eq!(alert_of(&agent, "queue").await.unwrap().1, Value::Null);

    // Resolved in PagerDuty while the RED is still in its window: the andon alert stays open.
    let resolved = pd_event("01DEN7", "incident.resolved", &db, SystemTime::now());
    let signature = format!("v1={}", hex_hmac(PD_SECRET, &[resolved.as_bytes()]));
    let (status, answer) = pd_post(&agent, &resolved, Some(signature)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["resolved"], false);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("condition still holds"),
        "{answer}"
    );
    assert!(
        alert_of(&agent, "db").await.is_some(),
        "the alert is still open"
    );

    let reassigned = pd_event("01DEN8", "incident.reassigned", &queue, SystemTime::now());
    let signature = format!("v1={}", hex_hmac(PD_SECRET, &[reassigned.as_bytes()]));
    let (status, answer) = pd_post(&agent, &reassigned, Some(signature)).await;
    assert_eq!(
        (status, answer["assignees"].clone()),
        (200, json!(["Bo Backup"])),
        "{answer}"
    );

    // Who acknowledged is in the history, beside the RED.
    let entry = timeline(&agent, "trace-db", "alert.acknowledged").await;
    assert_eq!(entry["detail"]["by"], "Ana Ops (PagerDuty)", "{entry}");

    for (result, n) in [
        ("accepted", 4),
        ("unsigned", 1),
        ("forged", 2),
        ("stale", 1),
        ("replayed", 1),
    ] {
        assert_eq!(metric(&agent, "pagerduty", result).await, n, "{result}");
    }
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_buttons_resume_the_line_and_acknowledge_as_the_slack_user() {
    let dir = tempfile::tempdir().unwrap();
    let agent = TestAgent::start(&config(dir.path())).await;
    red(&agent, "db").await;
    let (_, line) = agent.get("/v1/line").await;
    assert_eq!(line["state"], "STOPPED");

    let resume = slack_form("andon_resume", "line");
    // Forged, stale (signed correctly ten minutes ago), unsigned: 401, the line stays stopped.
    let (status, _) = slack_post(&agent, &resume, unix_now(), "not-the-signing-secret-0123").await;
    assert_eq!(status, 401);
    let (status, answer) = slack_post(&agent, &resume, unix_now() - 600, SLACK_SECRET).await;
    assert_eq!(status, 401, "{answer}");
    let (status, _) = slack_send(&agent, &resume, &unix_now().to_string(), "").await;
    assert_eq!(status, 401);
    let (_, line) = agent.get("/v1/line").await;
    assert_eq!(line["state"], "STOPPED", "no refused request acted");

    // Signed as Slack does: the line resumes, recorded as resumed by the Slack user.
    let ts = unix_now();
    let (status, answer) = slack_post(&agent, &resume, ts, SLACK_SECRET).await;
    assert_eq!(
        (status, answer["acted"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    let (_, line) = agent.get("/v1/line").await;
    assert_eq!(line["state"], "RUNNING", "{line}");
    assert_eq!(line["resumed"]["by"], "@ana (U024BE7LH on Slack)", "{line}");
    let entry = timeline(&agent, "trace-db", "line.resumed").await;
    assert_eq!(
        entry["detail"]["by"], "@ana (U024BE7LH on Slack)",
        "{entry}"
    );

    // The line stops again; replaying the captured resume does nothing.
    red(&agent, "db").await;
    let (status, _) = slack_post(&agent, &resume, ts, SLACK_SECRET).await;
    assert_eq!(status, 401);
    let (_, line) = agent.get("/v1/line").await;
    assert_eq!(line["state"], "STOPPED", "a replay never acts");

    // The Acknowledge button: the alert is acknowledged by the Slack user, on the board and
    // the event stream too.
    let mut events = open_events(&agent).await;
    let (fingerprint, _) = eventually("the db alert", async || alert_of(&agent, "db").await).await;
    let ack = slack_form("andon_ack", &fingerprint);
    let (status, answer) = slack_post(&agent, &ack, unix_now(), SLACK_SECRET).await;
    assert_eq!(
        (status, answer["acted"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    let (_, board) = agent.get("/v1/board").await;
    let station = board["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["component"] == "db")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        station["open_alerts"][0]["acknowledged_by"], "@ana (U024BE7LH on Slack)",
        "{board}"
    );

    let streamed = tokio::time::timeout(
        Duration::from_secs(60),
        next_alerts(&mut events, |d| {
            d["alerts"][0]["acknowledged_by"].is_string()
        }),
    )
    .await
    .expect("the acknowledgement reaches the event stream");
    assert_eq!(
        streamed["alerts"][0]["acknowledged_by"],
        "@ana (U024BE7LH on Slack)"
    );

    for (result, n) in [
        ("accepted", 2),
        ("forged", 2),
        ("unsigned", 0),
        ("stale", 1),
        ("replayed", 1),
    ] {
        assert_eq!(metric(&agent, "slack", result).await, n, "{result}");
    }
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_secret_the_endpoints_say_how_to_configure_them() {
    let agent = TestAgent::start(common::QUIET).await;
    let (status, answer) = pd_post(&agent, "{}", Some("v1=00".to_owned())).await;
    assert_eq!(status, 404);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("pagerduty_webhook_secret"),
        "{answer}"
    );
    let (status, answer) = slack_send(&agent, "payload=%7B%7D", "1", "v0=00").await;
    assert_eq!(status, 404);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("slack_signing_secret"),
        "{answer}"
    );
    agent.stop().await.unwrap();
}
