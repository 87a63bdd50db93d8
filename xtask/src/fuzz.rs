//! `cargo xtask fuzz [--seconds N] [TARGET…]`: runs every fuzz target (a proptest property, see
//! docs/fuzzing.md) for a bounded time each, default 60 seconds, and reports the cases run.

use std::time::Instant;

use anyhow::{Context, bail};

use crate::shell::run as sh;

/// (name, package, test file): every fuzz target of the workspace.
const TARGETS: &[(&str, &str, &str)] = &[
    ("config", "andon-core", "fuzz_config"),
    ("propagation", "andon-trace", "fuzz_propagation"),
    ("signal_json", "andon-agent", "fuzz_signals"),
    ("history_query", "andon-agent", "fuzz_history"),
    ("log_escaping", "andon-log", "fuzz_escaping"),
    ("metric_labels", "andon-metrics", "fuzz_labels"),
];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut seconds: u64 = 60;
    let mut chosen: Vec<&str> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args
                    .next()
                    .context("--seconds needs a number, such as 60")?;
                seconds = value
                    .parse()
                    .with_context(|| format!("--seconds: `{value}` is not a number of seconds"))?;
            }
            name => match TARGETS.iter().find(|(n, _, _)| *n == name) {
                Some((n, _, _)) => chosen.push(n),
                None => bail!(
                    "unknown fuzz target `{name}`: use one of {}",
                    TARGETS
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        }
    }
    let root = crate::root();
    let seconds_text = seconds.to_string();
    let started = Instant::now();
    for (name, package, test) in TARGETS {
        if !chosen.is_empty() && !chosen.contains(name) {
            continue;
        }
        println!("\n==> fuzz {name} ({package}, tests/{test}.rs) for {seconds} s");
        sh(
            &root,
            "cargo",
            &[
                "test",
                "-p",
                package,
                "--all-features",
                "--test",
                test,
                "--",
                "--nocapture",
            ],
            &[
                ("ANDON_FUZZ_SECONDS", &seconds_text),
                ("PROPTEST_CASES", "256"),
            ],
        )
        .with_context(|| {
            format!(
                "fuzz target `{name}` failed: its minimal input is printed above and its seed saved in {package}'s tests/{test}.proptest-regressions: commit that file with the fix"
            )
        })?;
    }
    println!(
        "\n==> every fuzz target passed in {:.0?}",
        started.elapsed()
    );
    Ok(())
}
