//! What the handlers share: the system, the token, the event streams' channels and counters.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use andon::AndonSystem;
use andon::config::Secret;
use tokio::sync::{Notify, broadcast, watch};

use crate::alerts;
use crate::connections::ConnectionCounters;
use crate::limits::Limits;

pub(crate) struct AgentState {
    pub(crate) system: AndonSystem,
    /// The token write endpoints require; `None` when they require none.
    pub(super) token: Option<Secret>,
    /// Flips to `true` when the agent stops: event streams end, readiness fails.
    pub(crate) stopping: watch::Sender<bool>,
    /// The open alerts whenever they change, for the event streams.
    pub(crate) alerts: broadcast::Sender<Arc<Vec<alerts::AlertView>>>,
    /// Wakes the alert watcher at once (after an acknowledgement).
    pub(crate) alerts_changed: Notify,
    /// Open event streams, in all.
    pub(crate) streams: Arc<AtomicUsize>,
    /// Open event streams per client address.
    pub(crate) streams_by_client: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// Connections open and cut off.
    pub(crate) connections: Arc<ConnectionCounters>,
    /// The PagerDuty and Slack endpoints' secrets, replay memory and counters.
    pub(crate) webhooks: crate::integrations::Webhooks,
}

/// What the handlers see: the shared state, with the limits and the token rule of this router.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub(super) state: Arc<AgentState>,
    pub(crate) limits: Limits,
    pub(crate) token_required: bool,
}

impl Deref for Ctx {
    type Target = AgentState;

    fn deref(&self) -> &AgentState {
        &self.state
    }
}

impl Ctx {
    pub(crate) fn shared(&self) -> Arc<AgentState> {
        Arc::clone(&self.state)
    }
}
