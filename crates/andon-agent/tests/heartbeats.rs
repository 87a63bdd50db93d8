//! Heartbeats against the real `andon` binary: a heartbeat every 2 s with grace 1 s, one ping,
//! then silence → the RED (and the alert at a local webhook receiver); a ping → GREEN and the
//! alert resolved; the agent killed (SIGKILL) during the silence and started after the
//! deadline → the RED at start; an unknown name → 404 listing the known ones; `[agent]
//! heartbeats_auto`. The CLI's `andon ping` sends the check-ins.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};
use serde_json::Value;

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

/// A webhook receiver on loopback: keeps every JSON body posted to it and answers 200.
fn webhook_receiver() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(json) = serde_json::from_slice::<Value>(&body)
            {
                kept.lock().unwrap().push(json);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (port, bodies)
}

/// The agent's configuration: heartbeat `backup` every 2 s (grace 1 s); an alert while a
/// heartbeat is down (the `andon_heartbeat_down` gauge), sent to the webhook receiver.
fn write_config(dir: &Path, receiver: u16, extra: &str) -> PathBuf {
    let config = dir.join("andon.toml");
    std::fs::write(
        &config,
        format!(
            r#"[tracer]
enabled = false
[observer]
enabled = false
[line]
state_file = "{line}"
[alerts]
evaluation_interval = "1s"
group_wait = "0s"
[alerts.channels.hook]
type = "webhook"
url = "http://127.0.0.1:{receiver}/hook"
[[alerts.rules]]
name = "heartbeat-down"
severity = "critical"
channels = ["hook"]
condition = {{ type = "metric", metric = "andon_heartbeat_down", threshold = 0.5 }}

[[heartbeats]]
name = "backup"
every = "2s"
grace = "1s"
{extra}
"#,
            line = dir.join("state/line.json").display(),
        ),
    )
    .unwrap();
    config
}

/// Starts `andon run` on a free port, its data directory beside the configuration.
fn start(config: &Path) -> (Peer, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let data = config.with_file_name("data");
    let agent = Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--listen".to_owned(),
            listen,
            "--data-dir".to_owned(),
            data.display().to_string(),
        ])
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

fn heartbeat(url: &str, name: &str) -> Value {
    get(&format!("{url}/v1/heartbeats"))["heartbeats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is listed"))
}

/// The newest signal of `color` from the heartbeat, once there is one.
fn signal(url: &str, color: &str, timeout: Duration) -> Option<Value> {
    wait_for(timeout, || {
        let signals = get(&format!("{url}/v1/signals?color={color}&component=backup"));
        signals["signals"].as_array()?.first().cloned()
    })
}

fn notified(bodies: &Mutex<Vec<Value>>, status: &str) -> bool {
    bodies
        .lock()
        .unwrap()
        .iter()
        .any(|b| b["status"] == status && b.to_string().contains("backup"))
}

fn rfc3339(value: &Value) -> SystemTime {
    humantime::parse_rfc3339_weak(value.as_str().unwrap()).unwrap()
}

#[test]
fn silence_raises_the_red_and_alerts_and_a_ping_resolves_it() {
    let dir = temp_dir();
    let (receiver, bodies) = webhook_receiver();
    let config = write_config(dir.path(), receiver, "");
    let (_agent, url) = start(&config);
    assert_eq!(heartbeat(&url, "backup")["state"], "never");

    let out = andon(&["ping", "backup"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("backup: up (success)"),
        "{}",
        text(&out.stdout)
    );
    let pinged = heartbeat(&url, "backup");
    let last = rfc3339(&pinged["last_check_in"]);
    assert_eq!(rfc3339(&pinged["next_due"]), last + Duration::from_secs(2));

    let red = signal(&url, "red", Duration::from_secs(30)).expect("the RED of the silence");
    assert!(
        red["message"]
            .as_str()
            .unwrap()
            .starts_with("no check-in from backup since "),
        "{red}"
    );
    assert_eq!(red["attributes"]["heartbeat"], "backup");
    assert_eq!(red["attributes"]["every"], "2s");
    // Raised at the deadline (every + grace after the ping), by the watcher that sleeps until
    // it: not before, and within a tick (1 s) plus scheduling slack on a busy machine.
    let late = rfc3339(&red["timestamp"]).duration_since(last).unwrap();
    assert!(
        late >= Duration::from_secs(3) && late < Duration::from_secs(6),
        "raised {late:?} after the ping"
    );
    assert_eq!(heartbeat(&url, "backup")["state"], "down");
    assert!(
        wait_for(Duration::from_secs(30), || notified(&bodies, "firing")
            .then_some(()))
        .is_some(),
        "the alert reached the webhook: {:?}",
        bodies.lock().unwrap()
    );
    assert!(!notified(&bodies, "resolved"), "no resolve before the ping");

    let out = andon(&["ping", "backup", "-m", "ran late"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let green = signal(&url, "green", Duration::from_secs(30)).expect("the GREEN of the ping");
    assert_eq!(green["message"], "backup checked in again: ran late");
    assert_eq!(heartbeat(&url, "backup")["state"], "up");
    assert!(
        wait_for(Duration::from_secs(30), || notified(&bodies, "resolved")
            .then_some(()))
        .is_some(),
        "the alert resolved at the webhook: {:?}",
        bodies.lock().unwrap()
    );
}

#[test]
fn an_agent_killed_during_the_silence_raises_the_red_at_start() {
    let dir = temp_dir();
    let (receiver, _bodies) = webhook_receiver();
    let config = write_config(dir.path(), receiver, "");
    let (mut agent, url) = start(&config);
    let out = andon(&["ping", "backup", "--start"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = andon(&["ping", "backup"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last = rfc3339(&heartbeat(&url, "backup")["last_check_in"]);
    agent.kill(); // SIGKILL during the silence: nothing flushed

    // Start again once the deadline (ping + 2 s + 1 s) has passed.
    while SystemTime::now() < last + Duration::from_secs(4) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_agent, url) = start(&config);
    // Raised while the agent started, before it answered: the RED is there at once.
    let signals = get(&format!("{url}/v1/signals?color=red&component=backup"));
    let red = signals["signals"][0].clone();
    let since = humantime::format_rfc3339_seconds(last).to_string();
    assert!(
        red["message"].as_str().is_some_and(|m| m.contains(&since)),
        "the miss counts from the last check-in before the kill: {red}"
    );
    assert_eq!(heartbeat(&url, "backup")["state"], "down");
    let (code, said) = {
        let out = andon(&["line", "check"], &url);
        (out.status.code(), text(&out.stdout) + &text(&out.stderr))
    };
    assert_eq!(code, Some(1), "the RED stopped the line: {said}");
}

#[test]
fn unknown_names_are_404_with_the_known_ones_unless_heartbeats_auto() {
    let dir = temp_dir();
    let (receiver, _bodies) = webhook_receiver();
    let config = write_config(dir.path(), receiver, "");
    let (_agent, url) = start(&config);
    let out = andon(&["ping", "nightly"], &url);
    assert_ne!(out.status.code(), Some(0));
    let said = text(&out.stderr);
    assert!(said.contains("no heartbeat is named `nightly`"), "{said}");
    assert!(said.contains("known: backup"), "{said}");
    drop(_agent);

    let dir = temp_dir();
    let config = write_config(dir.path(), receiver, "[agent]\nheartbeats_auto = true\n");
    // `[agent]` after `[[heartbeats]]` is a table of its own in TOML.
    let (_agent, url) = start(&config);
    let out = andon(&["ping", "nightly", "--fail", "-m", "exit 3"], &url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let nightly = heartbeat(&url, "nightly");
    assert_eq!(nightly["state"], "down");
    assert_eq!(nightly["every"], "1day");
    let signals = get(&format!("{url}/v1/signals?color=red&component=nightly"));
    assert_eq!(
        signals["signals"][0]["message"],
        "nightly checked in a failure: exit 3"
    );
}
