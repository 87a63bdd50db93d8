//! `cargo xtask ci`: set-up, then every check in order, failing on the first failure.

use std::time::Instant;

use crate::shell::run as sh;

/// The umbrella's features, each of which must build alone.
const FEATURES: &[&str] = &[
    "log", "metrics", "trace", "observe", "alert", "history", "tracing", "gcp",
];

pub(crate) fn run() -> anyhow::Result<()> {
    let root = crate::root();
    let mut done: Vec<(String, std::time::Duration)> = Vec::new();
    let started = Instant::now();
    // The tests look for the peers where set-up put them, whatever CARGO_TARGET_DIR says.
    let peers = crate::peers_dir(&root).to_string_lossy().into_owned();

    let mut step = |name: &str, f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<()> {
        println!("\n==> {name}");
        let t = Instant::now();
        let result = f();
        let took = t.elapsed();
        match &result {
            Ok(()) => done.push((name.to_owned(), took)),
            Err(_) => {
                eprintln!("\n==> FAILED: {name} (after {took:.0?})");
                for (n, d) in &done {
                    eprintln!("    ok   {n} ({d:.0?})");
                }
                eprintln!("    FAIL {name}");
            }
        }
        result
    };

    step("set up (cargo-deny, real peers, Python peers)", &mut || {
        crate::setup::run_setup(&root)
    })?;
    step("cargo fmt --check", &mut || {
        sh(&root, "cargo", &["fmt", "--all", "--", "--check"], &[])
    })?;
    step("cargo clippy", &mut || {
        sh(
            &root,
            "cargo",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )
    })?;
    step("cargo test", &mut || {
        sh(
            &root,
            "cargo",
            &["test", "--workspace", "--all-features"],
            &[("CI", "true"), ("ANDON_PEERS_DIR", &peers)],
        )
    })?;
    step("each umbrella feature alone", &mut || {
        sh(
            &root,
            "cargo",
            &["check", "-p", "andon", "--no-default-features"],
            &[],
        )?;
        for feature in FEATURES {
            sh(
                &root,
                "cargo",
                &[
                    "check",
                    "-p",
                    "andon",
                    "--no-default-features",
                    "--features",
                    feature,
                ],
                &[],
            )?;
        }
        Ok(())
    })?;
    step("cargo doc", &mut || {
        // The umbrella's feature table must read right with its features off too; this runs
        // first so the all-features pages are the ones left in target/doc.
        sh(
            &root,
            "cargo",
            &["doc", "-p", "andon", "--no-deps", "--no-default-features"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )?;
        sh(
            &root,
            "cargo",
            &["doc", "--workspace", "--no-deps", "--all-features"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        )
    })?;
    step("cargo deny", &mut || crate::deny::run_deny(&root))?;
    step(
        "ops files in deploy/ (systemd-analyze, promtool)",
        &mut || crate::ops::run_ops(&root),
    )?;
    step(
        "cargo package (no verify) and package contents",
        &mut || crate::package::run_package(&root),
    )?;

    println!("\n==> all checks passed in {:.0?}", started.elapsed());
    for (name, took) in &done {
        println!("    ok {name} ({took:.0?})");
    }
    Ok(())
}
