//! `GET /v1/events`: the data of the Server-Sent Events that are the agent's own (`signal`,
//! `line` and `diagnostics` carry [`AndonSignal`](andon::AndonSignal),
//! [`LineState`](super::LineState) and [`DiagnosticsReport`](super::DiagnosticsReport)).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::AlertView;

/// The `hello` event, first on every stream: who answers, and which API version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The answering program's name, always `andon` (a client checks it before reading on).
    pub agent: String,
    /// The API version, `v1`.
    pub api: String,
}

/// The `alerts` event: the open alerts, sent when the stream opens (with alerting on) and
/// whenever they change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsEvent {
    /// Every open alert.
    pub alerts: Arc<Vec<AlertView>>,
}

/// The `lagged` event: this reader fell behind and missed events; it should read the board
/// again (`GET /v1/board`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagged {
    /// How many events it missed.
    pub missed: u64,
}
