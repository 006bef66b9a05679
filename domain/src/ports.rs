//! The ports through which the rules reach the outside world. Adapters in
//! `server` implement them; server functions take them from context.
//! Nothing here carries a password hash or a database type.

use crate::access::{Actor, PatientRef};

use crate::access_log::{AccessLogEntry, NewAccessLogEntry};
use crate::forms::FormFeedback;
use crate::ids::{AccountId, PatientId, PracticeId};
use crate::views::{PatientDetails, PracticeSummary};
use crate::{Email, NhsNumber};
use async_trait::async_trait;
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
}

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

/// The current request's session, as a server function needs it.
#[async_trait]
pub trait SessionHandle: Send + Sync {
    /// Starts a signed-in session under a fresh id (no session fixation).
    async fn begin(&self, account: AccountId) -> Result<(), PortError>;
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

/// The adapters a server function may call.
#[derive(Clone)]
pub struct Ports {
    pub authenticator: Arc<dyn Authenticator>,
    pub directory: Arc<dyn Directory>,
    pub access_log: Arc<dyn AccessLog>,
}
