//! Alert faults (docs/faults.md): webhooks answering 500, 429 and too slowly, an SMTP server
//! that is not there and one that refuses the recipient, an Alertmanager that is down, all in
//! one system: each failing channel is retried and counted, the healthy file channel delivers
//! regardless. And the outbox: the agent killed with SIGKILL while notifications are pending
//! delivers each of them exactly once, by dedup key, when it is started again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon::alert::ChannelReport;
use andon::{AndonConfig, AndonSignal, AndonSystem};
use andon_tests::{Peer, Ready, free_port, http_get, peers_python, temp_dir, wait_for};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// What each path answers: a list of (status, delay) for the first requests, then 200.
type Script = BTreeMap<&'static str, Vec<(u16, Duration)>>;

#[derive(Debug, Default)]
struct Seen {
    requests: Vec<(String, u16, Value)>,
    script: Script,
}

/// A local HTTP receiver that answers each path by its script.
#[derive(Debug, Clone)]
struct Receiver {
    base: String,
    seen: Arc<Mutex<Seen>>,
}

async fn answer(State(seen): State<Arc<Mutex<Seen>>>, uri: Uri, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let (status, delay) = {
        let mut seen = seen.lock().unwrap();
        let step = seen
            .script
            .get_mut(path.as_str())
            .and_then(|steps| (!steps.is_empty()).then(|| steps.remove(0)));
        step.unwrap_or((200, Duration::ZERO))
    };
    tokio::time::sleep(delay).await;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock().unwrap().requests.push((path, status, body));
    let mut response = (StatusCode::from_u16(status).unwrap(), "scripted").into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().unwrap());
    }
    response
}

impl Receiver {
    async fn start(script: Script) -> Receiver {
        let seen = Arc::new(Mutex::new(Seen {
            requests: Vec::new(),
            script,
        }));
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&seen));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base, seen }
    }

    /// (status, dedup key) of each request answered on `path`.
    fn answered(&self, path: &str) -> Vec<(u16, String)> {
        self.seen
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(p, _, _)| p == path)
            .map(|(_, s, b)| (*s, b["key"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }
}

/// An SMTP server (aiosmtpd) that refuses every recipient with a permanent 550.
const REFUSING_SMTP: &str = r#"
import sys, time
from aiosmtpd.controller import Controller
class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable"
Controller(Refuse(), hostname="127.0.0.1", port=int(sys.argv[1])).start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

fn report<'a>(reports: &'a [ChannelReport], name: &str) -> &'a ChannelReport {
    reports
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no channel {name}"))
}

fn email(name: &str, port: u16) -> String {
    format!(
        "[alerts.channels.{name}]\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nfrom = \"andon@example.com\"\nto = [\"oncall@example.com\"]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_channels_are_retried_and_counted_and_the_healthy_one_delivers() {
    let Some(python) = peers_python() else {
        return;
    };
    let smtp_port = free_port();
    let _refusing = Peer::builder(python)
        .args(["-c", REFUSING_SMTP, &smtp_port.to_string()])
        .ready(Ready::Output("ready".into()))
        .start()
        .unwrap();
    let slow = Duration::from_secs(3);
    let rx = Receiver::start(Script::from([
        ("/500", vec![(500, Duration::ZERO); 10]),
        ("/429", vec![(429, Duration::ZERO)]),
        ("/slow", vec![(200, slow), (200, slow)]),
    ]))
    .await;
    let dir = temp_dir();
    let file = dir.path().join("alerts.jsonl");
    let dead = free_port();
    let mut toml = format!(
        r#"
[logger]
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
timeout = "500ms"
max_retries = 2
retry_backoff = "50ms"
[alerts.channels.hook500]
type = "webhook"
url = "{base}/500"
[alerts.channels.hook429]
type = "webhook"
url = "{base}/429"
[alerts.channels.slow]
type = "webhook"
url = "{base}/slow"
[alerts.channels.alertmanager]
type = "alertmanager"
url = "http://127.0.0.1:{dead}"
[alerts.channels.file]
type = "file"
path = "{file}"
[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hook500", "hook429", "slow", "alertmanager", "smtp_down", "smtp_refusing", "file"]
"#,
        base = rx.base,
        file = file.display(),
        log = dir.path().join("andon.log").display(),
    );
    toml.push_str(&email("smtp_down", dead));
    toml.push_str(&email("smtp_refusing", smtp_port));
    let system = AndonSystem::new(AndonConfig::from_toml_str(&toml).unwrap())
        .await
        .unwrap();
    let alerts = system.alerts().unwrap().clone();
    system
        .signal_problem(AndonSignal::red("disk full").with_component("db"))
        .await
        .unwrap();

    // The healthy channel delivers while the others are still being retried.
    let line = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&file)
            .ok()
            .filter(|t| !t.is_empty())
    })
    .expect("the file channel delivers");
    let delivered: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(delivered["status"], "firing", "{delivered}");
    let key = delivered["key"].as_str().unwrap().to_owned();

    assert!(alerts.flush_within(Duration::from_secs(60)).await);
    let reports = alerts.channel_reports();
    let shown = format!("{reports:#?}");
    let r = report(&reports, "file");
    assert_eq!((r.sent, r.failed, r.retries), (1, 0, 0), "{shown}");
    // 500: the first attempt and two retries, then given up and counted.
    let r = report(&reports, "hook500");
    assert_eq!((r.sent, r.failed, r.retries), (0, 1, 2), "{shown}");
    assert!(r.last_error.as_deref().unwrap().contains("500"), "{shown}");
    assert_eq!(rx.answered("/500").len(), 3);
    // 429 with Retry-After: retried once, then delivered, with the same dedup key.
    let r = report(&reports, "hook429");
    assert_eq!((r.sent, r.failed, r.retries), (1, 0, 1), "{shown}");
    let answered = rx.answered("/429");
    assert_eq!(answered.iter().map(|a| a.0).collect::<Vec<_>>(), [429, 200]);
    assert!(answered.iter().all(|a| a.1 == key), "{answered:?}");
    // Two attempts time out; the third is delivered.
    let r = report(&reports, "slow");
    assert_eq!((r.sent, r.failed, r.retries), (1, 0, 2), "{shown}");
    // Nothing listens: retried, then counted.
    for name in ["alertmanager", "smtp_down"] {
        let r = report(&reports, name);
        assert_eq!((r.sent, r.failed, r.retries), (0, 1, 2), "{name}: {shown}");
        assert!(r.last_error.is_some());
    }
    // A permanent SMTP refusal is not retried.
    let r = report(&reports, "smtp_refusing");
    assert_eq!((r.sent, r.failed), (0, 1), "{shown}");
    assert!(r.last_error.as_deref().unwrap().contains("550"), "{shown}");
    system
        .shutdown_within(Duration::from_secs(5))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_down_at_first_gets_the_alert_through_retries() {
    let Some(binary) = andon_tests::find_peer(
        "prometheus-alertmanager",
        "apt-get install prometheus-alertmanager (or cargo xtask setup)",
    ) else {
        return;
    };
    let dir = temp_dir();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let file = dir.path().join("alerts.jsonl");
    let toml = format!(
        r#"
[logger]
sinks = [{{ type = "File", path = "{log}" }}]
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
max_retries = 20
retry_backoff = "200ms"
[alerts.channels.am]
type = "alertmanager"
url = "{base}"
[alerts.channels.file]
type = "file"
path = "{file}"
[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["am", "file"]
"#,
        log = dir.path().join("andon.log").display(),
        file = file.display(),
    );
    let system = AndonSystem::new(AndonConfig::from_toml_str(&toml).unwrap())
        .await
        .unwrap();
    let alerts = system.alerts().unwrap().clone();
    system
        .signal_problem(AndonSignal::red("disk full").with_component("db"))
        .await
        .unwrap();
    // Alertmanager is down: the channel retries, the file channel delivers meanwhile.
    let retrying = wait_for(Duration::from_secs(10), || {
        let reports = alerts.channel_reports();
        (report(&reports, "am").retries >= 1).then_some(())
    });
    assert!(retrying.is_some(), "{:#?}", alerts.channel_reports());
    assert!(
        wait_for(Duration::from_secs(10), || {
            std::fs::read_to_string(&file)
                .ok()
                .filter(|t| !t.is_empty())
        })
        .is_some()
    );

    // Alertmanager comes up: a retry delivers the alert, which it lists.
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n",
    )
    .unwrap();
    let _alertmanager = Peer::builder(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("am").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .ready(Ready::Http(format!("{base}/-/ready")))
        .start()
        .unwrap();
    let listed = wait_for(Duration::from_secs(30), || {
        let (status, body) = http_get(&format!("{base}/api/v2/alerts")).ok()?;
        let alerts: Vec<Value> = serde_json::from_str(&body).ok()?;
        (status == 200)
            .then_some(alerts)?
            .into_iter()
            .find(|a| a["labels"]["alertname"] == "every-red")
    });
    let listed = listed.unwrap_or_else(|| panic!("not delivered: {:#?}", alerts.channel_reports()));
    assert_eq!(listed["labels"]["severity"], "critical");
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
    let reports = alerts.channel_reports();
    let am = report(&reports, "am");
    assert_eq!((am.sent, am.failed), (1, 0), "{reports:#?}");
    assert!(am.retries >= 1);
    let file = report(&reports, "file");
    assert_eq!(
        (file.sent, file.failed, file.retries),
        (1, 0, 0),
        "{reports:#?}"
    );
    system
        .shutdown_within(Duration::from_secs(5))
        .await
        .unwrap();
}

/// Starts the agent (the `andon run` command) with `config`, ready when it answers.
fn start_agent(config: &Path, port: u16) -> Peer {
    Peer::builder(andon_tests::example_binary("fault_agent"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        // the agent's durable files go beside the config, not into the working directory
        .arg("--data-dir")
        .arg(config.with_file_name("data"))
        .ready(Ready::Http(format!("http://127.0.0.1:{port}/healthz")))
        .start()
        .unwrap()
}

/// Posts a signal to the agent with curl-free plain HTTP.
fn post_signal(port: u16, component: &str) {
    use std::io::{Read, Write};
    let body = format!(r#"{{"color":"red","message":"down","component":"{component}"}}"#);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /v1/signals HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 2"),
        "the agent refused the signal: {response}"
    );
}

#[test]
fn after_kill_9_of_the_agent_the_outbox_delivers_every_pending_notification_with_its_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The receiver is down for maintenance: it answers 503 until told otherwise.
    let rx = runtime.block_on(Receiver::start(Script::from([(
        "/hook",
        vec![(503, Duration::ZERO); 1_000_000],
    )])));
    let dir = temp_dir();
    let config = dir.path().join("andon.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false
[alerts]
outbox_path = "{outbox}"
max_retries = 1000
retry_backoff = "20ms"
[alerts.channels.hook]
type = "webhook"
url = "{base}/hook"
[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["hook"]
"#,
            outbox = dir.path().join("alerts.outbox").display(),
            base = rx.base,
        ),
    )
    .unwrap();

    // Run 1: three alerts are notified; the receiver refuses; the agent is killed (SIGKILL).
    let port = free_port();
    let mut agent = start_agent(&config, port);
    for component in ["a", "b", "c"] {
        post_signal(port, component);
    }
    // A channel delivers in order: the first notification is being retried, the other two wait
    // behind it (written to the outbox when they were queued, before the signals were answered).
    let (status, open) = http_get(&format!("http://127.0.0.1:{port}/v1/alerts")).unwrap();
    assert_eq!(status, 200);
    let open: Value = serde_json::from_str(&open).unwrap();
    assert_eq!(open["alerts"].as_array().unwrap().len(), 3, "{open}");
    let in_flight = wait_for(Duration::from_secs(20), || {
        let tried = rx.answered("/hook");
        (tried.len() >= 2).then(|| tried[0].1.clone())
    })
    .unwrap_or_else(|| panic!("the agent did not retry: {}", agent.output()));
    agent.kill();
    assert!(!agent.is_running());

    // Run 2: the receiver is back; the agent starts again and replays the outbox, no new signal.
    rx.seen.lock().unwrap().script.clear();
    let port = free_port();
    let agent = start_agent(&config, port);
    let delivered = wait_for(Duration::from_secs(20), || {
        let ok: Vec<String> = rx
            .answered("/hook")
            .into_iter()
            .filter(|a| a.0 < 300)
            .map(|a| a.1)
            .collect();
        (ok.len() >= 3).then_some(ok)
    })
    .unwrap_or_else(|| panic!("not replayed; agent said:\n{}", agent.output()));
    // Let any duplicate show up before counting.
    let (status, _) = http_get(&format!("http://127.0.0.1:{port}/healthz")).unwrap();
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(500));
    let delivered_now: Vec<String> = rx
        .answered("/hook")
        .into_iter()
        .filter(|a| a.0 < 300)
        .map(|a| a.1)
        .collect();
    assert_eq!(
        delivered_now.len(),
        3,
        "exactly once each: {delivered_now:?}"
    );
    let keys: std::collections::BTreeSet<String> = delivered.into_iter().collect();
    assert_eq!(keys.len(), 3, "three different notifications: {keys:?}");
    assert!(
        keys.contains(&in_flight),
        "the one in flight at the kill keeps its dedup key: {in_flight} not in {keys:?}"
    );
    drop(agent);

    // Run 3: nothing is left to replay.
    let port = free_port();
    let agent = start_agent(&config, port);
    std::thread::sleep(Duration::from_millis(500));
    let delivered_later = rx.answered("/hook").iter().filter(|a| a.0 < 300).count();
    assert_eq!(delivered_later, 3, "{}", agent.output());
    drop(agent);
}
