//! What the report says about the machine and the run: cores, CPU model, toolchain, load.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The load average (1, 5, 15 minutes) now.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

pub(super) fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Everything the report says about the machine and the run.
pub(super) struct Machine {
    pub(super) cores: usize,
    pub(super) model: String,
    pub(super) memory: String,
    pub(super) rustc: String,
    pub(super) kernel: String,
    pub(super) commit: String,
    pub(super) started_at: String,
    pub(super) ended_at: String,
    pub(super) load_start: String,
    pub(super) load_end: String,
    /// The 1-minute load average as each bench started.
    pub(super) load_during: Vec<(String, String)>,
    pub(super) took: Duration,
}

pub(super) fn machine_at_start(root: &Path) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0),
        );
    let dirty = !command_output(
        "git",
        &[
            "-C",
            &root.display().to_string(),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )
    .is_empty();
    let commit = format!(
        "{}{}",
        command_output(
            "git",
            &[
                "-C",
                &root.display().to_string(),
                "rev-parse",
                "--short",
                "HEAD"
            ]
        ),
        if dirty {
            " (with uncommitted changes)"
        } else {
            ""
        }
    );
    Machine {
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        model,
        memory,
        rustc: command_output("rustc", &["-V"]),
        kernel: command_output("uname", &["-sr"]),
        commit,
        started_at: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        ended_at: String::new(),
        load_start: load_average(),
        load_end: String::new(),
        load_during: Vec::new(),
        took: Duration::ZERO,
    }
}
