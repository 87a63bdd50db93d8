//! The agent's HTTP server: the JSON API under `/v1`, the event stream, `/metrics`, the health
//! probes and the Andon board, on one listener.
//!
//! [`Agent`] and its lifecycle (the token rule, serving, draining) live here; the shared state
//! the handlers see is in `state`, the route table in `routes`, the API's handlers in
//! `handlers`, the token and body checks in `guard`, and the board's files in `assets`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use andon::AndonSystem;
use andon::config::MIN_TOKEN_CHARS;
use tokio::sync::{Notify, broadcast, watch};

use crate::connections::{self, ConnectionCounters, ConnectionStats};
use crate::error::AgentError;
use crate::events;
use crate::limits::Limits;

mod assets;
mod guard;
mod handlers;
mod routes;
mod state;

pub(crate) use guard::{authorize, body};
pub(crate) use routes::{Routes, Served};
pub(crate) use state::{AgentState, Ctx};

/// How long `serve` waits for open requests after a shutdown signal before flushing anyway.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The agent: an [`AndonSystem`] behind the HTTP API and the Andon board.
///
/// ```no_run
/// use andon::{AndonConfig, AndonSystem};
/// use andon_agent::Agent;
///
/// # async fn run() -> Result<(), andon_agent::AgentError> {
/// let config = AndonConfig::default();
/// let system = AndonSystem::new(config).await.map_err(andon_agent::AgentError::System)?;
/// let agent = Agent::new(system)?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7600").await
///     .map_err(|source| andon_agent::AgentError::Bind { address: "127.0.0.1:7600".into(), source })?;
/// agent.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Agent {
    state: Arc<AgentState>,
    limits: Limits,
    /// Whether writes need a token (bound beyond loopback, or a token configured).
    token_required: bool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("listen", &self.state.system.config().agent.listen)
            .field("token_required", &self.token_required)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

fn token_error(address: SocketAddr) -> AgentError {
    andon::ConfigError::new(
        "agent.token",
        format!("is required when listening on {address}, beyond this machine: set token = \"${{ANDON_TOKEN}}\""),
    )
    .into()
}

impl Agent {
    /// An agent for `system`, with the token rule of its `[agent]` section: write endpoints
    /// require `Authorization: Bearer <token>` when the agent listens beyond loopback or a
    /// token is configured.
    ///
    /// Fails when `listen` is not `ip:port`, is beyond loopback with no token, or the token is
    /// shorter than 16 characters.
    pub fn new(system: AndonSystem) -> Result<Self, AgentError> {
        let agent = &system.config().agent;
        let address: SocketAddr = agent.listen.parse().map_err(|_| {
            andon::ConfigError::new(
                "agent.listen",
                format!(
                    "`{}` is not ip:port, such as \"127.0.0.1:7600\"",
                    agent.listen
                ),
            )
        })?;
        let token = agent.token.clone().filter(|t| !t.is_empty());
        if let Some(token) = &token {
            let chars = token.expose().chars().count();
            if chars < MIN_TOKEN_CHARS {
                return Err(andon::ConfigError::new(
                    "agent.token",
                    format!("has {chars} characters, fewer than the {MIN_TOKEN_CHARS} required: use a random one, such as the output of `openssl rand -hex 16`"),
                )
                .into());
            }
        }
        let token_required = token.is_some() || !address.ip().is_loopback();
        if token_required && token.is_none() {
            return Err(token_error(address));
        }
        let webhooks = crate::integrations::Webhooks::new(agent);
        let (stopping, _) = watch::channel(false);
        let (alerts, _) = broadcast::channel(16);
        Ok(Agent {
            state: Arc::new(AgentState {
                system,
                token,
                stopping,
                alerts,
                alerts_changed: Notify::new(),
                streams: Arc::new(AtomicUsize::new(0)),
                streams_by_client: Arc::new(Mutex::new(HashMap::new())),
                connections: Arc::new(ConnectionCounters::default()),
                webhooks,
            }),
            limits: Limits::default(),
            token_required,
        })
    }

    /// The same agent with other connection and request limits (shorter timeouts in tests).
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits this agent serves with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The system the agent serves.
    pub fn system(&self) -> &AndonSystem {
        &self.state.system
    }

    /// Whether write endpoints require the bearer token.
    pub fn token_required(&self) -> bool {
        self.token_required
    }

    /// Connections open now and the ones the agent cut off (also on `/metrics` as
    /// `andon_agent_connections_open` and `andon_agent_connections_closed_total{reason}`).
    pub fn connection_stats(&self) -> ConnectionStats {
        self.state.connections.stats()
    }

    /// Ends the event streams and fails readiness: the first step of stopping.
    pub fn begin_shutdown(&self) {
        self.state.stopping.send_replace(true);
    }

    /// Serves on `listener` until `shutdown` completes, then stops accepting, ends the event
    /// streams, lets open requests finish (at most [`DRAIN_DEADLINE`]) and flushes the system.
    ///
    /// Whether the agent is reachable beyond this machine is read from the socket `listener`
    /// is bound to, not from the configuration: bound beyond loopback, it refuses to serve
    /// without a token.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let bound = listener.local_addr().map_err(AgentError::Serve)?;
        self.token_required |= beyond_loopback(bound, self.state.token.is_some())?;
        let agent = self.clone();
        tokio::spawn(events::watch_alerts(Arc::clone(&self.state)));
        #[cfg(feature = "full")]
        tokio::spawn(crate::fleet::report_loop(
            self.state.system.clone(),
            crate::fleet::board_url(&self.state.system, Some(bound)),
            self.state.stopping.subscribe(),
        ));
        let (drain_tx, drain_rx) = watch::channel(false);
        let mut server = tokio::spawn(connections::serve(
            listener,
            self.app(Some(bound)),
            self.limits,
            Arc::clone(&self.state.connections),
            drain_rx,
        ));
        let served = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown => None,
        };
        let served = match served {
            Some(result) => result,
            None => {
                agent.begin_shutdown();
                let _ = drain_tx.send(true);
                match tokio::time::timeout(DRAIN_DEADLINE, &mut server).await {
                    Ok(result) => result,
                    Err(_) => {
                        server.abort();
                        Ok(Ok(()))
                    }
                }
            }
        };
        agent.begin_shutdown();
        let flushed = agent.state.system.shutdown().await;
        match served {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(AgentError::Serve(e)),
            Err(e) => return Err(AgentError::Serve(std::io::Error::other(e.to_string()))),
        }
        flushed.map_err(|e| AgentError::Shutdown(e.into()))
    }
}

/// Whether the socket bound at `bound` is reachable beyond this machine (so writes need the
/// token); an error when it is and there is no token.
fn beyond_loopback(bound: SocketAddr, has_token: bool) -> Result<bool, AgentError> {
    let beyond = !bound.ip().to_canonical().is_loopback();
    if beyond && !has_token {
        return Err(token_error(bound));
    }
    Ok(beyond)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_loopback_is_read_from_the_bound_socket() {
        let at = |a: &str| a.parse::<SocketAddr>().unwrap();
        assert!(!beyond_loopback(at("127.0.0.1:7600"), false).unwrap());
        assert!(!beyond_loopback(at("[::1]:7600"), false).unwrap());
        assert!(!beyond_loopback(at("[::ffff:127.0.0.1]:7600"), false).unwrap());
        for wide in ["0.0.0.0:7600", "[::]:7600", "192.0.2.7:7600"] {
            let err = beyond_loopback(at(wide), false).unwrap_err().to_string();
            assert!(err.contains("agent.token"), "{wide}: {err}");
            assert!(beyond_loopback(at(wide), true).unwrap(), "{wide}");
        }
    }
}
