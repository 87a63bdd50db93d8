//! Finding and running the crates' criterion benches, and reading their JSON estimates.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};

use super::Options;

/// The benches of every workspace crate: (package, bench), from the `[[bench]]` tables.
pub(super) fn benches(root: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .context("cannot list crates/")?
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let Some(package) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue;
        };
        let mut in_bench = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bench = line == "[[bench]]";
            } else if in_bench && let Some(value) = line.strip_prefix("name") {
                let name = value
                    .trim()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"');
                found.push((package.clone(), name.to_owned()));
            }
        }
    }
    Ok(found)
}

/// Runs one bench with the real peers in `peers`, echoing its output; returns the lines worth
/// quoting (percentiles, counters).
pub(super) fn run_bench(
    root: &Path,
    peers: &Path,
    package: &str,
    bench: &str,
    options: &Options,
) -> anyhow::Result<Vec<String>> {
    // Every feature: a bench may need one that is off by default (andon-log's `tracing`).
    let mut args: Vec<String> = [
        "bench",
        "-p",
        package,
        "--bench",
        bench,
        "--all-features",
        "--",
        "--noplot",
    ]
    .map(str::to_owned)
    .to_vec();
    if options.quick {
        args.extend(
            [
                "--warm-up-time",
                "1",
                "--measurement-time",
                "2",
                "--sample-size",
                "20",
            ]
            .map(str::to_owned),
        );
    }
    args.extend(options.criterion_args.iter().cloned());
    println!("$ cargo {}", args.join(" "));
    let started = Instant::now();
    let mut child = Command::new("cargo")
        .args(&args)
        .env(crate::peers_dir_rule::PEERS_DIR_ENV, peers)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;
    let notes = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let notes = Arc::clone(&notes);
        readers.push(std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                println!("{line}");
                let quoted = ["p50", "p99", "counters after", "receiver got", "skipped"]
                    .iter()
                    .any(|k| line.contains(k));
                if quoted && let Ok(mut notes) = notes.lock() {
                    notes.push(line.trim().to_owned());
                }
            }
        }));
    }
    let status = child.wait().context("cargo bench did not finish")?;
    for reader in readers {
        let _ = reader.join();
    }
    if !status.success() {
        bail!(
            "`cargo {}` failed ({status}) after {:.0?}",
            args.join(" "),
            started.elapsed()
        );
    }
    let notes = notes.lock().map(|n| n.clone()).unwrap_or_default();
    Ok(notes)
}

/// One criterion result.
#[derive(Debug, Clone)]
pub(super) struct Measured {
    pub(super) group: String,
    pub(super) function: String,
    pub(super) value: Option<String>,
    pub(super) full_id: String,
    pub(super) median_ns: f64,
    pub(super) mean_ns: f64,
}

/// The value of `"key":` in a flat JSON object written by criterion: a string or `null`.
pub(super) fn json_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text[at..].trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The `point_estimate` of the statistic `key` in criterion's estimates.json.
pub(super) fn json_estimate(text: &str, key: &str) -> Option<f64> {
    let at = text.find(&format!("\"{key}\":"))?;
    let rest = &text[at..];
    let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let number: String = rest[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        .collect();
    number.parse().ok()
}

/// Every criterion result under `dir` written since `since`.
pub(super) fn collect(dir: &Path, since: SystemTime, out: &mut Vec<Measured>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if entry.file_name() == "new" {
            let estimates = path.join("estimates.json");
            let fresh = std::fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let (Ok(benchmark), Ok(estimates)) = (
                std::fs::read_to_string(path.join("benchmark.json")),
                std::fs::read_to_string(&estimates),
            ) else {
                continue;
            };
            let (Some(group), Some(full_id), Some(median_ns), Some(mean_ns)) = (
                json_string(&benchmark, "group_id"),
                json_string(&benchmark, "full_id"),
                json_estimate(&estimates, "median"),
                json_estimate(&estimates, "mean"),
            ) else {
                continue;
            };
            out.push(Measured {
                group,
                function: json_string(&benchmark, "function_id").unwrap_or_default(),
                value: json_string(&benchmark, "value_str"),
                full_id,
                median_ns,
                mean_ns,
            });
        } else if entry.file_name() != "base" && entry.file_name() != "report" {
            collect(&path, since, out);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use super::*;

    #[test]
    fn reads_criterion_json() {
        let benchmark = r#"{"group_id":"span start+end","function_id":"andon, batch","value_str":null,"throughput":null,"full_id":"span start+end/andon, batch","directory_name":"span start+end/andon, batch","title":"span start+end/andon, batch"}"#;
        assert_eq!(
            json_string(benchmark, "group_id").unwrap(),
            "span start+end"
        );
        assert_eq!(json_string(benchmark, "value_str"), None);
        assert_eq!(json_string(r#"{"a":"x\"y\u00b5"}"#, "a").unwrap(), "x\"yµ");
        let estimates = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.5,"standard_error":0.1},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":1.25e3,"standard_error":0.1},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":9.0,"standard_error":0.1},"slope":null,"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":7.0,"standard_error":0.1}}"#;
        assert_eq!(json_estimate(estimates, "median"), Some(1250.0));
        assert_eq!(json_estimate(estimates, "mean"), Some(2.5));
    }

    #[test]
    fn finds_every_crate_bench() {
        let benches = benches(&crate::root()).unwrap();
        assert!(
            benches.contains(&("andon-alert".to_owned(), "scale".to_owned())),
            "{benches:?}"
        );
        assert!(
            benches.contains(&("andon-log".to_owned(), "log".to_owned())),
            "{benches:?}"
        );
    }
}
