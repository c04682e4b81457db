//! Invitation e-mails over SMTP (issue #12). The e-mail is the only way an invitation made in the
//! console or the API reaches the invitee (issue #20: the inviter never sees the link); a mail
//! server that is down fails no request: the inviter is told, and re-invites later.

use std::fmt;
use std::time::Duration;

use lettre::message::header::ContentType;
pub use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one delivery may take, so an unresponsive mail server cannot hold a request.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a trusted network.
    None,
}

#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub from: Mailbox,
    pub security: SmtpSecurity,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from.to_string())
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

/// Parses `--smtp-from`: `trustgate@example.com` or `Trustgate <trustgate@example.com>`.
pub fn parse_mailbox(text: &str) -> Result<Mailbox, String> {
    text.trim().parse::<Mailbox>().map_err(|e| format!("not an e-mail address: {e}"))
}

#[derive(Debug, thiserror::Error)]
#[error("the invitation e-mail could not be sent: {0}")]
pub struct MailError(String);

/// Sends one plain-text message.
pub async fn send(settings: &SmtpSettings, to: &str, subject: &str, body: String) -> Result<(), MailError> {
    let fail = |e: &dyn fmt::Display| MailError(e.to_string());
    let to: Mailbox = to.parse().map_err(|e| fail(&e))?;
    let message = Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| fail(&e))?;
    let builder = match settings.security {
        SmtpSecurity::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host).map_err(|e| fail(&e))?
        }
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(|e| fail(&e))?,
        SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host),
    };
    let mut builder = builder.port(settings.port).timeout(Some(SEND_TIMEOUT));
    if let Some((user, password)) = &settings.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder.build().send(message).await.map_err(|e| fail(&e))?;
    Ok(())
}

/// How an invitation made through the API or the console reached the invitee (issue #20). The
/// link itself is never handed to the inviting administrator: whoever holds it may complete the
/// invitation, and the inviter does not control the invitee's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// E-mailed to the invitee's address.
    Emailed,
    /// SMTP is configured but the mail server did not take the message: re-invite later.
    MailFailed,
    /// No mail server is configured: the deployment's operator passes the link on
    /// (`trustgate admin invite` prints a new one for a pending invitation).
    NoMailServer,
}
