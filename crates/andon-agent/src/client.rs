//! The HTTP client the subcommands use to reach a running agent.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{
    AckRequest, Acknowledged, AlertList, CheckIn, DiagnosticsReport, ErrorBody, FleetView,
    HeartbeatView, LineState, Liveness, NewSignal, ParetoReport, ResponseTimesReport, ResumeAnswer,
    ResumeRequest, SignalAccepted,
};
use crate::error::AgentError;

/// The agent URL used when neither `--url` nor `ANDON_URL` is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7600";

/// A client of a running agent's API: typed calls for each endpoint (answers in the
/// [`api`](crate::api) types), and [`get`](Client::get) / [`post`](Client::post) for raw JSON.
///
/// ```no_run
/// use andon::Color;
/// use andon_agent::Client;
/// use andon_agent::api::NewSignal;
///
/// # async fn pull() -> Result<(), andon_agent::AgentError> {
/// let client = Client::new("http://127.0.0.1:7600", None)?;
/// let accepted = client.signal(&NewSignal::new(Color::Red, "disk full")).await?;
/// println!("{}", accepted.id);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl Client {
    /// A client of the agent at `url` (`http://host:port`), sending `token` as a bearer token
    /// on every request when given.
    pub fn new(url: &str, token: Option<String>) -> Result<Self, AgentError> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://"))
            || base.len() <= "http://".len()
        {
            return Err(AgentError::Usage(format!(
                "--url / ANDON_URL `{url}` is not an http:// or https:// URL such as {DEFAULT_URL}"
            )));
        }
        // reqwest is built without a crypto provider of its own (the workspace's one TLS stack is
        // ring): make ring the process default, unless the application chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| AgentError::Usage(format!("cannot create the HTTP client: {e}")))?;
        Ok(Client {
            base,
            token: token.filter(|t| !t.is_empty()),
            http,
        })
    }

    /// The agent's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET path`, returning the JSON body of a 2xx answer.
    pub async fn get(&self, path: &str) -> Result<Value, AgentError> {
        self.get_as(path).await
    }

    /// `POST path` with a JSON body, returning the JSON body of a 2xx answer.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AgentError> {
        self.post_as(path, body).await
    }

    /// `GET path`, reading the body of a 2xx answer as a `T`.
    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, AgentError> {
        self.send(self.http.get(format!("{}{path}", self.base)), path)
            .await
    }

    /// `POST path` with `body` as JSON, reading the body of a 2xx answer as a `T`.
    pub async fn post_as<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T, AgentError> {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(body),
            path,
        )
        .await
    }

    /// `POST /v1/signals`: pulls the cord.
    pub async fn signal(&self, signal: &NewSignal) -> Result<SignalAccepted, AgentError> {
        self.post_as("/v1/signals", signal).await
    }

    /// `GET /v1/line`: the line's state.
    pub async fn line(&self) -> Result<LineState, AgentError> {
        self.get_as("/v1/line").await
    }

    /// `POST /v1/line/resume`: resumes a stopped line.
    pub async fn resume(&self, request: &ResumeRequest) -> Result<ResumeAnswer, AgentError> {
        self.post_as("/v1/line/resume", request).await
    }

    /// `GET /v1/alerts`: the open alerts.
    pub async fn alerts(&self) -> Result<AlertList, AgentError> {
        self.get_as("/v1/alerts").await
    }

    /// `POST /v1/alerts/{fingerprint}/ack`: acknowledges the open alerts with `fingerprint`
    /// (letters, digits, `-`, `_`, `:`, `.`).
    ///
    /// # Errors
    ///
    /// [`AgentError::Usage`], before anything is sent, for a fingerprint that is not one: a
    /// text such as `x/../../line/resume?` would otherwise make a URL of another endpoint.
    pub async fn acknowledge(
        &self,
        fingerprint: &str,
        request: &AckRequest,
    ) -> Result<Acknowledged, AgentError> {
        if !crate::request::is_fingerprint(fingerprint) {
            return Err(AgentError::Usage(format!(
                "`{fingerprint}` is not an alert fingerprint: use {}",
                crate::request::FINGERPRINT_RULE
            )));
        }
        self.post_as(&format!("/v1/alerts/{fingerprint}/ack"), request)
            .await
    }

    /// `GET /v1/diagnostics`: one diagnostics snapshot.
    pub async fn diagnostics(&self) -> Result<DiagnosticsReport, AgentError> {
        self.get_as("/v1/diagnostics").await
    }

    /// `POST /v1/heartbeats/{name}`: checks a heartbeat in.
    ///
    /// # Errors
    ///
    /// [`AgentError::Usage`], before anything is sent, for a name that is not a heartbeat
    /// name ([`check_heartbeat_name`](andon::config::check_heartbeat_name)).
    pub async fn check_in(
        &self,
        name: &str,
        check_in: &CheckIn,
    ) -> Result<HeartbeatView, AgentError> {
        andon::config::check_heartbeat_name(name).map_err(AgentError::Usage)?;
        self.post_as(&crate::exec::heartbeat_path(name), check_in)
            .await
    }

    /// `GET /v1/fleet`: every line of the fleet.
    pub async fn fleet(&self) -> Result<FleetView, AgentError> {
        self.get_as("/v1/fleet").await
    }

    /// `GET /v1/history/pareto?{query}`: a Pareto of problem signals.
    pub async fn pareto(&self, query: &str) -> Result<ParetoReport, AgentError> {
        self.get_as(&format!("/v1/history/pareto?{query}")).await
    }

    /// `GET /v1/history/mttr?{query}`: alert response times.
    pub async fn response_times(&self, query: &str) -> Result<ResponseTimesReport, AgentError> {
        self.get_as(&format!("/v1/history/mttr?{query}")).await
    }

    /// `GET /healthz`: whether the agent serves.
    pub async fn health(&self) -> Result<Liveness, AgentError> {
        self.get_as("/healthz").await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<T, AgentError> {
        let url = format!("{}{path}", self.base);
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.map_err(|e| AgentError::Unreachable {
            url: url.clone(),
            reason: describe(&e),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| AgentError::Unreachable {
            url: url.clone(),
            reason: describe(&e),
        })?;
        if status.is_success() {
            serde_json::from_str(&text).map_err(|e| AgentError::Protocol {
                url,
                reason: match serde_json::from_str::<Value>(&text) {
                    Ok(_) => format!(
                        "the answer does not have the documented shape ({e}): {}",
                        snippet(&text)
                    ),
                    Err(_) => format!("the body is not JSON: {}", snippet(&text)),
                },
            })
        } else {
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map_or_else(|_| snippet(&text), |body| body.error);
            Err(AgentError::Rejected {
                status: status.as_u16(),
                message,
            })
        }
    }
}

/// The error and its causes, one line.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_connect() {
        "connection refused or no route".to_owned()
    } else if error.is_timeout() {
        "timed out".to_owned()
    } else {
        error.to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn snippet(text: &str) -> String {
    let cut: String = text.chars().take(200).collect();
    if cut.trim().is_empty() {
        "(empty body)".to_owned()
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_tokens_never_shown() {
        assert!(matches!(
            Client::new("127.0.0.1:7600", None),
            Err(AgentError::Usage(_))
        ));
        assert!(matches!(
            Client::new("http://", None),
            Err(AgentError::Usage(_))
        ));
        let client = Client::new("http://127.0.0.1:7600/", Some("s3cret".into())).unwrap();
        assert_eq!(client.url(), "http://127.0.0.1:7600");
        assert!(!format!("{client:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn a_fingerprint_or_heartbeat_name_that_would_make_another_path_is_never_sent() {
        // Port 9 (discard) on loopback: a request that was sent would fail as unreachable.
        let client = Client::new("http://127.0.0.1:9", None).unwrap();
        let ack = AckRequest { by: None };
        for fingerprint in ["x/../../line/resume?", "..", ".", "a#b", "a%2F", ""] {
            let err = client.acknowledge(fingerprint, &ack).await.unwrap_err();
            assert!(
                matches!(&err, AgentError::Usage(m) if m.contains("not an alert fingerprint")),
                "{fingerprint}: {err}"
            );
        }
        let check_in = CheckIn::new(andon::HeartbeatStatus::Success);
        for name in ["..", "a/b", "x?y"] {
            let err = client.check_in(name, &check_in).await.unwrap_err();
            assert!(
                matches!(&err, AgentError::Usage(m) if m.contains("is not a heartbeat name")),
                "{name}: {err}"
            );
        }
        // A well-formed fingerprint is sent (and finds nobody on port 9).
        let err = client
            .acknowledge("be94982b:a-1.2", &ack)
            .await
            .unwrap_err();
        assert!(matches!(err, AgentError::Unreachable { .. }), "{err}");
    }
}
