//! The ports through which the rules reach the outside world. Adapters in
//! `server` implement them; server functions take them from context.
//! Nothing here carries a password hash or a database type.

use crate::access::{Actor, PatientRef};

use crate::access_log::{AccessLogEntry, NewAccessLogEntry};
use crate::account_tokens::{TokenProblem, TokenPurpose};
use crate::forms::CheckedSignUp;
use crate::forms::FormFeedback;
use crate::ids::{AccountId, PatientId, PracticeId};
use crate::notifications::EmailPreferences;
use crate::views::{
    AccountSettings, DevEmail, FailedEmail, OutboxSummary, PatientDetails, PracticeSummary,
};
use crate::{Email, NhsNumber};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A failure in an adapter. The text is for the log only: the person sees
/// a plain "sorry, there is a problem" message, never this.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

impl PortError {
    pub fn new(cause: impl std::fmt::Display) -> Self {
        Self(cause.to_string())
    }

    /// A remote system (the practice's clinical system) that did not
    /// answer in time or answered with an error: the person is told to try
    /// again later, unlike a fault of the portal itself.
    pub fn not_answering(cause: impl std::fmt::Display) -> Self {
        Self(format!("{NOT_ANSWERING}{cause}"))
    }

    pub fn is_not_answering(&self) -> bool {
        self.0.starts_with(NOT_ANSWERING)
    }

    /// Something the portal does not do under this GP system because the
    /// practice does it in its clinical system (sessions under `fhir`).
    pub fn managed_in_clinical_system(what: impl std::fmt::Display) -> Self {
        Self(format!("{MANAGED_ELSEWHERE}{what}"))
    }

    pub fn is_managed_in_clinical_system(&self) -> bool {
        self.0.starts_with(MANAGED_ELSEWHERE)
    }
}

/// The prefix that marks [`PortError::not_answering`]; PortError stays one
/// string so every adapter's `PortError::new` keeps working.
const NOT_ANSWERING: &str = "remote system not answering: ";
const MANAGED_ELSEWHERE: &str = "managed in the clinical system: ";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInOutcome {
    SignedIn(AccountId),
    /// Unknown email and wrong password look the same, on purpose.
    Rejected,
    TooManyAttempts,
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Checks the password (off the async runtime) and counts failures.
    async fn sign_in(
        &self,
        email: &Email,
        password: &str,
        client: &ClientAddress,
    ) -> Result<SignInOutcome, PortError>;
}

#[async_trait]
pub trait Directory: Send + Sync {
    async fn patient_ref(&self, patient: PatientId) -> Result<Option<PatientRef>, PortError>;
    async fn patient_details(
        &self,
        patient: PatientRef,
    ) -> Result<Option<PatientDetails>, PortError>;
    async fn find_by_nhs_number(
        &self,
        practice: PracticeId,
        nhs_number: &NhsNumber,
    ) -> Result<Option<PatientRef>, PortError>;
    async fn list_practices(&self) -> Result<Vec<PracticeSummary>, PortError>;
}

#[async_trait]
pub trait AccessLog: Send + Sync {
    async fn record(&self, entry: NewAccessLogEntry) -> Result<(), PortError>;
    /// Newest first.
    async fn for_patient(
        &self,
        patient: PatientRef,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, PortError>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    Changed,
    WrongCurrentPassword,
    /// Wrong passwords count with failed sign-ins: someone holding a
    /// stolen session cannot guess the password without limit.
    TooManyAttempts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailChangeRequest {
    /// A confirmation link went to the new address.
    LinkSent,
    WrongPassword,
    SameAsCurrent,
    TooManyAttempts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailChangeProblem {
    #[error(transparent)]
    Link(#[from] TokenProblem),
    #[error(
        "Another account already uses that email address. Sign in to your account settings and choose a different one"
    )]
    AddressTaken,
}

/// A person looking after their own account. Every change that sends an
/// email writes the email to the outbox in the same transaction, so a
/// change never happens without its email, nor an email without its change.
#[async_trait]
pub trait AccountService: Send + Sync {
    /// Always looks the same from outside: whether the details matched a
    /// registered patient, or the address already had an account, is told
    /// only to the owner of the address, by email. Linking an account to a
    /// record writes an access-log row (`request_id` ties it to the request).
    async fn sign_up(
        &self,
        details: CheckedSignUp,
        password: &str,
        request_id: &str,
    ) -> Result<(), PortError>;
    async fn resend_confirmation(&self, account: AccountId) -> Result<(), PortError>;
    /// Is this link still good? For showing the right page before a form.
    async fn check_link(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Result<(), TokenProblem>, PortError>;
    async fn confirm_email(&self, token: &str) -> Result<Result<(), TokenProblem>, PortError>;
    /// Answers the same whether or not an account uses the address.
    async fn request_password_reset(&self, email: &Email) -> Result<(), PortError>;
    /// Sets the password, uses up the link and ends every session of the
    /// account, in one transaction.
    async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        request_id: &str,
    ) -> Result<Result<(), TokenProblem>, PortError>;
    /// Ends every session of the account; the caller starts a new one for
    /// the person who made the change.
    async fn change_password(
        &self,
        account: AccountId,
        current_password: &str,
        new_password: &str,
        request_id: &str,
    ) -> Result<PasswordChange, PortError>;
    async fn request_email_change(
        &self,
        account: AccountId,
        password: &str,
        new_email: &Email,
    ) -> Result<EmailChangeRequest, PortError>;
    async fn confirm_email_change(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<Result<(), EmailChangeProblem>, PortError>;
    async fn settings(&self, account: AccountId) -> Result<Option<AccountSettings>, PortError>;
    async fn set_preferences(
        &self,
        account: AccountId,
        preferences: EmailPreferences,
    ) -> Result<(), PortError>;
}

/// The outbox as a system administrator sees it.
#[async_trait]
pub trait OutboxAdmin: Send + Sync {
    async fn summary(&self) -> Result<OutboxSummary, PortError>;
    /// Newest first.
    async fn failed(&self, limit: u32) -> Result<Vec<FailedEmail>, PortError>;
    /// Puts a failed email back in the queue. False if it was not failed.
    async fn retry(&self, id: i64) -> Result<bool, PortError>;
    /// Emails "sent" to the log, newest first; None when a real mail
    /// server is configured (the development mailbox does not exist then).
    async fn development_mailbox(&self) -> Result<Option<Vec<DevEmail>>, PortError>;
}

/// The current request's session, as a server function needs it.
#[async_trait]
pub trait SessionHandle: Send + Sync {
    /// Starts a signed-in session under a fresh id (no session fixation).
    /// `nhs_login_level` is the level NHS login reported, for a sign-in
    /// through NHS login; None for a password sign-in.
    async fn begin(
        &self,
        account: AccountId,
        nhs_login_level: Option<crate::IdentityLevel>,
    ) -> Result<(), PortError>;
    /// Records that this member of staff has given their second factor.
    async fn second_factor_given(&self) -> Result<(), PortError>;
    /// Someone NHS login vouched for whose account is not linked to a
    /// record yet (kept in the session until they link it or sign out).
    async fn unlinked_nhs_login(
        &self,
    ) -> Result<Option<crate::identity::NhsLoginIdentity>, PortError>;
    async fn forget_unlinked_nhs_login(&self) -> Result<(), PortError>;
    /// The "your devices" handle of this session (never its id, which
    /// must not leave the server); None when there is no stored session.
    fn device_handle(&self) -> Option<String>;
    async fn end(&self) -> Result<(), PortError>;
    async fn put_feedback(&self, feedback: FormFeedback) -> Result<(), PortError>;
    async fn take_feedback(&self, form: &str) -> Result<Option<FormFeedback>, PortError>;
}

/// The address a request came from, for throttling. Never logged with
/// anything that identifies a patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub String);

/// Everything the server knows about the current request that a server
/// function may need. Built by the server's middleware for every request.
#[derive(Clone)]
pub struct RequestContext {
    pub actor: Option<Actor>,
    pub client: ClientAddress,
    pub request_id: String,
    pub session: Arc<dyn SessionHandle>,
}

/// Which ways of signing in this deployment offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub nhs_login: bool,
}

/// The adapters a server function may call.
#[derive(Clone)]
pub struct Ports {
    pub sign_in_options: SignInOptions,
    pub authenticator: Arc<dyn Authenticator>,
    pub directory: Arc<dyn Directory>,
    pub access_log: Arc<dyn AccessLog>,
    pub accounts: Arc<dyn AccountService>,
    pub outbox: Arc<dyn OutboxAdmin>,
    pub devices: Arc<dyn crate::devices::Devices>,
    pub second_factor: Arc<dyn crate::second_factor::SecondFactor>,
    pub registration_letters: Arc<dyn crate::linkage::RegistrationLetters>,
    /// The GP record and the practice's settings for what of it is online.
    pub gp_record: Arc<dyn crate::gp_record::GpRecord>,
    pub appointments: Arc<dyn crate::appointments::Appointments>,
}
