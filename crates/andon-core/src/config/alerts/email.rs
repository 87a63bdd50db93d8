//! What an email channel (`type = "email"`) is sent with: the TLS mode, its usual port, and the
//! channel's settings as the alert channel reads them ([`ChannelConfig::email`]). Checking the
//! addresses as mailboxes needs an SMTP library, so that part stays in andon-alert.
//!
//! [`ChannelConfig::email`]: super::ChannelConfig::email

use serde::{Deserialize, Serialize};

use super::super::Secret;

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

/// The settings of one email channel, borrowed from its [`ChannelConfig`](super::ChannelConfig)
/// with the port resolved; what the alert channel builds its SMTP transport from. The password
/// stays a [`Secret`], so `Debug` never shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmailSettings<'a> {
    /// The SMTP server's host name.
    pub host: &'a str,
    /// The port: the configured one, else [`EmailTls::default_port`].
    pub port: u16,
    /// How the connection is encrypted.
    pub tls: EmailTls,
    /// The SMTP user, when the server wants credentials (always set when a password is: the
    /// section's `validate` checks it).
    pub username: Option<&'a str>,
    /// The SMTP password.
    pub password: Option<&'a Secret>,
    /// The sender as written, such as `"andon <andon@example.com>"`.
    pub from: &'a str,
    /// The recipients as written.
    pub to: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::super::ChannelConfig;
    use super::*;

    #[test]
    fn the_port_defaults_by_tls_mode_and_other_kinds_have_no_email_settings() {
        let email = |port, tls| ChannelConfig::Email {
            host: "smtp.example.com".into(),
            port,
            tls,
            username: None,
            password: None,
            from: "andon <andon@example.com>".into(),
            to: vec!["oncall@example.com".into()],
            budget_per_minute: None,
        };
        let ports: Vec<u16> = [EmailTls::Starttls, EmailTls::Tls, EmailTls::None]
            .into_iter()
            .filter_map(|tls| email(None, tls).email().map(|e| e.port))
            .collect();
        assert_eq!(ports, [587, 465, 25]);
        let set = email(Some(2525), EmailTls::Tls);
        let settings = set.email();
        assert_eq!(settings.map(|e| e.port), Some(2525));
        assert_eq!(
            settings.map(|e| e.to),
            Some(&["oncall@example.com".to_owned()][..])
        );
        assert!(ChannelConfig::Log {}.email().is_none());
    }
}
