//! The andon agent: pull the Andon cord over HTTP from anywhere, and see the line at a glance on
//! the Andon board.
//!
//! This crate is the `andon` command. `andon run` serves an [`andon::AndonSystem`] on one
//! listener (default `127.0.0.1:7600`): the JSON API under `/v1`, Server-Sent Events at
//! `/v1/events`, `/metrics`, `/healthz`, `/readyz`, and the Andon board at `/`. It remembers by
//! default: the history, the alert outbox, the open alerts and the line's state go to a data
//! directory (`--data-dir`, else `$STATE_DIRECTORY`, else `./andon-data`, created `0700`) unless
//! the configuration places them ([`apply_data_dir`]). The other
//! subcommands (`signal`, `line`, `ack`, `alerts`, `diagnose`) reach a running agent at `--url`,
//! else `ANDON_URL`, else `http://127.0.0.1:7600`; `config check` validates a file offline.
//! The API is described in `docs/agent.md` and `docs/openapi.yaml`; its request bodies and
//! answers are the types of [`api`], which the server writes and [`Client`] reads.
//!
//! Every request passes the edge rules first: a `Host` the agent answers to (loopback, its own
//! address, `[agent] allowed_hosts`; else 421), and for a write `Content-Type:
//! application/json` from no other origin or site (else 403); answers carry `X-Frame-Options:
//! DENY` and a strict `Content-Security-Policy`. Connections are served under [`Limits`]:
//! request heads within 10 s, bodies within 30 s, at most 1024 connections and 256 event
//! streams (16 per client address). See `docs/security.md`.
//!
//! People acknowledge where they are: `POST /v1/integrations/pagerduty` takes PagerDuty v3
//! webhooks and `POST /v1/integrations/slack` the buttons of andon's Slack notifications, each
//! verified by its provider's HMAC-SHA256 signature with `[agent] pagerduty_webhook_secret` /
//! `slack_signing_secret` within a 5-minute replay window (instead of the browser write rules
//! and the token; else 401, counted in `andon_agent_webhooks_total`), and mapped to andon's
//! acknowledgement and resume, recorded with who did it.
//!
//! The library lets tests and other programs embed the agent.
//!
//! # Example
//!
//! ```
//! use andon::{AndonConfig, AndonSystem, Color};
//! use andon_agent::api::NewSignal;
//! use andon_agent::{Agent, AgentError, Client};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), AgentError> {
//! let system = AndonSystem::new(AndonConfig::default()).await.map_err(AgentError::System)?;
//! let agent = Agent::new(system)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await
//!     .map_err(|source| AgentError::Bind { address: "127.0.0.1:0".into(), source })?;
//! let url = format!("http://{}", listener.local_addr().map_err(AgentError::Serve)?);
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(agent.serve(listener, async { let _ = stopped.await; }));
//!
//! // Pull the cord through the API, as `andon signal red "disk full" -c db` does.
//! let client = Client::new(&url, None)?;
//! let signal = NewSignal {
//!     component: Some("db".into()),
//!     ..NewSignal::new(Color::Red, "disk full")
//! };
//! let accepted = client.signal(&signal).await?;
//! assert!(accepted.stopped_line);
//! assert!(!client.line().await?.is_running());
//!
//! let _ = stop.send(());
//! server.await.map_err(|e| AgentError::Serve(std::io::Error::other(e)))??;
//! # Ok(())
//! # }
//! ```
//!
//! # Crate feature flags
//!
//! - `full` (default): every andon component (logs, metrics, traces, observer, alerts) in the
//!   agent's system.
//!
//! # Related crates
//!
//! - `andon`: the umbrella with [`andon::AndonSystem`], which the agent serves.
//! - `andon-core`: the shared vocabulary (signals, configuration, the line).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod alerts;
pub mod api;
mod cli;
mod client;
mod connections;
mod data_dir;
mod dist;
mod edge;
mod error;
mod events;
mod exec;
#[cfg(feature = "full")]
mod fleet;
mod fleet_check;
mod heartbeats;
#[cfg(feature = "full")]
mod history;
mod integrations;
mod limits;
mod request;
mod run;
mod server;

pub use api::AlertView;
pub use cli::{Cli, Command, ConfigCommand, EXIT_STOPPED, LineCommand, execute, main};
pub use client::{Client, DEFAULT_URL};
pub use connections::ConnectionStats;
#[cfg(unix)]
pub use data_dir::restrict_umask;
pub use data_dir::{
    ALERTS_STATE_FILE, DEFAULT_DATA_DIR, DataDirLock, ExplicitKeys, HISTORY_FILE, LINE_STATE_FILE,
    LOCK_FILE, OUTBOX_FILE, STATE_DIRECTORY_ENV, apply_data_dir, create_data_dir, lock_data_dir,
    resolve_data_dir, use_data_dir,
};
pub use error::AgentError;
pub use exec::{
    EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_TIMED_OUT, EXIT_UNAVAILABLE, ExecArgs, KILL_GRACE,
    MAX_COMMAND_CHARS, REPORT_TIMEOUT, STDERR_TAIL_BYTES, STDERR_TAIL_LINES,
};
pub use limits::{
    BODY_TIMEOUT, HEADER_READ_TIMEOUT, Limits, MAX_CONNECTIONS, MAX_EVENT_STREAMS,
    MAX_EVENT_STREAMS_PER_CLIENT, MAX_STREAM_BUFFER_BYTES,
};
pub use request::{
    MAX_ATTRIBUTES, MAX_BODY_BYTES, MAX_CLOCK_SKEW, MAX_LIMIT, MAX_MESSAGE_CHARS, MAX_NAME_CHARS,
    RECEIVED_AT_ATTRIBUTE,
};
pub use run::{build_system, load_config, run, stop_signal};
pub use server::{Agent, DRAIN_DEADLINE};
