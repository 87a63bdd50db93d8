//! The line survives a crash of the agent: with `[line] state_file`, a stopped line is stopped
//! again after `kill -9` and a restart (`andon line check` exits 1), and a resumed line stays
//! running across the next restart; with `[alerts] state_file`, the alert the RED fired is still
//! open after the restart and resolves later on its channel. The real `andon` binary, the real
//! CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::path::Path;
use std::process::{Command, Output};

use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, temp_dir, wait_for};

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

fn andon(args: &[&str], url: &str) -> Output {
    Command::new(ANDON)
        .args(args)
        .args(["--url", url])
        .env_remove("ANDON_URL")
        .env_remove("ANDON_TOKEN")
        .env_remove("ANDON_CONFIG")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The agent's configuration: the line's and the open alerts' state in `dir/state`.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("andon.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n\
             [line]\nstate_file = \"{line}\"\n[alerts]\nstate_file = \"{alerts}\"\n\
             evaluation_interval = \"1s\"\n\
             [alerts.channels.file]\ntype = \"file\"\npath = \"{file}\"\n\
             [[alerts.rules]]\nname = \"db-red\"\nseverity = \"critical\"\nchannels = [\"file\"]\n\
             condition = {{ type = \"signal\", color = \"red\", component = \"db\", window = \"20s\" }}\n",
            line = dir.join("state/line.json").display(),
            alerts = dir.join("state/alerts.json").display(),
            file = dir.join("alerts.jsonl").display(),
        ),
    )
    .unwrap();
    config
}

/// Starts `andon run` on a free port; the same directory each time, a new port.
fn start(config: &Path) -> (Peer, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let agent = Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--listen".to_owned(),
            listen,
        ])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    (agent, url)
}

fn line_check(url: &str) -> (Option<i32>, String) {
    let out = andon(&["line", "check"], url);
    (
        out.status.code(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn a_stopped_line_stays_stopped_after_kill_9_until_it_is_resumed() {
    let dir = temp_dir();
    let config = write_config(dir.path());

    let (mut agent, url) = start(&config);
    let out = andon(&["signal", "red", "disk full", "--component", "db"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(line_check(&url).0, Some(1));
    agent.kill(); // SIGKILL: no shutdown, nothing flushed

    let (mut agent, url) = start(&config);
    let (code, said) = line_check(&url);
    assert_eq!(code, Some(1), "still stopped after kill -9: {said}");
    assert!(said.contains("disk full"), "by the same signal: {said}");

    // The alert the RED fired is still open, and resolves on its channel once its window has
    // passed with no new RED (a paged incident gets its resolve).
    let out = andon(&["alerts"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("db-red"),
        "the alert survived the kill: {}",
        text(&out.stdout)
    );
    let notifications = dir.path().join("alerts.jsonl");
    let resolved = wait_for(Duration::from_secs(90), || {
        let written = std::fs::read_to_string(&notifications).ok()?;
        written
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|n| n["status"] == "resolved")
            .then_some(())
    });
    assert!(
        resolved.is_some(),
        "the restored alert resolved on its channel: {:?}",
        std::fs::read_to_string(&notifications)
    );

    let out = andon(
        &["line", "resume", "--note", "disk cleaned", "--by", "alice"],
        &url,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(line_check(&url).0, Some(0));
    agent.kill();

    let (_agent, url) = start(&config);
    let (code, said) = line_check(&url);
    assert_eq!(code, Some(0), "a resumed line stays running: {said}");
}
