//! Rendering an outbox row into an email: subject, plain text and HTML,
//! from the templates in `server/templates/email/` (askama: checked when
//! the server is compiled, HTML escaped). Only what the row's payload
//! holds can appear, and the payload holds no clinical detail.

use super::store::ClaimedEmail;
use askama::Template;
use domain::account_tokens::TokenPurpose;
use domain::notifications::{EmailKind, single_line};

#[derive(Template)]
#[template(path = "email/message.txt")]
struct TextEmail<'a> {
    kind: EmailKind,
    name: &'a str,
    practice_name: Option<&'a str>,
    link: &'a str,
    site: &'a str,
    lifetime: &'a str,
    optional: bool,
    practice_note: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "email/message.html")]
struct HtmlEmail<'a> {
    subject: &'a str,
    kind: EmailKind,
    name: &'a str,
    practice_name: Option<&'a str>,
    link: &'a str,
    site: &'a str,
    lifetime: &'a str,
    optional: bool,
    practice_note: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// An .ics file to attach, for appointment emails.
    pub calendar: Option<String>,
}

/// The page a one-time link opens, or None for emails without one.
pub fn link_path(kind: EmailKind) -> Option<(&'static str, TokenPurpose)> {
    match kind {
        EmailKind::VerifyEmail => Some(("/verify-email", TokenPurpose::VerifyEmail)),
        EmailKind::PasswordReset => Some(("/reset-password", TokenPurpose::ResetPassword)),
        EmailKind::ConfirmEmailChange => Some(("/confirm-email-change", TokenPurpose::ChangeEmail)),
        _ => None,
    }
}

pub fn subject(kind: EmailKind, practice_name: Option<&str>) -> String {
    let practice = practice_name.unwrap_or("your GP practice");
    let text = match kind {
        EmailKind::VerifyEmail => "Confirm your email address".to_owned(),
        EmailKind::AlreadyRegistered => "You already have an account".to_owned(),
        EmailKind::SignUpNotMatched => "We could not create your account".to_owned(),
        EmailKind::PasswordReset => "Reset your password".to_owned(),
        EmailKind::PasswordChanged => "Your password has been changed".to_owned(),
        EmailKind::ConfirmEmailChange => "Confirm your new email address".to_owned(),
        EmailKind::EmailChanged => "Your email address has been changed".to_owned(),
        EmailKind::NewMessage => format!("New message from {practice}"),
        EmailKind::AppointmentReminder => format!("Appointment tomorrow with {practice}"),
        EmailKind::AppointmentBooked => format!("Appointment booked with {practice}"),
        EmailKind::AppointmentCancelled => format!("Appointment cancelled at {practice}"),
    };
    // Practice names come from administrators and names from patients:
    // nothing typed may start a new header.
    single_line(&format!("{text} - GP online services"))
}

/// `site` is the portal's public URL without a trailing slash.
pub fn render(email: &ClaimedEmail, site: &str) -> Result<RenderedEmail, askama::Error> {
    // Names are one line wherever they appear, headers or body.
    let practice_name = email.payload.practice_name.as_deref().map(single_line);
    let practice_name = practice_name.as_deref();
    let name = email
        .payload
        .name
        .as_deref()
        .map(single_line)
        .unwrap_or_default();
    let (link, lifetime) = match (link_path(email.kind), &email.link_token) {
        (Some((path, purpose)), Some(token)) => (
            format!("{site}{path}?token={token}"),
            purpose.lifetime_words(),
        ),
        _ => (String::new(), ""),
    };
    let subject = subject(email.kind, practice_name);
    let optional = email.kind.optional().is_some();
    let practice_note = email.payload.practice_note.as_deref().map(single_line);
    let practice_note = practice_note.as_deref();
    let text = TextEmail {
        kind: email.kind,
        name: &name,
        practice_name,
        link: &link,
        site,
        lifetime,
        optional,
        practice_note,
    }
    .render()?;
    let html = HtmlEmail {
        subject: &subject,
        kind: email.kind,
        name: &name,
        practice_name,
        link: &link,
        site,
        lifetime,
        optional,
        practice_note,
    }
    .render()?;
    Ok(RenderedEmail {
        subject,
        text,
        html,
        calendar: email.payload.calendar.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::store::EmailPayload;

    fn claimed(kind: EmailKind, token: Option<&str>) -> ClaimedEmail {
        ClaimedEmail {
            id: 1,
            kind,
            recipient: "ann@example.com".into(),
            payload: EmailPayload {
                name: Some("Ann <b>Lee</b>".into()),
                practice_name: Some("Riverside & Co\r\nBcc: evil@example.com".into()),
                ..Default::default()
            },
            link_token: token.map(str::to_owned),
            attempts: 1,
            message_id: "<x@example.com>".into(),
            created_at: 0,
        }
    }

    #[test]
    fn every_kind_renders_in_both_forms() {
        for kind in EmailKind::ALL {
            let token = link_path(kind).map(|_| "t".repeat(43));
            let email = render(&claimed(kind, token.as_deref()), "https://portal.example")
                .expect("renders");
            assert!(
                email.text.starts_with("Hello Ann <b>Lee</b>,"),
                "{kind:?}: {}",
                email.text
            );
            assert!(
                email.html.contains("Hello Ann &#60;b&#62;Lee&#60;/b&#62;,")
                    || email.html.contains("Hello Ann &lt;b&gt;Lee&lt;/b&gt;,"),
                "{kind:?} html escaped: {}",
                email.html
            );
            if let Some(token) = token {
                let link = format!(
                    "https://portal.example{}?token={token}",
                    link_path(kind).map(|(p, _)| p).unwrap_or("")
                );
                assert!(email.text.contains(&link), "{kind:?}");
                assert!(email.html.contains(&link), "{kind:?}");
            }
            assert!(!email.subject.contains('\n') && !email.subject.contains('\r'));
        }
    }

    #[test]
    fn optional_emails_say_how_to_stop_them() {
        let email = render(&claimed(EmailKind::NewMessage, None), "https://p").expect("renders");
        assert!(email.text.contains("https://p/account/notifications"));
        let reset =
            render(&claimed(EmailKind::PasswordReset, Some("x")), "https://p").expect("renders");
        assert!(!reset.text.contains("/account/notifications"));
    }

    #[test]
    fn a_practice_name_cannot_add_a_header() {
        let email = render(&claimed(EmailKind::NewMessage, None), "https://p").expect("renders");
        assert_eq!(
            email.subject,
            "New message from Riverside & Co Bcc: evil@example.com - GP online services"
        );
    }
}
