//! `cargo xtask`: the project's automation, in Rust, with no dependencies beyond `anyhow`.
//!
//! - `cargo xtask ci`: sets up what is missing on a fresh Debian machine, then runs every check
//!   in order, stopping at the first failure with a summary.
//! - `cargo xtask setup`: only the set-up (cargo-deny, the real peers, the Python virtualenv).
//! - `cargo xtask deny`: only `cargo deny` against the advisory snapshot.
//! - `cargo xtask bench [--quick] [--only <crate>]`: every criterion benchmark and the agent's
//!   memory under a burst, written to `docs/benchmarks.md`.
//! - `cargo xtask fuzz [--seconds N] [target…]`: every fuzz target for N seconds (default 60).
//! - `cargo xtask package`: every publishing crate packed and its package checked.
//! - `cargo xtask ops`: the systemd unit and the Prometheus rules in `deploy/` checked.
//! - `cargo xtask dist`: shell completions and man pages for `andon` into `target/dist`.

mod bench;
// The peers' folder: one rule, in one file that the test harness compiles too.
mod ci;
mod deny;
mod fuzz;
mod ops;
mod package;
#[path = "../../tests/src/peers_dir.rs"]
#[allow(dead_code, unreachable_pub)] // the harness uses the whole module; xtask only part of it
mod peers_dir_rule;
mod setup;
mod shell;
mod tidy;

use std::path::PathBuf;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci       set up what is missing, then fmt, clippy, test, each feature alone, doc, deny,
           the ops files in deploy/ and the packages
  setup    install what the checks and tests need (cargo-deny, prometheus, alertmanager,
           rsyslog, chromium, the Python peers) and skip what is present
  deny     run cargo deny against the advisory database snapshot in ../shared/advisory-db
  bench    run every crate's benchmarks beside the raw libraries and the agent memory burst,
           then write docs/benchmarks.md ([--quick] [--only|--skip <crate>|memory]
           [--burst N] [-- criterion filter]); sets up the Python peers first, as setup does,
           so the email bench finds aiosmtpd
  fuzz     run every fuzz target for a bounded time ([--seconds N], default 60) [target…]
  package  cargo package every publishing crate (no verify) and check each package's metadata,
           license, readme and embedded files
  ops      check deploy/: systemd-analyze verify and security on the unit, promtool on the rules
  dist     write andon's shell completions and man pages into target/dist
";

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("setup") => setup::run(),
        Some("deny") => deny::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("package") => package::run(),
        Some("ops") => ops::run(),
        Some("dist") => ops::dist(),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root, found from this crate's manifest directory.
fn root() -> PathBuf {
    let xtask = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().map_or(xtask.clone(), PathBuf::from)
}

/// The folder of the real peers' virtualenv and files, by the rule the test harness uses too.
fn peers_dir(root: &std::path::Path) -> PathBuf {
    peers_dir_rule::resolve_peers_dir(root)
}
