//! `POST /v1/signals` (pull the cord) and `GET /v1/signals` (the recent ones).

use std::collections::BTreeMap;
use std::sync::Arc;

use andon::{AndonSignal, Color, SignalId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /v1/signals`: the signal to raise. Only these fields are allowed.
///
/// The agent checks each field and names the one at fault: `color` and `message` are required,
/// names and trace ids at most 256 characters, the message at most 4096, at most 64
/// attributes, and a `timestamp` within 5 minutes of the agent's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSignal {
    /// RED stops the line, YELLOW warns, GREEN reports a recovery (any case on input).
    pub color: Color,
    /// What is wrong (or right), one line.
    pub message: String,
    /// The component (board station) raising it; absent: `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The trace or request id to join it to (W3C, a UUID or free-form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// When the problem happened (RFC 3339); absent: when the agent received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Free-form context (`{"queue": "default", "depth": 150}`); sent only when not empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
}

impl NewSignal {
    /// A signal of `color` saying `message`, with no other field.
    pub fn new(color: Color, message: impl Into<String>) -> Self {
        NewSignal {
            color,
            message: message.into(),
            component: None,
            trace_id: None,
            timestamp: None,
            attributes: BTreeMap::new(),
        }
    }
}

/// The answer to `POST /v1/signals` (status 201): what the signal did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalAccepted {
    /// The signal's id, a UUID v7 (ordered by time).
    pub id: String,
    /// Whether this signal stopped the line.
    pub stopped_line: bool,
    /// Whether this signal resumed the line (`[line] auto_resume_on_green`).
    pub resumed_line: bool,
    /// The components that took the signal and did their work.
    pub delivered_to: Vec<String>,
    /// The components that failed to take it (the others did), one line each.
    pub failures: Vec<String>,
}

/// [`SignalAccepted`] as the agent writes it: the same fields, in the same order, borrowed from
/// the signal's outcome rather than copied into strings (the answer to the agent's busiest
/// write). A test holds the two to the same JSON.
#[derive(Debug, Serialize)]
pub(crate) struct AcceptedAnswer<'a> {
    /// The signal's id, written as the UUID text [`SignalAccepted::id`] holds.
    pub(crate) id: SignalId,
    /// Whether this signal stopped the line.
    pub(crate) stopped_line: bool,
    /// Whether this signal resumed the line.
    pub(crate) resumed_line: bool,
    /// The components that took the signal and did their work.
    pub(crate) delivered_to: &'a [&'static str],
    /// The components that failed to take it, one line each.
    pub(crate) failures: &'a [String],
}

/// The answer to `GET /v1/signals`: recent signals, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalList {
    /// The signals that match the query's `color` and `component`, at most its `limit`.
    pub signals: Vec<Arc<AndonSignal>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_answer_is_the_typed_one() {
        let id = SignalId::new();
        let failures = ["metrics: sink closed".to_owned()];
        for (delivered_to, failures) in [(&["log", "alert"][..], &failures[..]), (&[][..], &[][..])]
        {
            let written = serde_json::to_string(&AcceptedAnswer {
                id,
                stopped_line: true,
                resumed_line: false,
                delivered_to,
                failures,
            })
            .unwrap();
            let typed = SignalAccepted {
                id: id.to_string(),
                stopped_line: true,
                resumed_line: false,
                delivered_to: delivered_to.iter().map(|&c| c.to_owned()).collect(),
                failures: failures.to_vec(),
            };
            assert_eq!(written, serde_json::to_string(&typed).unwrap());
            assert_eq!(
                serde_json::from_str::<SignalAccepted>(&written).unwrap(),
                typed
            );
        }
    }
}
