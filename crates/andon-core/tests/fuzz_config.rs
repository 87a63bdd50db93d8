//! Fuzz target: the TOML configuration loader, as a proptest property over documents built from
//! the real sections and keys with values of every type (right and wrong), `${VAR}` references,
//! and arbitrary text (`cargo xtask fuzz` runs it for a bounded time; see docs/fuzzing.md).
//!
//! Properties: no input panics; an error always names a key or a line (and the line is in the
//! document); an accepted configuration validates.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use andon_core::AndonConfig;
use andon_tests::fuzz;
use proptest::prelude::*;

const SECTIONS: &[&str] = &[
    "[logger]",
    "[metrics]",
    "[metrics.thresholds]",
    "[metrics.thresholds.custom]",
    "[metrics.thresholds.colors]",
    "[metrics.histogram_buckets]",
    "[tracer]",
    "[observer]",
    "[line]",
    "[agent]",
    "[alerts]",
    "[alerts.channels.ops]",
    "[alerts.channels.page]",
    "[[alerts.rules]]",
    "[alerts.rules.condition]",
    "[[alerts.escalation]]",
    "[[logger.sinks]]",
    "[loger]",
    "[[metrics]]",
    "[logger.level]",
];

const KEYS: &[&str] = &[
    "level",
    "json_format",
    "sampling_enabled",
    "sample_ratio",
    "sinks",
    "queue_capacity",
    "max_queue_bytes",
    "overflow",
    "max_message_bytes",
    "error_report_interval",
    "enabled",
    "bind",
    "port",
    "scrape_path",
    "buckets",
    "max_label_sets",
    "queue_depth",
    "memory_usage_mb",
    "cpu_usage_percent",
    "service_name",
    "service_version",
    "sampling_ratio",
    "otlp_endpoint",
    "protocol",
    "max_queue_size",
    "max_export_batch_size",
    "scheduled_delay_ms",
    "export_timeout_ms",
    "ui_url",
    "free_port_if_taken",
    "check_interval_secs",
    "memory_threshold_percent",
    "memory_critical_percent",
    "cpu_threshold_percent",
    "disk_threshold_percent",
    "fd_threshold",
    "hysteresis_percent",
    "health_hold_checks",
    "top_processes",
    "snapshot_max_bytes",
    "stop_on",
    "components",
    "stop_on_host_health",
    "auto_resume_on_green",
    "escalate_yellow_after",
    "listen",
    "token",
    "evaluation_interval",
    "repeat_interval",
    "group_wait",
    "escalate_after",
    "outbox_path",
    "inhibit",
    "timeout",
    "max_retries",
    "retry_backoff",
    "failure_threshold",
    "channels",
    "type",
    "webhook_url",
    "routing_key",
    "url",
    "host",
    "from",
    "to",
    "username",
    "password",
    "budget_per_minute",
    "path",
    "name",
    "condition",
    "for",
    "severity",
    "labels",
    "summary",
    "max_depth",
    "metric",
    "op",
    "threshold",
    "color",
    "count",
    "window",
    "status",
    "after",
    "\"quoted key\"",
    "a.b",
    "levle",
];

const STRINGS: &[&str] = &[
    "\"INFO\"",
    "\"CRITICAL\"",
    "\"LOUD\"",
    "\"red\"",
    "\"yellow\"",
    "\"slack\"",
    "\"pagerduty\"",
    "\"email\"",
    "\"webhook\"",
    "\"file\"",
    "\"alertmanager\"",
    "\"queue_depth\"",
    "\"metric\"",
    "\"signal\"",
    "\"health\"",
    "\"Stdout\"",
    "\"File\"",
    "\"Syslog\"",
    "\"1m\"",
    "\"0s\"",
    "\"soon\"",
    "\"http://127.0.0.1:9/hook\"",
    "\"ftp://x\"",
    "\"127.0.0.1:7600\"",
    "\"0.0.0.0:7600\"",
    "\"[::1]:1\"",
    "\"/metrics\"",
    "\">=\"",
    "\"~\"",
    "\"${A}\"",
    "\"${URL}\"",
    "\"${NUM}\"",
    "\"${EVIL}\"",
    "\"${UNSET_VARIABLE}\"",
    "\"${\"",
    "\"${1X}\"",
    "\"$${A}\"",
    "\"\"",
    "\"  \"",
    "'literal ${A}'",
    "\"\"\"multi\nline\"\"\"",
];

fn value() -> impl Strategy<Value = String> {
    let scalar = prop_oneof![
        6 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        2 => (0u32..70_000).prop_map(|n| n.to_string()),
        2 => proptest::sample::select(&["0.0", "1.0", "1.5", "-0.1", "nan", "inf", "-inf", "1e308", "0.01", "100", "-1"][..]).prop_map(str::to_owned),
        1 => any::<bool>().prop_map(|b| b.to_string()),
        1 => Just("1979-05-27T07:32:00Z".to_owned()),
        1 => fuzz::text(&["INFO", "${", "}", "\"", "http://"], 6).prop_map(|t| format!("{t:?}")),
    ];
    let scalar = scalar.boxed();
    prop_oneof![
        6 => scalar.clone(),
        2 => proptest::collection::vec(scalar.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        2 => proptest::collection::vec(
                (proptest::sample::select(KEYS), scalar),
                0..4,
            )
            .prop_map(|kv| {
                let pairs: Vec<String> = kv.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(SECTIONS).prop_map(str::to_owned),
        8 => (proptest::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => fuzz::text(&["[", "]", "=", "\"", "#", "${", "logger", "level"], 8),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::collection::vec(line(), 0..24).prop_map(|lines| lines.join("\n")),
        1 => fuzz::text(&["[logger]\n", "level = ", "\"INFO\"", "\n", "[[alerts.rules]]\n"], 30),
    ]
}

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".to_owned()),
        "URL" => Some("http://127.0.0.1:9/hook".to_owned()),
        "NUM" => Some("5".to_owned()),
        "EVIL" => Some("\"]\n[x]\u{0}${A}".to_owned()),
        _ => None,
    }
}

#[test]
fn fuzz_config_loader() {
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    let refused = std::sync::atomic::AtomicUsize::new(0);
    fuzz::run("config", file!(), document(), |text| {
        match AndonConfig::from_toml_str_with_env(&text, &env) {
            Ok(config) => {
                accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(config.validate().is_ok(), "accepted but invalid");
            }
            Err(err) => {
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                prop_assert!(
                    err.key.is_some() || err.line.is_some(),
                    "an error without a key or line: {err}"
                );
                if let Some(line) = err.line {
                    prop_assert!(
                        line >= 1 && line <= text.lines().count().max(1) + 1,
                        "line {line} is outside the document: {err}"
                    );
                    prop_assert!(err.column.is_none_or(|c| c >= 1), "{err}");
                }
                prop_assert!(!err.message.is_empty());
                let shown = err.to_string();
                prop_assert!(shown.ends_with(&err.message));
            }
        }
        Ok(())
    });
    let (accepted, refused) = (accepted.into_inner(), refused.into_inner());
    println!("config: {accepted} documents accepted, {refused} refused");
    assert!(
        accepted > 0 && refused > 0,
        "the generator reaches both outcomes"
    );
}
