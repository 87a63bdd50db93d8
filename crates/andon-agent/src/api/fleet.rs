//! `GET /v1/fleet`: every agent sharing this agent's PostgreSQL history, with its line.

use serde::{Deserialize, Serialize};

/// The answer to `GET /v1/fleet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetView {
    /// `true` when the agents share a PostgreSQL history; `false`: this agent only.
    pub shared: bool,
    /// This agent's `[history] instance`.
    pub this_instance: String,
    /// How many lines run.
    pub running: usize,
    /// How many lines are stopped.
    pub stopped: usize,
    /// How many agents stopped reporting (their line cannot be known).
    pub no_data: usize,
    /// One row per agent.
    pub instances: Vec<FleetInstance>,
}

/// One agent of the fleet and its line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetInstance {
    /// Its `[history] instance`.
    pub instance: String,
    /// `RUNNING`, `STOPPED`, or `NO DATA` when it has not reported for three of its intervals.
    pub line: String,
    /// The state it last reported (`RUNNING` or `STOPPED`), also when `line` is `NO DATA`.
    pub last_state: String,
    /// The stopping signal's id, while stopped; `null` otherwise.
    pub signal_id: Option<String>,
    /// The stopping signal's component.
    pub component: Option<String>,
    /// The stopping signal's message.
    pub message: Option<String>,
    /// When the line stopped (RFC 3339).
    pub stopped_at: Option<String>,
    /// The URL of the instance's own board, when it published one.
    pub board_url: Option<String>,
    /// Its andon version.
    pub version: String,
    /// When it last reported (RFC 3339, the database's clock).
    pub heartbeat_at: String,
    /// How long ago that was, in seconds.
    pub age_seconds: f64,
}
