//! The probes: `GET /healthz` and `GET /readyz`.

use serde::{Deserialize, Serialize};

/// The answer to `GET /healthz`: the process serves (`{"status": "ok"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    /// `ok` whenever the process answers at all; readiness is `/readyz`'s job.
    pub status: String,
}

/// The answer to `GET /readyz`: `{"status": "ready", "line": "RUNNING"}` with 200, or
/// `{"status": "stopping"}` with 503 once the agent is shutting down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready` or `stopping`.
    pub status: String,
    /// `RUNNING` or `STOPPED` while ready; absent while stopping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}
