//! Starting an agent in-process on a free loopback port for the API tests.
#![allow(dead_code)] // each test binary uses a part of the helpers

use andon::{AndonConfig, AndonSystem};
use andon_agent::{Agent, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The configuration the tests run with: components that would reach the network are off.
pub(crate) const QUIET: &str =
    "[metrics]\nenabled = false\n[tracer]\nenabled = false\n[observer]\nenabled = false\n";

pub(crate) struct TestAgent {
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) system: AndonSystem,
    /// The served agent (a clone: its limits and connection counters).
    pub(crate) agent: Agent,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), andon_agent::AgentError>>>,
}

impl TestAgent {
    pub(crate) async fn start(config_toml: &str) -> TestAgent {
        Self::start_at(config_toml, "127.0.0.1:0").await
    }

    /// Starts an agent listening on `address` (a loopback address).
    pub(crate) async fn start_at(config_toml: &str, address: &str) -> TestAgent {
        Self::start_with(config_toml, address, Limits::default()).await
    }

    /// Starts an agent listening on `address` (a loopback address) with `limits`.
    pub(crate) async fn start_with(config_toml: &str, address: &str, limits: Limits) -> TestAgent {
        let config = AndonConfig::from_toml_str(config_toml).unwrap();
        let system = andon_agent::build_system(config, false).await.unwrap();
        let agent = Agent::new(system.clone()).unwrap().with_limits(limits);
        let listener = tokio::net::TcpListener::bind(address).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(agent.clone().serve(listener, async {
            let _ = stopped.await;
        }));
        let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's TLS: ring
        TestAgent {
            url,
            http: reqwest::Client::new(),
            system,
            agent,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// `ip:port` of the agent.
    pub(crate) fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_owned()
    }

    /// Sends `request` as raw bytes on a new connection and reads until the agent closes it;
    /// returns the status code (0 when nothing came back), the headers and the body text.
    pub(crate) async fn raw(&self, request: &str) -> (u16, String, String) {
        let mut stream = tokio::net::TcpStream::connect(self.address())
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            stream.read_to_end(&mut answer),
        )
        .await;
        assert!(
            read.is_ok(),
            "the agent neither answered nor closed: {request}"
        );
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.http.get(self.at(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub(crate) async fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.post_with(path, body, None).await
    }

    pub(crate) async fn post_with(
        &self,
        path: &str,
        body: &str,
        token: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .http
            .post(self.at(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Stops the agent as SIGTERM would, and returns what `serve` returned.
    pub(crate) async fn stop(mut self) -> Result<(), andon_agent::AgentError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.take().unwrap().await.unwrap()
    }
}
