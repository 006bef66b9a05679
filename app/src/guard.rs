//! Server side only: the first lines of every server function. `check`
//! looks the function up in [`crate::access_rules::API_ACCESS`] by its own
//! path, so the rule cannot drift from the table the middleware enforces.
//! Patient data is read only through [`read_patient_data`], which
//! authorizes against the patient and writes the access-log row.

use crate::error::PortalError;
use domain::access::{PatientRef, authorize_patient};
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::ports::{PortError, Ports, RequestContext};
use domain::{Actor, Decision, PatientId};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use std::future::Future;

pub fn ports() -> Result<Ports, PortalError> {
    use_context::<Ports>().ok_or_else(|| {
        tracing::error!("ports missing from context");
        PortalError::Unavailable
    })
}

fn request_context() -> Result<RequestContext, PortalError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestContext>().cloned())
        .ok_or_else(|| {
            tracing::error!(
                "request context missing: is the request-context middleware installed?"
            );
            PortalError::Unavailable
        })
}

/// Sets the response status for an error (the page's, when a page calls
/// the function while rendering) and returns the error.
pub fn refuse(status: http::StatusCode, err: PortalError) -> PortalError {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(status);
    }
    err
}

/// Authorizes the calling server function `F` for whoever is asking.
pub fn check<F: ServerFn>() -> Result<RequestContext, PortalError> {
    let Some(access) = crate::access_rules::api_access(F::PATH) else {
        tracing::error!(
            path = F::PATH,
            "server function has no access rule; refusing"
        );
        return Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden));
    };
    let ctx = request_context()?;
    match access.decide(ctx.actor.as_ref()) {
        Decision::Allow => Ok(ctx),
        Decision::SignInRequired => Err(refuse(
            http::StatusCode::UNAUTHORIZED,
            PortalError::SignInRequired,
        )),
        Decision::Forbidden => Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden)),
        Decision::EmailNotConfirmed => Err(refuse(
            http::StatusCode::FORBIDDEN,
            PortalError::EmailNotConfirmed,
        )),
        Decision::IdentityCheckRequired => Err(refuse(
            http::StatusCode::FORBIDDEN,
            PortalError::IdentityCheckRequired,
        )),
        Decision::SecondFactorRequired => Err(refuse(
            http::StatusCode::FORBIDDEN,
            PortalError::SecondFactorRequired,
        )),
    }
}

/// As [`check`], for functions that need a signed-in person.
pub fn check_signed_in<F: ServerFn>() -> Result<(RequestContext, Actor), PortalError> {
    let ctx = check::<F>()?;
    let actor = ctx
        .actor
        .clone()
        .ok_or_else(|| refuse(http::StatusCode::UNAUTHORIZED, PortalError::SignInRequired))?;
    Ok((ctx, actor))
}

/// A rule deciding whether an actor may do something to a patient's record.
pub type PatientRule = fn(&Actor, PatientRef) -> Decision;

/// The only way a server function reads patient data. Authorizes the actor
/// against the patient, reads, then writes the access-log row; if that row
/// cannot be written the data is not returned. Refusals are logged too.
pub async fn read_patient_data<T, Fut>(
    ctx: &RequestContext,
    actor: &Actor,
    patient: PatientId,
    action: RecordAction,
    rule: PatientRule,
    read: impl FnOnce(PatientRef) -> Fut,
) -> Result<T, PortalError>
where
    Fut: Future<Output = Result<Option<T>, PortError>>,
{
    let patient_ref = authorize_patient_id(ctx, actor, patient, action, rule).await?;
    let data = read(patient_ref).await?.ok_or(PortalError::NotFound)?;
    log_access(ctx, actor, patient_ref, action, Outcome::Allowed).await?;
    Ok(data)
}

/// Writes one row of `patient`'s access log: `actor` did (or was refused)
/// `action` in this request.
pub async fn log_access(
    ctx: &RequestContext,
    actor: &Actor,
    patient: PatientRef,
    action: RecordAction,
    outcome: Outcome,
) -> Result<(), PortalError> {
    ports()?
        .access_log
        .record(NewAccessLogEntry {
            practice: patient.practice,
            patient: patient.id,
            actor: Some(actor.account),
            actor_role: actor.role,
            acting_for: actor.acting_for,
            action,
            outcome,
            request_id: ctx.request_id.clone(),
        })
        .await?;
    Ok(())
}

/// `patient` when `rule` allows `actor` to do `action`; otherwise the
/// refusal is written to the patient's access log and the answer is 403.
pub async fn authorize_or_refuse(
    ctx: &RequestContext,
    actor: &Actor,
    patient: PatientRef,
    action: RecordAction,
    rule: PatientRule,
) -> Result<PatientRef, PortalError> {
    if rule(actor, patient) == Decision::Allow {
        return Ok(patient);
    }
    log_access(ctx, actor, patient, action, Outcome::Refused).await?;
    Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden))
}

/// As [`authorize_or_refuse`], for a patient known only by id.
pub async fn authorize_patient_id(
    ctx: &RequestContext,
    actor: &Actor,
    patient: PatientId,
    action: RecordAction,
    rule: PatientRule,
) -> Result<PatientRef, PortalError> {
    // An unknown patient and a forbidden one look the same from outside.
    let Some(found) = ports()?.directory.patient_ref(patient).await? else {
        return Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden));
    };
    authorize_or_refuse(ctx, actor, found, action, rule).await
}

/// Rule for personal details: see [`authorize_patient`].
pub fn details_rule(actor: &Actor, patient: PatientRef) -> Decision {
    authorize_patient(actor, patient)
}

/// The access log of a record: the patient themselves, or a practice
/// manager of their practice.
pub fn access_history_rule(actor: &Actor, patient: PatientRef) -> Decision {
    let manager = actor.role.has(domain::Permission::ViewPracticeAccessLog)
        && actor.practice == Some(patient.practice);
    let own = actor.role.has(domain::Permission::ViewOwnAccessLog)
        && authorize_patient(actor, patient) == Decision::Allow;
    if manager || own {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

/// True when the request came from a plain HTML form (no JavaScript), which
/// needs a redirect and its feedback kept in the session.
pub fn is_plain_form_post() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.contains("text/html"))
        })
        .unwrap_or(false)
}
