//! `cargo xtask setup`: installs what the checks and the real-peer tests need, skipping what is
//! present. Debian packages need root; without it the exact command is printed and set-up stops.

use std::path::Path;

use anyhow::bail;

use crate::shell::{have, run as sh, succeeds};

/// Debian packages of the real peers: (binary that proves it is installed, package).
const DEBIAN_PEERS: &[(&str, &str)] = &[
    ("prometheus", "prometheus"),
    ("promtool", "prometheus"),
    ("prometheus-alertmanager", "prometheus-alertmanager"),
    ("rsyslogd", "rsyslog"),
    ("chromium", "chromium"),
    ("chromedriver", "chromium-driver"),
    ("python3", "python3"),
    // andon-log's Cloud Logging API test makes an RSA service-account key and checks JWTs.
    ("openssl", "openssl"),
    // systemd-analyze checks deploy/systemd/andon.service offline (no running systemd needed).
    ("systemd-analyze", "systemd"),
];

/// Python packages of the peers' virtualenv: (module to import, package).
const PYTHON_PEERS: &[(&str, &str)] = &[
    ("aiosmtpd", "aiosmtpd"),
    ("opentelemetry.sdk", "opentelemetry-sdk"),
    ("opentelemetry.propagate", "opentelemetry-api"),
];

pub(crate) fn run_setup(root: &Path) -> anyhow::Result<()> {
    cargo_deny(root)?;
    debian_peers(root)?;
    postgres_peer(root)?;
    python_peers(root)?;
    Ok(())
}

pub(crate) fn run() -> anyhow::Result<()> {
    run_setup(&crate::root())
}

fn cargo_deny(root: &Path) -> anyhow::Result<()> {
    if succeeds("cargo", &["deny", "--version"]) {
        println!("setup: cargo-deny is installed");
        return Ok(());
    }
    println!("setup: installing cargo-deny (about 3 minutes on 2 cores)");
    sh(root, "cargo", &["install", "--locked", "cargo-deny"], &[])
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn debian_peers(root: &Path) -> anyhow::Result<()> {
    let mut missing: Vec<&str> = DEBIAN_PEERS
        .iter()
        .filter(|(binary, _)| !have(binary))
        .map(|(_, package)| *package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        println!(
            "setup: the real peers are installed (prometheus, promtool, alertmanager, rsyslog, chromium)"
        );
        return Ok(());
    }
    let command = format!(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        bail!(
            "these packages are missing: {}\nrun as root:\n  {command}",
            missing.join(" ")
        );
    }
    println!("setup: installing {}", missing.join(" "));
    sh(root, "apt-get", &["update", "-qq"], &[])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(missing.iter().copied());
    sh(
        root,
        "apt-get",
        &args,
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )?;
    // The packages may start their services; the tests start their own instances on free
    // ports, so stop the system ones (best effort: a container often has none running).
    for service in [
        "prometheus",
        "prometheus-alertmanager",
        "rsyslog",
        "prometheus-node-exporter",
    ] {
        let _ = succeeds("service", &[service, "stop"]);
    }
    Ok(())
}

/// Whether Debian's PostgreSQL server programs are installed: `initdb` lives under
/// `/usr/lib/postgresql/<version>/bin`, not on PATH.
fn have_initdb() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .any(|entry| entry.path().join("bin/initdb").is_file())
        || have("initdb")
}

/// PostgreSQL for andon-history's PostgreSQL backend and the fleet tests (issue 19): the tests
/// run `initdb` and `postgres` themselves on a free port (tests/src/postgres.rs), so the
/// system service the package starts is stopped.
fn postgres_peer(root: &Path) -> anyhow::Result<()> {
    if have_initdb() {
        println!("setup: PostgreSQL is installed");
        return Ok(());
    }
    let command = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql";
    if !is_root() {
        bail!("PostgreSQL is missing\nrun as root:\n  {command}");
    }
    println!("setup: installing postgresql");
    sh(root, "apt-get", &["update", "-qq"], &[])?;
    sh(
        root,
        "apt-get",
        &[
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "postgresql",
        ],
        &[("DEBIAN_FRONTEND", "noninteractive")],
    )?;
    let _ = succeeds("service", &["postgresql", "stop"]);
    if !have_initdb() {
        bail!("postgresql was installed but no initdb is under /usr/lib/postgresql/*/bin");
    }
    Ok(())
}

/// The peers' Python virtualenv (aiosmtpd, the OpenTelemetry SDK) in [`crate::peers_dir`],
/// created when missing; the bench runner calls it too, so its email bench finds the same aiosmtpd
/// the tests use.
pub(crate) fn python_peers(root: &Path) -> anyhow::Result<()> {
    let venv = crate::peers_dir(root).join("venv");
    let python = venv.join("bin/python3");
    let imports = PYTHON_PEERS
        .iter()
        .map(|(m, _)| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    if python.is_file() && succeeds(&python.to_string_lossy(), &["-c", &imports]) {
        println!(
            "setup: the Python peers are installed in {}",
            venv.display()
        );
        return Ok(());
    }
    println!(
        "setup: creating the Python peers' virtualenv in {}",
        venv.display()
    );
    let venv_text = venv.to_string_lossy().into_owned();
    sh(root, "python3", &["-m", "venv", &venv_text], &[])?;
    let python_text = python.to_string_lossy().into_owned();
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    args.extend(PYTHON_PEERS.iter().map(|(_, p)| *p));
    sh(root, &python_text, &args, &[])
}
