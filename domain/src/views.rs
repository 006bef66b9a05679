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
