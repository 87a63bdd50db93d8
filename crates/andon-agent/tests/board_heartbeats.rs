//! The Andon board lists the heartbeats in headless Chromium: each with its name, its state in
//! words (NEVER, then DOWN after a `fail` check-in, UP after a success), its last check-in and
//! next due time, following the agent without a reload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod browser;
mod common;

use std::time::Duration;

use browser::text_of;
use common::TestAgent;
use fantoccini::{Client, Locator};

const CONFIG: &str = r#"
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false

[[heartbeats]]
name = "nightly-backup"
every = "24h"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_lists_heartbeats_and_follows_their_state() {
    let Some(browser) = browser::browser().await else {
        return;
    };
    let client = browser.client.clone();
    let agent = TestAgent::start(CONFIG).await;
    let result = scenario(&agent, &client).await;
    let _ = client.close().await;
    result.unwrap();
}

async fn wait_for(client: &Client, css: &str, what: &str) -> Result<(), String> {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .map(|_| ())
        .map_err(|err| format!("{what}: {err}"))
}

async fn scenario(agent: &TestAgent, client: &Client) -> Result<(), String> {
    client
        .goto(&agent.url)
        .await
        .map_err(|e| format!("open the board: {e}"))?;
    let row = r#"#heartbeats li.heartbeat[data-name="nightly-backup"]"#;
    wait_for(
        client,
        &format!("{row}.never"),
        "the heartbeat is listed as never",
    )
    .await?;
    let text = text_of(client, row).await?;
    assert!(text.contains("NEVER"), "the state in words: {text}");
    assert!(text.contains("last check-in never"), "{text}");
    assert!(text.contains("next due"), "{text}");

    let (status, _) = agent
        .post("/v1/heartbeats/nightly-backup", r#"{"status":"fail"}"#)
        .await;
    assert_eq!(status, 200);
    wait_for(
        client,
        &format!("{row}.down"),
        "a fail shows the heartbeat DOWN",
    )
    .await?;
    let text = text_of(client, row).await?;
    assert!(text.contains("DOWN"), "{text}");
    assert!(text.contains("awaiting a check-in"), "{text}");

    let (status, _) = agent.post("/v1/heartbeats/nightly-backup", "{}").await;
    assert_eq!(status, 200);
    wait_for(client, &format!("{row}.up"), "a success shows it UP").await?;
    let text = text_of(client, row).await?;
    assert!(!text.contains("last check-in never"), "{text}");
    Ok(())
}
