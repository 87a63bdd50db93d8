//! `andon exec` as a job wrapper: the built `andon` binary runs real commands and reports them to
//! a real agent (or, for the heartbeat check-ins, to a recording HTTP receiver); its exit codes,
//! the process group killed on timeout, the agent down, `--require-agent` failing closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, http_get, temp_dir, wait_for};
use serde_json::Value;

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

const QUIET: &str =
    "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n";

fn exec_command(url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(ANDON);
    command
        .arg("exec")
        .args(args)
        .env("ANDON_URL", url)
        .env_remove("ANDON_TOKEN")
        .env_remove("ANDON_CONFIG")
        .stdin(Stdio::null());
    command
}

fn exec(url: &str, args: &[&str]) -> Output {
    exec_command(url, args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn start_agent(dir: &Path) -> (Peer, String) {
    let config = dir.join("andon.toml");
    std::fs::write(&config, QUIET).unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let agent = Peer::builder(ANDON)
        .args([
            "run".to_owned(),
            "--config".to_owned(),
            config.display().to_string(),
            "--listen".to_owned(),
            listen,
            "--data-dir".to_owned(),
            dir.join("data").display().to_string(),
        ])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    (agent, url)
}

/// The signals the agent holds for `component`, newest first.
fn signals(url: &str, component: &str) -> Vec<Value> {
    let (status, body) = http_get(&format!("{url}/v1/signals?component={component}")).unwrap();
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    listed["signals"].as_array().cloned().unwrap_or_default()
}

fn only_signal(url: &str, component: &str) -> Value {
    let mut listed = signals(url, component);
    assert_eq!(listed.len(), 1, "{listed:?}");
    listed.remove(0)
}

/// An agent URL nobody listens on.
fn nobody() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[test]
fn a_failing_command_pulls_the_cord_and_keeps_its_exit_code() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());

    let out = exec(&url, &["--", "false"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let red = only_signal(&url, "false");
    assert_eq!(red["color"], "red", "{red}");
    assert_eq!(red["attributes"]["exit_code"], 1, "{red}");
    assert_eq!(red["attributes"]["command"], "false", "{red}");
    assert!(red["attributes"]["duration_ms"].is_u64(), "{red}");
    let message = red["message"].as_str().unwrap();
    assert!(
        message.starts_with("false failed: exit code 1 after "),
        "{message}"
    );
    assert!(
        text(&out.stderr).contains("false's failure STOPPED the line"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "andon exec prints nothing of its own on stdout"
    );

    let out = exec(&url, &["--component", "nightly", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let green = only_signal(&url, "nightly");
    assert_eq!(green["color"], "green", "{green}");
    assert_eq!(green["attributes"]["exit_code"], 0, "{green}");

    // Stdout is the command's: passed through untouched.
    let out = exec(&url, &["--", "echo", "hello", "world"]);
    assert_eq!(text(&out.stdout), "hello world\n");
}

#[test]
fn stderr_is_passed_through_and_its_tail_reported() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());

    let out = exec(
        &url,
        &[
            "--component",
            "shell-job",
            "--color",
            "yellow",
            "--",
            "sh",
            "-c",
            "echo starting >&2; echo boom >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("starting\nboom\n"),
        "{}",
        text(&out.stderr)
    );
    let signal = only_signal(&url, "shell-job");
    assert_eq!(signal["color"], "yellow", "{signal}");
    assert_eq!(signal["attributes"]["exit_code"], 3, "{signal}");
    assert_eq!(
        signal["attributes"]["stderr_tail"], "starting\nboom",
        "{signal}"
    );
    assert_eq!(
        signal["attributes"]["command"],
        "sh -c 'echo starting >&2; echo boom >&2; exit 3'"
    );

    // A flood of stderr: every byte passed through, only a bounded tail reported.
    let out = exec(
        &url,
        &[
            "--component",
            "noisy",
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo line $i >&2; i=$((i+1)); done; exit 1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let passed = text(&out.stderr);
    let passed: Vec<&str> = passed.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(passed.len(), 3000);
    assert_eq!(passed[2999], "line 2999");
    let tail = only_signal(&url, "noisy")["attributes"]["stderr_tail"].clone();
    let tail = tail.as_str().unwrap();
    assert!(
        tail.len() <= andon_agent::STDERR_TAIL_BYTES,
        "{}",
        tail.len()
    );
    assert_eq!(
        tail.lines().count(),
        andon_agent::STDERR_TAIL_LINES,
        "{tail}"
    );
    assert!(tail.ends_with("line 2999"), "{tail}");
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet: dead all the same).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_timeout_kills_the_whole_process_group_and_exits_124() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());
    let pid_file = dir.path().join("grandchild.pid");
    let script = format!("sleep 30 & echo $! > {}; sleep 30", pid_file.display());

    // Output to files, not pipes: a surviving grandchild holding a pipe would make the wait
    // below last until it ends by itself, and the check after it pass.
    let stderr_file = dir.path().join("stderr.txt");
    let status = exec_command(
        &url,
        &[
            "--component",
            "slow",
            "--timeout",
            "1s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    )
    .stdout(std::fs::File::create(dir.path().join("stdout.txt")).unwrap())
    .stderr(std::fs::File::create(&stderr_file).unwrap())
    .status()
    .unwrap();
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    assert_eq!(status.code(), Some(124), "{stderr}");
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(10), || gone(grandchild).then_some(())).is_some(),
        "the background sleep {grandchild} in the command's process group survived the timeout"
    );
    let red = only_signal(&url, "slow");
    assert_eq!(red["color"], "red", "{red}");
    assert_eq!(red["attributes"]["exit_code"], 124, "{red}");
    assert_eq!(red["attributes"]["timed_out"], true, "{red}");
    assert_eq!(red["attributes"]["signal"], "SIGTERM", "{red}");
    assert_eq!(
        red["message"], "slow timed out after 1s: its process group was killed",
        "{red}"
    );
}

#[test]
fn a_background_process_holding_stderr_does_not_hold_andon() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());
    let pid_file = dir.path().join("daemon.pid");
    // The job leaves a process behind with the job's stderr (andon's pipe) still open.
    let script = format!(
        "echo bad >&2; sleep 60 & echo $! > {}; exit 1",
        pid_file.display()
    );
    let stderr_file = dir.path().join("stderr.txt");
    let status = exec_command(&url, &["--component", "leaver", "--", "sh", "-c", &script])
        .stdout(std::fs::File::create(dir.path().join("stdout.txt")).unwrap())
        .stderr(std::fs::File::create(&stderr_file).unwrap())
        .status()
        .unwrap();
    let left: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let still_running = !gone(left);
    let _ = Command::new("kill").arg(left.to_string()).status();
    assert_eq!(status.code(), Some(1));
    assert!(
        still_running,
        "andon waited for the background process to end instead of reporting the job's exit"
    );
    let red = only_signal(&url, "leaver");
    assert_eq!(red["attributes"]["stderr_tail"], "bad", "{red}");
    assert!(
        std::fs::read_to_string(&stderr_file)
            .unwrap()
            .contains("bad\n")
    );
}

#[test]
fn death_by_signal_exits_128_plus_the_signal() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());
    let out = exec(
        &url,
        &["--component", "doomed", "--", "sh", "-c", "kill -9 $$"],
    );
    assert_eq!(out.status.code(), Some(137), "{}", text(&out.stderr));
    let red = only_signal(&url, "doomed");
    assert_eq!(red["attributes"]["signal"], "SIGKILL", "{red}");
    assert!(red["attributes"].get("exit_code").is_none(), "{red}");
    assert!(
        red["message"]
            .as_str()
            .unwrap()
            .contains("killed by SIGKILL"),
        "{red}"
    );
}

#[test]
fn sigterm_to_andon_is_forwarded_to_the_command() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());
    let pid_file = dir.path().join("child.pid");
    let script = format!("echo $$ > {}; sleep 30", pid_file.display());
    let child = exec_command(&url, &["--component", "stopped", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(20), || pid_file.exists().then_some(())).unwrap();
    let pid = i32::try_from(child.id()).unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out.stderr));
    let red = only_signal(&url, "stopped");
    assert_eq!(red["attributes"]["signal"], "SIGTERM", "{red}");
}

#[test]
fn a_command_that_cannot_start_is_reported_with_126_or_127() {
    let dir = temp_dir();
    let (_agent, url) = start_agent(dir.path());

    let out = exec(&url, &["--", "/nonexistent/backup.sh"]);
    assert_eq!(out.status.code(), Some(127), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("was not found"),
        "{}",
        text(&out.stderr)
    );
    let red = only_signal(&url, "backup.sh");
    assert_eq!(red["color"], "red");
    assert_eq!(red["attributes"]["exit_code"], 127);
    assert!(
        red["message"]
            .as_str()
            .unwrap()
            .starts_with("backup.sh could not start: "),
        "{red}"
    );

    let script = dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    let out = exec(&url, &["--", script.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126), "{}", text(&out.stderr));
    assert_eq!(
        only_signal(&url, "not-executable.sh")["attributes"]["exit_code"],
        126
    );
}

#[test]
fn with_the_agent_down_the_command_runs_and_andon_says_so() {
    let url = nobody();
    let out = exec(&url, &["--", "true"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("andon: could not reach the agent at {url}: "))
            && stderr.contains("; the result was not reported"),
        "{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one warning line per failed report: {stderr}"
    );

    let out = exec(&url, &["--", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5), "the command's own code is kept");
}

#[test]
fn an_agent_that_never_answers_costs_the_job_one_report_timeout() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let out = exec(&url, &["--", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "could not reach the agent at {url}: no answer within {}s; the result was not reported",
            andon_agent::REPORT_TIMEOUT.as_secs()
        )),
        "{stderr}"
    );
    drop(silent);
}

#[test]
fn require_agent_fails_closed_before_running() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let touch = format!("touch {}", marker.display());

    let out = exec(&nobody(), &["--require-agent", "--", "sh", "-c", &touch]);
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(
        !marker.exists(),
        "the command ran although the agent was down"
    );
    assert!(
        text(&out.stderr).contains("was not run"),
        "{}",
        text(&out.stderr)
    );

    // With the agent up, the same command runs.
    let (_agent, url) = start_agent(dir.path());
    let out = exec(
        &url,
        &[
            "--require-agent",
            "--component",
            "touch",
            "--",
            "sh",
            "-c",
            &touch,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(marker.exists());
    assert_eq!(only_signal(&url, "touch")["color"], "green");
}

/// One request the receiver got: the path, the JSON body, and whether the command's marker file
/// existed when it arrived.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    body: Value,
    marker_existed: bool,
}

/// A tiny HTTP receiver standing in for the agent: answers every POST with 200 `{}` and records it.
fn receiver(marker: PathBuf) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push(Received {
                path: request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                marker_existed: marker.exists(),
            });
            let mut stream = reader.into_inner();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            );
        }
    });
    (url, received)
}

#[test]
fn a_heartbeat_gets_start_before_the_command_then_success_or_fail() {
    let dir = temp_dir();
    let marker = dir.path().join("ran");
    let (url, received) = receiver(marker.clone());
    let script = format!("touch {}", marker.display());

    let out = exec(
        &url,
        &["--heartbeat", "nightly-backup", "--", "sh", "-c", &script],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = std::mem::take(&mut *received.lock().unwrap());
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1/heartbeats/nightly-backup",
            "/v1/signals",
            "/v1/heartbeats/nightly-backup"
        ]
    );
    assert_eq!(got[0].body["status"], "start", "{:?}", got[0]);
    assert!(
        !got[0].marker_existed,
        "start must arrive before the command runs"
    );
    assert_eq!(got[1].body["color"], "green");
    assert_eq!(got[1].body["component"], "nightly-backup");
    assert_eq!(got[2].body["status"], "success", "{:?}", got[2]);
    assert!(got[2].marker_existed);

    std::fs::remove_file(&marker).unwrap();
    let fail = format!("touch {}; exit 2", marker.display());
    let out = exec(
        &url,
        &["--heartbeat", "nightly-backup", "--", "sh", "-c", &fail],
    );
    assert_eq!(out.status.code(), Some(2));
    let got = std::mem::take(&mut *received.lock().unwrap());
    // A failure is reported once, by the `fail` check-in carrying the run's attributes (the
    // heartbeat raises its signal from it): no RED of exec's own beside it.
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].body["status"], "start");
    assert_eq!(got[1].path, "/v1/heartbeats/nightly-backup");
    assert_eq!(got[1].body["status"], "fail", "{:?}", got[1]);
    assert_eq!(got[1].body["attributes"]["exit_code"], 2, "{:?}", got[1]);
    assert!(
        got[1].body["message"]
            .as_str()
            .unwrap()
            .starts_with("nightly-backup failed: exit code 2 after "),
        "{:?}",
        got[1]
    );
}
