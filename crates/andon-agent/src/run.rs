//! `andon run`: the long-lived agent, from a config file (or the defaults) to a served listener
//! and back to a flushed exit on SIGINT or SIGTERM.

use std::path::Path;

use andon::{AndonConfig, AndonSystem};

use crate::error::AgentError;
use crate::server::Agent;

/// Loads the configuration from `config` (the defaults when `None`), with `listen` replacing
/// `[agent] listen` and `token` used when the file names none, and validates it (a listener
/// beyond loopback needs a token).
pub fn load_config(
    config: Option<&Path>,
    listen: Option<&str>,
    token: Option<&str>,
) -> Result<AndonConfig, AgentError> {
    let mut loaded = match config {
        Some(path) => AndonConfig::from_file(path)?,
        None => AndonConfig::default(),
    };
    if loaded.agent.token.is_none() {
        loaded.agent.token = token.filter(|t| !t.is_empty()).map(Into::into);
    }
    if let Some(listen) = listen {
        loaded.agent.listen = listen.to_owned();
    }
    loaded.validate().map_err(|mut e| {
        if listen.is_some() && e.key.as_deref() == Some("agent.listen") {
            e.message = format!("--listen: {}", e.message);
        }
        e
    })?;
    Ok(loaded)
}

/// Runs the agent until SIGINT or SIGTERM, then stops accepting, flushes every component and
/// returns. `ready` is called with the bound address once the listener is up.
pub async fn run(
    config: AndonConfig,
    ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), AgentError> {
    let listen = config.agent.listen.clone();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| AgentError::Bind {
            address: listen.clone(),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| AgentError::Bind {
        address: listen,
        source,
    })?;
    let system = build_system(config, true).await?;
    let agent = Agent::new(system)?;
    ready(address);
    agent.serve(listener, stop_signal()).await
}

/// Builds the system the agent serves. Its metrics serve no endpoint of their own: the agent
/// serves them at `/metrics` on its one listener. `global_metrics` installs the process-wide
/// `metrics` recorder (one agent per process); tests running several agents in one process
/// pass `false`.
pub async fn build_system(
    config: AndonConfig,
    global_metrics: bool,
) -> Result<AndonSystem, AgentError> {
    let builder = AndonSystem::builder();
    #[cfg(feature = "full")]
    let builder = if config.metrics.enabled {
        let mut metrics =
            andon::metrics::AndonMetrics::builder(config.metrics.clone()).without_endpoint();
        if !global_metrics {
            metrics = metrics.with_local_recorder();
        }
        builder.with_metrics(metrics)
    } else {
        builder
    };
    #[cfg(not(feature = "full"))]
    let _ = global_metrics;
    builder
        .with_config(config)
        .build()
        .await
        .map_err(AgentError::System)
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_overrides_the_file_and_is_checked() {
        let config = load_config(None, Some("127.0.0.1:7700"), None).unwrap();
        assert_eq!(config.agent.listen, "127.0.0.1:7700");
        let err = load_config(None, Some("0.0.0.0:7700"), None).unwrap_err();
        assert!(err.to_string().contains("agent.token"), "{err}");
        let wide = load_config(None, Some("0.0.0.0:7700"), Some("t0ken-0123456789abcdef")).unwrap();
        assert_eq!(wide.agent.token.unwrap().expose(), "t0ken-0123456789abcdef");
        let err = load_config(None, Some("localhost"), None).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
        assert_eq!(
            load_config(None, None, None).unwrap(),
            AndonConfig::default()
        );
    }
}
