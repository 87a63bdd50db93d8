//! The built `andon` binary: `run` as a real process, the client subcommands against it, their
//! exit codes, `config check`, and a graceful stop on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

const QUIET: &str =
    "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n";

fn andon(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(ANDON);
    command
        .args(args)
        .env_remove("ANDON_URL")
        .env_remove("ANDON_TOKEN")
        .env_remove("ANDON_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn start_agent(dir: &Path, extra_args: &[&str]) -> (Peer, String) {
    let config = dir.join("andon.toml");
    std::fs::write(&config, QUIET).unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let mut args = vec![
        "run".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
        "--listen".to_owned(),
        listen,
        "--data-dir".to_owned(),
        dir.join("data").display().to_string(),
    ];
    args.extend(extra_args.iter().map(|s| (*s).to_owned()));
    let agent = Peer::builder(ANDON)
        .args(args)
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    (agent, url)
}

#[test]
fn signal_line_check_and_resume_through_a_running_agent() {
    let dir = temp_dir();
    let (agent, url) = start_agent(dir.path(), &[]);

    let out = andon(&["line", "check", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("RUNNING"));

    let out = andon(
        &[
            "signal",
            "red",
            "disk full",
            "--component",
            "db",
            "--trace-id",
            "t-9",
            "--attr",
            "free_mb=12",
            "--attr",
            "mount=/var",
        ],
        &[("ANDON_URL", &url)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert_eq!(id.len(), 36, "prints the signal id: {id}");
    assert!(
        text(&out.stderr).contains("STOPPED the line"),
        "{}",
        text(&out.stderr)
    );

    // The agent recorded what the command sent.
    let (_, body) = http_get(&format!("{url}/v1/signals?component=db")).unwrap();
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let signal = &listed["signals"][0];
    assert_eq!(signal["id"], id.as_str());
    assert_eq!(signal["trace_id"], "t-9");
    assert_eq!(signal["attributes"]["free_mb"], 12);
    assert_eq!(signal["attributes"]["mount"], "/var");

    // A pipeline halts while the line is stopped.
    let out = andon(&["line", "check"], &[("ANDON_URL", &url)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("STOPPED") && stderr.contains("db: disk full") && stderr.contains(&id),
        "{stderr}"
    );
    let out = andon(&["line", "status", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0), "status itself succeeds");
    assert!(
        text(&out.stdout).starts_with("STOPPED"),
        "{}",
        text(&out.stdout)
    );

    // An acknowledgement whose "fingerprint" would make the URL of another endpoint
    // (`/v1/alerts/x/../../line/resume?/ack` is `/v1/line/resume`) is refused before it is
    // sent: the line stays stopped.
    let out = andon(&["ack", "x/../../line/resume?", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("is not an alert fingerprint"),
        "{}",
        text(&out.stderr)
    );
    let out = andon(&["line", "check", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(1), "the line must still be stopped");

    let out = andon(
        &[
            "line",
            "resume",
            "--note",
            "disk cleaned",
            "--by",
            "carol",
            "--url",
            &url,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("RUNNING again"));
    let out = andon(&["line", "check", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("resumed by carol: disk cleaned"),
        "{}",
        text(&out.stdout)
    );

    // No rule is configured, so the built-in `red-signal` rule fired for the RED: `alerts`
    // lists it; `ack` of an unknown fingerprint is refused.
    let out = andon(&["alerts", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.contains("red-signal") && listed.contains("db"),
        "{listed}"
    );
    let out = andon(&["ack", "abc123", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("refused the request (404)"),
        "{}",
        text(&out.stderr)
    );
    // The observer is off: diagnose explains.
    let out = andon(&["diagnose", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("[observer] enabled = true"),
        "{}",
        text(&out.stderr)
    );
    drop(agent);
}

#[test]
fn an_unreachable_agent_or_a_refused_signal_exits_non_zero_with_the_reason() {
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    for args in [
        vec!["signal", "red", "x"],
        vec!["line", "check"],
        vec!["alerts"],
    ] {
        let out = andon(&args, &[("ANDON_URL", &nowhere)]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("cannot reach the andon agent at {nowhere}")),
            "{stderr}"
        );
        assert!(stderr.contains("andon run"), "says what to do: {stderr}");
    }
    let out = andon(&["signal", "blue", "x"], &[]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
    assert!(text(&out.stderr).contains("use red, yellow or green"));
    let out = andon(
        &["signal", "red", "x", "--attr", "novalue", "--url", &nowhere],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("KEY=VALUE"));

    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path(), &[]);
    let long = "x".repeat(andon_agent::MAX_MESSAGE_CHARS + 1);
    let out = andon(&["signal", "red", &long, "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("message: is longer than 4096 characters"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_token_protected_agent_refuses_writes_without_the_token() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path(), &["--token", "cli-s3cret-0123456789"]);
    let out = andon(&["signal", "yellow", "slow", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("(401)") && stderr.contains("bearer token"),
        "{stderr}"
    );
    let out = andon(
        &["signal", "yellow", "slow", "--url", &url],
        &[("ANDON_TOKEN", "cli-s3cret-0123456789")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = andon(&["line", "status", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0), "reads need no token");
}

#[test]
fn config_check_prints_the_effective_config_or_the_error_position() {
    let dir = temp_dir();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[agent]\nlisten = \"127.0.0.1:7600\"\n\n[tracer]\nsampling_ratio = 2.5\n",
    )
    .unwrap();
    let out = andon(&["config", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:5:18: tracer.sampling_ratio: must be between 0 and 1",
            bad.display()
        )),
        "file:line:column: key: message: {stderr}"
    );

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[agent]\nlisten = \"0.0.0.0:7601\"\ntoken = \"${ANDON_TEST_AGENT_TOKEN}\"\n",
    )
    .unwrap();
    let out = Command::new(ANDON)
        .args(["config", "check", good.to_str().unwrap()])
        .env("ANDON_TEST_AGENT_TOKEN", "very-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("listen = \"0.0.0.0:7601\""), "{stdout}");
    assert!(stdout.contains("token = \"[redacted]\""), "{stdout}");
    assert!(!stdout.contains("very-secret-value"));
    assert!(
        stdout.contains("[logger]"),
        "the whole effective config: {stdout}"
    );

    let missing = dir.path().join("missing.toml");
    let out = andon(&["config", "check", missing.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the configuration file"));
}

#[test]
fn run_refuses_a_wide_listener_without_a_token_and_stops_cleanly_on_sigterm() {
    let out = andon(&["run", "--listen", "0.0.0.0:7699"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("agent.token: is required"),
        "{}",
        text(&out.stderr)
    );

    let dir = temp_dir();
    let config = dir.path().join("andon.toml");
    std::fs::write(&config, QUIET).unwrap();
    let port = free_port();
    let child = Command::new(ANDON)
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let up = wait_for(Duration::from_secs(30), || {
        http_get(&format!("{url}/healthz")).ok()
    });
    assert!(up.is_some(), "the agent came up");
    let out = andon(&["signal", "red", "before the stop", "--url", &url], &[]);
    assert_eq!(out.status.code(), Some(0));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("listening on http://127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(stderr.contains("every component flushed"), "{stderr}");
    let out = andon(&["line", "check", "--url", &url], &[]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "the listener is closed after the stop"
    );
}
