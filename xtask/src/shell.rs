//! Running commands and reporting them.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// Runs `program args…` in `dir` with `envs`, echoing the command; fails on a non-zero exit.
pub(crate) fn run(
    dir: &Path,
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
) -> anyhow::Result<()> {
    let shown = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let env_shown: String = envs.iter().map(|(k, v)| format!("{k}={v} ")).collect();
    println!("$ {env_shown}{shown}");
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot run `{program}`: is it installed?"))?;
    if !status.success() {
        bail!(
            "`{shown}` failed ({status}) after {:.0?}",
            started.elapsed()
        );
    }
    Ok(())
}

/// Whether `program args…` runs and exits 0, quietly.
pub(crate) fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether an executable named `name` is on PATH or in the sbin folders.
pub(crate) fn have(name: &str) -> bool {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(std::path::PathBuf::from));
    dirs.iter().any(|d| d.join(name).is_file())
}
