//! What pages show. These types travel to the browser, so they hold only
//! what the page displays.

use crate::{NhsNumber, Role};
use serde::{Deserialize, Serialize};

/// The header's view of who is signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    pub display_name: String,
    pub role: Role,
    pub practice_name: Option<String>,
    /// The record this person is using (their own, for a patient).
    pub patient: Option<crate::PatientId>,
}

impl From<&crate::Actor> for SignedInUser {
    fn from(actor: &crate::Actor) -> Self {
        Self {
            display_name: actor.display_name.clone(),
            role: actor.role,
            practice_name: actor.practice_name.clone(),
            patient: actor.acting_for,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientDetails {
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: chrono::NaiveDate,
    /// Some patients have no NHS number yet; the portal still serves them.
    pub nhs_number: Option<NhsNumber>,
    pub practice_name: String,
    pub practice_ods_code: String,
}

/// A practice as a system administrator sees it: counts, no patient data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PracticeSummary {
    pub ods_code: String,
    pub name: String,
    pub patients: i64,
    pub staff: i64,
}

/// A person's own account settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub email: String,
    pub email_verified: bool,
    /// A new address waiting for its confirmation link to be followed.
    pub pending_email: Option<String>,
    pub preferences: crate::notifications::EmailPreferences,
    pub is_patient: bool,
    /// An account made by NHS login, with no password here: its email
    /// address and password are managed at NHS login.
    pub nhs_login_only: bool,
}

/// An email the outbox gave up on, for a system administrator to retry.
/// Shows who it was for and what kind it was, never its contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedEmail {
    pub id: i64,
    pub kind: crate::notifications::EmailKind,
    pub recipient: String,
    pub attempts: u32,
    /// The mail server's last answer (no message content).
    pub last_error: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// How the outbox is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxSummary {
    pub waiting: i64,
    pub failed: i64,
    pub sent_last_24_hours: i64,
}

/// An email as the development mailbox shows it (only when no mail server
/// is configured and the portal runs on this machine).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// Links in the email, so a newcomer can follow them.
    pub links: Vec<String>,
    pub sent_at: chrono::DateTime<chrono::Utc>,
}
