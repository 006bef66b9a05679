//! Where rendered emails go: a real SMTP server through lettre, or, in
//! development with no mail server configured, the log and an in-memory
//! mailbox shown at /dev/emails.

use super::templates::RenderedEmail;
use crate::config::{EmailConfig, SmtpTls, is_loopback_host};
use domain::views::DevEmail;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many emails the development mailbox keeps.
const DEV_MAILBOX_SIZE: usize = 100;

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log(DevMailbox),
}

#[derive(Clone, Default)]
pub struct DevMailbox(Arc<Mutex<VecDeque<DevEmail>>>);

impl DevMailbox {
    pub fn list(&self) -> Vec<DevEmail> {
        self.0
            .lock()
            .map(|m| m.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn push(&self, email: DevEmail) {
        if let Ok(mut m) = self.0.lock() {
            m.push_front(email);
            m.truncate(DEV_MAILBOX_SIZE);
        }
    }
}

/// A send that did not work. Permanent failures (the server refused the
/// address, say) are not retried.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
pub struct SendFailure {
    pub permanent: bool,
    pub text: String,
}

/// Settings that cannot work, each with what to do.
#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    #[error(
        "PORTAL_EMAIL_FROM must be an email address, optionally with a name, like \"GP online services <no-reply@portal.example.nhs.uk>\""
    )]
    BadSender,
    #[error(
        "No mail server is set (PORTAL_SMTP_HOST). Without one, emails are only written to the log, which is allowed only while the portal can be reached from this machine alone (PORTAL_PUBLIC_URL on localhost and PORTAL_ADDR on a loopback address). Set PORTAL_SMTP_HOST"
    )]
    NoMailServer,
    #[error(
        "PORTAL_SMTP_TLS=none sends email unencrypted, which is allowed only to a mail server on this machine. Use starttls or implicit"
    )]
    PlainTextToRemoteServer,
    #[error("Could not set up the connection to the mail server {host}: {cause}")]
    Smtp { host: String, cause: String },
}

pub fn sender(config: &EmailConfig) -> Result<Mailbox, EmailSetupError> {
    config
        .email_from
        .parse::<Mailbox>()
        .map_err(|_| EmailSetupError::BadSender)
}

impl Transport {
    pub fn from_config(config: &EmailConfig, local_only: bool) -> Result<Self, EmailSetupError> {
        let Some(host) = config.smtp_host.as_deref().filter(|h| !h.trim().is_empty()) else {
            if !local_only {
                return Err(EmailSetupError::NoMailServer);
            }
            return Ok(Transport::Log(DevMailbox::default()));
        };
        let smtp_err = |cause: lettre::transport::smtp::Error| EmailSetupError::Smtp {
            host: host.to_owned(),
            cause: cause.to_string(),
        };
        let builder = match config.smtp_tls {
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(smtp_err)?
            }
            SmtpTls::Implicit => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(smtp_err)?
            }
            SmtpTls::None => {
                if !is_loopback_host(host) {
                    return Err(EmailSetupError::PlainTextToRemoteServer);
                }
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            }
        };
        let mut builder = builder
            .port(config.smtp_port())
            .timeout(Some(Duration::from_secs(
                config.smtp_timeout_seconds.max(1),
            )));
        if let (Some(user), Some(password)) = (&config.smtp_username, &config.smtp_password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Transport::Smtp(builder.build()))
    }

    pub fn mailbox(&self) -> Option<&DevMailbox> {
        match self {
            Transport::Log(m) => Some(m),
            Transport::Smtp(_) => None,
        }
    }

    pub async fn send(
        &self,
        from: &Mailbox,
        to: &str,
        message_id: &str,
        email: &RenderedEmail,
    ) -> Result<(), SendFailure> {
        let permanent = |text: String| SendFailure {
            permanent: true,
            text,
        };
        // The address alone, never a display name: nothing typed by a
        // person goes into the To header.
        let to_mailbox = to
            .parse::<lettre::Address>()
            .map(|a| Mailbox::new(None, a))
            .map_err(|e| permanent(format!("recipient address refused: {e}")))?;
        match self {
            Transport::Smtp(mailer) => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to_mailbox)
                    .subject(email.subject.clone())
                    .message_id(Some(message_id.to_owned()))
                    .date_now()
                    .multipart(with_calendar(
                        MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()),
                        email.calendar.as_deref(),
                    ))
                    .map_err(|e| permanent(format!("message could not be built: {e}")))?;
                mailer
                    .send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| SendFailure {
                        permanent: e.is_permanent(),
                        text: e.to_string(),
                    })
            }
            Transport::Log(mailbox) => {
                // Development only (refused unless the portal is on localhost).
                tracing::info!(
                    to = %to,
                    subject = %email.subject,
                    "email not sent (no mail server configured); it is shown at /dev/emails:\n{}",
                    email.text
                );
                mailbox.push(DevEmail {
                    to: to.to_owned(),
                    subject: email.subject.clone(),
                    links: links_in(&email.text),
                    text: email.text.clone(),
                    sent_at: chrono::Utc::now(),
                });
                Ok(())
            }
        }
    }
}

/// The body with the appointment's .ics attached, when there is one.
fn with_calendar(body: MultiPart, calendar: Option<&str>) -> MultiPart {
    use lettre::message::Attachment;
    use lettre::message::header::ContentType;
    let Some(ics) = calendar else {
        return body;
    };
    let Ok(content_type) = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
    else {
        return body;
    };
    MultiPart::mixed().multipart(body).singlepart(
        Attachment::new("appointment.ics".to_owned()).body(ics.to_owned(), content_type),
    )
}

fn links_in(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .map(str::to_owned)
        .collect()
}
