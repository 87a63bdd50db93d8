//! `examples/andon.toml`, the complete commented configuration, parses with every section and
//! channel kind, so the example the README points to can never rot.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // reason: tests fail loudly

use std::time::Duration;

use andon::config::{ChannelConfig, ConditionConfig, OtlpProtocol, SinkConfig};
use andon::{AlertSeverity, AndonConfig, Color};

const EXAMPLE: &str = include_str!("../examples/andon.toml");

fn env(name: &str) -> Option<String> {
    match name {
        "SLACK_WEBHOOK_URL" => Some("https://hooks.slack.com/services/T0/B0/secret-slack".into()),
        "PAGERDUTY_ROUTING_KEY" => Some("secret-routing-key".into()),
        "SMTP_PASSWORD" => Some("secret-smtp".into()),
        "WEBHOOK_URL" => Some("https://hooks.example.com/andon?token=secret-hook".into()),
        "ANDON_TOKEN" => Some("secret-agent-token".into()),
        _ => None,
    }
}

#[test]
fn the_example_configuration_parses_with_every_section_and_channel() {
    let config = AndonConfig::from_toml_str_with_env(EXAMPLE, &env)
        .unwrap_or_else(|e| panic!("examples/andon.toml does not load: {e}"));

    // Every logger sink kind.
    let sinks: Vec<_> = config.logger.sinks.iter().map(SinkConfig::kind).collect();
    assert_eq!(sinks, ["Stdout", "File", "Syslog", "CloudLogging"]);
    assert_eq!(config.metrics.port, 9090);
    assert_eq!(config.metrics.thresholds.cpu_usage_percent, None);
    assert_eq!(
        config.metrics.thresholds.color("memory_usage_mb"),
        Color::Red
    );
    assert_eq!(
        config.metrics.thresholds.level("my_backlog_items"),
        Some(5000.0)
    );
    assert_eq!(config.tracer.protocol, OtlpProtocol::Grpc);
    assert_eq!(config.observer.fd_threshold, Some(4096));

    // Every alert channel kind, secrets taken from the environment.
    let mut kinds: Vec<_> = config
        .alerts
        .channels
        .values()
        .map(ChannelConfig::kind)
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "alertmanager",
            "email",
            "file",
            "pagerduty",
            "slack",
            "webhook"
        ]
    );
    match &config.alerts.channels["ops-slack"] {
        ChannelConfig::Slack { webhook_url, .. } => assert_eq!(
            webhook_url.expose(),
            "https://hooks.slack.com/services/T0/B0/secret-slack"
        ),
        other => panic!("{other:?}"),
    }
    match &config.alerts.channels["oncall"] {
        ChannelConfig::PagerDuty { routing_key, .. } => {
            assert_eq!(routing_key.expose(), "secret-routing-key");
        }
        other => panic!("{other:?}"),
    }
    // Secrets never show in the effective configuration.
    let shown = config.to_toml_string();
    assert!(!shown.contains("secret-"), "{shown}");

    // Escalation levels and rules, every condition kind.
    assert_eq!(config.alerts.escalation.len(), 2);
    assert_eq!(
        config.alerts.escalation[1].after,
        Some(Duration::from_secs(30 * 60))
    );
    let rule = |name: &str| {
        config
            .alerts
            .rules
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
    };
    assert_eq!(rule("stop-the-line").severity, AlertSeverity::Critical);
    assert!(matches!(
        rule("repeated-warnings").condition,
        ConditionConfig::Signal {
            color: Color::Yellow,
            count: 3,
            ..
        }
    ));
    assert_eq!(rule("high-queue").for_, Duration::from_secs(60));
    assert!(matches!(
        rule("error-rate").condition,
        ConditionConfig::Metric {
            rate_over: Some(_),
            ..
        }
    ));
    assert!(matches!(
        rule("host-degraded").condition,
        ConditionConfig::Health { .. }
    ));
    match &rule("overloaded").condition {
        ConditionConfig::Any { conditions } => {
            assert!(matches!(conditions[1], ConditionConfig::All { .. }));
        }
        other => panic!("{other:?}"),
    }

    // Grouping across rules and silences.
    assert_eq!(config.alerts.group_by, ["component"]);
    assert_eq!(config.alerts.silences.len(), 1);
    assert_eq!(config.alerts.silences[0].matchers.len(), 2);
    assert!(!config.alerts.silences[0].matchers[1].equal);

    // The history.
    assert!(config.history.enabled);
    assert_eq!(config.history.path, "/var/lib/andon/history.sqlite3");

    // The line and the agent.
    assert_eq!(config.line.stop_on, [Color::Red]);
    assert_eq!(
        config.line.escalate_yellow_after,
        Some(Duration::from_secs(300))
    );
    assert_eq!(config.agent.listen, "127.0.0.1:7600");
    assert_eq!(
        config.agent.token.as_ref().map(|t| t.expose()),
        Some("secret-agent-token")
    );

    // The heartbeats.
    assert!(!config.agent.heartbeats_auto);
    assert_eq!(config.heartbeats.len(), 1);
    assert_eq!(config.heartbeats[0].effective_component(), "backup");
    assert_eq!(
        config.heartbeats[0].effective_grace(),
        Duration::from_secs(1800)
    );
    assert_eq!(config.heartbeats[0].stop_line, Some(true));
}

#[test]
fn the_example_names_every_secret_it_needs() {
    for missing in [
        "SLACK_WEBHOOK_URL",
        "PAGERDUTY_ROUTING_KEY",
        "SMTP_PASSWORD",
        "WEBHOOK_URL",
        "ANDON_TOKEN",
    ] {
        let err = AndonConfig::from_toml_str_with_env(EXAMPLE, &|name| {
            (name != missing).then(|| env(name)).flatten()
        })
        .unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{missing}` is not set")),
            "a missing secret is named: {err}"
        );
    }
}

#[test]
fn the_example_has_every_section_the_configuration_has() {
    // Sections as the effective configuration renders them: a new section shows up here and
    // fails this test until the example documents it.
    let rendered = AndonConfig::default().to_toml_string();
    let sections: Vec<&str> = rendered
        .lines()
        .filter(|l| l.starts_with('[') && !l.starts_with("[["))
        .collect();
    assert!(sections.contains(&"[line]"), "{rendered}");
    for section in sections {
        // `[alerts.channels]` is written as `[alerts.channels.NAME]`.
        let prefix = section.trim_end_matches(']');
        assert!(
            EXAMPLE.lines().any(|l| l.starts_with(prefix)),
            "examples/andon.toml lacks {section}"
        );
    }
}
