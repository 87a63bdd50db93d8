//! Writing `docs/benchmarks.md` from what was measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Options;
use super::criterion::Measured;
use super::machine::Machine;
use super::rows::ROWS;

/// A duration in nanoseconds, in the unit that reads best.
pub(super) fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

/// What each scale curve grows, by criterion group.
pub(super) const CURVE_NOTES: &[(&str, &str)] = &[
    (
        "scale signal_problem vs rules",
        "`AndonSystem::signal_problem` (YELLOW, logs + metrics + alerts on) with n alert rules \
         loaded: signal rules for other components, so every rule is looked at and none fires.",
    ),
    (
        "scale signal_problem vs components",
        "`signal_problem` from n distinct components in turn, each seen before (board stations, \
         metric series and alert state per component; the board keeps at most 1,000 stations).",
    ),
    (
        "scale signal_problem vs label sets",
        "`signal_problem` with n other label sets (queue-depth gauges) already in the metrics \
         registry.",
    ),
    (
        "scale signal_problem vs sinks",
        "`signal_problem` with n extra signal sinks (`AndonSystemBuilder::with_sink`, each only \
         counting): the fan-out itself.",
    ),
    (
        "scale alerts check_and_fire_alerts vs rules",
        "One evaluation of n threshold rules (a quarter firing, steady state); `raw` reads and \
         compares the same n gauges with no alert bookkeeping.",
    ),
    (
        "scale alerts on_signal vs rules",
        "`AlertManager::on_signal` of a YELLOW signal with n RED signal rules for other \
         components.",
    ),
];

/// `10000` as `10,000`; anything not a number unchanged.
pub(super) fn thousands(value: &str) -> String {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return value.to_owned();
    }
    let mut out = String::new();
    for (i, c) in value.chars().enumerate() {
        if i > 0 && (value.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How andon's time grows from the smallest to the largest n of a curve.
pub(super) fn growth(points: &[&Measured]) -> Option<String> {
    let mut andon: Vec<(u64, f64)> = points
        .iter()
        .filter(|m| m.function == "andon")
        .filter_map(|m| Some((m.value.as_deref()?.parse().ok()?, m.median_ns)))
        .collect();
    andon.sort_by_key(|(n, _)| *n);
    let (&(n0, t0), &(n1, t1)) = (andon.first()?, andon.last()?);
    if n1 <= n0 || t0 <= 0.0 {
        return None;
    }
    Some(format!(
        "andon from n = {} to n = {}: {:.1}x the time, about {} per added item.",
        thousands(&n0.to_string()),
        thousands(&n1.to_string()),
        t1 / t0,
        time(((t1 - t0) / (n1 - n0) as f64).max(0.0))
    ))
}

pub(super) fn ratio(andon: f64, raw: f64) -> String {
    if raw > 0.0 {
        format!("{:.2}x", andon / raw)
    } else {
        "–".to_owned()
    }
}

pub(super) fn render(
    machine: &Machine,
    options: &Options,
    results: &[Measured],
    notes: &BTreeMap<String, Vec<String>>,
    failures: &[String],
    memory: Option<&super::memory::Report>,
) -> String {
    let by_id: BTreeMap<&str, &Measured> =
        results.iter().map(|m| (m.full_id.as_str(), m)).collect();
    let mut out = String::new();
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "Written by `cargo xtask bench{}` (do not edit by hand; rerun it). Each andon operation is \
         measured in the **same run** as the raw library beneath it; times are criterion's median \
         per operation. The design's SLOs come from the original design (log < 100 ms, metric \
         update < 50 ms, alert response < 5 s, trace export < 500 ms, diagnostics < 2 s); the goals \
         are the tighter ones the component issues set.\n",
        if options.quick { " --quick" } else { "" }
    );
    let _ = writeln!(out, "## Machine and run\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| CPU | {} × {} |", machine.cores, machine.model);
    let _ = writeln!(out, "| memory | {} |", machine.memory);
    let _ = writeln!(out, "| kernel | {} |", machine.kernel);
    let _ = writeln!(out, "| rustc | {} |", machine.rustc);
    let _ = writeln!(out, "| commit | {} |", machine.commit);
    let _ = writeln!(
        out,
        "| run | {} → {} ({:.0} s{}) |",
        machine.started_at,
        machine.ended_at,
        machine.took.as_secs_f64(),
        if options.quick {
            ", `--quick`: 1 s warm-up, 2 s measurement, 20 samples"
        } else {
            ", criterion defaults"
        }
    );
    let _ = writeln!(
        out,
        "| load average (1, 5, 15 min) | start {} · end {} |",
        machine.load_start, machine.load_end
    );
    if !machine.load_during.is_empty() {
        let during: Vec<String> = machine
            .load_during
            .iter()
            .map(|(bench, load)| format!("{bench} {load}"))
            .collect();
        let _ = writeln!(
            out,
            "| 1-min load as each bench started | {} |",
            during.join(" · ")
        );
    }
    let busiest = [&machine.load_start, &machine.load_end]
        .into_iter()
        .chain(machine.load_during.iter().map(|(_, l)| l))
        .filter_map(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .fold(0.0_f64, f64::max);
    let _ = writeln!(
        out,
        "\n**Load note.** The machine has {} cores and other work (compilers, tests) may run beside \
         the benchmarks; {} Ratios are more trustworthy than absolute times, since both sides of \
         a pair ran seconds apart under similar load; absolute times are an upper bound.\n",
        machine.cores,
        if busiest > machine.cores as f64 {
            format!(
                "in this run the 1-minute load average reached {busiest:.2}, above the core \
                 count, so the numbers are inflated and noisy."
            )
        } else {
            format!("in this run the 1-minute load average stayed at or below {busiest:.2}.")
        }
    );

    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "**Failed in this run** (their rows are missing below):\n"
        );
        for failure in failures {
            let first = failure.lines().next().unwrap_or_default();
            let _ = writeln!(out, "- {first}");
        }
        let _ = writeln!(out);
    }
    if !options.skip.is_empty() {
        let _ = writeln!(
            out,
            "Skipped in this run (`--skip`): {}; `cargo xtask bench --only <crate>` measures one.\n",
            options.skip.join(", ")
        );
    }
    let _ = writeln!(out, "## andon against the raw libraries\n");
    let _ = writeln!(
        out,
        "| operation | andon | raw library | raw | ratio | design SLO | within SLO | our goal | goal met |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    let mut missing = Vec::new();
    for row in ROWS {
        let Some(andon) = by_id.get(row.andon) else {
            missing.push(row.op);
            continue;
        };
        let raw = row.raw.and_then(|id| by_id.get(id)).map(|m| m.median_ns);
        let within = row
            .slo
            .bound_ns()
            .map_or("–", |b| if andon.median_ns < b { "yes" } else { "**no**" });
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.op,
            time(andon.median_ns),
            if row.raw.is_some() {
                row.raw_name
            } else {
                "–"
            },
            raw.map_or_else(|| "–".to_owned(), time),
            raw.map_or_else(|| "–".to_owned(), |r| ratio(andon.median_ns, r)),
            row.slo.text(),
            within,
            row.goal.text(),
            row.goal.met(andon.median_ns, raw),
        );
    }
    if !missing.is_empty() {
        let _ = writeln!(out, "\nNot measured in this run: {}.", missing.join("; "));
    }
    let _ = writeln!(
        out,
        "\nThe SLO column compares the measured time with the design's bound for that kind of \
         operation. Caller-side costs (log, metrics, span) are far below their bounds by \
         construction: the slow part (disk, network) happens off the caller's path, and its \
         end-to-end latency is given where measured (log call to file, signal to notification, \
         percentiles below).\n"
    );

    if !notes.is_empty() {
        let _ = writeln!(out, "### Percentiles and counters printed by the benches\n");
        for (bench, lines) in notes {
            for line in lines {
                let _ = writeln!(out, "- `{bench}`: {line}");
            }
        }
        let _ = writeln!(out);
    }

    // Scale curves: every benchmark with a parameter, per group.
    let mut curves: BTreeMap<&str, Vec<&Measured>> = BTreeMap::new();
    for m in results.iter().filter(|m| m.value.is_some()) {
        curves.entry(m.group.as_str()).or_default().push(m);
    }
    if !curves.is_empty() {
        let _ = writeln!(out, "## Scale curves\n");
        let _ = writeln!(
            out,
            "Each curve grows one dimension from 1 to 10,000 with the rest small \
             (crates/andon/benches/scale.rs, crates/andon-alert/benches/scale.rs); `raw` is the \
             same work without andon where one exists.\n"
        );
        for (group, points) in curves {
            let mut functions: Vec<&str> = points.iter().map(|m| m.function.as_str()).collect();
            functions.sort_unstable();
            functions.dedup();
            let mut values: Vec<&str> = points.iter().filter_map(|m| m.value.as_deref()).collect();
            values.sort_by_key(|v| v.parse::<u64>().unwrap_or(u64::MAX));
            values.dedup();
            let _ = writeln!(out, "### {group}\n");
            if let Some((_, note)) = CURVE_NOTES.iter().find(|(g, _)| *g == group) {
                let _ = writeln!(out, "{note}\n");
            }
            let _ = write!(out, "| n |");
            for f in &functions {
                let _ = write!(out, " {f} |");
            }
            if functions.len() == 2 {
                let _ = write!(out, " ratio |");
            }
            let _ = writeln!(
                out,
                "\n|---|{}",
                "---|".repeat(functions.len() + usize::from(functions.len() == 2))
            );
            for value in values {
                let _ = write!(out, "| {} |", thousands(value));
                let mut times = Vec::new();
                for f in &functions {
                    let t = points
                        .iter()
                        .find(|m| m.function == *f && m.value.as_deref() == Some(value))
                        .map(|m| m.median_ns);
                    times.push(t);
                    let _ = write!(out, " {} |", t.map_or_else(|| "–".to_owned(), time));
                }
                if let [Some(a), Some(b)] = times[..] {
                    let _ = write!(out, " {} |", ratio(a, b));
                } else if functions.len() == 2 {
                    let _ = write!(out, " – |");
                }
                let _ = writeln!(out);
            }
            let _ = writeln!(out);
            if let Some(line) = growth(&points) {
                let _ = writeln!(out, "{line}\n");
            }
        }
    }

    if let Some(memory) = memory {
        memory.render(&mut out);
    }

    // Everything else measured, so that no number is hidden.
    let paired: Vec<&str> = ROWS
        .iter()
        .flat_map(|r| std::iter::once(r.andon).chain(r.raw))
        .collect();
    let others: Vec<&Measured> = results
        .iter()
        .filter(|m| m.value.is_none() && !paired.contains(&m.full_id.as_str()))
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "## Other benchmarks in this run\n");
        let _ = writeln!(out, "| benchmark | median | mean |\n|---|---|---|");
        for m in others {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                m.full_id,
                time(m.median_ns),
                time(m.mean_ns)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Reproduce\n\n```sh\ncargo xtask bench --quick       # a few minutes\ncargo xtask bench               # criterion defaults\ncargo xtask bench --only andon-alert -- scale   # one crate, a criterion filter\ncargo xtask bench --only memory  # only the agent memory burst\n```\n\nRaw criterion output (with confidence intervals) is in `target/criterion/`. How long a new user's first build takes is measured by hand in [build-time.md](build-time.md)."
    );
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use super::*;
    use crate::bench::rows::Goal;

    #[test]
    fn formats_times_and_goals() {
        assert_eq!(time(12.34), "12.3 ns");
        assert_eq!(time(1_500.0), "1.50 µs");
        assert_eq!(time(2.5e6), "2.50 ms");
        assert_eq!(thousands("10000"), "10,000");
        assert_eq!(thousands("100"), "100");
        assert_eq!(thousands("1000000"), "1,000,000");
        assert_eq!(thousands("a/b"), "a/b");
        assert_eq!(Goal::Ratio(1.5).met(140.0, Some(100.0)), "yes");
        assert_eq!(Goal::Ratio(1.5).met(160.0, Some(100.0)), "**no**");
        assert_eq!(Goal::Under(100.0).met(120.0, None), "**no**");
    }
}
