//! What the access log records. A row is written for every read or change
//! of patient data, including refusals, and the patient can read their own.

use crate::access::Role;
use crate::ids::{AccountId, PatientId, PracticeId};
use serde::{Deserialize, Serialize};

/// What was done to the record. Stored as its `as_str` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordAction {
    ViewPersonalDetails,
    ViewAccessLog,
    FindPatient,
    /// An online account was created and linked to the record at sign-up.
    LinkOnlineAccount,
}

impl RecordAction {
    pub const ALL: [RecordAction; 4] = [
        RecordAction::ViewPersonalDetails,
        RecordAction::ViewAccessLog,
        RecordAction::FindPatient,
        RecordAction::LinkOnlineAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordAction::ViewPersonalDetails => "view_personal_details",
            RecordAction::ViewAccessLog => "view_access_log",
            RecordAction::FindPatient => "find_patient",
            RecordAction::LinkOnlineAccount => "link_online_account",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// How the patient sees it in "Who has accessed your record".
    pub fn describe(self) -> &'static str {
        match self {
            RecordAction::ViewPersonalDetails => "Viewed your personal details",
            RecordAction::ViewAccessLog => "Viewed the list of who has accessed your record",
            RecordAction::FindPatient => "Looked up your record by NHS number",
            RecordAction::LinkOnlineAccount => "Created an online account for your record",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Allowed,
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "allowed" => Some(Outcome::Allowed),
            "refused" => Some(Outcome::Refused),
            _ => None,
        }
    }
}

/// A row to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccessLogEntry {
    pub practice: PracticeId,
    pub patient: PatientId,
    pub actor: AccountId,
    pub actor_role: Role,
    pub acting_for: Option<PatientId>,
    pub action: RecordAction,
    pub outcome: Outcome,
    pub request_id: String,
}

/// A row as the patient sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    pub at: chrono::DateTime<chrono::Utc>,
    pub who: String,
    pub who_role: Role,
    pub action: RecordAction,
    pub outcome: Outcome,
}
