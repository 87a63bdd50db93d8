//! Headless Chromium driven through chromedriver (fantoccini), for the board tests.
#![allow(dead_code)] // each test binary uses a part of the helpers

use andon_tests::{Peer, Ready, find_peer, free_port, workspace_root};
use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// A running browser session; the driver and the profile live as long as it.
pub(crate) struct Browser {
    pub(crate) client: Client,
    _driver: Peer,
    _profile: tempfile::TempDir,
}

/// Starts chromedriver and a headless Chromium session, or `None` (the test skips, or fails
/// in CI) when they are not installed.
pub(crate) async fn browser() -> Option<Browser> {
    let chromedriver = find_peer("chromedriver", "apt-get install chromium-driver")?;
    let chromium = find_peer("chromium", "apt-get install chromium")?;
    let port = free_port();
    let driver = Peer::builder(&chromedriver)
        .args([format!("--port={port}")])
        .ready(Ready::Output("started successfully".to_owned()))
        .start()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "chromedriver did not start a session: {e}\n{}",
                driver.output()
            )
        });
    Some(Browser {
        client,
        _driver: driver,
        _profile: profile,
    })
}

/// Saves a screenshot of the page as `target/<name>.png` and says where.
pub(crate) async fn screenshot(client: &Client, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let path = workspace_root().join("target").join(format!("{name}.png"));
        if std::fs::write(&path, png).is_ok() {
            eprintln!("screenshot saved to {}", path.display());
        }
    }
}

/// The text of the element `css` selects, read in one step (the board re-renders its lists, so
/// a found element can go stale before its text is read).
pub(crate) async fn text_of(client: &Client, css: &str) -> Result<String, String> {
    let text = client
        .execute(
            "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;",
            vec![json!(css)],
        )
        .await
        .map_err(|err| format!("read {css}: {err}"))?;
    text.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("nothing matches {css}"))
}
