//! Secrets never show: every secret of the configuration is set to a unique marker, a full
//! scenario with failures runs (channels pointing at a local receiver that answers 500 and
//! echoes the request back, at a closed port, an SMTP server that is not there; a RED signal;
//! an alert firing; agent API calls with and without the token), and the marker must appear in
//! no log line, no error's `Display` or `Debug`, no `Debug` of the configuration or the system,
//! no `/metrics` output and no API response. And the token rule: an agent configured beyond
//! loopback refuses to start without a token, and with one refuses writes that lack it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use andon::AndonConfig;
use andon_agent::Agent;
use common::TestAgent;

const MARKERS: [&str; 7] = [
    "SECRET-MARKER-1", // slack webhook url
    "SECRET-MARKER-2", // pagerduty routing key
    "SECRET-MARKER-3", // smtp password
    "SECRET-MARKER-4", // webhook url
    "SECRET-MARKER-5", // agent token (SECRET-MARKER-5-agent-token)
    "SECRET-MARKER-6", // PagerDuty webhook signing secret
    "SECRET-MARKER-7", // Slack signing secret
];

/// A hostile receiver on loopback: answers every request with 500 and echoes the request (and
/// so the secret in its URL or body) back in the response body. Counts requests.
fn echoing_500_receiver() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut request = vec![0u8; 16 * 1024];
            let n = stream.read(&mut request).unwrap_or(0);
            counter.fetch_add(1, Ordering::SeqCst);
            let echoed = String::from_utf8_lossy(&request[..n]).replace(['\r', '\n'], " ");
            let body = format!("internal error while handling: {echoed}");
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, hits)
}

fn config(receiver: u16, closed: u16, log: &std::path::Path, listen: &str) -> String {
    format!(
        r#"
[logger]
level = "DEBUG"
sampling_enabled = false
sinks = [{{ type = "File", path = {log:?} }}]

[tracer]
enabled = false

[observer]
enabled = false

[agent]
listen = "{listen}"
token = "SECRET-MARKER-5-agent-token"
pagerduty_webhook_secret = "SECRET-MARKER-6-pagerduty"
slack_signing_secret = "SECRET-MARKER-7-slack-signing"

[alerts]
evaluation_interval = "50ms"
group_wait = "0s"
timeout = "2s"
max_retries = 1
retry_backoff = "10ms"
failure_threshold = 1

[alerts.channels.slack]
type = "slack"
webhook_url = "http://127.0.0.1:{receiver}/services/SECRET-MARKER-1"

[alerts.channels.pager]
type = "pagerduty"
routing_key = "SECRET-MARKER-2"
url = "http://127.0.0.1:{receiver}/v2/enqueue"

[alerts.channels.mail]
type = "email"
host = "127.0.0.1"
port = {closed}
tls = "none"
username = "andon"
password = "SECRET-MARKER-3"
from = "andon <andon@example.com>"
to = ["oncall@example.com"]

[alerts.channels.hook]
type = "webhook"
url = "http://127.0.0.1:{closed}/hook?token=SECRET-MARKER-4"

[[alerts.rules]]
name = "red-signal"
severity = "critical"
channels = ["slack", "pager", "mail", "hook"]
condition = {{ type = "signal", color = "red" }}
"#,
        log = log.display().to_string(),
    )
}

fn assert_clean(what: &str, text: &str) {
    for marker in MARKERS {
        assert!(
            !text.contains(marker),
            "{marker} leaked into {what}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_shows_in_logs_errors_debug_metrics_or_api_responses() {
    let (receiver, hits) = echoing_500_receiver();
    let closed = andon_tests::free_port(); // nothing listens there
    let dir = andon_tests::temp_dir();
    let log = dir.path().join("andon.log");
    // The configuration says 0.0.0.0, so the token is required; the test listens on loopback.
    let text = config(receiver, closed, &log, "0.0.0.0:7600");
    let loaded = AndonConfig::from_toml_str(&text).unwrap();
    assert_clean("Debug of the configuration", &format!("{loaded:?}"));
    assert_clean("the rendered configuration", &loaded.to_toml_string());

    let agent = TestAgent::start(&text).await;
    assert_clean("Debug of the system", &format!("{:?}", agent.system));
    let mut seen = String::new();

    // Writes without the token, with a wrong one, then with the right one.
    let signal = r#"{"color":"red","message":"disk full","component":"db"}"#;
    for token in [
        None,
        Some("wrong"),
        Some("SECRET-MARKER-5-agent-token-but-longer"),
    ] {
        let (status, body) = agent.post_with("/v1/signals", signal, token).await;
        assert_eq!(status, 401, "{body}");
        seen.push_str(&body.to_string());
    }
    let (status, body) = agent
        .post_with("/v1/signals", signal, Some("SECRET-MARKER-5-agent-token"))
        .await;
    assert_eq!(status, 201, "{body}");
    seen.push_str(&body.to_string());
    let (_, body) = agent
        .post_with("/v1/signals", "{nope", Some("SECRET-MARKER-5-agent-token"))
        .await;
    seen.push_str(&body.to_string());

    // Forged provider requests: refused without showing the signing secrets.
    for (path, header, value) in [
        (
            "/v1/integrations/pagerduty",
            "x-pagerduty-signature",
            "v1=00",
        ),
        ("/v1/integrations/slack", "x-slack-signature", "v0=00"),
    ] {
        let response = agent
            .http
            .post(agent.at(path))
            .header(header, value)
            .header("x-slack-request-timestamp", "1")
            .body("payload=%7B%7D")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
        seen.push_str(&response.text().await.unwrap());
    }

    // The alert fires; every channel fails (500 with the request echoed, closed ports).
    let alerts = agent.system.alerts().unwrap();
    let failed = andon_tests::wait_for(Duration::from_secs(20), || {
        let reports = alerts.channel_reports();
        (reports.len() == 4
            && reports
                .iter()
                .all(|r| r.failed > 0 && r.last_error.is_some()))
        .then_some(reports)
    });
    let reports = failed.unwrap_or_else(|| {
        panic!(
            "every channel should have failed: {:?}",
            alerts.channel_reports()
        )
    });
    assert!(
        hits.load(Ordering::SeqCst) >= 2,
        "the echoing receiver was reached"
    );
    for report in &reports {
        assert_clean("a channel report", &format!("{report:?}"));
    }

    for path in [
        "/v1/board",
        "/v1/signals",
        "/v1/line",
        "/v1/alerts",
        "/v1/diagnostics",
        "/healthz",
        "/readyz",
        "/v1/nowhere",
    ] {
        let (_, body) = agent.get(path).await;
        seen.push_str(&body.to_string());
    }
    let metrics = agent
        .http
        .get(agent.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("andon_"),
        "the exposition is served: {metrics}"
    );
    assert_clean("/metrics", &metrics);
    assert_clean("API responses", &seen);
    assert_clean("Debug of the system", &format!("{:?}", agent.system));

    // Errors that carry configuration: a secret where a URL belongs, a wide listener.
    let bad = text.replace(
        &format!("http://127.0.0.1:{receiver}/services/SECRET-MARKER-1"),
        "SECRET-MARKER-1",
    );
    let err = AndonConfig::from_toml_str(&bad).unwrap_err();
    assert_eq!(
        err.key.as_deref(),
        Some("alerts.channels.slack.webhook_url")
    );
    assert_clean("a configuration error", &format!("{err} {err:?}"));
    // A secret that happens to hold `${` is not echoed by the `${VAR}` expansion's errors.
    for broken in ["SECRET-MARKER-3${oops", "SECRET-${MARKER-3}"] {
        let bad = text.replace("\"SECRET-MARKER-3\"", &format!("{broken:?}"));
        let err = AndonConfig::from_toml_str(&bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("alerts.channels.mail.password"));
        assert!(
            !format!("{err} {err:?}").contains("SECRET"),
            "a configuration error echoed a secret: {err}"
        );
    }

    let system = agent.system.clone();
    agent.stop().await.unwrap();
    drop(system);
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.contains("disk full"),
        "the log was captured: {written}"
    );
    assert_clean("the log file", &written);
}

#[tokio::test]
async fn beyond_loopback_the_agent_needs_a_token_and_writes_need_it() {
    // No token with a wide listener: the configuration is refused, naming the key.
    let wide = "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
                [agent]\nlisten = \"0.0.0.0:7600\"\n";
    let err = AndonConfig::from_toml_str(wide).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("agent.token"), "{err}");
    assert!(err.to_string().contains("is required"), "{err}");
    // A configuration changed in code after loading is refused too, before anything listens.
    let mut config = AndonConfig::from_toml_str(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n",
    )
    .unwrap();
    config.agent.listen = "0.0.0.0:7600".to_owned();
    let err = match andon_agent::build_system(config, false).await {
        Err(e) => e.to_string(),
        Ok(system) => {
            let err = Agent::new(system.clone()).unwrap_err().to_string();
            system.shutdown().await.unwrap();
            err
        }
    };
    assert!(err.contains("agent.token"), "{err}");
    // On loopback without a token, writes are open; `[::1]` and 127.x are loopback too.
    for listen in ["127.0.0.1:7600", "[::1]:7600", "127.0.0.2:7600"] {
        let mut config = AndonConfig::from_toml_str(
            "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n",
        )
        .unwrap();
        config.agent.listen = listen.to_owned();
        let system = andon_agent::build_system(config, false).await.unwrap();
        assert!(
            !Agent::new(system.clone()).unwrap().token_required(),
            "{listen}"
        );
        system.shutdown().await.unwrap();
    }
    // With a token (forced here on 127.0.0.1), a write without Authorization gets 401.
    let agent = TestAgent::start(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
         [agent]\nlisten = \"127.0.0.1:7600\"\ntoken = \"t0ken-0123456789abcdef\"\n",
    )
    .await;
    let (status, body) = agent
        .post("/v1/signals", r#"{"color":"red","message":"m"}"#)
        .await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = agent
        .post_with(
            "/v1/signals",
            r#"{"color":"red","message":"m"}"#,
            Some("t0ken-0123456789abcdef"),
        )
        .await;
    assert_eq!(status, 201);
    agent.stop().await.unwrap();
}
