//! The one error type at the server-function edge. Its messages are what a
//! person reads; the real cause is logged on the server and never sent.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum PortalError {
    #[error("You need to sign in to do this.")]
    SignInRequired,
    #[error("You do not have permission to see this.")]
    Forbidden,
    #[error("We could not find that page.")]
    NotFound,
    #[error("Sorry, there is a problem with the service. Try again later.")]
    Unavailable,
    #[error("Sorry, we could not understand that request. Go back and try again.")]
    BadRequest,
    #[error("Confirm your email address first, using the link we sent you by email.")]
    EmailNotConfirmed,
    #[error(
        "You need to prove who you are before you can see this. Continue with NHS login, or use the registration letter from your GP practice."
    )]
    IdentityCheckRequired,
    #[error("Enter the code from your authenticator app first.")]
    SecondFactorRequired,
    #[error("Your GP practice's system is not answering. Try again later.")]
    GpSystemNotAnswering,
    #[error("Sessions are managed in your practice's clinical system. Make this change there.")]
    ManagedInClinicalSystem,
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        tracing::warn!(error = %value, "server function request could not be handled");
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => PortalError::BadRequest,
            _ => PortalError::Unavailable,
        }
    }
}

#[cfg(feature = "ssr")]
impl From<domain::ports::PortError> for PortalError {
    /// The only way an adapter failure reaches the edge: logged, then replaced
    /// by a plain message.
    fn from(err: domain::ports::PortError) -> Self {
        tracing::error!(cause = %err, "a port failed");
        if err.is_not_answering() {
            return PortalError::GpSystemNotAnswering;
        }
        if err.is_managed_in_clinical_system() {
            return PortalError::ManagedInClinicalSystem;
        }
        PortalError::Unavailable
    }
}
