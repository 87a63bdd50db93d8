//! The agent remembers by default, with the real `andon` binary: a fresh `andon run` (no config)
//! keeps its history in `./andon-data` (created `0700`, its files at most `0640`, the history
//! database `0600`), says so in its start-up line, and `andon report` answers with a signal sent
//! to it; `$STATE_DIRECTORY` (systemd) is honoured, and `[history] enabled = false` in the file
//! still turns the history off.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // helpers fail the test that calls them

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use andon_tests::{Peer, Ready, free_port, temp_dir, wait_for};

const ANDON: &str = env!("CARGO_BIN_EXE_andon");

fn andon(args: &[&str]) -> Output {
    Command::new(ANDON)
        .args(args)
        .env_remove("ANDON_URL")
        .env_remove("ANDON_TOKEN")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The agent's output once it contains `text` (read by a thread of the harness, so it can lag
/// behind the agent answering).
fn said(agent: &Peer, text: &str) -> String {
    wait_for(Duration::from_secs(10), || {
        let output = agent.output();
        output.contains(text).then_some(output)
    })
    .unwrap_or_else(|| agent.output())
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_fresh_agent_keeps_its_history_in_andon_data_and_report_works() {
    let cwd = temp_dir();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    // No config at all: the built-in defaults, as a new user runs it.
    let agent = Peer::builder(ANDON)
        .current_dir(cwd.path())
        .args(["run", "--listen", &listen])
        .env("STATE_DIRECTORY", "")
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    let data = std::fs::canonicalize(cwd.path())
        .unwrap()
        .join("andon-data");
    let said = said(&agent, "data directory");
    assert!(
        said.contains(&format!("data directory {}", data.display())),
        "the start-up line names the directory: {said}"
    );
    assert!(data.is_dir());

    let out = andon(&[
        "signal",
        "red",
        "conveyor belt torn",
        "--component",
        "belt-2",
        "--url",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The history is written in the background: the report shows the signal once it is in.
    let report = wait_for(Duration::from_secs(20), || {
        let out = andon(&["report", "--since", "1h", "--url", &url]);
        (out.status.code() == Some(0) && text(&out.stdout).contains("belt-2")).then_some(out)
    })
    .unwrap_or_else(|| {
        let out = andon(&["report", "--since", "1h", "--url", &url]);
        panic!(
            "andon report on a fresh agent: {} {}\nagent: {}",
            text(&out.stdout),
            text(&out.stderr),
            agent.output()
        )
    });
    let stdout = text(&report.stdout);
    assert!(stdout.contains("Pareto by component"), "{stdout}");
    assert!(stdout.contains("conveyor belt torn"), "{stdout}");

    #[cfg(unix)]
    {
        assert_eq!(mode(&data), 0o700, "the data directory is private");
        let history = data.join("history.sqlite3");
        assert!(history.is_file(), "the history is in the data directory");
        assert_eq!(mode(&history), 0o600);
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            let mode = mode(&path);
            assert_eq!(
                mode & 0o027,
                0,
                "{} has mode {mode:o}: at most 0640",
                path.display()
            );
        }
    }
    drop(agent);
}

#[test]
fn state_directory_is_honoured_and_history_off_in_the_file_stays_off() {
    let dir = temp_dir();
    let state = dir.path().join("systemd-state");
    let config = dir.path().join("andon.toml");
    std::fs::write(
        &config,
        "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n[history]\nenabled = false\n",
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let agent = Peer::builder(ANDON)
        .current_dir(dir.path())
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--listen",
            &listen,
        ])
        .env("STATE_DIRECTORY", &state)
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    let state = std::fs::canonicalize(&state).unwrap();
    let said = said(&agent, "data directory");
    assert!(
        said.contains(&format!("data directory {}", state.display())),
        "{said}"
    );
    assert!(said.contains("no history"), "{said}");
    assert!(
        !dir.path().join("andon-data").exists(),
        "$STATE_DIRECTORY replaces ./andon-data"
    );
    #[cfg(unix)]
    assert_eq!(mode(&state), 0o700);
    let out = andon(&["report", "--url", &url]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("[history] enabled = true"));
    drop(agent);

    // A data directory that cannot be created stops the start with the fix.
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = andon(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{}", free_port()),
        "--data-dir",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot use the data directory") && stderr.contains("--data-dir"),
        "{stderr}"
    );
}

#[test]
fn a_second_agent_on_the_same_data_directory_is_refused_and_the_first_keeps_serving() {
    let cwd = temp_dir();
    let data = cwd.path().join("shared");
    let data_arg = data.to_str().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let url = format!("http://{listen}");
    let first = Peer::builder(ANDON)
        .args(["run", "--listen", &listen, "--data-dir", data_arg])
        .ready(Ready::Http(format!("{url}/healthz")))
        .start()
        .unwrap();
    let out = andon(&["signal", "red", "press jammed", "--url", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A second agent started on the same directory (a unit restarted while the old process
    // lingers, a manual `andon run` during maintenance) would overwrite the first one's line
    // state: it is refused at once, naming the directory and the first agent's pid.
    let other = format!("127.0.0.1:{}", free_port());
    let second = andon(&["run", "--listen", &other, "--data-dir", data_arg]);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stderr));
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains(&format!("pid {}", first.pid().unwrap())) && stderr.contains("--data-dir"),
        "{stderr}"
    );
    // The first agent still serves, its line still stopped.
    let out = andon(&["line", "check", "--url", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    drop(first);

    // Once it is gone (however it ended), the directory is free again.
    let third = Peer::builder(ANDON)
        .args(["run", "--listen", &other, "--data-dir", data_arg])
        .ready(Ready::Http(format!("http://{other}/healthz")))
        .start()
        .unwrap();
    let out = andon(&["line", "check", "--url", &format!("http://{other}")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the stop outlived the first agent"
    );
    drop(third);
}
