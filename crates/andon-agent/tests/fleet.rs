//! A fleet: two real `andon` agents writing into one real PostgreSQL (the harness's own
//! `initdb` + `postgres`). A Pareto spans both agents and `by=instance` tells them apart;
//! `andon report --instance` narrows to one; `andon line check --fleet` exits 1 while any line
//! is stopped (naming it), 0 when all run, and non-zero when the fleet cannot be read; after
//! one agent is killed the Fleet view in headless Chromium shows the other STOPPED and it NO
//! DATA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

mod browser;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use andon_tests::postgres::Postgres;
use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};
use browser::text_of;
use fantoccini::Locator;
use serde_json::Value;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

fn andon(args: &[&str], url: &str) -> Output {
    Command::new(ANDON)
        .args(args)
        .env("ANDON_URL", url)
        .env_remove("ANDON_TOKEN")
        .env_remove("ANDON_CONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An agent of the fleet: its history (and fleet row) in `database_url`, as `instance`. The
/// password comes from the environment, as in production (trust auth ignores it).
fn start_agent(dir: &Path, database_url: &str, instance: &str) -> (Peer, String) {
    let url_with_password = database_url.replace("postgres@", "postgres:${ANDON_TEST_PGPASSWORD}@");
    let config = format!(
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
         [history]\nenabled = true\nurl = \"{url_with_password}\"\ninstance = \"{instance}\"\nfleet_interval = \"1s\"\n"
    );
    let path = dir.join(format!("{instance}.toml"));
    std::fs::write(&path, config).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let agent = Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            path.display().to_string(),
            "--listen".to_owned(),
            listen,
            "--data-dir".to_owned(),
            dir.join(instance).display().to_string(),
        ])
        .env("ANDON_TEST_PGPASSWORD", "not-a-real-secret-42")
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    (agent, url)
}

fn get(url: &str) -> Value {
    let (status, body) = http_get(url).unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn fleet_lines(url: &str) -> Vec<(String, String)> {
    get(&format!("{url}/v1/fleet"))["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["instance"].as_str().unwrap().to_owned(),
                e["line"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn lines(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_one_database_a_fleet_pareto_the_fleet_gate_and_the_fleet_view() {
    let Some(pg) = Postgres::start() else { return };
    let database = pg.create_database("fleet");
    let dir = temp_dir();
    let (agent_a, a) = start_agent(dir.path(), &database, "press-a");
    let (mut agent_b, b) = start_agent(dir.path(), &database, "press-b");
    let wait = Duration::from_secs(20);

    // Both agents report; every line runs: the gate opens.
    wait_for(wait, || {
        (fleet_lines(&a) == lines(&[("press-a", "RUNNING"), ("press-b", "RUNNING")])).then_some(())
    })
    .expect("both agents report RUNNING");
    let out = andon(&["line", "check", "--fleet"], &b);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("all 2 lines"),
        "{}",
        text(&out.stdout)
    );

    // Problems on both lines; press-a's RED stops its line.
    for _ in 0..3 {
        let out = andon(
            &[
                "signal",
                "yellow",
                "slow feed 12 s",
                "--component",
                "feeder",
            ],
            &b,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = andon(
        &["signal", "yellow", "slow feed 9 s", "--component", "feeder"],
        &a,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = andon(
        &[
            "signal",
            "red",
            "hydraulic pressure lost",
            "--component",
            "hydraulics",
        ],
        &a,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The Pareto of either agent spans both; by=instance tells them apart.
    let by_instance = wait_for(wait, || {
        let pareto = get(&format!("{b}/v1/history/pareto?since=1h&by=instance"));
        (pareto["total"] == 5).then_some(pareto)
    })
    .expect("both agents' signals reach the shared database");
    let rows: Vec<(String, u64)> = by_instance["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("press-b".to_owned(), 3), ("press-a".to_owned(), 2)]);
    let by_component = get(&format!("{a}/v1/history/pareto?since=1h&by=component"));
    assert_eq!(by_component["rows"][0]["key"], "feeder");
    assert_eq!(by_component["rows"][0]["count"], 4, "feeder of both lines");
    let downtime = get(&format!(
        "{b}/v1/history/downtime?since=1h&bucket=1h&by=instance"
    ));
    assert!(downtime["instances"]["press-a"]["stops"] == 1, "{downtime}");
    let out = andon(
        &["report", "--since", "1h", "--instance", "press-b", "--json"],
        &a,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["pareto_by_component"]["total"], 3, "{report}");

    // The gate closes while press-a is stopped, and says which line and why.
    wait_for(wait, || {
        (fleet_lines(&b) == lines(&[("press-a", "STOPPED"), ("press-b", "RUNNING")])).then_some(())
    })
    .expect("press-a shows STOPPED in the fleet");
    let out = andon(&["line", "check", "--fleet"], &b);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("press-a STOPPED by hydraulics: hydraulic pressure lost"),
        "{stderr}"
    );

    // An agent killed stops reporting: after three of its intervals it shows NO DATA.
    agent_b.kill();
    wait_for(Duration::from_secs(30), || {
        (fleet_lines(&a) == lines(&[("press-a", "STOPPED"), ("press-b", "NO DATA")])).then_some(())
    })
    .expect("press-b shows NO DATA after it was killed");

    // The Fleet view says the same, and links each instance to its board.
    if let Some(browser) = browser::browser().await {
        let client = &browser.client;
        client.goto(&format!("{a}/fleet")).await.unwrap();
        let shown = wait_for_text(client, "#fleet-rows").await;
        assert!(
            shown.contains("press-a")
                && shown.contains("STOPPED")
                && shown.contains("hydraulic pressure lost"),
            "{shown}"
        );
        assert!(
            shown.contains("press-b") && shown.contains("NO DATA"),
            "{shown}"
        );
        assert_eq!(text_of(client, "#fleet-state").await.unwrap(), "STOPPED");
        let link = client
            .find(Locator::Css("tr[data-instance='press-a'] a"))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(link, format!("{a}/"));
        browser::screenshot(client, "fleet-view").await;
        client.clone().close().await.unwrap();
    }

    // Fail closed: a fleet that cannot be read never passes the gate.
    drop(pg);
    let out = andon(&["line", "check", "--fleet"], &a);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("fleet cannot be read"),
        "{}",
        text(&out.stderr)
    );
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = andon(&["line", "check", "--fleet"], &dead);
    assert_ne!(out.status.code(), Some(0));
    // The password given through the environment never shows.
    assert!(!agent_a.output().contains("not-a-real-secret-42"));
    drop(agent_a);
}

/// Waits until `css` has rows with text (the page fetches the fleet after loading).
async fn wait_for_text(client: &fantoccini::Client, css: &str) -> String {
    for _ in 0..100 {
        if let Ok(text) = text_of(client, css).await
            && text.contains("NO DATA")
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    text_of(client, css).await.unwrap_or_default()
}

#[test]
fn the_deploy_fleet_configs_check_and_never_print_the_password() {
    for name in ["press-a", "press-b"] {
        let path = andon_tests::workspace_root().join(format!("deploy/fleet/{name}.toml"));
        let out = Command::new(ANDON)
            .args(["config", "check"])
            .arg(&path)
            .env("PGPASSWORD", "deploy-secret-17")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let shown = text(&out.stdout);
        assert!(shown.contains("url = \"[redacted]\""), "{shown}");
        assert!(shown.contains(&format!("instance = \"{name}\"")), "{shown}");
        assert!(!shown.contains("deploy-secret-17"));
    }
}
