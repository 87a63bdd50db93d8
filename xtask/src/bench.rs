//! `cargo xtask bench`: runs every crate's criterion benchmarks, measures the agent's memory under
//! a burst of signals, and writes `docs/benchmarks.md`.
//!
//! The report pairs each andon operation with the raw library beneath it, measured in the same
//! run ([`ROWS`](rows::ROWS) names the criterion ids of both), beside the design's SLO and our goal; renders
//! the scale curves (any benchmark with a parameter) as tables; and records the machine, the
//! toolchain and the load average at start and end, since the numbers are only as quiet as the
//! machine was. The benches run with `ANDON_PEERS_DIR` pointing at the peers `cargo xtask setup`
//! installs (its Python virtualenv is set up first when missing), so the email bench finds the
//! same aiosmtpd the tests use.
//!
//! ```text
//! cargo xtask bench                   # everything; writes docs/benchmarks.md
//! cargo xtask bench --quick           # 1 s warm-up, 2 s measurement, 20 samples
//! cargo xtask bench --only andon-alert [-- <criterion filter>]   # one crate; report to target/
//! cargo xtask bench --only memory     # only the agent memory burst
//! cargo xtask bench --skip andon-history   # everything but one crate (repeatable)
//! cargo xtask bench --burst 100000    # a smaller burst (default 1,000,000)
//! ```

mod criterion;
mod machine;
mod memory;
mod render;
mod rows;

use criterion::{benches, collect, run_bench};
use machine::{command_output, load_average, machine_at_start};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};

/// The options of one run.
struct Options {
    quick: bool,
    only: Option<String>,
    skip: Vec<String>,
    burst: u64,
    criterion_args: Vec<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        quick: false,
        only: None,
        skip: Vec::new(),
        burst: 1_000_000,
        criterion_args: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--only" => {
                let name = args
                    .next()
                    .context("--only: name a crate (andon-alert, andon, …) or `memory`")?;
                options.only = Some(name.clone());
            }
            "--skip" => {
                let name = args
                    .next()
                    .context("--skip: name a crate (andon-history, …) or `memory`")?;
                options.skip.push(name.clone());
            }
            "--burst" => {
                let n = args
                    .next()
                    .context("--burst: give a number of signals, such as 1000000")?;
                options.burst = n
                    .replace('_', "")
                    .parse()
                    .with_context(|| format!("--burst: `{n}` is not a number of signals"))?;
            }
            "--" => options.criterion_args.extend(args.by_ref().cloned()),
            other => bail!(
                "bench: unknown option `{other}`; use --quick, --only <crate|memory>, --skip <crate|memory>, --burst <n>, -- <criterion args>"
            ),
        }
    }
    Ok(options)
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let root = crate::root();
    let started = Instant::now();
    let since = SystemTime::now() - Duration::from_secs(1);
    let mut machine = machine_at_start(&root);
    println!("bench: load average at start {}", machine.load_start);

    let mut notes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    // The email bench sends to aiosmtpd in the peers' virtualenv: set it up as `cargo xtask
    // setup` does (nothing to do when present) and tell the benches where it is, as `cargo xtask
    // ci` tells the tests.
    if let Err(error) = crate::setup::python_peers(&root) {
        eprintln!("bench: the Python peers are not set up ({error:#}); the email bench will skip");
    }
    let peers = crate::peers_dir(&root);
    let all = benches(&root)?;
    let selected: Vec<&(String, String)> = all
        .iter()
        .filter(|(package, _)| {
            options.only.as_ref().is_none_or(|o| o == package) && !options.skip.contains(package)
        })
        .collect();
    if selected.is_empty() && options.only.as_deref() != Some("memory") {
        bail!(
            "--only {}: no such crate with benches; crates with benches: {}",
            options.only.as_deref().unwrap_or(""),
            all.iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (package, bench) in selected {
        println!("\n==> {package}: bench {bench}");
        let load = load_average();
        machine.load_during.push((
            format!("{package}/{bench}"),
            load.split_whitespace().next().unwrap_or("?").to_owned(),
        ));
        match run_bench(&root, &peers, package, bench, &options) {
            Ok(quoted) if !quoted.is_empty() => {
                notes.insert(format!("{package}/{bench}"), quoted);
            }
            Ok(_) => {}
            Err(error) => {
                eprintln!("bench: {package}/{bench} failed: {error:#}; going on with the others");
                failures.push(format!("{package}/{bench}: {error:#}"));
            }
        }
    }

    let memory_wanted =
        options.only.is_none() || matches!(options.only.as_deref(), Some("memory" | "andon-agent"));
    let memory = if memory_wanted && !options.skip.iter().any(|s| s == "memory") {
        println!(
            "\n==> agent memory under a burst of {} signals",
            options.burst
        );
        match memory::run(&root, options.burst) {
            Ok(report) => Some(report),
            Err(error) => {
                eprintln!("bench: the memory burst failed: {error:#}");
                failures.push(format!("agent memory burst: {error:#}"));
                None
            }
        }
    } else {
        None
    };

    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let mut results = Vec::new();
    collect(&target.join("criterion"), since, &mut results);
    results.sort_by(|a, b| a.full_id.cmp(&b.full_id));

    machine.ended_at = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    machine.load_end = load_average();
    machine.took = started.elapsed();
    let report = render::render(
        &machine,
        &options,
        &results,
        &notes,
        &failures,
        memory.as_ref(),
    );
    let path = match &options.only {
        None => root.join("docs/benchmarks.md"),
        Some(only) => target.join(format!("benchmarks-{only}.md")),
    };
    std::fs::write(&path, report).with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "\nbench: {} results in {:.0?}; load average at end {}; report written to {}",
        results.len(),
        machine.took,
        machine.load_end,
        path.display()
    );
    if !failures.is_empty() {
        bail!(
            "{} step(s) failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}
