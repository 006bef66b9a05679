//! Server functions for registration letters (linkage keys): staff create,
//! show once and cancel them; a patient uses one to link their online
//! account, or their NHS login, to their GP record. Each is a plain form
//! post answered with a redirect, so all of it works without JavaScript.
//! The rules are in `domain::linkage`.

use crate::error::PortalError;
use domain::PatientId;
use domain::forms::FormFeedback;
use domain::linkage::{IssuedLetter, LetterStatus, LinkageForm};
use domain::views::PatientDetails;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::send_back;
#[cfg(feature = "ssr")]
use crate::guard::{
    authorize_patient_id, check, check_signed_in, details_rule, ports, read_patient_data, refuse,
};

/// The patient's page, to link a record with a letter.
pub const LINK_RECORD_PAGE: &str = "/link-record";
/// The form name under which a new letter waits in the session until the
/// letter page shows it (once).
#[cfg(feature = "ssr")]
const NEW_LETTER: &str = "registration-letter";

/// The staff patient page: the patient's details and their latest letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffPatientView {
    pub details: PatientDetails,
    pub letter: Option<LetterStatus>,
}

/// Who has opened the link page, which decides what it offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkVisitor {
    /// Signed in with NHS login, which matched no record.
    NhsLogin,
    /// A patient whose identity is not fully checked yet.
    Patient,
    /// A patient whose identity is already fully checked.
    AlreadyChecked,
    Staff,
    NotSignedIn,
}

/// The patient's details and letter, for staff of their practice. One
/// access-log row, as for the details alone: the letter's status is part
/// of the same page.
#[server(prefix = "/api", endpoint = "staff_patient")]
pub async fn staff_patient(patient: PatientId) -> Result<StaffPatientView, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<StaffPatient>()?;
    let ports = ports()?;
    let (directory, letters) = (ports.directory, ports.registration_letters);
    let staff = actor.clone();
    read_patient_data(
        &ctx,
        &actor,
        patient,
        RecordAction::ViewPersonalDetails,
        details_rule,
        |p| async move {
            let Some(details) = directory.patient_details(p).await? else {
                return Ok(None);
            };
            let letter = letters.current(&staff, p).await?;
            Ok(Some(StaffPatientView { details, letter }))
        },
    )
    .await
}

/// A new letter, kept in the session until its page shows it: the plain
/// key exists nowhere else.
#[cfg(feature = "ssr")]
fn letter_to_feedback(letter: &IssuedLetter) -> FormFeedback {
    FormFeedback::new(NEW_LETTER)
        .keep("patient", &letter.patient.to_string())
        .keep("account_reference", &letter.account_reference)
        .keep("linkage_key", &letter.linkage_key)
        .keep("practice_ods", &letter.practice_ods)
        .keep("practice_name", &letter.practice_name)
        .keep("patient_name", &letter.patient_name)
        .keep("expires_at", &letter.expires_at.timestamp().to_string())
        .keep("portal_address", &letter.portal_address)
}

#[cfg(feature = "ssr")]
fn letter_from_feedback(stored: &FormFeedback) -> Option<IssuedLetter> {
    Some(IssuedLetter {
        patient: PatientId(stored.value("patient").parse().ok()?),
        account_reference: stored.value("account_reference"),
        linkage_key: stored.value("linkage_key"),
        practice_ods: stored.value("practice_ods"),
        practice_name: stored.value("practice_name"),
        patient_name: stored.value("patient_name"),
        expires_at: chrono::DateTime::from_timestamp(stored.value("expires_at").parse().ok()?, 0)?,
        portal_address: stored.value("portal_address"),
    })
}

/// Creates a letter (cancelling any that still works) and sends staff to
/// the page that shows it, once.
#[server(prefix = "/api", endpoint = "issue_registration_letter")]
pub async fn issue_registration_letter(patient: PatientId) -> Result<(), PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<IssueRegistrationLetter>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::IssueRegistrationLetter,
        details_rule,
    )
    .await?;
    let letter = ports()?
        .registration_letters
        .issue(&actor, found, &ctx.request_id)
        .await?;
    ctx.session
        .put_feedback(letter_to_feedback(&letter))
        .await?;
    leptos_axum::redirect(&format!("/staff/patients/{patient}/letter"));
    Ok(())
}

/// The letter just created, the first time it is asked for; None after.
#[server(prefix = "/api", endpoint = "take_registration_letter")]
pub async fn take_registration_letter(
    patient: PatientId,
) -> Result<Option<IssuedLetter>, PortalError> {
    let (ctx, _) = check_signed_in::<TakeRegistrationLetter>()?;
    let Some(stored) = ctx.session.take_feedback(NEW_LETTER).await? else {
        return Ok(None);
    };
    // Only this session's own letter is ever here; the patient check keeps
    // a letter from showing under another patient's address.
    Ok(letter_from_feedback(&stored).filter(|letter| letter.patient == patient))
}

#[server(prefix = "/api", endpoint = "revoke_registration_letter")]
pub async fn revoke_registration_letter(patient: PatientId) -> Result<(), PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<RevokeRegistrationLetter>()?;
    let found = authorize_patient_id(
        &ctx,
        &actor,
        patient,
        RecordAction::RevokeRegistrationLetter,
        details_rule,
    )
    .await?;
    let revoked = ports()?
        .registration_letters
        .revoke(&actor, found, &ctx.request_id)
        .await?;
    let outcome = if revoked { "cancelled" } else { "none" };
    leptos_axum::redirect(&format!("/staff/patients/{patient}?letter={outcome}"));
    Ok(())
}

#[server(prefix = "/api", endpoint = "link_record_visitor")]
pub async fn link_record_visitor() -> Result<LinkVisitor, PortalError> {
    let ctx = check::<LinkRecordVisitor>()?;
    Ok(match &ctx.actor {
        Some(actor) if actor.role == domain::Role::Patient => {
            if actor.identity_level >= domain::IdentityLevel::P9 {
                LinkVisitor::AlreadyChecked
            } else {
                LinkVisitor::Patient
            }
        }
        Some(_) => LinkVisitor::Staff,
        None if ctx.session.unlinked_nhs_login().await?.is_some() => LinkVisitor::NhsLogin,
        None => LinkVisitor::NotSignedIn,
    })
}

/// Uses a registration letter. Open to anyone in the access table, but
/// refused here unless the caller is a patient whose identity is not fully
/// checked, or someone NHS login vouched for whose NHS login matched no
/// record. The form's fields arrive under their own names (`flatten`).
#[server(prefix = "/api", endpoint = "link_record")]
pub async fn link_record(
    #[server(flatten)] form: LinkageForm,
) -> Result<FormFeedback, PortalError> {
    use domain::linkage::{LINK_FORM, Redeemer, Redemption, check_linkage_form, linkage_feedback};
    let ctx = check::<LinkRecord>()?;
    let redeemer = match &ctx.actor {
        Some(actor) if actor.role == domain::Role::Patient => {
            if actor.identity_level >= domain::IdentityLevel::P9 {
                // Nothing to prove: the letter is left for nobody to waste.
                leptos_axum::redirect("/home");
                return Ok(FormFeedback::new(LINK_FORM));
            }
            let patient = actor
                .acting_for
                .ok_or_else(|| refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden))?;
            Redeemer::Account {
                account: actor.account,
                patient,
            }
        }
        Some(_) => return Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden)),
        None => match ctx.session.unlinked_nhs_login().await? {
            Some(identity) => Redeemer::NhsLogin(identity),
            None => {
                return Err(refuse(
                    http::StatusCode::UNAUTHORIZED,
                    PortalError::SignInRequired,
                ));
            }
        },
    };
    let checked = match check_linkage_form(&form, chrono::Utc::now().date_naive()) {
        Ok(checked) => checked,
        Err(feedback) => return send_back(&ctx, feedback, LINK_RECORD_PAGE).await,
    };
    let outcome = ports()?
        .registration_letters
        .redeem(redeemer.clone(), &checked, &ctx.client, &ctx.request_id)
        .await?;
    match outcome {
        Redemption::Linked(account) => {
            if let Redeemer::NhsLogin(identity) = &redeemer {
                ctx.session.forget_unlinked_nhs_login().await?;
                ctx.session.begin(account, Some(identity.level)).await?;
            }
            leptos_axum::redirect("/home?linked=1");
            Ok(FormFeedback::new(LINK_FORM))
        }
        refused => {
            let message = refused.problem().unwrap_or_default();
            let feedback = linkage_feedback(&form).error("account_id", message);
            send_back(&ctx, feedback, LINK_RECORD_PAGE).await
        }
    }
}
