//! Helpers shared by the alert tests: a controllable metrics source, a recording signal sink,
//! log sink and metrics sink, a fixed diagnostics source, a local HTTP receiver that can be
//! told to fail, an SMTP server, and the configuration pieces several tests build alike.
#![allow(dead_code, unreachable_pub)] // each test file uses a part of the helpers
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers: a failure stops the test where it happened

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use andon_alert::{AlertChannel, AlertManager, AlertRule};
use andon_core::AlertSeverity;
use andon_core::config::{AlertsConfig, ChannelConfig, EmailTls, Secret};
use andon_core::{
    AndonError, AndonSignal, DiagnosticsReport, DiagnosticsSource, Health, HealthStatus, LogEntry,
    LogSink, MetricsSink, MetricsSource, Sample, SignalSink, async_trait,
};
use andon_tests::{Peer, Ready, free_port};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One labelled series: metric name, sorted labels, value.
type Series = (String, Vec<(String, String)>, f64);

/// Gauges set by the test: unlabeled (`set`) or one series per label set (`set_series`).
#[derive(Debug, Default)]
pub struct FakeMetrics(Mutex<HashMap<String, f64>>, Mutex<Vec<Series>>);

impl FakeMetrics {
    pub fn set(&self, name: &str, value: f64) {
        self.0.lock().unwrap().insert(name.to_owned(), value);
    }

    /// Sets the series of `name` with `labels` (kept sorted by name, as the trait says).
    pub fn set_series(&self, name: &str, labels: &[(&str, &str)], value: f64) {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        let mut series = self.1.lock().unwrap();
        series.retain(|(n, l, _)| !(n == name && *l == labels));
        series.push((name.to_owned(), labels, value));
    }

    /// Removes the series of `name` with `labels`: it is gone from the source.
    pub fn remove_series(&self, name: &str, labels: &[(&str, &str)]) {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        self.1
            .lock()
            .unwrap()
            .retain(|(n, l, _)| !(n == name && *l == labels));
    }
}

impl MetricsSource for FakeMetrics {
    fn samples(&self, name: &str) -> Vec<Sample> {
        let mut out: Vec<Sample> = self
            .0
            .lock()
            .unwrap()
            .get(name)
            .map(|v| {
                vec![Sample {
                    labels: Vec::new(),
                    value: *v,
                }]
            })
            .unwrap_or_default();
        for (n, labels, value) in self.1.lock().unwrap().iter() {
            if n == name {
                out.push(Sample {
                    labels: labels.clone(),
                    value: *value,
                });
            }
        }
        out
    }
}

/// Records every signal it gets.
#[derive(Debug, Default)]
pub struct RecordingSink(pub Mutex<Vec<AndonSignal>>);

impl RecordingSink {
    pub fn signals(&self) -> Vec<AndonSignal> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait]
impl SignalSink for RecordingSink {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn on_signal(&self, signal: &AndonSignal) -> Result<(), AndonError> {
        self.0.lock().unwrap().push(signal.clone());
        Ok(())
    }
}

/// Keeps every entry it is given.
#[derive(Debug, Default)]
pub struct RecordingLog(Mutex<Vec<LogEntry>>);

impl RecordingLog {
    pub fn entries(&self) -> Vec<LogEntry> {
        self.0.lock().unwrap().clone()
    }
}

impl LogSink for RecordingLog {
    fn write(&self, entry: LogEntry) -> Result<(), AndonError> {
        self.0.lock().unwrap().push(entry);
        Ok(())
    }
}

/// One counter increment: name, labels, delta.
pub type Increment = (String, Vec<(String, String)>, u64);

/// Keeps every counter increment and HELP text.
#[derive(Debug, Default)]
pub struct RecordingMetrics {
    counters: Mutex<Vec<Increment>>,
    help: Mutex<Vec<(String, String)>>,
}

impl RecordingMetrics {
    pub fn total(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, d)| d)
            .sum()
    }

    pub fn help(&self, name: &str) -> Option<String> {
        self.help
            .lock()
            .unwrap()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h.clone())
    }
}

impl MetricsSink for RecordingMetrics {
    fn set_gauge(&self, _name: &str, _labels: &[(&str, &str)], _value: f64) {}

    fn add_counter(&self, name: &str, labels: &[(&str, &str)], delta: u64) {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.counters
            .lock()
            .unwrap()
            .push((name.to_owned(), labels, delta));
    }

    fn describe(&self, name: &str, help: &str) {
        self.help
            .lock()
            .unwrap()
            .push((name.to_owned(), help.to_owned()));
    }
}

/// A diagnostics source with a fixed summary and health.
#[derive(Debug)]
pub struct FakeDiagnostics {
    pub summary: String,
    pub health: Mutex<Option<Health>>,
}

impl FakeDiagnostics {
    pub fn new(summary: &str) -> Self {
        FakeDiagnostics {
            summary: summary.to_owned(),
            health: Mutex::new(None),
        }
    }

    pub fn set_health(&self, status: HealthStatus, reason: &str) {
        *self.health.lock().unwrap() = Some(Health {
            status,
            reasons: vec![reason.to_owned()],
        });
    }
}

#[async_trait]
impl DiagnosticsSource for FakeDiagnostics {
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError> {
        Ok(DiagnosticsReport {
            taken_at: SystemTime::now(),
            health: Health::default(),
            summary: self.summary.clone(),
            details: Value::Null,
        })
    }

    fn last_health(&self) -> Option<Health> {
        self.health.lock().unwrap().clone()
    }
}

/// A diagnostics source whose report carries a whole snapshot (`details`), shaped like the
/// observer's: memory, CPU, load, disks, network, the process, the top processes.
#[derive(Debug)]
pub struct SnapshotDiagnostics {
    pub summary: String,
    pub details: Value,
}

impl SnapshotDiagnostics {
    pub fn new() -> Self {
        SnapshotDiagnostics {
            summary: "critical: memory 91.5%, cpu 97.0%, load 4.40, disk / 75%".to_owned(),
            details: serde_json::json!({
                "health": { "status": "Critical", "reasons": ["memory 91.5% is above 90%"] },
                "system": { "memory_used_percent": 91.5, "cpu_percent": 97.0,
                            "load_average": [4.4, 3.1, 2.0] },
                "disks": [{ "mount": "/", "used_percent": 75.0 }],
                "network": [{ "interface": "eth0", "rx_bytes_per_sec": 1200.0, "tx_bytes_per_sec": 800.0 }],
                "process": { "pid": 4242, "rss_bytes": 14_800_000u64, "threads": 9 },
                "top": { "by_cpu": [{ "pid": 77, "name": "hog<&>", "cpu_percent": 88.0 }] },
                "truncated": false
            }),
        }
    }
}

#[async_trait]
impl DiagnosticsSource for SnapshotDiagnostics {
    async fn snapshot(&self) -> Result<DiagnosticsReport, AndonError> {
        Ok(DiagnosticsReport {
            taken_at: SystemTime::now(),
            health: Health::default(),
            summary: self.summary.clone(),
            details: self.details.clone(),
        })
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: Value,
    pub answered: u16,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default)]
struct ReceiverState {
    requests: Mutex<Vec<Received>>,
    /// Answer the next N requests with this status and Retry-After.
    fail: Mutex<(u32, u16, Option<u64>, String)>,
}

/// A local HTTP receiver on 127.0.0.1: records every POST; `/hang...` paths never answer.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            base: format!("http://{addr}"),
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The PagerDuty channel the tests configure: this receiver's `/pd`, [`ROUTING_KEY`] and
    /// source `checkout-1` (what [`check_pagerduty`] expects).
    pub fn pagerduty_channel(&self) -> ChannelConfig {
        ChannelConfig::PagerDuty {
            routing_key: Secret::new(ROUTING_KEY),
            url: self.url("/pd"),
            source: Some("checkout-1".into()),
            budget_per_minute: None,
        }
    }

    /// Answers the next `n` requests with `status` (and `Retry-After` seconds, and `body`).
    pub fn fail_next(&self, n: u32, status: u16, retry_after: Option<u64>, body: &str) {
        *self.state.fail.lock().unwrap() = (n, status, retry_after, body.to_owned());
    }

    /// Every request, answered or not.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The bodies of requests to `path` answered with success.
    pub fn delivered(&self, path: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path && r.answered < 300)
            .map(|r| r.body)
            .collect()
    }
}

async fn handle(
    State(state): State<Arc<ReceiverState>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if path.starts_with("/hang") {
        std::future::pending::<()>().await;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let fail = {
        let mut fail = state.fail.lock().unwrap();
        if fail.0 > 0 {
            fail.0 -= 1;
            Some((fail.1, fail.2, fail.3.clone()))
        } else {
            None
        }
    };
    let answered = fail.as_ref().map_or(202, |f| f.0);
    state.requests.lock().unwrap().push(Received {
        path,
        body,
        answered,
        idempotency_key,
    });
    match fail {
        Some((status, retry_after, text)) => {
            let status = StatusCode::from_u16(status).unwrap();
            let mut response = (status, text).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", secs.to_string().parse().unwrap());
            }
            response
        }
        None => (StatusCode::ACCEPTED, "{\"status\":\"success\"}").into_response(),
    }
}

/// Polls `check` every 10 ms until it is true; fails the test after 30 s (a bound, not a
/// timing assertion).
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The JSON lines of a file channel.
pub fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A 32-character routing key, as PagerDuty issues them.
pub const ROUTING_KEY: &str = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12";

/// The default `[alerts]` with quick retries (10 ms backoff, 5 s per attempt), then `tune`.
pub fn config(tune: impl FnOnce(&mut AlertsConfig)) -> AlertsConfig {
    let mut config = AlertsConfig {
        retry_backoff: Duration::from_millis(10),
        timeout: Duration::from_secs(5),
        ..AlertsConfig::default()
    };
    tune(&mut config);
    config
}

/// A webhook channel posting to `url`.
pub fn webhook(url: String) -> ChannelConfig {
    ChannelConfig::Webhook {
        url: Secret::new(url),
        budget_per_minute: None,
    }
}

/// The channels of these names.
pub fn named(channels: &[&str]) -> Vec<AlertChannel> {
    channels
        .iter()
        .map(|c| AlertChannel::Named((*c).into()))
        .collect()
}

/// The critical rule `stop-the-line` (every RED) notifying these named channels.
pub fn stop_the_line(channels: &[&str]) -> AlertRule {
    AlertRule {
        name: "stop-the-line".into(),
        severity: AlertSeverity::Critical,
        channels: named(channels),
        ..Default::default()
    }
}

/// Waits until each of these receiver paths got one delivery, then until every channel is done.
pub async fn one_delivery_each(rx: &Receiver, alerts: &AlertManager, paths: &[&str]) {
    wait_until("every HTTP channel delivers", || {
        paths.iter().all(|p| rx.delivered(p).len() == 1)
    })
    .await;
    assert!(alerts.flush_within(Duration::from_secs(30)).await);
}

/// An email channel to the local SMTP server on `port`, in clear, from `from` to
/// `oncall@example.com`.
pub fn plain_mail(port: u16, from: &str) -> ChannelConfig {
    ChannelConfig::Email(andon_core::config::EmailConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        tls: EmailTls::None,
        username: None,
        password: None,
        from: from.into(),
        to: vec!["oncall@example.com".into()],
        budget_per_minute: None,
    })
}

/// aiosmtpd on a free port, printing every message it gets.
pub fn smtp_server(python: PathBuf) -> (Peer, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let peer = Peer::builder(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &addr,
            "-c",
            "aiosmtpd.handlers.Debugging",
            "stdout",
        ])
        .env("PYTHONUNBUFFERED", "1")
        .ready(Ready::Tcp(addr.parse().unwrap()))
        .start()
        .unwrap();
    (peer, port)
}

/// Slack's documented Block Kit limits for an incoming webhook, and its escaping: no `<` that
/// Slack would parse as a mention or a link, no bare `&`.
pub fn check_slack(body: &Value) {
    let text = body["text"].as_str().expect("text is a string");
    assert!(!text.is_empty() && text.chars().count() <= 3000);
    let blocks = body["blocks"].as_array().expect("blocks is an array");
    assert!(!blocks.is_empty() && blocks.len() <= 50, "{}", blocks.len());
    let mut texts = vec![text.to_owned()];
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {
                assert_eq!(block["text"]["type"], "plain_text");
                let t = block["text"]["text"].as_str().unwrap();
                assert!(t.chars().count() <= 150);
                texts.push(t.to_owned());
            }
            "section" => {
                assert_eq!(block["text"]["type"], "mrkdwn");
                let t = block["text"]["text"].as_str().unwrap();
                assert!(!t.is_empty() && t.chars().count() <= 3000);
                texts.push(t.to_owned());
            }
            "context" => {
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 10);
                texts.extend(
                    elements
                        .iter()
                        .map(|e| e["text"].as_str().unwrap().to_owned()),
                );
            }
            "actions" => {
                // Slack's limits: at most 25 elements, action ids unique within the block;
                // a button's text plain, at most 75 characters; its value at most 2000.
                let elements = block["elements"].as_array().unwrap();
                assert!(!elements.is_empty() && elements.len() <= 25);
                let mut ids = std::collections::BTreeSet::new();
                for e in elements {
                    assert_eq!(e["type"], "button");
                    let id = e["action_id"].as_str().unwrap();
                    assert!(id.len() <= 255 && ids.insert(id), "action_id {id}");
                    assert_eq!(e["text"]["type"], "plain_text");
                    let t = e["text"]["text"].as_str().unwrap();
                    assert!(!t.is_empty() && t.chars().count() <= 75);
                    texts.push(t.to_owned());
                    assert!(e["value"].as_str().unwrap().chars().count() <= 2000);
                }
            }
            other => panic!("unexpected block type {other}"),
        }
    }
    for t in texts {
        assert!(!t.contains('<') && !t.contains('>'), "unescaped: {t}");
        for (at, _) in t.match_indices('&') {
            let rest = &t[at..];
            assert!(
                ["&amp;", "&lt;", "&gt;"]
                    .iter()
                    .any(|e| rest.starts_with(e)),
                "a bare &: {t}"
            );
        }
    }
}

/// PagerDuty Events API v2's documented rules for an event.
pub fn check_pagerduty(event: &Value) {
    assert!(
        serde_json::to_vec(event).unwrap().len() <= 512 * 1024,
        "512 KB"
    );
    assert_eq!(event["routing_key"], ROUTING_KEY);
    assert_eq!(event["routing_key"].as_str().unwrap().len(), 32);
    let action = event["event_action"].as_str().unwrap();
    assert!(["trigger", "acknowledge", "resolve"].contains(&action));
    let dedup = event["dedup_key"].as_str().unwrap();
    assert!(!dedup.is_empty() && dedup.len() <= 255 && dedup.chars().count() <= 255);
    if action == "trigger" {
        let payload = &event["payload"];
        let summary = payload["summary"].as_str().unwrap();
        assert!(!summary.is_empty() && summary.chars().count() <= 1024);
        assert!(!payload["source"].as_str().unwrap().is_empty());
        assert!(
            ["critical", "error", "warning", "info"]
                .contains(&payload["severity"].as_str().unwrap())
        );
        andon_core::rfc3339::parse(payload["timestamp"].as_str().unwrap()).unwrap();
        assert!(payload["custom_details"].is_object());
    }
}
