//! The Slack incoming-webhook body: `text` and Block Kit `blocks`, within Slack's limits, with
//! every text that comes from a signal, a label or a snapshot escaped (`&`, `<`, `>`) as Slack's
//! formatting reference asks, so that a message can neither mention `<!channel>` nor hide a
//! link (`<https://x|Resume>`).

use andon_core::AlertSeverity;
use serde_json::{Value, json};

use super::rfc3339;
use crate::notification::{AlertStatus, Notification, NotifiedAlert};

/// Slack's limit on a header's text (characters).
const HEADER_MAX: usize = 150;
/// Slack's limit on a section's text (characters).
const SECTION_MAX: usize = 3000;
/// Slack's limit on the blocks of a message.
const BLOCKS_MAX: usize = 50;
/// Alerts shown one section each; the rest are counted.
const MAX_ALERT_BLOCKS: usize = 20;
/// Sections the diagnostics snapshot may take.
const MAX_SNAPSHOT_BLOCKS: usize = 8;
/// Characters kept free in a snapshot section for the note on where it was cut.
const NOTE_ROOM: usize = 128;
/// The `text` (notification and fallback) kept, in characters.
const TEXT_MAX: usize = 3000;

/// Escapes Slack's control characters: `&`, `<` and `>` become `&amp;`, `&lt;` and `&gt;`.
pub(crate) fn escape(text: &str) -> String {
    escape_cut(text, usize::MAX)
}

/// Escapes `text` and cuts it to at most `max` characters counted after escaping, never in the
/// middle of an escape, `…` marking a cut.
fn escape_cut(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0usize;
    let total: usize = text.chars().map(escaped_len).sum();
    let budget = if total <= max {
        max
    } else {
        max.saturating_sub(1)
    };
    for c in text.chars() {
        let len = escaped_len(c);
        if count + len > budget {
            out.push('…');
            return out;
        }
        count += len;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Cuts text that is already escaped to at most `max` characters, never inside an escape.
fn cut_escaped(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    if let Some(at) = out.rfind('&')
        && !out[at..].contains(';')
    {
        out.truncate(at);
    }
    out.push('…');
    out
}

fn escaped_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    }
}

fn emoji(notification: &Notification) -> &'static str {
    match (notification.status, notification.severity) {
        (AlertStatus::Resolved, _) => ":large_green_circle:",
        (AlertStatus::Acknowledged, _) => ":eyes:",
        (_, AlertSeverity::Critical) => ":red_circle:",
        (_, AlertSeverity::Warning) => ":large_yellow_circle:",
        (_, AlertSeverity::Info) => ":large_blue_circle:",
    }
}

/// One alert in mrkdwn, every outside text escaped.
fn alert_line(alert: &NotifiedAlert) -> String {
    let mut line = format!("*{}* {}", alert.status.upper(), escape(&alert.summary));
    if alert.count > 1 {
        line.push_str(&format!(" (×{})", alert.count));
    }
    let labels: Vec<String> = alert
        .labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("`{}={}`", escape(k), escape(v)))
        .collect();
    if !labels.is_empty() {
        line.push('\n');
        line.push_str(&labels.join(" "));
    }
    match (&alert.trace_id, &alert.trace_url) {
        // The one link andon writes itself: a checked `[tracer] ui_url` and a hex id.
        (Some(trace), Some(url)) => {
            line.push_str(&format!("\ntrace <{}|{}>", escape(url), escape(trace)));
        }
        (Some(trace), None) => line.push_str(&format!("\ntrace `{}`", escape(trace))),
        _ => {}
    }
    if let Some(by) = &alert.acknowledged_by {
        line.push_str(&format!("\nacknowledged by {}", escape(by)));
    }
    line
}

/// The `action_id` of an *Acknowledge* button (the agent takes any id that starts with it; its
/// `value` is the alert's fingerprint). The andon agent's `POST /v1/integrations/slack` acts on it.
pub(crate) const SLACK_ACK_ACTION: &str = "andon_ack";
/// The `action_id` of the *Resume the line* button.
pub(crate) const SLACK_RESUME_ACTION: &str = "andon_resume";
/// *Acknowledge* buttons shown, one per firing alert not yet acknowledged.
const MAX_ACK_BUTTONS: usize = 5;

/// The buttons of a firing notification: *Acknowledge* for each alert not yet acknowledged (at
/// most five) and *Resume the line*. They post to the Slack app's Interactivity Request URL,
/// the agent's `/v1/integrations/slack`; `None` for other notifications.
fn buttons(notification: &Notification) -> Option<Value> {
    if notification.status != AlertStatus::Firing {
        return None;
    }
    let open: Vec<&NotifiedAlert> = notification
        .alerts
        .iter()
        .filter(|a| a.status == AlertStatus::Firing && a.acknowledged_by.is_none())
        .take(MAX_ACK_BUTTONS)
        .collect();
    let mut elements: Vec<Value> = open
        .iter()
        .enumerate()
        .map(|(n, alert)| {
            let label = match alert.labels.get("component") {
                Some(component) if open.len() > 1 => {
                    escape_cut(&format!("Acknowledge {component}"), 75)
                }
                _ => "Acknowledge".to_owned(),
            };
            json!({
                "type": "button",
                "action_id": if n == 0 { SLACK_ACK_ACTION.to_owned() } else { format!("{SLACK_ACK_ACTION}_{n}") },
                "text": { "type": "plain_text", "text": label },
                "value": alert.fingerprint,
            })
        })
        .collect();
    elements.push(json!({
        "type": "button",
        "action_id": SLACK_RESUME_ACTION,
        "text": { "type": "plain_text", "text": "Resume the line" },
        "value": "line",
        "style": "primary",
        "confirm": {
            "title": { "type": "plain_text", "text": "Resume the line?" },
            "text": { "type": "plain_text", "text": "The stopped line runs again; andon records you as the one who resumed it." },
            "confirm": { "type": "plain_text", "text": "Resume" },
            "deny": { "type": "plain_text", "text": "Cancel" },
        },
    }));
    Some(json!({ "type": "actions", "block_id": "andon_actions", "elements": elements }))
}

fn section(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// The snapshot as pretty JSON in code blocks of at most a section's length each, in at most
/// `room` sections; a last line says when it was cut (the webhook and file payloads carry it
/// whole).
fn snapshot_blocks(snapshot: &Value, room: usize) -> Vec<Value> {
    let room = room.min(MAX_SNAPSHOT_BLOCKS);
    if room == 0 {
        return Vec::new();
    }
    let pretty = serde_json::to_string_pretty(snapshot).unwrap_or_else(|_| snapshot.to_string());
    let title = "*Diagnostics snapshot*\n";
    let fence = "```";
    let mut blocks = Vec::new();
    let mut rest: &str = &pretty;
    while !rest.is_empty() && blocks.len() < room {
        let head = if blocks.is_empty() { title } else { "" };
        // Room is left in each for the note saying where the snapshot was cut.
        let budget = SECTION_MAX - head.chars().count() - 2 * fence.len() - 2 - NOTE_ROOM;
        let mut taken = 0usize;
        let mut end = 0usize;
        for (at, c) in rest.char_indices() {
            let len = escaped_len(c);
            if taken + len > budget {
                break;
            }
            taken += len;
            end = at + c.len_utf8();
        }
        // Prefer to cut at the end of a line.
        if end < rest.len()
            && let Some(nl) = rest[..end].rfind('\n')
            && nl > 0
        {
            end = nl + 1;
        }
        let (chunk, after) = rest.split_at(end);
        blocks.push(section(format!(
            "{head}{fence}\n{}\n{fence}",
            escape(chunk.trim_end_matches('\n'))
        )));
        rest = after;
    }
    if !rest.is_empty()
        && let Some(last) = blocks.last_mut()
    {
        let shown = pretty.chars().count() - rest.chars().count();
        let note = format!(
            "\n_snapshot cut to {shown} of {} characters here; the webhook and file payloads carry it whole_",
            pretty.chars().count()
        );
        if let Some(text) = last["text"]["text"].as_str() {
            let text = format!("{text}{note}");
            last["text"]["text"] = json!(text);
        }
    }
    blocks
}

/// The Slack incoming-webhook body: `text` (the fallback and notification text) and `blocks`
/// (a header, a section per alert, the diagnostics summary and snapshot, and a context line),
/// within Slack's limits, every outside text escaped.
pub(crate) fn slack_body(notification: &Notification, channel: Option<&str>) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": escape_cut(&notification.title, HEADER_MAX),
            "emoji": true,
        },
    })];
    for alert in notification.alerts.iter().take(MAX_ALERT_BLOCKS) {
        blocks.push(section(cut_escaped(&alert_line(alert), SECTION_MAX)));
    }
    if notification.alerts.len() > MAX_ALERT_BLOCKS {
        blocks.push(section(format!(
            "…and {} more alerts",
            notification.alerts.len() - MAX_ALERT_BLOCKS
        )));
    }
    if let Some(diagnostics) = &notification.diagnostics {
        let head = "*Diagnostics*\n";
        blocks.push(section(format!(
            "{head}{}",
            escape_cut(diagnostics, SECTION_MAX - head.len())
        )));
    }
    let actions = buttons(notification);
    if let Some(snapshot) = &notification.snapshot {
        // Room for the buttons and the context line after.
        let room = BLOCKS_MAX.saturating_sub(blocks.len() + 1 + usize::from(actions.is_some()));
        blocks.extend(snapshot_blocks(snapshot, room));
    }
    blocks.extend(actions);
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "andon · {} · escalation level {} · key `{}`",
                rfc3339(notification.created_at),
                notification.escalation_level,
                escape(&notification.key)
            ),
        }],
    }));
    let prefix = format!("{} ", emoji(notification));
    let mut body = json!({
        "text": format!(
            "{prefix}{}",
            escape_cut(&notification.text(), TEXT_MAX - prefix.chars().count())
        ),
        "blocks": blocks,
    });
    if let (Some(channel), Some(map)) = (channel, body.as_object_mut()) {
        map.insert("channel".to_owned(), json!(channel));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::event;
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn notification(summary: &str, n: usize, snapshot: Option<Value>) -> Notification {
        let mut alert = event(AlertStatus::Firing, summary);
        alert
            .labels
            .insert("component".to_owned(), "db<!here>".to_owned());
        Notification {
            key: "k".to_owned(),
            status: AlertStatus::Firing,
            severity: AlertSeverity::Critical,
            title: format!("[FIRING:critical] {summary}"),
            alerts: vec![alert; n],
            escalation_level: 0,
            digest: false,
            diagnostics: Some("memory 42% & cpu <5%".to_owned()),
            snapshot,
            created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_030),
        }
    }

    fn texts(body: &Value) -> Vec<String> {
        let mut out = vec![body["text"].as_str().unwrap().to_owned()];
        for block in body["blocks"].as_array().unwrap() {
            if let Some(t) = block["text"]["text"].as_str() {
                out.push(t.to_owned());
            }
            for e in block["elements"].as_array().into_iter().flatten() {
                // A context element's text is a string, a button's a text object.
                let text = e["text"].as_str().or_else(|| e["text"]["text"].as_str());
                out.push(text.unwrap().to_owned());
            }
        }
        out
    }

    #[test]
    fn outside_text_is_escaped_everywhere() {
        let body = slack_body(
            &notification(
                "<!channel> go to <https://evil.example|Resume> & co",
                1,
                None,
            ),
            None,
        );
        for text in texts(&body) {
            assert!(!text.contains("<!"), "{text}");
            assert!(!text.contains("<https"), "{text}");
            assert!(!text.contains("& "), "{text}");
        }
        let all = body.to_string();
        assert!(
            all.contains("&lt;!channel&gt; go to &lt;https://evil.example|Resume&gt; &amp; co")
        );
        assert!(all.contains("db&lt;!here&gt;"), "labels too");
        assert!(
            all.contains("memory 42% &amp; cpu &lt;5%"),
            "diagnostics too"
        );
    }

    #[test]
    fn a_cut_never_splits_an_escape() {
        assert_eq!(escape_cut("ab&cd", 5), "ab…");
        let cut = escape_cut(&"<".repeat(100), 10);
        assert_eq!(cut, "&lt;&lt;…");
        assert!(cut.chars().count() <= 10);
        assert_eq!(escape_cut("<>", 8), "&lt;&gt;", "fits exactly");
    }

    #[test]
    fn escaped_text_is_cut_before_an_escape_it_would_split() {
        assert_eq!(cut_escaped("ab&amp;cd", 5), "ab…");
        assert_eq!(cut_escaped("&amp;&lt;x", 7), "&amp;…");
        assert_eq!(cut_escaped("short", 5), "short");
        let line = alert_line(&notification(&"<".repeat(1000), 1, None).alerts[0]);
        let cut = cut_escaped(&line, SECTION_MAX);
        assert!(cut.ends_with("&lt;…"), "{}", &cut[cut.len() - 20..]);
    }

    #[test]
    fn text_stays_within_slack_limits() {
        let long = "x<".repeat(2500);
        let snapshot =
            json!({ "processes": (0..3000).map(|i| format!("p{i} <&>")).collect::<Vec<_>>() });
        let body = slack_body(&notification(&long, 60, Some(snapshot)), None);
        let blocks = body["blocks"].as_array().unwrap();
        assert!(blocks.len() <= BLOCKS_MAX, "{}", blocks.len());
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= HEADER_MAX);
        for b in blocks {
            if let Some(t) = b["text"]["text"].as_str() {
                assert!(t.chars().count() <= SECTION_MAX, "{}", t.chars().count());
            }
        }
        assert!(body["text"].as_str().unwrap().chars().count() <= TEXT_MAX);
        assert!(body.to_string().contains("and 40 more alerts"));
        assert!(body.to_string().contains("snapshot cut to"));
        assert!(body.get("channel").is_none());
        let one = slack_body(&notification("s", 1, None), Some("#ops"));
        assert_eq!(one["channel"], "#ops");
        assert!(one["text"].as_str().unwrap().contains("[trace trace-123]"));
        assert!(
            one["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("trace `trace-123`")
        );
    }

    #[test]
    fn firing_notifications_carry_acknowledge_and_resume_buttons() {
        let body = slack_body(&notification("s", 2, None), None);
        let blocks = body["blocks"].as_array().unwrap();
        let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
        let ids: Vec<&str> = actions["elements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["andon_ack", "andon_ack_1", "andon_resume"]);
        assert_eq!(actions["elements"][0]["value"], "0123456789abcdef");
        // The component in a label is escaped like every outside text.
        assert_eq!(
            actions["elements"][0]["text"]["text"],
            "Acknowledge db&lt;!here&gt;"
        );
        // The context line stays last.
        assert_eq!(blocks.last().unwrap()["type"], "context");
        // Acknowledged and resolved notifications carry no buttons.
        let mut acked = notification("s", 1, None);
        acked.status = AlertStatus::Acknowledged;
        let body = slack_body(&acked, None);
        assert!(
            !body["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["type"] == "actions")
        );
    }

    #[test]
    fn the_snapshot_is_a_code_block() {
        let snapshot = json!({ "memory": { "used_percent": 91.5 }, "load": [4.4, 3.1, 2.0] });
        let body = slack_body(&notification("s", 1, Some(snapshot)), None);
        let all = texts(&body).join("\n");
        assert!(all.contains("*Diagnostics snapshot*\n```\n{"), "{all}");
        assert!(all.contains("\"used_percent\": 91.5"), "{all}");
        assert!(!all.contains("snapshot cut"), "{all}");
    }
}
