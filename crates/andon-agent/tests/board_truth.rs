//! The board never shows what it does not know, in headless Chromium against the real `andon`
//! binary behind a loopback proxy: while `/v1/board` is held back the page is a grey CONNECTING
//! with no station (never LINE RUNNING, though the line is stopped); once it answers the page
//! shows the stopped line; when the agent is killed (SIGKILL) the banner turns grey
//! `NO DATA since HH:MM:SS` within 5 s and the stations dim; when the agent is started again on
//! the same port the same page (no reload) shows the new agent's line live. Screenshots of each
//! state are saved under `target/andon-board-*.png`. The proxy adds a strict
//! Content-Security-Policy to every answer and the test fails on any violation report: the board
//! needs no inline script, style or handler.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod browser;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use andon_tests::{Peer, Ready, free_port, temp_dir};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

const QUIET: &str =
    "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n";

/// `andon run` on `listen`, keeping its data in `dir/data`.
fn start_agent(dir: &Path, listen: &str) -> Peer {
    let config = dir.join("andon.toml");
    std::fs::write(&config, QUIET).unwrap();
    Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--listen".to_owned(),
            listen.to_owned(),
            "--data-dir".to_owned(),
            dir.join("data").display().to_string(),
        ])
        .ready(Ready::Http(format!("http://{listen}/healthz")))
        .start()
        .unwrap()
}

/// The strict Content-Security-Policy the proxy adds to every answer: the board must work with
/// no inline script, style or handler. Violations are reported to the proxy.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
    img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; report-uri /csp-report";

/// A loopback HTTP proxy to `upstream` that holds every `GET /v1/board` until released and
/// passes everything else at once, adding [`CSP`] to every answer and keeping the violation
/// reports. Each request gets its own upstream connection (`Connection: close`), so none slips
/// past the check on a kept-alive connection.
struct HoldingProxy {
    url: String,
    release: watch::Sender<bool>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl HoldingProxy {
    async fn start(upstream: String) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (release, released) = watch::channel(false);
        let violations = Arc::new(Mutex::new(Vec::new()));
        let reports = Arc::clone(&violations);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let released = released.clone();
                let reports = Arc::clone(&reports);
                tokio::spawn(async move {
                    let _ = forward(client, &upstream, released, reports).await;
                });
            }
        });
        HoldingProxy {
            url,
            release,
            violations,
        }
    }

    fn release(&self) {
        let _ = self.release.send(true);
    }

    fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}

/// Reads from `stream` up to the end of an HTTP head; returns the head (without its blank line)
/// and the bytes after it, or `None` at end of stream.
async fn read_head(
    stream: &mut (impl AsyncReadExt + Unpin),
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut head = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 64 * 1024 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = head.split_off(end + 4);
            head.truncate(end);
            return Ok(Some((String::from_utf8_lossy(&head).into_owned(), rest)));
        }
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: &str,
    mut released: watch::Receiver<bool>,
    reports: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let Some((head, body)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    if request_line.starts_with("POST /csp-report ") {
        reports
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
        client
            .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .await?;
        return Ok(());
    }
    if request_line.starts_with("GET /v1/board ") {
        let _ = released.wait_for(|r| *r).await;
    }
    let mut out = format!("{request_line}\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if !matches!(name.as_str(), "connection" | "host" | "keep-alive") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
    let server = TcpStream::connect(upstream).await?;
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.into_split();
    to_server.write_all(out.as_bytes()).await?;
    to_server.write_all(&body).await?;
    let upload = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
    });
    if let Some((head, rest)) = read_head(&mut from_server).await? {
        let head = format!("{head}\r\nContent-Security-Policy: {CSP}\r\n\r\n");
        to_client.write_all(head.as_bytes()).await?;
        to_client.write_all(&rest).await?;
        tokio::io::copy(&mut from_server, &mut to_client).await?;
    }
    upload.abort();
    Ok(())
}

/// What the page shows, read in one step.
async fn page(client: &Client) -> Value {
    client
        .execute(
            r#"const banner = document.getElementById("line-banner");
               const station = document.querySelector("li.station");
               return {
                 state: banner.dataset.state,
                 text: banner.innerText,
                 classes: banner.className,
                 stations: document.querySelectorAll("li.station").length,
                 noStations: !document.getElementById("no-stations").hidden,
                 stationOpacity: station ? Number(getComputedStyle(station).opacity) : null,
                 marker: window.andonTestMarker || null,
               };"#,
            vec![],
        )
        .await
        .unwrap()
}

async fn post(url: &str, body: Value) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/signals"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_connecting_then_the_truth_then_no_data_then_the_restarted_agent() {
    let Some(browser) = browser::browser().await else {
        return;
    };
    let client = browser.client.clone();
    let dir = temp_dir();
    let listen = format!("127.0.0.1:{}", free_port());
    let agent_url = format!("http://{listen}");
    let mut agent = start_agent(dir.path(), &listen);

    // The truth: the line is stopped.
    let accepted = post(
        &agent_url,
        json!({"color": "red", "message": "press 4 jammed", "component": "press-4"}),
    )
    .await;
    assert_eq!(accepted["stopped_line"], true);

    // 1. /v1/board held back: the page claims nothing.
    let proxy = HoldingProxy::start(listen.clone()).await;
    client.goto(&proxy.url).await.unwrap();
    let watched = Instant::now();
    let mut seen = Vec::new();
    while watched.elapsed() < Duration::from_secs(6) {
        let now = page(&client).await;
        assert_ne!(
            now["state"], "RUNNING",
            "RUNNING before the board answered: {now}"
        );
        assert!(
            !now["text"].as_str().unwrap_or("").contains("RUNNING"),
            "{now}"
        );
        assert_eq!(
            now["stations"], 0,
            "a station before the board answered: {now}"
        );
        assert_eq!(
            now["noStations"], false,
            "'no station has signalled' is a claim too: {now}"
        );
        seen.push(now["state"].as_str().unwrap_or("").to_owned());
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(seen[0], "CONNECTING", "{seen:?}");
    assert!(
        seen.iter().all(|s| s == "CONNECTING" || s == "NODATA"),
        "only grey states while the board is held: {seen:?}"
    );
    let connecting = page(&client).await;
    assert!(
        connecting["classes"]
            .as_str()
            .unwrap()
            .contains("connecting")
            || connecting["classes"].as_str().unwrap().contains("nodata"),
        "grey: {connecting}"
    );
    browser::screenshot(&client, "andon-board-connecting").await;

    // 2. The board answers: the stopped line and its station.
    proxy.release();
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(
            r#"#line-banner[data-state="STOPPED"] ~ main li.station[data-component="press-4"][data-color="red"]"#,
        ))
        .await
        .unwrap_or_else(|e| panic!("the stopped line and the press-4 station appear: {e}"));
    let shown = page(&client).await;
    assert_eq!(shown["state"], "STOPPED", "{shown}");
    assert!(
        shown["text"].as_str().unwrap().contains("press 4 jammed"),
        "{shown}"
    );
    assert_eq!(
        shown["stationOpacity"], 1.0,
        "live stations are not dimmed: {shown}"
    );
    client
        .execute("window.andonTestMarker = 'same page';", vec![])
        .await
        .unwrap();
    browser::screenshot(&client, "andon-board-stopped").await;

    // 3. The agent dies: grey NO DATA within 5 s, the stations dimmed.
    agent.kill();
    let killed = Instant::now();
    client
        .wait()
        .at_most(Duration::from_secs(5))
        .every(Duration::from_millis(100))
        .for_element(Locator::Css(r#"#line-banner[data-state="NODATA"]"#))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "NO DATA within 5 s of the kill ({:?}): {e}",
                killed.elapsed()
            )
        });
    eprintln!("NO DATA shown {:?} after the kill", killed.elapsed());
    let dead = page(&client).await;
    let text = dead["text"].as_str().unwrap();
    let since = text
        .split("NO DATA since ")
        .nth(1)
        .map(|rest| rest.chars().take(8).collect::<String>())
        .unwrap_or_default();
    assert!(
        since.len() == 8 && since.chars().filter(|c| *c == ':').count() == 2,
        "NO DATA since HH:MM:SS: {dead}"
    );
    assert!(!text.contains("RUNNING"), "{dead}");
    assert!(
        text.contains("last known") && text.contains("press-4"),
        "says what it last knew, as such: {dead}"
    );
    assert!(
        dead["classes"].as_str().unwrap().contains("nodata"),
        "{dead}"
    );
    let opacity = dead["stationOpacity"].as_f64().unwrap();
    assert!(opacity < 0.6, "the stations dim: {dead}");
    browser::screenshot(&client, "andon-board-no-data").await;

    // 4. Started again on the same port: the same page goes live by itself.
    let mut agent = start_agent(dir.path(), &listen);
    let (_, line) = andon_tests::http_get(&format!("{agent_url}/v1/line")).unwrap();
    let truth: Value = serde_json::from_str(&line).unwrap();
    let truth = truth["state"].as_str().unwrap().to_owned();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(&format!(
            r#"#line-banner[data-state="{truth}"]"#
        )))
        .await
        .unwrap_or_else(|e| panic!("the page shows the restarted agent's line ({truth}): {e}"));
    post(
        &agent_url,
        json!({"color": "yellow", "message": "stock low", "component": "inventory"}),
    )
    .await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            r#"li.station[data-component="inventory"][data-color="yellow"]"#,
        ))
        .await
        .unwrap_or_else(|e| panic!("a signal to the restarted agent shows live: {e}"));
    let back = page(&client).await;
    assert_eq!(back["marker"], "same page", "no reload: {back}");
    assert_eq!(
        back["stationOpacity"], 1.0,
        "live again, not dimmed: {back}"
    );
    browser::screenshot(&client, "andon-board-live-again").await;
    let _ = client.close().await;
    assert_eq!(
        proxy.violations(),
        Vec::<String>::new(),
        "the board works under a strict Content-Security-Policy ({CSP})"
    );
    agent.kill();
}
