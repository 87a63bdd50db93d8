//! `cargo xtask ops`: the operations files in `deploy/` are checked by the tools that will read
//! them; `cargo xtask dist`: shell completions and man pages for `andon` into `target/dist`.
//!
//! - `deploy/systemd/andon.service`: `systemd-analyze verify` (any warning fails, such as an
//!   unknown key, which verify itself only reports), and `systemd-analyze security --offline`
//!   with an exposure threshold, so the hardening cannot quietly erode. Both read the file
//!   alone and work in a container without a running systemd.
//! - `deploy/prometheus/andon-rules.yml`: `promtool check rules`, and `promtool test rules` on
//!   `andon-rules.test.yml`.
//! - The Grafana dashboard is checked by `crates/andon-agent/tests/deploy_files.rs` (its metric
//!   names against the names andon exports), which `cargo test` runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::shell::run as sh;

/// The highest exposure `systemd-analyze security` may give the unit, in tenths (2.0 of 10;
/// the unit scores about 1.4, "OK").
const EXPOSURE_THRESHOLD: &str = "20";

/// The binary the unit starts.
const UNIT_BINARY: &str = "/usr/bin/andon";

pub(crate) fn run() -> anyhow::Result<()> {
    run_ops(&crate::root())
}

pub(crate) fn run_ops(root: &Path) -> anyhow::Result<()> {
    systemd_unit(root)?;
    prometheus_rules(root)
}

fn systemd_unit(root: &Path) -> anyhow::Result<()> {
    let unit = root.join("deploy/systemd/andon.service");
    let text = std::fs::read_to_string(&unit).with_context(|| format!("{}", unit.display()))?;
    if !text.contains(&format!("ExecStart={UNIT_BINARY} ")) {
        bail!(
            "{}: ExecStart no longer starts {UNIT_BINARY}; update UNIT_BINARY in xtask/src/ops.rs",
            unit.display()
        );
    }
    // verify fails when the ExecStart binary is missing, and a CI machine has no andon
    // installed: check a copy that starts an executable that exists (this one).
    let stand_in = std::env::current_exe().context("cannot find the xtask executable")?;
    let dir = std::env::temp_dir().join(format!("andon-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join("andon.service");
    std::fs::write(
        &copy,
        text.replace(UNIT_BINARY, &stand_in.to_string_lossy()),
    )?;
    let copy_text = copy.to_string_lossy().into_owned();
    let verify = quiet_run(
        "systemd-analyze",
        &["verify", "--man=no", "--no-pager", &copy_text],
    );
    let security = verify.and_then(|()| {
        sh(
            root,
            "systemd-analyze",
            &[
                "security",
                "--offline=yes",
                "--no-pager",
                &format!("--threshold={EXPOSURE_THRESHOLD}"),
                &copy_text,
            ],
            &[],
        )
        .context("the unit's exposure rose above the threshold: see the ✗ lines above")
    });
    let _ = std::fs::remove_dir_all(&dir);
    security?;
    println!(
        "ops: deploy/systemd/andon.service verified, exposure within {EXPOSURE_THRESHOLD}/100"
    );
    Ok(())
}

/// Runs a command that must exit 0 and say nothing (systemd-analyze verify only warns about
/// unknown keys and bad values).
fn quiet_run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    println!("$ {program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run `{program}`: run `cargo xtask setup`"))?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() || !said.trim().is_empty() {
        bail!(
            "`{program} {}` ({}) found problems in deploy/systemd/andon.service:\n{}",
            args.join(" "),
            out.status,
            said.trim()
        );
    }
    Ok(())
}

fn prometheus_rules(root: &Path) -> anyhow::Result<()> {
    let dir = root.join("deploy/prometheus");
    sh(
        &dir,
        "promtool",
        &["check", "rules", "andon-rules.yml"],
        &[],
    )?;
    sh(
        &dir,
        "promtool",
        &["test", "rules", "andon-rules.test.yml"],
        &[],
    )?;
    Ok(())
}

/// `cargo xtask dist`: builds `andon` and writes its shell completions and man pages into
/// `target/dist` (or `$CARGO_TARGET_DIR/dist`).
pub(crate) fn dist() -> anyhow::Result<()> {
    let root = crate::root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let out = target.join("dist");
    let out_text = out.to_string_lossy().into_owned();
    sh(
        &root,
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "andon-agent",
            "--bin",
            "andon",
            "--",
            "generate-dist",
            &out_text,
        ],
        &[],
    )?;
    println!(
        "dist: completions in {0}/completions, man pages in {0}/man",
        out.display()
    );
    Ok(())
}
