//! `type = "email"`: an email channel's settings ([`EmailConfig`]) and how its mail travels
//! ([`EmailTls`]), checked here once. Parsing the addresses as mailboxes needs an SMTP library,
//! so that part stays in andon-alert, which builds its transport from an [`EmailConfig`].

use serde::{Deserialize, Serialize};

use super::super::{Secret, check};
use crate::error::ConfigError;

/// How email travels to the SMTP server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption, usually port 25; for local relays and tests.
    None,
}

impl EmailTls {
    /// The port an email channel with this mode uses when it sets none: 587 for `starttls`,
    /// 465 for `tls`, 25 for `none`.
    pub fn default_port(self) -> u16 {
        match self {
            EmailTls::Starttls => 587,
            EmailTls::Tls => 465,
            EmailTls::None => 25,
        }
    }
}

/// An email channel (`[alerts.channels.NAME]` with `type = "email"`): the SMTP server, the
/// credentials, the sender and the recipients. The password is a [`Secret`]: `Debug` and
/// serializing show it as `[redacted]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP server's host name.
    pub host: String,
    /// The port; default 587 for `starttls`, 465 for `tls`, 25 for `none` (see
    /// [`port`](EmailConfig::port)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default)]
    pub tls: EmailTls,
    /// The SMTP user, when the server wants credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The SMTP password (a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender, such as `"andon <andon@example.com>"`.
    pub from: String,
    /// The addresses the mail goes to (at least one).
    pub to: Vec<String>,
    /// Messages per minute before merging into digests. Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_per_minute: Option<u32>,
}

impl EmailConfig {
    /// The port to connect to: the configured one, else the usual one for `tls`.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.tls.default_port())
    }

    /// Checks what can be checked without an SMTP library (the budget is checked with every
    /// channel's); `key` is the channel's dotted key.
    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if let Some(password) = &self.password {
            crate::config::secret::check_not_placeholder(format!("{key}.password"), password)?;
        }
        check::not_empty(key, "host", &self.host)?;
        check::not_empty(key, "from", &self.from)?;
        if self.to.is_empty() || self.to.iter().any(|t| !t.contains('@')) {
            return Err(ConfigError::new(
                format!("{key}.to"),
                "must list at least one address, such as [\"oncall@example.com\"]",
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(ConfigError::new(
                format!("{key}.username"),
                "must be set when a password is: SMTP credentials need both",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ChannelConfig;
    use super::*;

    fn email(port: Option<u16>, tls: EmailTls) -> EmailConfig {
        EmailConfig {
            host: "smtp.example.com".into(),
            port,
            tls,
            username: None,
            password: None,
            from: "andon <andon@example.com>".into(),
            to: vec!["oncall@example.com".into()],
            budget_per_minute: None,
        }
    }

    #[test]
    fn the_port_defaults_by_tls_mode() {
        let ports: Vec<u16> = [EmailTls::Starttls, EmailTls::Tls, EmailTls::None]
            .into_iter()
            .map(|tls| email(None, tls).port())
            .collect();
        assert_eq!(ports, [587, 465, 25]);
        assert_eq!(email(Some(2525), EmailTls::Tls).port(), 2525);
    }

    #[test]
    fn an_email_channel_reads_and_writes_as_a_tagged_table() {
        let channel: ChannelConfig = toml::from_str(
            "type = \"email\"\nhost = \"smtp.example.com\"\nfrom = \"andon <andon@example.com>\"\nto = [\"oncall@example.com\"]",
        )
        .unwrap();
        assert_eq!(
            channel,
            ChannelConfig::Email(email(None, EmailTls::Starttls))
        );
        let json = serde_json::to_value(&channel).unwrap();
        assert_eq!(json["type"], "email");
        assert_eq!(json["host"], "smtp.example.com");
        let unknown = toml::from_str::<ChannelConfig>(
            "type = \"email\"\nhost = \"h\"\nfrom = \"a@b\"\nto = [\"c@d\"]\nhots = \"x\"",
        );
        assert!(unknown.is_err());
    }
}
