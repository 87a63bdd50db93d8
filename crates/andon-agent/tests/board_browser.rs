//! The Andon board in headless Chromium, driven through chromedriver: a RED posted through the
//! API turns its station red and raises the STOPPED banner within a second, Acknowledge clears
//! the alert, resuming the line brings the board back, and the history charts (the Pareto of
//! problems and the downtime of the last 24 h, SVG drawn by the page) show the stop; a
//! screenshot is saved under `target/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod browser;
mod common;

use std::time::{Duration, Instant};

use browser::text_of;
use common::TestAgent;
use fantoccini::{Client, Locator};

/// A RED from `checkout` opens a critical alert, so the board has something to acknowledge.
const CONFIG: &str = r#"
[metrics]
enabled = false
[tracer]
enabled = false
[observer]
enabled = false

[history]
enabled = true
path = ":memory:"

[alerts]
evaluation_interval = "1s"

[[alerts.rules]]
name = "checkout-red"
condition = { type = "signal", color = "red", component = "checkout", window = "10m" }
severity = "critical"
labels = { component = "checkout" }
summary = "checkout pulled the cord"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_turns_red_stops_acknowledges_and_resumes_live() {
    let Some(browser) = browser::browser().await else {
        return;
    };
    let client = browser.client.clone();
    let agent = TestAgent::start(CONFIG).await;
    let result = scenario(&agent, &client).await;
    browser::screenshot(&client, "andon-board").await;
    let result = match result {
        Ok(()) => agent_restart(agent, &client).await,
        Err(e) => Err(e),
    };
    let _ = client.close().await;
    result.unwrap();
}

/// The agent restarts on the same address: the open page reconnects by itself and shows the
/// new agent's board without a reload.
async fn agent_restart(agent: TestAgent, client: &Client) -> Result<(), String> {
    let e = |what: &'static str| move |err: fantoccini::error::CmdError| format!("{what}: {err}");
    let address = agent.url.trim_start_matches("http://").to_owned();
    agent.stop().await.map_err(|err| err.to_string())?;
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(
            r#"#connection[data-state="reconnecting"], #connection[data-state="nodata"]"#,
        ))
        .await
        .map_err(e("the board notices the agent is gone"))?;
    let again = TestAgent::start_at(CONFIG, &address).await;
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css(r#"#connection[data-state="open"]"#))
        .await
        .map_err(e("the board reconnects to the restarted agent"))?;
    let (status, _) = again
        .post(
            "/v1/signals",
            r#"{"color":"yellow","message":"stock low","component":"inventory"}"#,
        )
        .await;
    assert_eq!(status, 201);
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            r#"li.station[data-component="inventory"][data-color="yellow"]"#,
        ))
        .await
        .map_err(e("a signal to the restarted agent shows live"))?;
    let stale = client
        .find(Locator::Css(r#"li.station[data-component="checkout"]"#))
        .await;
    assert!(
        stale.is_err(),
        "the board was reloaded from the new agent, which never saw checkout"
    );
    let banner = client
        .find(Locator::Id("line-banner"))
        .await
        .map_err(e("banner"))?;
    assert_eq!(
        banner
            .attr("data-state")
            .await
            .map_err(e("banner state"))?
            .as_deref(),
        Some("RUNNING")
    );
    again.stop().await.map_err(|err| err.to_string())
}

/// Clicks the element `css` selects, finding it again if a re-render replaced it meanwhile.
async fn click(client: &Client, css: &str) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..5 {
        match client.find(Locator::Css(css)).await {
            Ok(element) => match element.click().await {
                Ok(()) => return Ok(()),
                Err(err) => last = err.to_string(),
            },
            Err(err) => last = err.to_string(),
        }
    }
    Err(format!("click {css}: {last}"))
}

async fn scenario(agent: &TestAgent, client: &Client) -> Result<(), String> {
    let e = |what: &'static str| move |err: fantoccini::error::CmdError| format!("{what}: {err}");
    client.goto(&agent.url).await.map_err(e("open the board"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(r#"#connection[data-state="open"]"#))
        .await
        .map_err(e("the board connects to the event stream"))?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(r#"#line-banner[data-state="RUNNING"]"#))
        .await
        .map_err(e("the line runs at first, once the agent has answered"))?;

    // Pull the cord through the API; the page must follow without a reload.
    let (status, _) = agent
        .post(
            "/v1/signals",
            r#"{"color":"red","message":"payment gateway down","component":"checkout"}"#,
        )
        .await;
    assert_eq!(status, 201);
    let posted = Instant::now();
    client
        .wait()
        .at_most(Duration::from_secs(1))
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(
            r#"li.station[data-component="checkout"][data-color="red"]"#,
        ))
        .await
        .map_err(e("the checkout station turns red within a second"))?;
    let banner = client
        .wait()
        .at_most(Duration::from_secs(1).saturating_sub(posted.elapsed()))
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(r#"#line-banner[data-state="STOPPED"]"#))
        .await
        .map_err(e("the STOPPED banner appears within a second"))?;
    let label = text_of(client, r#"li.station[data-component="checkout"]"#).await?;
    assert!(
        label.contains("RED"),
        "the station says RED in words, not only in color: {label}"
    );
    let banner_text = banner.text().await.map_err(e("banner text"))?;
    assert!(banner_text.contains("LINE STOPPED"), "{banner_text}");
    assert!(
        banner_text.contains("checkout") && banner_text.contains("payment gateway down"),
        "who and why: {banner_text}"
    );
    let recent = text_of(client, "#recent li.red").await?;
    assert!(recent.contains("payment gateway down"), "{recent}");

    // The rule opened a critical alert: acknowledge it from the board.
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#alerts li.alert button.ack"))
        .await
        .map_err(e("the open alert is listed with an Acknowledge button"))?;
    click(client, "#alerts li.alert button.ack").await?;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#alerts li.alert button.ack[disabled]"))
        .await
        .map_err(e("the alert shows as acknowledged"))?;
    let (_, alerts) = agent.get("/v1/alerts").await;
    assert_eq!(
        alerts["alerts"][0]["acknowledged_by"]
            .as_str()
            .map(|b| b.starts_with("board")),
        Some(true),
        "{alerts}"
    );

    // Resume from the board.
    let note = client
        .find(Locator::Id("resume-note"))
        .await
        .map_err(e("note field"))?;
    note.send_keys("gateway restarted")
        .await
        .map_err(e("type the note"))?;
    client
        .find(Locator::Id("resume"))
        .await
        .map_err(e("resume button"))?
        .click()
        .await
        .map_err(e("click resume"))?;
    let banner = client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(r#"#line-banner[data-state="RUNNING"]"#))
        .await
        .map_err(e("the banner goes back to RUNNING"))?;
    let text = banner.text().await.map_err(e("banner text"))?;
    assert!(
        text.contains("resumed by board: gateway restarted"),
        "{text}"
    );
    assert!(agent.system.line().is_running());
    // The resumption is a GREEN from the `line` station.
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            r#"li.station[data-component="line"][data-color="green"]"#,
        ))
        .await
        .map_err(e("the line station shows the GREEN resumption"))?;

    // The history charts: a Pareto bar for checkout, and the stop's downtime in this hour.
    client
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(
            r#"#history:not([hidden]) #pareto-chart rect.bar[data-key="checkout"]"#,
        ))
        .await
        .map_err(e("the Pareto chart shows a bar for checkout"))?;
    let pareto = client
        .execute(
            "return Array.from(document.querySelectorAll('#pareto-chart rect.bar')).map(r => [r.dataset.key, Number(r.dataset.value), Number(r.getAttribute('height'))]);",
            vec![],
        )
        .await
        .map_err(e("read the Pareto bars"))?;
    assert_eq!(pareto[0][0], "checkout", "{pareto}");
    assert_eq!(pareto[0][1], 1, "one RED from checkout: {pareto}");
    assert!(
        pareto[0][2].as_f64().unwrap_or(0.0) > 0.0,
        "the bar has a height: {pareto}"
    );
    let polyline = client
        .find(Locator::Css("#pareto-chart polyline.cumulative"))
        .await
        .map_err(e("the cumulative line"))?;
    assert!(
        polyline
            .attr("points")
            .await
            .map_err(e("points"))?
            .is_some()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let bars = client
            .execute(
                "return Array.from(document.querySelectorAll('#downtime-chart rect.bar')).map(r => Number(r.dataset.value));",
                vec![],
            )
            .await
            .map_err(e("read the downtime bars"))?;
        let bars: Vec<f64> = bars
            .as_array()
            .map(|b| b.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        if bars.len() >= 24 && bars.iter().any(|v| *v > 0.0) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the downtime chart shows the stop within 15 s: bars {bars:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
