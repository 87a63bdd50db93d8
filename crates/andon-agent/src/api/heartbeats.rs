//! `POST /v1/heartbeats/{name}` (a check-in) and `GET /v1/heartbeats`.

use std::collections::BTreeMap;

use andon::{HeartbeatStatus, HeartbeatView};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /v1/heartbeats/{name}` (optional: an empty body is a success).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    /// `success` (the default), `start` (a job began: its end must follow within the grace) or
    /// `fail` (raises the heartbeat's signal at once).
    #[serde(default = "success")]
    pub status: HeartbeatStatus,
    /// Shown with the signal the check-in raises (at most 4096 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set on the signal the check-in raises (at most 32, 16 KiB as JSON); sent only when not
    /// empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
}

fn success() -> HeartbeatStatus {
    HeartbeatStatus::Success
}

impl CheckIn {
    /// A check-in of `status` with no message or attributes.
    pub fn new(status: HeartbeatStatus) -> Self {
        CheckIn {
            status,
            message: None,
            attributes: BTreeMap::new(),
        }
    }
}

/// The answer to `GET /v1/heartbeats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatList {
    /// Every heartbeat with its state, last check-in and next due time, in configuration order.
    pub heartbeats: Vec<HeartbeatView>,
}

/// The 404 answer to a check-in of a heartbeat nobody configured (with `[agent] heartbeats_auto`
/// off): the error, and the names that exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnknownHeartbeat {
    /// What is wrong and how to add the heartbeat.
    pub error: String,
    /// The configured heartbeats' names.
    pub known: Vec<String>,
}
