//! Acknowledging where people are: PagerDuty v3 webhooks and Slack's interactive buttons, mapped
//! to andon's own acknowledgement and resume, recorded with who did it.
//!
//! These two endpoints are written to by providers, not browsers or the CLI, so the edge's
//! browser rules (JSON only, own origin, no proxy without a token) and the bearer token do not
//! apply to them (see [`is_signed_path`]); each request is authenticated by the provider's
//! HMAC-SHA256 signature over its raw body instead, with the configured signing secret, and
//! must be recent and new (a replay window and a memory of the deliveries already taken).
//! Whatever fails the check is answered 401, counted on `/metrics`
//! (`andon_agent_webhooks_total{provider,result}`) and never acted on.

// The counters on `/metrics`, which only the metrics component (`full`) serves.
#[cfg(any(test, feature = "full"))]
mod metrics;
mod pagerduty;
mod slack;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use andon::config::{AgentConfig, Secret};
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::alerts::{self, Ack};
use crate::request::ApiError;
use crate::server::{AgentState, Routes, Served};

/// The path prefix of the provider endpoints: exempt from the browser write rules, verified
/// by signature instead.
pub(crate) const PREFIX: &str = "/v1/integrations/";

/// How old (or how far ahead of this clock) a signed request may be: Slack's documented five
/// minutes, used for PagerDuty's `occurred_at` too.
pub(crate) const REPLAY_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The largest provider request taken (Slack's block actions carry the whole message).
const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// How many recent deliveries are remembered to refuse replays (within the window).
const SEEN_MAX: usize = 10_000;

/// Whether `path` is one of the provider endpoints, authenticated by signature.
pub(crate) fn is_signed_path(path: &str) -> bool {
    path.starts_with(PREFIX)
}

/// A service whose signed webhooks the agent accepts: each signs its requests its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Provider {
    PagerDuty,
    Slack,
}

impl Provider {
    fn label(self) -> &'static str {
        match self {
            Provider::PagerDuty => "pagerduty",
            Provider::Slack => "slack",
        }
    }

    fn index(self) -> usize {
        match self {
            Provider::PagerDuty => 0,
            Provider::Slack => 1,
        }
    }
}

/// What became of a provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Verified and taken.
    Accepted,
    /// No signature (or timestamp) header.
    Unsigned,
    /// A signature that does not match the body.
    Forged,
    /// Signed, but outside the replay window.
    Stale,
    /// Signed and recent, but already taken once.
    Replayed,
    /// Verified, but not a payload andon understands.
    Malformed,
    /// No signing secret is configured for this provider.
    Unconfigured,
}

const OUTCOMES: [Outcome; 7] = [
    Outcome::Accepted,
    Outcome::Unsigned,
    Outcome::Forged,
    Outcome::Stale,
    Outcome::Replayed,
    Outcome::Malformed,
    Outcome::Unconfigured,
];

impl Outcome {
    fn index(self) -> usize {
        match self {
            Outcome::Accepted => 0,
            Outcome::Unsigned => 1,
            Outcome::Forged => 2,
            Outcome::Stale => 3,
            Outcome::Replayed => 4,
            Outcome::Malformed => 5,
            Outcome::Unconfigured => 6,
        }
    }
}

/// The provider secrets, the deliveries already taken, and the counters.
pub(crate) struct Webhooks {
    pagerduty_secret: Option<Secret>,
    slack_secret: Option<Secret>,
    /// Delivery id → when it was signed (Unix seconds), per provider.
    seen: Mutex<HashMap<(Provider, String), u64>>,
    counts: [[AtomicU64; OUTCOMES.len()]; 2],
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("pagerduty", &self.pagerduty_secret.is_some())
            .field("slack", &self.slack_secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Webhooks {
    /// The webhooks of `[agent]`'s signing secrets (an empty secret is none).
    pub(crate) fn new(config: &AgentConfig) -> Self {
        let secret = |s: &Option<Secret>| s.clone().filter(|s| !s.is_empty());
        Webhooks {
            pagerduty_secret: secret(&config.pagerduty_webhook_secret),
            slack_secret: secret(&config.slack_signing_secret),
            seen: Mutex::new(HashMap::new()),
            counts: Default::default(),
        }
    }

    fn secret(&self, provider: Provider) -> Option<&Secret> {
        match provider {
            Provider::PagerDuty => self.pagerduty_secret.as_ref(),
            Provider::Slack => self.slack_secret.as_ref(),
        }
    }

    pub(crate) fn count(&self, provider: Provider, outcome: Outcome) {
        self.counts[provider.index()][outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// How many requests of `provider` ended as `outcome`.
    #[cfg(test)]
    pub(crate) fn counted(&self, provider: Provider, outcome: Outcome) -> u64 {
        self.counts[provider.index()][outcome.index()].load(Ordering::Relaxed)
    }

    /// Remembers the delivery `id` signed at `signed_at` (Unix seconds); `false` when it was
    /// taken before. Entries older than the replay window are forgotten (a replay of them is
    /// stale anyway); at most [`SEEN_MAX`] are kept, the oldest dropped first.
    fn first_time(&self, provider: Provider, id: String, signed_at: u64, now: u64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let horizon = now.saturating_sub(REPLAY_WINDOW.as_secs() * 2);
        seen.retain(|_, at| *at >= horizon);
        if seen.contains_key(&(provider, id.clone())) {
            return false;
        }
        if seen.len() >= SEEN_MAX
            && let Some(oldest) = seen
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
        {
            seen.remove(&oldest);
        }
        seen.insert((provider, id), signed_at);
        true
    }
}

/// The routes `POST /v1/integrations/pagerduty` and `POST /v1/integrations/slack`.
pub(crate) fn router(state: Arc<AgentState>) -> Served {
    Routes::new()
        .route("/v1/integrations/pagerduty", post(pagerduty::webhook))
        .route("/v1/integrations/slack", post(slack::interaction))
        .map(|router| router.layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES)))
        .with_state(state)
}

/// HMAC-SHA256 of `message` under `secret`, lower-case hex.
pub(crate) fn hmac_hex(secret: &Secret, message: &[&[u8]]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
    for part in message {
        mac.update(part);
    }
    Some(andon::core::hex::encode(&mac.finalize().into_bytes()))
}

/// Whether `given` equals `expected`, in time that does not depend on where they differ.
pub(crate) fn same(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Now, in Unix seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a request signed at `signed_at` (Unix seconds) is inside the replay window of `now`.
pub(crate) fn recent(signed_at: u64, now: u64) -> bool {
    signed_at.abs_diff(now) <= REPLAY_WINDOW.as_secs()
}

/// A refusal: counted, answered with `status` and a message that names what to fix.
pub(crate) fn refuse(
    state: &AgentState,
    provider: Provider,
    outcome: Outcome,
    message: impl Into<String>,
) -> ApiError {
    state.webhooks.count(provider, outcome);
    let status = match outcome {
        Outcome::Unconfigured => StatusCode::NOT_FOUND,
        Outcome::Malformed => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiError::new(status, message)
}

/// The secret of `provider`, or the 404 that says how to configure it.
pub(crate) fn secret_of(state: &AgentState, provider: Provider) -> Result<Secret, ApiError> {
    state.webhooks.secret(provider).cloned().ok_or_else(|| {
        let key = match provider {
            Provider::PagerDuty => "pagerduty_webhook_secret = \"${PAGERDUTY_WEBHOOK_SECRET}\"",
            Provider::Slack => "slack_signing_secret = \"${SLACK_SIGNING_SECRET}\"",
        };
        refuse(
            state,
            provider,
            Outcome::Unconfigured,
            format!(
                "the {} integration is not configured: set [agent] {key}",
                provider.label()
            ),
        )
    })
}

/// After the signature: the request must be recent and new. `id` names the delivery.
pub(crate) fn check_fresh(
    state: &AgentState,
    provider: Provider,
    signed_at: u64,
    id: String,
) -> Result<(), ApiError> {
    let now = unix_now();
    if !recent(signed_at, now) {
        return Err(refuse(
            state,
            provider,
            Outcome::Stale,
            format!(
                "the request was signed {}s from this agent's clock, beyond the {}s replay window: it is not acted on (check the clock of this machine)",
                signed_at.abs_diff(now),
                REPLAY_WINDOW.as_secs()
            ),
        ));
    }
    if !state.webhooks.first_time(provider, id, signed_at, now) {
        return Err(refuse(
            state,
            provider,
            Outcome::Replayed,
            "this delivery was already taken: a replay is not acted on",
        ));
    }
    Ok(())
}

/// What acknowledging the alert `fingerprint` as `by` did, in one sentence for the reply. Only
/// an open alert's exact fingerprint is taken (never a rule name, which the API's
/// acknowledgement also accepts: a provider's key must not acknowledge a whole rule).
pub(crate) fn acknowledge(state: &AgentState, fingerprint: &str, by: &str) -> (bool, String) {
    if !is_open(state, fingerprint) {
        return (
            false,
            format!("no open andon alert has the key {fingerprint}: nothing to acknowledge"),
        );
    }
    match alerts::acknowledge(&state.system, fingerprint, by) {
        #[cfg(feature = "full")]
        Ack::Done(n) if n > 0 => {
            state.alerts_changed.notify_one();
            (
                true,
                format!("andon alert {fingerprint} acknowledged by {by}: it stops escalating"),
            )
        }
        #[cfg(feature = "full")]
        Ack::Done(_) | Ack::Unknown(_) => (
            false,
            format!("no open andon alert has the key {fingerprint}: nothing to acknowledge"),
        ),
        Ack::Disabled => (
            false,
            "alerting is not enabled in this agent: nothing to acknowledge".to_owned(),
        ),
    }
}

/// Whether the alert `fingerprint` is open (its condition still holds, or it keeps firing).
pub(crate) fn is_open(state: &AgentState, fingerprint: &str) -> bool {
    alerts::open(&state.system)
        .unwrap_or_default()
        .iter()
        .any(|a| a.fingerprint == fingerprint)
}

/// Writes a record of what a provider request did to andon's log, when the logger is on.
pub(crate) fn log(state: &AgentState, provider: Provider, message: &str, by: &str) {
    #[cfg(feature = "full")]
    if let Some(logger) = state.system.logger() {
        use andon::core::LogSink;
        let _ = logger.write(andon::core::LogEntry {
            level: andon::core::LogLevel::Info,
            message: message.to_owned(),
            component: Some("alerts".to_owned()),
            fields: vec![
                ("provider".to_owned(), provider.label().into()),
                ("by".to_owned(), by.into()),
            ],
        });
    }
    #[cfg(not(feature = "full"))]
    let _ = (state, provider, message, by);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = Secret::new("Jefe");
        assert_eq!(
            hmac_hex(&key, &[b"what do ya want ", b"for nothing?"]).unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        assert!(recent(1_000, 1_300) && recent(1_300, 1_000));
        assert!(!recent(1_000, 1_301) && !recent(1_301, 1_000));
    }

    #[test]
    fn a_delivery_is_taken_once_and_forgotten_after_the_window() {
        let hooks = Webhooks::new(&AgentConfig::default());
        assert!(hooks.first_time(Provider::Slack, "a".into(), 1_000, 1_000));
        assert!(!hooks.first_time(Provider::Slack, "a".into(), 1_000, 1_010));
        assert!(hooks.first_time(Provider::PagerDuty, "a".into(), 1_000, 1_010));
        // Long after, the old entry is gone (a replay of it would be stale anyway).
        assert!(hooks.first_time(Provider::Slack, "b".into(), 5_000, 5_000));
        assert_eq!(hooks.seen.lock().unwrap().len(), 1);
    }
}
