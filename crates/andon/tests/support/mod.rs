//! The full-system configuration shared by the end-to-end tests and the `signal` benchmark
//! (`#[path]`-included there): a file log, the metrics endpoint, the tracer, the observer and a
//! file alert channel with one rule for every RED.

use std::path::Path;

use andon::AndonConfig;

/// Every component on, writing to files under `dir`: `andon.log` and `alerts.jsonl`. Spans go to
/// `otlp_endpoint` (every trace kept); without one the tracer is off.
#[allow(dead_code)] // reason: each including crate uses a different part of this module
pub(crate) fn full_config(
    dir: &Path,
    metrics_port: u16,
    otlp_endpoint: Option<&str>,
) -> AndonConfig {
    let text = format!(
        r#"
[logger]
sampling_enabled = false
sinks = [{{ type = "File", path = "{log}" }}]

[metrics]
port = {metrics_port}

[tracer]
enabled = {tracing}
sampling_ratio = 1.0
otlp_endpoint = "{otlp}"

[observer]
check_interval_secs = 3600
# The test machine is shared and busy: a CPU at 100% must not raise signals of its own.
cpu_threshold_percent = 100.0
cpu_critical_percent = 100.0

[alerts.channels.file]
type = "file"
path = "{alerts}"

[[alerts.rules]]
name = "every-red"
condition = {{ type = "signal", color = "red" }}
severity = "critical"
channels = ["file"]
"#,
        log = log_path(dir).display(),
        alerts = alerts_path(dir).display(),
        tracing = otlp_endpoint.is_some(),
        otlp = otlp_endpoint.unwrap_or("http://127.0.0.1:4317"),
    );
    match AndonConfig::from_toml_str(&text) {
        Ok(config) => config,
        Err(e) => panic!("the shared full-system config does not load: {e}"),
    }
}

/// The log file of [`full_config`].
#[allow(dead_code)] // reason: each including crate uses a different part of this module
pub(crate) fn log_path(dir: &Path) -> std::path::PathBuf {
    dir.join("andon.log")
}

/// The alert file of [`full_config`].
#[allow(dead_code)] // reason: each including crate uses a different part of this module
pub(crate) fn alerts_path(dir: &Path) -> std::path::PathBuf {
    dir.join("alerts.jsonl")
}

/// Every line of a JSON-lines file, parsed; none when it does not exist.
#[allow(dead_code)] // reason: each including crate uses a different part of this module
pub(crate) fn read_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON record: {l}: {e}"))
        })
        .collect()
}
