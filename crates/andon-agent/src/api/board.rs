//! `GET /v1/board`: everything the Andon board draws, in one answer.

use std::collections::BTreeMap;
use std::sync::Arc;

use andon::core::LineState;
use andon::{AndonSignal, Color};
use serde::{Deserialize, Serialize};

use super::AlertView;

/// The answer to `GET /v1/board`: the line, every station's light, the open alerts and the
/// recent signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoardView {
    /// The line's state.
    pub line: LineState,
    /// Every station (component that raised a signal), sorted by name.
    pub stations: Vec<StationView>,
    /// Every open alert.
    pub alerts: Vec<AlertView>,
    /// Whether alerting is enabled; `false` means alerts cannot be known (the board says so).
    pub alerting: bool,
    /// The most recent signals, newest first (at most 20).
    pub recent: Vec<Arc<AndonSignal>>,
    /// Whether writes (resume, acknowledge) need the bearer token.
    pub token_required: bool,
    /// `[tracer] ui_url`: the board links trace ids to `<trace_ui_url>/trace/<mapped W3C id>`;
    /// `null` when not set.
    pub trace_ui_url: Option<String>,
}

/// One station on the board: a component, its light and its open alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationView {
    /// The component's name (`unknown` for signals that named none).
    pub component: String,
    /// Its light: the color of its last signal.
    pub color: Color,
    /// Its last signal.
    pub last_signal: Arc<AndonSignal>,
    /// How many signals it raised, by color.
    pub counts: BTreeMap<Color, u64>,
    /// The open alerts about this component.
    pub open_alerts: Vec<AlertView>,
}
