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
    /// An NHS login account was linked to the record (NHS number and date
    /// of birth matched, or a registration letter was used).
    LinkNhsLogin,
    /// Staff created a registration letter (linkage key) for the record.
    IssueRegistrationLetter,
    /// Staff cancelled a registration letter.
    RevokeRegistrationLetter,
    /// Someone entered this record's registration letter details.
    UseRegistrationLetter,
    /// The record's summary: allergies, current medicines, active problems.
    ViewRecordSummary,
    ViewRecordAllergies,
    ViewRecordMedicines,
    ViewRecordProblems,
    ViewRecordImmunisations,
    ViewRecordTestResults,
    ViewRecordConsultations,
    ViewRecordDocuments,
    ViewRecordDocument,
    ExportRecord,
    /// The printable summary of the record (to take to an appointment).
    PrintRecordSummary,
    /// Staff changed the online access level or the start date.
    ChangeOnlineRecordAccess,
    HideRecordEntry,
    UnhideRecordEntry,
    /// Staff opened the record to decide what is online.
    ReviewOnlineRecord,
    /// The list of the patient's appointments, or one of them, was viewed.
    ViewAppointments,
    /// The patient booked an appointment online.
    BookAppointment,
    /// An appointment was cancelled (by the patient, or by the practice).
    CancelAppointment,
    /// Staff opened a clinician's day list, which showed this patient's booking.
    ViewDayList,
    /// Staff booked an appointment for the patient.
    BookAppointmentOnBehalf,
    /// Staff recorded that the patient came to their appointment.
    MarkAttended,
    /// Staff recorded that the patient did not come to their appointment.
    MarkDidNotAttend,
}

impl RecordAction {
    /// A slice, not an array, so adding an action touches only the list.
    pub const ALL: &'static [RecordAction] = &[
        RecordAction::ViewPersonalDetails,
        RecordAction::ViewAccessLog,
        RecordAction::FindPatient,
        RecordAction::LinkOnlineAccount,
        RecordAction::LinkNhsLogin,
        RecordAction::IssueRegistrationLetter,
        RecordAction::RevokeRegistrationLetter,
        RecordAction::UseRegistrationLetter,
        RecordAction::ViewRecordSummary,
        RecordAction::ViewRecordAllergies,
        RecordAction::ViewRecordMedicines,
        RecordAction::ViewRecordProblems,
        RecordAction::ViewRecordImmunisations,
        RecordAction::ViewRecordTestResults,
        RecordAction::ViewRecordConsultations,
        RecordAction::ViewRecordDocuments,
        RecordAction::ViewRecordDocument,
        RecordAction::ExportRecord,
        RecordAction::PrintRecordSummary,
        RecordAction::ChangeOnlineRecordAccess,
        RecordAction::HideRecordEntry,
        RecordAction::UnhideRecordEntry,
        RecordAction::ReviewOnlineRecord,
        RecordAction::ViewAppointments,
        RecordAction::BookAppointment,
        RecordAction::CancelAppointment,
        RecordAction::ViewDayList,
        RecordAction::BookAppointmentOnBehalf,
        RecordAction::MarkAttended,
        RecordAction::MarkDidNotAttend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordAction::ViewPersonalDetails => "view_personal_details",
            RecordAction::ViewAccessLog => "view_access_log",
            RecordAction::FindPatient => "find_patient",
            RecordAction::LinkOnlineAccount => "link_online_account",
            RecordAction::LinkNhsLogin => "link_nhs_login",
            RecordAction::IssueRegistrationLetter => "issue_registration_letter",
            RecordAction::RevokeRegistrationLetter => "revoke_registration_letter",
            RecordAction::UseRegistrationLetter => "use_registration_letter",
            RecordAction::ViewRecordSummary => "view_record_summary",
            RecordAction::ViewRecordAllergies => "view_record_allergies",
            RecordAction::ViewRecordMedicines => "view_record_medicines",
            RecordAction::ViewRecordProblems => "view_record_problems",
            RecordAction::ViewRecordImmunisations => "view_record_immunisations",
            RecordAction::ViewRecordTestResults => "view_record_test_results",
            RecordAction::ViewRecordConsultations => "view_record_consultations",
            RecordAction::ViewRecordDocuments => "view_record_documents",
            RecordAction::ViewRecordDocument => "view_record_document",
            RecordAction::ExportRecord => "export_record",
            RecordAction::PrintRecordSummary => "print_record_summary",
            RecordAction::ChangeOnlineRecordAccess => "change_online_record_access",
            RecordAction::HideRecordEntry => "hide_record_entry",
            RecordAction::UnhideRecordEntry => "unhide_record_entry",
            RecordAction::ReviewOnlineRecord => "review_online_record",
            RecordAction::ViewAppointments => "view_appointments",
            RecordAction::BookAppointment => "book_appointment",
            RecordAction::CancelAppointment => "cancel_appointment",
            RecordAction::ViewDayList => "view_day_list",
            RecordAction::BookAppointmentOnBehalf => "book_appointment_on_behalf",
            RecordAction::MarkAttended => "mark_attended",
            RecordAction::MarkDidNotAttend => "mark_did_not_attend",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|a| a.as_str() == s)
    }

    /// How the patient sees it in "Who has accessed your record".
    pub fn describe(self) -> &'static str {
        match self {
            RecordAction::ViewPersonalDetails => "Viewed your personal details",
            RecordAction::ViewAccessLog => "Viewed the list of who has accessed your record",
            RecordAction::FindPatient => "Looked up your record by NHS number",
            RecordAction::LinkOnlineAccount => "Created an online account for your record",
            RecordAction::LinkNhsLogin => "Linked an NHS login to your record",
            RecordAction::IssueRegistrationLetter => {
                "Created a registration letter for your online services"
            }
            RecordAction::RevokeRegistrationLetter => "Cancelled your registration letter",
            RecordAction::UseRegistrationLetter => {
                "Entered the details from your registration letter"
            }
            RecordAction::ViewRecordSummary => "Viewed the summary of your GP record",
            RecordAction::ViewRecordAllergies => "Viewed your allergies and adverse reactions",
            RecordAction::ViewRecordMedicines => "Viewed your medicines",
            RecordAction::ViewRecordProblems => "Viewed your health problems",
            RecordAction::ViewRecordImmunisations => "Viewed your vaccinations",
            RecordAction::ViewRecordTestResults => "Viewed your test results",
            RecordAction::ViewRecordConsultations => "Viewed your consultations",
            RecordAction::ViewRecordDocuments => "Viewed the list of your documents",
            RecordAction::ViewRecordDocument => "Opened a document in your record",
            RecordAction::ExportRecord => "Downloaded a copy of your GP record",
            RecordAction::PrintRecordSummary => "Opened a printable summary of your GP record",
            RecordAction::ChangeOnlineRecordAccess => {
                "Changed what of your GP record you can see online"
            }
            RecordAction::HideRecordEntry => "Hid an entry of your GP record from online view",
            RecordAction::UnhideRecordEntry => {
                "Made an entry of your GP record visible online again"
            }
            RecordAction::ReviewOnlineRecord => "Reviewed what of your GP record is shown online",
            RecordAction::ViewAppointments => "Viewed your appointments",
            RecordAction::BookAppointment => "Booked an appointment",
            RecordAction::CancelAppointment => "Cancelled an appointment",
            RecordAction::ViewDayList => "Viewed a clinician's list showing your appointment",
            RecordAction::BookAppointmentOnBehalf => "Booked an appointment for you",
            RecordAction::MarkAttended => "Recorded that you came to your appointment",
            RecordAction::MarkDidNotAttend => "Recorded that you did not come to your appointment",
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
    /// None only for someone signed in with NHS login who has no account
    /// yet (a refused registration-letter attempt on this record).
    pub actor: Option<AccountId>,
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
