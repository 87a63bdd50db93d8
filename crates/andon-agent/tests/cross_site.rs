//! Writes only from who may write: raw HTTP requests exactly as a browser on another web page
//! would send them to the loopback agent (a `text/plain` "simple" POST with its `Origin`, an
//! empty resume, `Sec-Fetch-Site: cross-site`, a DNS-rebound `Host`, a request through a
//! proxy) are refused with a JSON error and change nothing, while the andon CLI's client, a
//! plain JSON client and the board's own same-origin requests keep working; the board cannot
//! be framed; tokens are at least 16 characters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

mod common;

use andon::AndonConfig;
use andon_agent::{Agent, Client};
use common::{QUIET, TestAgent};
use serde_json::{Value, json};

const SIGNAL: &str = r#"{"color":"red","message":"pulled from evil.example","component":"web"}"#;

fn post(address: &str, path: &str, headers: &[&str], body: &str) -> String {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    request
}

fn error_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    value["error"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_origin_can_neither_pull_nor_release_the_cord() {
    let agent = TestAgent::start(QUIET).await;
    let address = agent.address();
    // The line is stopped by a legitimate client first, so that a forged resume would show.
    let client = Client::new(&agent.url, None).unwrap();
    let stopped = client
        .post(
            "/v1/signals",
            &json!({"color": "red", "message": "disk full", "component": "db"}),
        )
        .await
        .unwrap();
    assert_eq!(stopped["stopped_line"], true);

    let evil = "Origin: https://evil.example";
    let forged = [
        // fetch(url, {method: "POST", mode: "no-cors", body}) from another site.
        (
            "/v1/signals",
            vec![
                evil,
                "Content-Type: text/plain;charset=UTF-8",
                "Sec-Fetch-Site: cross-site",
            ],
            SIGNAL,
        ),
        // The same from an older browser that sends no Sec-Fetch-Site.
        (
            "/v1/signals",
            vec![evil, "Content-Type: text/plain"],
            SIGNAL,
        ),
        // An HTML form posting to the agent.
        (
            "/v1/signals",
            vec![evil, "Content-Type: application/x-www-form-urlencoded"],
            "color=red",
        ),
        // An empty resume, with and without the marks of another site.
        ("/v1/line/resume", vec![evil], ""),
        ("/v1/line/resume", vec![], ""),
        ("/v1/line/resume", vec!["Sec-Fetch-Site: cross-site"], ""),
        // JSON with the page's origin (a preflight the agent never granted was skipped).
        (
            "/v1/line/resume",
            vec![evil, "Content-Type: application/json"],
            "{}",
        ),
        // Another port of this machine is another origin (and only `same-site`).
        (
            "/v1/line/resume",
            vec![
                "Origin: http://127.0.0.1:1",
                "Content-Type: application/json",
            ],
            "{}",
        ),
        (
            "/v1/line/resume",
            vec![
                "Sec-Fetch-Site: same-site",
                "Content-Type: application/json",
            ],
            "{}",
        ),
        (
            "/v1/line/resume",
            vec!["Origin: null", "Content-Type: application/json"],
            "{}",
        ),
        // Through a reverse proxy on this host, with no token configured.
        (
            "/v1/line/resume",
            vec![
                "X-Forwarded-For: 203.0.113.7",
                "Content-Type: application/json",
            ],
            "{}",
        ),
        (
            "/v1/signals",
            vec![
                "Forwarded: for=203.0.113.7",
                "Content-Type: application/json",
            ],
            SIGNAL,
        ),
        (
            "/v1/alerts/abc/ack",
            vec![evil, "Content-Type: text/plain"],
            "",
        ),
    ];
    for (path, headers, body) in &forged {
        let (status, head, answer) = agent.raw(&post(&address, path, headers, body)).await;
        assert_eq!(status, 403, "{path} {headers:?}: {head}\n{answer}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        assert!(!error_of(&answer).is_empty());
    }
    assert_eq!(
        agent.system.recent_signals(10).len(),
        1,
        "no forged signal got in"
    );
    assert_eq!(
        agent.get("/v1/line").await.1["state"],
        "STOPPED",
        "no forged resume"
    );

    // A DNS-rebound name reaches 127.0.0.1 but carries its own Host: refused for reads too.
    for path in [
        "/v1/diagnostics",
        "/v1/board",
        "/v1/signals",
        "/v1/events",
        "/",
    ] {
        let (status, _, answer) = agent
            .raw(&format!(
                "GET {path} HTTP/1.1\r\nHost: rebind.evil.example:{}\r\nConnection: close\r\n\r\n",
                address.rsplit(':').next().unwrap()
            ))
            .await;
        assert_eq!(status, 421, "{path}: {answer}");
        assert!(error_of(&answer).contains("allowed_hosts"), "{answer}");
    }

    // The board's own requests: same origin, JSON.
    let board = [
        format!("Origin: http://{address}"),
        "Sec-Fetch-Site: same-origin".to_owned(),
        "Content-Type: application/json".to_owned(),
    ];
    let board: Vec<&str> = board.iter().map(String::as_str).collect();
    let (status, _, answer) = agent
        .raw(&post(
            &address,
            "/v1/line/resume",
            &board,
            r#"{"by":"board"}"#,
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    // localhost is this machine too.
    let (status, _, _) = agent
        .raw(&format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n\r\n",
            address.rsplit(':').next().unwrap()
        ))
        .await;
    assert_eq!(status, 200);
    // The CLI's client: JSON on every write, the empty-bodied ones too.
    let accepted = client
        .post("/v1/signals", &json!({"color": "red", "message": "again"}))
        .await
        .unwrap();
    assert_eq!(accepted["stopped_line"], true);
    let resumed = client.post("/v1/line/resume", &json!({})).await.unwrap();
    assert_eq!(resumed["resumed"], true);
    // A plain JSON client (curl -H 'Content-Type: application/json').
    assert_eq!(agent.post("/v1/signals", SIGNAL).await.0, 201);

    // The board cannot be framed and runs only its own script.
    let page = agent.http.get(agent.at("/")).send().await.unwrap();
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "frame-ancestors 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    agent.stop().await.unwrap();
}

#[tokio::test]
async fn allowed_hosts_name_the_agent_behind_a_proxy_and_tokens_are_long() {
    let config = format!(
        "{QUIET}[agent]\nlisten = \"127.0.0.1:7600\"\ntoken = \"0123456789abcdef-proxy\"\nallowed_hosts = [\"andon.example.com\"]\n"
    );
    let agent = TestAgent::start(&config).await;
    let address = agent.address();
    let (status, _, answer) = agent
        .raw("GET /v1/line HTTP/1.1\r\nHost: andon.example.com\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(status, 200, "{answer}");
    // A TLS proxy forwarding the board's write, with the token: accepted.
    let headers = [
        "Origin: https://andon.example.com",
        "X-Forwarded-For: 203.0.113.7",
        "Content-Type: application/json",
        "Authorization: Bearer 0123456789abcdef-proxy",
    ];
    let request = post(&address, "/v1/signals", &headers, SIGNAL)
        .replace(&format!("Host: {address}"), "Host: andon.example.com");
    let (status, _, answer) = agent.raw(&request).await;
    assert_eq!(status, 201, "{answer}");
    // Without the token: 401, proxy or not.
    let request = request.replace("Authorization: Bearer 0123456789abcdef-proxy\r\n", "");
    assert_eq!(agent.raw(&request).await.0, 401);
    agent.stop().await.unwrap();

    // `token = "a"` is refused when loading, and when set in code.
    let err = AndonConfig::from_toml_str(&format!("{QUIET}[agent]\ntoken = \"a\"\n")).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("agent.token"), "{err}");
    assert!(err.to_string().contains("16"), "{err}");
    let mut config = AndonConfig::from_toml_str(QUIET).unwrap();
    config.agent.token = Some("fifteen-chars-x".into());
    // Refused by the system's own validation, or else by `Agent::new`.
    let err = match andon_agent::build_system(config, false).await {
        Err(e) => e.to_string(),
        Ok(system) => {
            let err = Agent::new(system.clone()).unwrap_err().to_string();
            system.shutdown().await.unwrap();
            err
        }
    };
    assert!(
        err.contains("agent.token") && !err.contains("fifteen"),
        "{err}"
    );
}

/// Fail closed: a request that names no host (no `Host` header; an HTTP/1.0 client or a
/// hand-made request) cannot be told apart from a rebound one, so it is refused with 400 and
/// the reason, reads and writes alike, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_host_is_refused_and_says_why() {
    let agent = TestAgent::start(QUIET).await;
    for request in [
        "GET /v1/line HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned(),
        "GET /healthz HTTP/1.0\r\n\r\n".to_owned(),
        format!(
            "POST /v1/signals HTTP/1.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{SIGNAL}",
            SIGNAL.len()
        ),
    ] {
        let (status, _, answer) = agent.raw(&request).await;
        assert_eq!(status, 400, "{request}: {answer}");
        assert!(error_of(&answer).contains("no Host header"), "{answer}");
    }
    assert!(agent.system.line().is_running(), "nothing was signalled");
    assert!(agent.system.recent_signals(10).is_empty());
}
