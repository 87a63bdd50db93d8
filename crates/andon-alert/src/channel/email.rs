//! The email channel: lettre over SMTP, with STARTTLS, TLS or plain, and credentials. The body
//! is the notification's text, its key and fingerprints, and for a CRITICAL alert the whole
//! diagnostics snapshot; the `Message-ID` is made from the notification key, the same when the
//! outbox sends it again, so that mail systems can drop the repeat.

use std::time::Duration;

use andon_core::config::{ChannelConfig, EmailTls};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::DeliveryError;
use super::redact::{Redactor, cut};
use crate::error::AlertError;
use crate::notification::Notification;

/// An SMTP transport and the envelope.
pub(crate) struct EmailTransport {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    redactor: Redactor,
}

impl std::fmt::Debug for EmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTransport")
            .field("from", &self.from.to_string())
            .field("to", &self.to.len())
            .finish_non_exhaustive()
    }
}

impl EmailTransport {
    pub(crate) fn build(
        name: &str,
        config: &ChannelConfig,
        timeout: Duration,
    ) -> Result<Self, AlertError> {
        let err = |message: String| AlertError::Channel {
            channel: name.to_owned(),
            message,
        };
        let ChannelConfig::Email(email) = config else {
            return Err(err("is not an email channel".to_owned()));
        };
        let host = &email.host;
        let builder = match email.tls {
            EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            EmailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| err(format!("cannot use STARTTLS with `{host}`: {e}")))?,
            EmailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| err(format!("cannot use TLS with `{host}`: {e}")))?,
        };
        let mut builder = builder.port(email.port()).timeout(Some(timeout));
        let redactor = Redactor::new(email.password.iter().collect::<Vec<_>>().as_slice(), &[]);
        if let Some(user) = &email.username {
            let pass = email
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), pass));
        }
        let from: Mailbox = email.from.parse().map_err(|e| {
            err(format!(
                "`from` is not an address ({e}): write \"andon <andon@example.com>\""
            ))
        })?;
        let to = email
            .to
            .iter()
            .map(|t| {
                t.parse::<Mailbox>()
                    .map_err(|e| err(format!("`{t}` in `to` is not an address ({e})")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EmailTransport {
            transport: builder.build(),
            from,
            to,
            redactor,
        })
    }

    pub(crate) async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(notification.title.clone())
            .message_id(Some(message_id(&notification.key)))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(body(notification))
            .map_err(|e| DeliveryError::permanent(format!("cannot build the message: {e}")))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            let reason = cut(&self.redactor.redact(&e.to_string()), 200);
            if e.is_permanent() {
                DeliveryError::permanent(format!("SMTP refused: {reason}"))
            } else {
                DeliveryError::transient(format!("SMTP failed: {reason}"))
            }
        })
    }
}

/// The plain-text body: the text, a `Trace:` URL line per alert linked to the trace UI, the key
/// and fingerprints, then the snapshot as indented JSON.
fn body(notification: &Notification) -> String {
    let mut body = notification.text();
    for url in notification
        .alerts
        .iter()
        .filter_map(|a| a.trace_url.as_ref())
    {
        body.push_str(&format!("\nTrace: {url}"));
    }
    body.push_str(&format!("\n\nNotification key: {}\n", notification.key));
    for alert in &notification.alerts {
        body.push_str(&format!(
            "Fingerprint: {} ({})\n",
            alert.fingerprint, alert.rule
        ));
    }
    if let Some(snapshot) = &notification.snapshot {
        let pretty =
            serde_json::to_string_pretty(snapshot).unwrap_or_else(|_| snapshot.to_string());
        body.push_str("\nDiagnostics snapshot:\n");
        body.push_str(&pretty);
        body.push('\n');
    }
    body
}

/// `<KEY@andon>`, with the key's characters outside letters, digits, `-` and `.` as `.`.
fn message_id(key: &str) -> String {
    let left: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    let left = left.trim_matches('.');
    format!(
        "<{}@andon>",
        if left.is_empty() {
            "notification"
        } else {
            left
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_id_is_the_key_made_safe() {
        assert_eq!(message_id("abc-1700-f1"), "<abc-1700-f1@andon>");
        assert_eq!(message_id("a b<c>@d"), "<a.b.c..d@andon>");
        assert_eq!(message_id("@@"), "<notification@andon>");
    }
}
