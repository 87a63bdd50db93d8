//! The API thread: batches lines by count and bytes, gets tokens from Application Default
//! Credentials, writes with `entries:write`, retries 429, 5xx and unanswered requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use andon_core::config::CloudLoggingApi;
use gcp_auth::{CustomServiceAccount, TokenProvider};
use serde_json::Value;
use tokio::sync::mpsc::Receiver;

use super::Outcome;
use super::{detect, entry};

/// The OAuth scope `entries:write` needs.
const SCOPES: &[&str] = &["https://www.googleapis.com/auth/logging.write"];
/// One request's overall limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The first retry's wait, doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Who we are to Google, once found.
struct Session {
    provider: Arc<dyn TokenProvider>,
    log_name: String,
    resource: Value,
    project: String,
}

/// The API thread's state.
pub(super) struct Worker {
    api: CloudLoggingApi,
    project_id: Option<String>,
    outcome: Arc<Outcome>,
    session: Option<Session>,
    http: Option<reqwest::Client>,
    last_report: Option<Instant>,
    failing: bool,
}

/// A failed attempt: retry it or give up on the batch.
enum Failure {
    Retry(String),
    Fatal(String),
}

impl Worker {
    pub(super) fn new(
        api: CloudLoggingApi,
        project_id: Option<String>,
        outcome: Arc<Outcome>,
    ) -> Worker {
        Worker {
            api,
            project_id,
            outcome,
            session: None,
            http: None,
            last_report: None,
            failing: false,
        }
    }

    /// Runs until the writer's end of `rx` is gone and everything queued was tried.
    pub(super) fn run(mut self, mut rx: Receiver<Vec<u8>>, report_interval: Duration) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let error = format!("cannot start the Cloud Logging API runtime: {e}");
                self.report(&error, report_interval);
                // Nothing can be sent: account for every line as lost.
                while let Some(_line) = rx.blocking_recv() {
                    self.outcome.lost(1, error.clone());
                }
                return;
            }
        };
        runtime.block_on(async {
            let mut lines = Vec::new();
            while let Some(first) = rx.recv().await {
                let mut bytes = first.len();
                lines.push(first);
                while lines.len() < self.api.max_batch_entries && bytes < self.api.max_batch_bytes {
                    match rx.try_recv() {
                        Ok(line) if bytes + line.len() > self.api.max_batch_bytes => {
                            // Too big to join this batch: it starts the next one.
                            self.send(std::mem::take(&mut lines), report_interval).await;
                            bytes = 0;
                            lines.push(line);
                        }
                        Ok(line) => {
                            bytes += line.len();
                            lines.push(line);
                        }
                        Err(_) => break,
                    }
                }
                self.send(std::mem::take(&mut lines), report_interval).await;
            }
        });
    }

    /// Writes one batch, retrying; counts it delivered or lost.
    async fn send(&mut self, lines: Vec<Vec<u8>>, report_interval: Duration) {
        if lines.is_empty() {
            return;
        }
        let count = lines.len() as u64;
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 0;
        let mut body = None;
        loop {
            let result = match self.ensure_session().await {
                Ok(()) => {
                    let Some(session) = self.session.as_ref() else {
                        return;
                    };
                    let body = body.get_or_insert_with(|| {
                        let entries = lines
                            .iter()
                            .filter_map(|line| entry::to_entry(line, &session.project))
                            .collect();
                        serde_json::to_vec(&entry::request(
                            &session.log_name,
                            &session.resource,
                            &self.api.labels,
                            entries,
                        ))
                        .unwrap_or_default()
                    });
                    post(session, self.http.as_ref(), &self.api.endpoint, body).await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    self.outcome.delivered(count);
                    if self.failing {
                        self.failing = false;
                        self.last_report = None;
                        to_stderr("andon-log: sink CloudLogging(api) recovered");
                    }
                    return;
                }
                Err(Failure::Retry(e))
                    if attempt < self.api.max_retries && !self.outcome.closing() =>
                {
                    attempt += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    let _ = e;
                }
                Err(Failure::Retry(e) | Failure::Fatal(e)) => {
                    let error = format!("{e}; {count} record(s) not written");
                    self.report(&error, report_interval);
                    self.outcome.lost(count, error);
                    return;
                }
            }
        }
    }

    /// The credentials, project, log name and resource, found on first use.
    async fn ensure_session(&mut self) -> Result<(), Failure> {
        if self.http.is_none() {
            // reqwest is built without a crypto provider of its own (the workspace's one TLS
            // stack is ring): make ring the process default, unless the application chose one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let client = reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .map_err(|e| Failure::Fatal(format!("cannot build the HTTP client: {e}")))?;
            self.http = Some(client);
        }
        if self.session.is_none() {
            let provider: Arc<dyn TokenProvider> = match &self.api.credentials {
                Some(path) => Arc::new(CustomServiceAccount::from_file(path).map_err(|e| {
                    Failure::Fatal(format!(
                        "cannot read the service-account key {} (api.credentials): {e}",
                        path.display()
                    ))
                })?),
                None => gcp_auth::provider().await.map_err(|e| {
                    Failure::Retry(format!(
                        "no Application Default Credentials ({e}): set GOOGLE_APPLICATION_CREDENTIALS or api.credentials"
                    ))
                })?,
            };
            let project = match &self.project_id {
                Some(project) => project.clone(),
                None => provider.project_id().await.map(|p| p.to_string()).map_err(|e| {
                    Failure::Fatal(format!(
                        "no project id in the credentials or the metadata server ({e}): set project_id on the CloudLogging sink"
                    ))
                })?,
            };
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let resource = match entry::resource(self.api.resource.as_ref(), &project, env) {
                Some(resource) => resource,
                None => match self.http.as_ref() {
                    Some(http) => {
                        let base = detect::metadata_base(env);
                        detect::gce_instance(http, &base, &project).await
                    }
                    None => None,
                }
                .unwrap_or_else(|| entry::global(&project)),
            };
            self.session = Some(Session {
                provider,
                log_name: entry::log_name(&project, &self.api.log_id),
                resource,
                project,
            });
        }
        Ok(())
    }

    /// Tells stderr, at most once per `interval`.
    fn report(&mut self, error: &str, interval: Duration) {
        self.failing = true;
        let now = Instant::now();
        if self
            .last_report
            .is_some_and(|last| now.duration_since(last) < interval)
        {
            return;
        }
        self.last_report = Some(now);
        to_stderr(&format!("andon-log: sink CloudLogging(api): {error}"));
    }
}

/// One `entries:write` attempt.
async fn post(
    session: &Session,
    http: Option<&reqwest::Client>,
    endpoint: &str,
    body: &[u8],
) -> Result<(), Failure> {
    let http = http.ok_or_else(|| Failure::Fatal("no HTTP client".to_owned()))?;
    let token = session
        .provider
        .token(SCOPES)
        .await
        .map_err(|e| Failure::Retry(format!("cannot get an access token: {e}")))?;
    let response = http
        .post(endpoint)
        .bearer_auth(token.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| Failure::Retry(format!("entries:write at {endpoint}: {e}")))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let text: String = text.chars().take(300).collect();
    let error = format!("entries:write at {endpoint} answered {status}: {text}");
    if status.as_u16() == 429 || status.is_server_error() {
        Err(Failure::Retry(error))
    } else {
        Err(Failure::Fatal(error))
    }
}

fn to_stderr(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
