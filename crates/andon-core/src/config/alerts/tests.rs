//! Tests of `[alerts]`: parsing a full section, defaults, and the checks of each part.

use super::*;
use crate::config::AndonConfig;
use crate::severity::AlertSeverity;

const FULL: &str = r##"
[alerts]
evaluation_interval = "30s"
repeat_interval = "1h"
group_wait = "5s"
group_by = ["component"]
group_interval = "2m"
escalate_after = "10m"
outbox_path = "/tmp/andon.outbox"

[alerts.channels.slack]
type = "slack"
webhook_url = "https://hooks.slack.test/services/T/B/X"
channel = "#ops"

[alerts.channels.pd]
type = "pagerduty"
routing_key = "R0UTING"

[alerts.channels.mail]
type = "email"
host = "smtp.example.com"
tls = "tls"
username = "andon"
password = "pw"
from = "andon@example.com"
to = ["oncall@example.com"]

[alerts.channels.am]
type = "alertmanager"
url = "http://127.0.0.1:9093"

[alerts.channels.hook]
type = "webhook"
url = "http://127.0.0.1:8080/hook"

[alerts.channels.log]
type = "file"
path = "alerts.jsonl"

[[alerts.escalation]]
channels = ["pd"]

[[alerts.rules]]
name = "high-queue"
condition = { type = "queue_depth", max_depth = 100, clear_below = 80 }
for = "1m"
severity = "critical"
channels = ["slack", "am"]
keep_firing_for = "2m"
labels = { team = "core" }

[[alerts.rules]]
name = "yellows"
condition = { type = "any", conditions = [
  { type = "signal", color = "yellow", count = 5, window = "1m" },
  { type = "metric", metric = "errors_total", rate_over = "5m", op = ">", threshold = 1.0 },
  { type = "health", status = "Critical" },
] }
channels = ["hook"]

[[alerts.silences]]
matchers = [{ name = "component", value = "db" }, { name = "severity", value = "info", equal = false }]
duration = "2h"
created_by = "alice"
comment = "maintenance"

[[alerts.silences]]
matchers = [{ name = "alertname", value = "high-queue" }]
starts_at = "2026-11-27T04:00:00Z"
ends_at = "2026-11-27T06:00:00Z"
created_by = "bob"
"##;

#[test]
fn the_full_schema_parses_with_secrets_redacted() {
    let config = AndonConfig::from_toml_str(FULL).unwrap().alerts;
    assert_eq!(config.repeat_interval, Duration::from_secs(3600));
    assert_eq!(config.channels.len(), 6);
    assert_eq!(config.rules[0].for_, Duration::from_secs(60));
    assert_eq!(config.rules[0].severity, AlertSeverity::Critical);
    assert_eq!(config.rules[1].severity, AlertSeverity::Warning);
    assert_eq!(config.channels["pd"].budget_per_minute(), Some(120));
    assert_eq!(config.group_by, ["component"]);
    assert_eq!(config.group_interval, Duration::from_secs(120));
    let silence = &config.silences[0];
    assert_eq!(
        silence.matchers[1],
        MatcherConfig {
            name: "severity".into(),
            value: "info".into(),
            equal: false
        }
    );
    assert!(silence.matchers[0].equal, "equal by default");
    let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000);
    assert_eq!(
        silence.window(now, "s").unwrap(),
        (now, now + Duration::from_secs(7200)),
        "a duration counts from when the manager starts"
    );
    let (starts, ends) = config.silences[1].window(now, "s").unwrap();
    assert_eq!(
        ends.duration_since(starts).unwrap(),
        Duration::from_secs(7200)
    );
    assert_eq!(
        AlertsConfig::default().group_interval,
        Duration::from_secs(300)
    );
    let rendered = AndonConfig {
        alerts: config.clone(),
        ..AndonConfig::default()
    }
    .to_toml_string();
    assert!(!rendered.contains("R0UTING"), "{rendered}");
    assert!(!rendered.contains("hooks.slack.test"), "{rendered}");
    assert!(!format!("{config:?}").contains("R0UTING"));
}

#[test]
fn errors_name_the_key_and_what_is_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[alerts]\nrepeat_interval = \"0s\"\n",
            "alerts.repeat_interval",
            "longer than 0",
        ),
        (
            "[alerts.watchdog]\ninterval = \"500ms\"\n",
            "alerts.watchdog.interval",
            "at least 1s",
        ),
        (
            "[alerts.watchdog]\nenabled = true\n",
            "alerts.watchdog.enabled",
            "type = \"alertmanager\"",
        ),
        (
            "[alerts]\ngroup_wait = \"soon\"\n",
            "alerts.group_wait",
            "like \"250ms\"",
        ),
        (
            "[alerts]\nqueue_capacity = 0\n",
            "alerts.queue_capacity",
            "at least 1",
        ),
        (
            "[alerts]\nfailure_threshold = 0\n",
            "alerts.failure_threshold",
            "at least 1",
        ),
        (
            "[alerts]\nmax_instance_bytes = 0\n",
            "alerts.max_instance_bytes",
            "at least 1",
        ),
        (
            "[alerts]\noutbox_path = \"\"\n",
            "alerts.outbox_path",
            "must name a file",
        ),
        (
            "[alerts]\ncolour = 1\n",
            "alerts.colour",
            "unknown field `colour`",
        ),
        (
            "[alerts]\ngroup_interval = \"0s\"\n",
            "alerts.group_interval",
            "longer than 0",
        ),
        (
            "[alerts]\ngroup_by = [\"component\", \" \"]\n",
            "alerts.group_by.1",
            "must not be empty",
        ),
        (
            "[[alerts.silences]]\nduration = \"1h\"\ncreated_by = \"a\"\n",
            "alerts.silences.0.matchers",
            "at least one matcher",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"\", value = \"db\" }]\nduration = \"1h\"\ncreated_by = \"a\"\n",
            "alerts.silences.0.matchers.0.name",
            "must not be empty",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\", regex = true }]\nduration = \"1h\"\ncreated_by = \"a\"\n",
            "alerts.silences",
            "unknown field `regex`",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\nduration = \"1h\"\n",
            "alerts.silences.0.created_by",
            "must not be empty",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\n",
            "alerts.silences.0.ends_at",
            "needs an end",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nduration = \"1h\"\nends_at = \"2026-11-27T06:00:00Z\"\n",
            "alerts.silences.0.duration",
            "not both",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nduration = \"0s\"\n",
            "alerts.silences.0.duration",
            "longer than 0",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nends_at = \"tomorrow\"\n",
            "alerts.silences.0.ends_at",
            "RFC 3339",
        ),
        (
            "[[alerts.silences]]\nmatchers = [{ name = \"c\", value = \"db\" }]\ncreated_by = \"a\"\nstarts_at = \"2026-11-27T06:00:00Z\"\nends_at = \"2026-11-27T05:00:00Z\"\n",
            "alerts.silences.0.ends_at",
            "after starts_at",
        ),
        (
            "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"hooks.slack.com/x\"\n",
            "alerts.channels.s.webhook_url",
            "is not an http:// or https:// URL",
        ),
        (
            "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\nbudget_per_minute = 0\n",
            "alerts.channels.s.budget_per_minute",
            "at least 1",
        ),
        (
            "[alerts.channels.s]\ntype = \"sms\"\n",
            "alerts.channels.s",
            "unknown variant `sms`",
        ),
        (
            "[alerts.channels.s]\ntype = \"slack\"\nwebhook_url = \"https://h/x\"\ncolor = 1\n",
            "alerts.channels.s",
            "unknown field `color`",
        ),
        (
            "[alerts.channels.p]\ntype = \"pagerduty\"\nrouting_key = \"\"\n",
            "alerts.channels.p.routing_key",
            "must not be empty",
        ),
        (
            "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = []\n",
            "alerts.channels.m.to",
            "at least one address",
        ),
        (
            "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\npassword = \"x\"\n",
            "alerts.channels.m.username",
            "must be set when a password is",
        ),
        (
            "[alerts.channels.m]\ntype = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\ntls = \"ssl\"\n",
            "alerts.channels.m",
            "unknown variant `ssl`",
        ),
        (
            "[alerts.channels.f]\ntype = \"file\"\npath = \"\"\n",
            "alerts.channels.f.path",
            "must name a file",
        ),
        (
            "[[alerts.rules]]\nname = \"\"\n",
            "alerts.rules.0.name",
            "must not be empty",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\n[[alerts.rules]]\nname = \"a\"\n",
            "alerts.rules.1.name",
            "already defined",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\nchannels = [\"nope\"]\n",
            "alerts.rules.0.channels",
            "unknown channel `nope`",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\nrepeat_interval = \"0s\"\n",
            "alerts.rules.0.repeat_interval",
            "longer than 0",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", op = \"=\", threshold = 1 }\n",
            "alerts.rules.0.condition.op",
            "use >, >=, < or <=",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", threshold = 10, clear = 20 }\n",
            "alerts.rules.0.condition.clear",
            "safe side",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"\", threshold = 1 }\n",
            "alerts.rules.0.condition.metric",
            "must not be empty",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"metric\", metric = \"m\", threshold = 1, rate_over = \"0s\" }\n",
            "alerts.rules.0.condition.rate_over",
            "longer than 0",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"queue_depth\", max_depth = 10, clear_below = 20 }\n",
            "alerts.rules.0.condition.clear_below",
            "at most max_depth",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"queue_depth\", max_depth = -1 }\n",
            "alerts.rules.0.condition.max_depth",
            "0 or more",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"signal\", color = \"red\", count = 0 }\n",
            "alerts.rules.0.condition.count",
            "at least 1",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"signal\", color = \"red\", window = \"0s\" }\n",
            "alerts.rules.0.condition.window",
            "longer than 0",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"health\", status = \"Healthy\" }\n",
            "alerts.rules.0.condition.status",
            "Degraded or Critical",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"all\", conditions = [] }\n",
            "alerts.rules.0.condition.conditions",
            "at least one condition",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"any\", conditions = [{ type = \"signal\", color = \"red\", count = 0 }] }\n",
            "alerts.rules.0.condition.conditions.0.count",
            "at least 1",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\ncondition = { type = \"weather\" }\n",
            "alerts.rules.0.condition",
            "unknown variant `weather`",
        ),
        (
            "[[alerts.rules]]\nname = \"a\"\nseverity = \"page\"\n",
            "alerts.rules.0.severity",
            "unknown variant `page`",
        ),
        (
            "[[alerts.escalation]]\nchannels = []\n",
            "alerts.escalation.0.channels",
            "at least one channel",
        ),
        (
            "[[alerts.escalation]]\nchannels = [\"pd\"]\n",
            "alerts.escalation.0.channels",
            "unknown channel `pd`",
        ),
    ];
    for (text, key, message) in cases {
        let err = AndonConfig::from_toml_str(text).unwrap_err();
        assert!(
            err.key.as_deref().is_some_and(|k| k.starts_with(key)),
            "{text}: key {:?}: {err}",
            err.key
        );
        assert!(err.message.contains(message), "{text}: {err}");
    }
}

#[test]
fn the_built_in_rule_is_on_by_default_and_a_log_channel_needs_no_options() {
    let defaults = AlertsConfig::default();
    assert!(defaults.default_rule);
    assert_eq!(defaults.max_instance_bytes, 16 << 20);
    let config = AndonConfig::from_toml_str(
            "[alerts]\ndefault_rule = false\nmax_instance_bytes = 4096\n[alerts.channels.ops]\ntype = \"log\"\n",
        )
        .unwrap()
        .alerts;
    assert!(!config.default_rule);
    assert_eq!(config.max_instance_bytes, 4096);
    assert_eq!(config.channels["ops"], ChannelConfig::Log {});
    assert_eq!(config.channels["ops"].kind(), "log");
    assert_eq!(config.channels["ops"].budget_per_minute(), None);
    let err = AndonConfig::from_toml_str("[alerts.channels.ops]\ntype = \"log\"\nlevel = 1\n")
        .unwrap_err();
    assert!(err.message.contains("unknown field `level`"), "{err}");
}

#[test]
fn secrets_never_appear_in_errors() {
    let err = AndonConfig::from_toml_str(
        "[alerts.channels.w]\ntype = \"webhook\"\nurl = \"ftp://token-s3cr3t@x\"\n",
    )
    .unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    assert_eq!(err.key.as_deref(), Some("alerts.channels.w.url"));
}

#[test]
fn a_url_with_user_and_password_never_prints_the_password() {
    let text = "[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"http://am:Pa55w0rd@127.0.0.1:9093\"\n\
                    generator_url = \"https://board:G3nPass@andon.example/\"\n\
                    [alerts.channels.pd]\ntype = \"pagerduty\"\nrouting_key = \"R0UT1NG\"\n\
                    url = \"https://pd:PdPa55@events.example/v2/enqueue\"\n";
    let config = AndonConfig::from_toml_str(text).unwrap();
    let ChannelConfig::Alertmanager { url, .. } = &config.alerts.channels["am"] else {
        panic!("an alertmanager channel");
    };
    assert_eq!(url, "http://am:Pa55w0rd@127.0.0.1:9093", "sent as written");
    // What `andon config check` prints, and every Debug of the configuration.
    let shown = format!(
        "{}\n{config:?}\n{:?}",
        config.to_toml_string(),
        config.alerts.channels
    );
    for secret in ["Pa55w0rd", "G3nPass", "PdPa55", "R0UT1NG"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(
        shown.contains("url = \"http://[redacted]@127.0.0.1:9093\""),
        "{shown}"
    );
    // A URL that is not one names the key without the password.
    let err = AndonConfig::from_toml_str(
        "[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"ftp://am:Pa55w0rd@x\"\n",
    )
    .unwrap_err();
    assert_eq!(err.key.as_deref(), Some("alerts.channels.am.url"));
    assert!(!err.to_string().contains("Pa55w0rd"), "{err}");
}

#[test]
fn the_default_round_trips() {
    let config = AndonConfig::from_toml_str(FULL).unwrap();
    let mut expected = config.alerts.clone();
    // Secrets render redacted, so compare everything else.
    let text = config.to_toml_string();
    let back = AndonConfig::from_toml_str(&text.replace("\"[redacted]\"", "\"https://x/y\""));
    let back = back.unwrap().alerts;
    expected.channels = back.channels.clone();
    assert_eq!(back, expected);
}

#[test]
fn the_watchdog_is_off_by_default_and_sends_every_minute_once_enabled() {
    let defaults = AlertsConfig::default();
    assert!(!defaults.watchdog.enabled);
    assert_eq!(
        defaults.watchdog.interval,
        std::time::Duration::from_secs(60)
    );
    let config = AndonConfig::from_toml_str(
        "[alerts.watchdog]\nenabled = true\ninterval = \"30s\"\n[alerts.channels.am]\ntype = \"alertmanager\"\nurl = \"http://127.0.0.1:9093\"\n",
    )
    .unwrap()
    .alerts;
    assert!(config.watchdog.enabled);
    assert_eq!(config.watchdog.interval, std::time::Duration::from_secs(30));
    let err = AndonConfig::from_toml_str("[alerts.watchdog]\nevery = \"1m\"\n").unwrap_err();
    assert!(err.message.contains("unknown field `every`"), "{err}");
}
