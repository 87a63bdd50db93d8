//! `[agent]`: the long-running agent's HTTP listener.

use serde::{Deserialize, Serialize};

use super::check;
use super::secret::Secret;
use crate::error::ConfigError;

/// The shortest bearer token `[agent] token` accepts, in characters.
pub const MIN_TOKEN_CHARS: usize = 16;

/// `[agent]`: where the agent listens, the token its write endpoints require, and the host
/// names it answers to.
///
/// ```toml
/// [agent]
/// listen = "127.0.0.1:7600"
/// token = "${ANDON_TOKEN}"              # at least 16 characters
/// allowed_hosts = ["andon.example.com"] # names (besides loopback) browsers may use to reach it
/// pagerduty_webhook_secret = "${PAGERDUTY_WEBHOOK_SECRET}" # acknowledge from PagerDuty
/// slack_signing_secret = "${SLACK_SIGNING_SECRET}"         # the Slack buttons
/// heartbeats_auto = false               # a check-in for an unknown heartbeat creates it
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// `host:port` of the API, the board and `/metrics`. Default `127.0.0.1:7600`.
    pub listen: String,
    /// The bearer token write endpoints require (always when the agent listens beyond
    /// loopback), at least 16 characters; write `"${ANDON_TOKEN}"` to keep it out of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// Host names, besides `localhost` and IP addresses of this agent, that requests may carry
    /// in their `Host` header (the name a reverse proxy or the users reach the agent by), such
    /// as `["andon.example.com"]`. Any other name is refused with 421, which stops DNS
    /// rebinding. Default empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The signing secret of a PagerDuty v3 webhook subscription: with it, the agent takes
    /// `incident.acknowledged`, `incident.resolved` and `incident.reassigned` at
    /// `POST /v1/integrations/pagerduty`, verified by `X-PagerDuty-Signature`. Write
    /// `"${PAGERDUTY_WEBHOOK_SECRET}"` to keep it out of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagerduty_webhook_secret: Option<Secret>,
    /// The signing secret of the Slack app whose buttons (*Acknowledge*, *Resume the line*)
    /// post to `POST /v1/integrations/slack`, verified by `X-Slack-Signature`. Write
    /// `"${SLACK_SIGNING_SECRET}"` to keep it out of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_signing_secret: Option<Secret>,
    /// A check-in for a heartbeat no `[[heartbeats]]` entry names creates it (every day, the
    /// other defaults) instead of being refused with 404. Default `false`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub heartbeats_auto: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            listen: "127.0.0.1:7600".to_owned(),
            token: None,
            allowed_hosts: Vec::new(),
            pagerduty_webhook_secret: None,
            slack_signing_secret: None,
            heartbeats_auto: false,
        }
    }
}

impl AgentConfig {
    pub(crate) fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let address: std::net::SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError::new(
                check::key(section, "listen"),
                format!(
                    "`{}` is not ip:port, such as \"127.0.0.1:7600\"",
                    self.listen
                ),
            )
        })?;
        if !address.ip().is_loopback() && self.token.as_ref().is_none_or(Secret::is_empty) {
            return Err(ConfigError::new(
                check::key(section, "token"),
                format!(
                    "is required when listening on {address}, beyond this machine: set token = \"${{ANDON_TOKEN}}\""
                ),
            ));
        }
        if let Some(token) = &self.token {
            super::secret::check_not_placeholder(check::key(section, "token"), token)?;
            check_token(section, token)?;
        }
        for (name, secret) in [
            ("pagerduty_webhook_secret", &self.pagerduty_webhook_secret),
            ("slack_signing_secret", &self.slack_signing_secret),
        ] {
            if let Some(secret) = secret {
                check_signing_secret(section, name, secret)?;
            }
        }
        for host in &self.allowed_hosts {
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
            if !ok {
                return Err(ConfigError::new(
                    check::key(section, "allowed_hosts"),
                    format!(
                        "`{host}` is not a host name: write names without scheme or port, such as \"andon.example.com\""
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Checks a bearer token's length (an empty token means none). The error never shows it.
pub(crate) fn check_token(section: &str, token: &Secret) -> Result<(), ConfigError> {
    let chars = token.expose().chars().count();
    if chars > 0 && chars < MIN_TOKEN_CHARS {
        return Err(ConfigError::new(
            check::key(section, "token"),
            format!(
                "has {chars} characters, fewer than the {MIN_TOKEN_CHARS} required: use a random one, such as the output of `openssl rand -hex 16`"
            ),
        ));
    }
    Ok(())
}

/// The fewest characters a webhook signing secret may have (PagerDuty's and Slack's are longer).
const MIN_SIGNING_SECRET_CHARS: usize = 16;

/// Checks a provider's signing secret: not the redaction placeholder, not empty, not short. The
/// error never shows it.
fn check_signing_secret(section: &str, name: &str, secret: &Secret) -> Result<(), ConfigError> {
    let key = check::key(section, name);
    super::secret::check_not_placeholder(key.clone(), secret)?;
    let chars = secret.expose().chars().count();
    if chars < MIN_SIGNING_SECRET_CHARS {
        return Err(ConfigError::new(
            key,
            format!(
                "has {chars} characters, fewer than the {MIN_SIGNING_SECRET_CHARS} of a real signing secret: copy it whole from the provider (PagerDuty: the webhook subscription; Slack: Basic Information > App Credentials), or leave the key out"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(token: Option<&str>, hosts: &[&str]) -> AgentConfig {
        AgentConfig {
            token: token.map(Secret::from),
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..AgentConfig::default()
        }
    }

    #[test]
    fn the_redaction_placeholder_is_not_a_token() {
        let err = with(Some("[redacted]"), &[]).validate("agent").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agent.token"));
    }

    #[test]
    fn short_tokens_are_refused_without_showing_them() {
        let err = with(Some("a"), &[]).validate("agent").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agent.token"));
        assert!(err.to_string().contains("fewer than the 16"), "{err}");
        let err = with(Some("short-token-15c"), &[])
            .validate("agent")
            .unwrap_err();
        assert!(!err.to_string().contains("short-token"), "{err}");
        assert!(
            with(Some("0123456789abcdef"), &[])
                .validate("agent")
                .is_ok()
        );
        assert!(with(None, &[]).validate("agent").is_ok());
    }

    #[test]
    fn signing_secrets_must_be_whole() {
        let config = |pd: &str, slack: &str| AgentConfig {
            pagerduty_webhook_secret: Some(Secret::from(pd)),
            slack_signing_secret: Some(Secret::from(slack)),
            ..AgentConfig::default()
        };
        let whole = "0123456789abcdef0123";
        assert!(config(whole, whole).validate("agent").is_ok());
        let err = config("", whole).validate("agent").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agent.pagerduty_webhook_secret"));
        let err = config(whole, "sl4ck-short").validate("agent").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agent.slack_signing_secret"));
        assert!(!err.to_string().contains("sl4ck-short"), "{err}");
        let err = config(whole, "[redacted]").validate("agent").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("agent.slack_signing_secret"));
    }

    #[test]
    fn allowed_hosts_are_names() {
        assert!(
            with(None, &["andon.example.com", "board"])
                .validate("agent")
                .is_ok()
        );
        for bad in ["https://andon.example.com", "andon:7600", "", "a b"] {
            let err = with(None, &[bad]).validate("agent").unwrap_err();
            assert_eq!(err.key.as_deref(), Some("agent.allowed_hosts"), "{bad}");
        }
    }
}
