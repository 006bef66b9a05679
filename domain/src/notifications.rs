//! What the portal emails people, and the rules around it: which emails a
//! person may turn off, how a failed send is retried, and how text that
//! reaches an email header is kept to one line. No email ever carries
//! clinical detail: the kinds below carry only what their template shows.

use serde::{Deserialize, Serialize};

/// Every kind of email the portal sends. The template for each lives in
/// `server/templates/email/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// A link to confirm the address given at sign-up.
    VerifyEmail,
    /// Someone tried to sign up with an address that already has an account.
    AlreadyRegistered,
    /// Sign-up details did not match a registered patient.
    SignUpNotMatched,
    /// A link to set a new password.
    PasswordReset,
    /// Notice that the password was changed.
    PasswordChanged,
    /// A link, sent to the new address, to confirm a change of email address.
    ConfirmEmailChange,
    /// Notice, sent to the old address, that the email address was changed.
    EmailChanged,
    /// "You have a new message from your practice. Sign in to read it."
    NewMessage,
    /// "You have an appointment tomorrow. Sign in to see the details."
    AppointmentReminder,
    /// "Your appointment is booked", with a calendar file. No reason, no
    /// clinician: the details are behind sign-in.
    AppointmentBooked,
    /// "Your appointment has been cancelled" (by the patient, or by the
    /// practice with the practice's reason).
    AppointmentCancelled,
}

/// Emails a person may choose not to get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionalEmail {
    AppointmentReminders,
    NewMessages,
}

impl OptionalEmail {
    pub const ALL: [OptionalEmail; 2] = [
        OptionalEmail::AppointmentReminders,
        OptionalEmail::NewMessages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OptionalEmail::AppointmentReminders => "appointment_reminders",
            OptionalEmail::NewMessages => "new_messages",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OptionalEmail::AppointmentReminders => "Appointment reminders, the day before",
            OptionalEmail::NewMessages => "When your GP practice sends you a message",
        }
    }
}

impl EmailKind {
    pub const ALL: [EmailKind; 11] = [
        EmailKind::VerifyEmail,
        EmailKind::AlreadyRegistered,
        EmailKind::SignUpNotMatched,
        EmailKind::PasswordReset,
        EmailKind::PasswordChanged,
        EmailKind::ConfirmEmailChange,
        EmailKind::EmailChanged,
        EmailKind::NewMessage,
        EmailKind::AppointmentReminder,
        EmailKind::AppointmentBooked,
        EmailKind::AppointmentCancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::AlreadyRegistered => "already_registered",
            EmailKind::SignUpNotMatched => "sign_up_not_matched",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::PasswordChanged => "password_changed",
            EmailKind::ConfirmEmailChange => "confirm_email_change",
            EmailKind::EmailChanged => "email_changed",
            EmailKind::NewMessage => "new_message",
            EmailKind::AppointmentReminder => "appointment_reminder",
            EmailKind::AppointmentBooked => "appointment_booked",
            EmailKind::AppointmentCancelled => "appointment_cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<EmailKind> {
        EmailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What an administrator sees in the list of failed emails.
    pub fn label(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "Confirm email address",
            EmailKind::AlreadyRegistered => "Already registered",
            EmailKind::SignUpNotMatched => "Sign-up details not matched",
            EmailKind::PasswordReset => "Reset password",
            EmailKind::PasswordChanged => "Password changed",
            EmailKind::ConfirmEmailChange => "Confirm new email address",
            EmailKind::EmailChanged => "Email address changed",
            EmailKind::NewMessage => "New message",
            EmailKind::AppointmentReminder => "Appointment reminder",
            EmailKind::AppointmentBooked => "Appointment booked",
            EmailKind::AppointmentCancelled => "Appointment cancelled",
        }
    }

    /// None for emails about the account's security, which cannot be
    /// turned off.
    pub fn optional(self) -> Option<OptionalEmail> {
        match self {
            EmailKind::NewMessage => Some(OptionalEmail::NewMessages),
            EmailKind::AppointmentReminder => Some(OptionalEmail::AppointmentReminders),
            _ => None,
        }
    }
}

/// Which optional emails a person gets. Everything is on until they say
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPreferences {
    pub appointment_reminders: bool,
    pub new_messages: bool,
}

impl Default for EmailPreferences {
    fn default() -> Self {
        Self {
            appointment_reminders: true,
            new_messages: true,
        }
    }
}

impl EmailPreferences {
    pub fn wants(&self, optional: OptionalEmail) -> bool {
        match optional {
            OptionalEmail::AppointmentReminders => self.appointment_reminders,
            OptionalEmail::NewMessages => self.new_messages,
        }
    }

    pub fn with(mut self, optional: OptionalEmail, on: bool) -> Self {
        match optional {
            OptionalEmail::AppointmentReminders => self.appointment_reminders = on,
            OptionalEmail::NewMessages => self.new_messages = on,
        }
        self
    }
}

/// Should this email go to someone with these preferences?
pub fn should_send(kind: EmailKind, preferences: &EmailPreferences) -> bool {
    kind.optional().is_none_or(|o| preferences.wants(o))
}

/// How the outbox retries a failed send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub base_seconds: u64,
    /// No wait is longer than this.
    pub max_delay_seconds: u64,
    /// After this many failed attempts the email is marked failed and an
    /// administrator is shown it.
    pub max_attempts: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn { seconds: u64 },
    GiveUp,
}

impl RetryPolicy {
    /// `attempts` counts the attempt that has just failed (1 for the first).
    /// `jitter` is a random number in [0, 1): the wait is between half and
    /// all of the exponential delay ("equal jitter"), so that many emails
    /// failing together do not all retry at the same moment.
    pub fn after_failure(&self, attempts: u32, jitter: f64) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::GiveUp;
        }
        let exponent = attempts.saturating_sub(1).min(32);
        let delay = self
            .base_seconds
            .max(1)
            .saturating_mul(1u64 << exponent)
            .min(self.max_delay_seconds.max(1));
        let jitter = jitter.clamp(0.0, 1.0);
        let half = delay / 2;
        let extra = ((delay - half) as f64 * jitter).round() as u64;
        AfterFailure::RetryIn {
            seconds: (half + extra).clamp(1, delay),
        }
    }
}

/// Text bound for an email header (a subject, a display name): control
/// characters, including CR and LF, become spaces, so nothing typed can
/// start a new header.
pub fn single_line(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base_seconds: 30,
        max_delay_seconds: 3600,
        max_attempts: 8,
    };

    #[test]
    fn security_emails_cannot_be_turned_off() {
        let none = EmailPreferences {
            appointment_reminders: false,
            new_messages: false,
        };
        for kind in EmailKind::ALL {
            assert_eq!(
                should_send(kind, &none),
                kind.optional().is_none(),
                "{kind:?}"
            );
        }
        assert!(should_send(EmailKind::PasswordReset, &none));
        assert!(!should_send(EmailKind::NewMessage, &none));
        assert!(should_send(
            EmailKind::NewMessage,
            &EmailPreferences::default()
        ));
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in EmailKind::ALL {
            assert_eq!(EmailKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EmailKind::parse("nope"), None);
    }

    #[test]
    fn the_last_attempt_gives_up() {
        assert_eq!(POLICY.after_failure(8, 0.5), AfterFailure::GiveUp);
        assert!(matches!(
            POLICY.after_failure(7, 0.5),
            AfterFailure::RetryIn { .. }
        ));
    }

    #[test]
    fn delays_double_from_the_base() {
        let at = |n| match POLICY.after_failure(n, 0.999_999) {
            AfterFailure::RetryIn { seconds } => seconds,
            AfterFailure::GiveUp => 0,
        };
        assert_eq!(at(1), 30);
        assert_eq!(at(2), 60);
        assert_eq!(at(3), 120);
        assert_eq!(at(7), 1920);
    }

    #[test]
    fn header_text_cannot_start_a_new_header() {
        assert_eq!(
            single_line("Riverside\r\nBcc: evil@example.com"),
            "Riverside Bcc: evil@example.com"
        );
        assert_eq!(single_line("  Dr\tAnn  Lee "), "Dr Ann Lee");
    }

    proptest! {
        #[test]
        fn waits_stay_between_half_and_all_of_the_capped_delay(attempts in 1u32..8, jitter in 0.0f64..1.0) {
            let AfterFailure::RetryIn { seconds } = POLICY.after_failure(attempts, jitter) else {
                return Err(TestCaseError::fail("gave up too early"));
            };
            let full = (30u64 << (attempts - 1)).min(3600);
            prop_assert!(seconds >= full / 2 && seconds <= full, "{seconds} vs {full}");
        }

        #[test]
        fn single_line_has_no_control_characters(s in "\\PC{0,40}[\r\n\t\u{0}]{0,3}\\PC{0,40}") {
            let out = single_line(&s);
            prop_assert!(!out.chars().any(|c| c.is_control()));
        }
    }
}
