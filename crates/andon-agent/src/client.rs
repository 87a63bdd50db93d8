//! The HTTP client the subcommands use to reach a running agent.

use std::time::Duration;

use serde_json::Value;

use crate::error::AgentError;

/// The agent URL used when neither `--url` nor `ANDON_URL` is given.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7600";

/// A client of a running agent's API.
///
/// ```no_run
/// use andon_agent::Client;
/// use serde_json::json;
///
/// # async fn pull() -> Result<(), andon_agent::AgentError> {
/// let client = Client::new("http://127.0.0.1:7600", None)?;
/// let accepted = client.post("/v1/signals", &json!({"color": "red", "message": "disk full"})).await?;
/// println!("{}", accepted["id"]);
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
        self.send(self.http.get(format!("{}{path}", self.base)), path)
            .await
    }

    /// `POST path` with a JSON body, returning the JSON body of a 2xx answer.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AgentError> {
        self.send(
            self.http.post(format!("{}{path}", self.base)).json(body),
            path,
        )
        .await
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<Value, AgentError> {
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
        let body: Option<Value> = serde_json::from_str(&text).ok();
        if status.is_success() {
            body.ok_or_else(|| AgentError::Protocol {
                url,
                reason: format!("the body is not JSON: {}", snippet(&text)),
            })
        } else {
            let message = body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str)
                .map_or_else(|| snippet(&text), str::to_owned);
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
}
