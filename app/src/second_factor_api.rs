//! Server functions for the staff second factor: giving a code at sign-in,
//! setting up an authenticator app, the recovery codes shown once, and a
//! practice manager's team page with its reset. Every one is open to a
//! member of staff who has not given their second factor yet (that is what
//! they are for), except the team and reset, which need one; patients are
//! refused.

use crate::error::PortalError;
use domain::forms::FormFeedback;
use domain::second_factor::{Enrolment, SecondFactorStatus, TeamMember};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::guard::{check_signed_in, ports, refuse};

/// The form names the pages' feedback is kept under.
pub const VERIFY_FORM: &str = "second-factor";
pub const SETUP_FORM: &str = "second-factor-setup";

/// Where a new member of staff's plain recovery codes wait in the session
/// until the next page shows them: the session's one-time feedback slot,
/// which is emptied as it is read, so they are shown once and then exist
/// nowhere.
#[cfg(feature = "ssr")]
const NEW_RECOVERY_CODES: &str = "new-recovery-codes";

/// As `check_signed_in`, for staff only: patients have no second factor here.
#[cfg(feature = "ssr")]
fn check_staff<F: leptos::server_fn::ServerFn>()
-> Result<(domain::ports::RequestContext, domain::Actor), PortalError> {
    let (ctx, actor) = check_signed_in::<F>()?;
    if !actor.role.is_staff() {
        return Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden));
    }
    Ok((ctx, actor))
}

/// For `/mfa`: someone with no app set up is sent to set one up, and
/// someone who has given their code already is sent home.
#[server(prefix = "/api", endpoint = "second_factor_state")]
pub async fn second_factor_state() -> Result<SecondFactorStatus, PortalError> {
    let (_, actor) = check_staff::<SecondFactorState>()?;
    let status = ports()?.second_factor.status(actor.account).await?;
    if status == SecondFactorStatus::NotEnrolled {
        leptos_axum::redirect("/mfa/setup");
    } else if actor.second_factor_done {
        leptos_axum::redirect(crate::access_rules::home_path(actor.role));
    }
    Ok(status)
}

/// For `/mfa/setup`: the secret to add to an app, or None (and off to
/// `/mfa`) if one is set up already.
#[server(prefix = "/api", endpoint = "start_second_factor_setup")]
pub async fn start_second_factor_setup() -> Result<Option<Enrolment>, PortalError> {
    use domain::second_factor::EnrolmentStart;
    let (_, actor) = check_staff::<StartSecondFactorSetup>()?;
    match ports()?
        .second_factor
        .start_enrolment(actor.account)
        .await?
    {
        EnrolmentStart::Started(enrolment) => Ok(Some(enrolment)),
        EnrolmentStart::AlreadyEnrolled => {
            leptos_axum::redirect("/mfa");
            Ok(None)
        }
    }
}

/// The first code from a new app. Right: the app is set up, this sign-in
/// counts as having given the second factor, and the recovery codes are
/// shown next.
#[server(prefix = "/api", endpoint = "confirm_second_factor")]
pub async fn confirm_second_factor(code: String) -> Result<FormFeedback, PortalError> {
    use domain::second_factor::EnrolmentOutcome;
    let (ctx, actor) = check_staff::<ConfirmSecondFactor>()?;
    match ports()?
        .second_factor
        .confirm_enrolment(actor.account, &code, &ctx.request_id)
        .await?
    {
        EnrolmentOutcome::Enrolled(codes) => {
            ctx.session.second_factor_given().await?;
            let waiting = codes
                .iter()
                .fold(FormFeedback::new(NEW_RECOVERY_CODES), |kept, code| {
                    kept.keep("code", code)
                });
            ctx.session.put_feedback(waiting).await?;
            leptos_axum::redirect("/mfa/recovery-codes");
            Ok(FormFeedback::new(SETUP_FORM))
        }
        EnrolmentOutcome::Refused(problem) => {
            let feedback = FormFeedback::new(SETUP_FORM).error("code", problem.to_string());
            crate::api::send_back(&ctx, feedback, "/mfa/setup").await
        }
        // Another tab finished (or reset) set-up: start again from the top.
        EnrolmentOutcome::NotStarted | EnrolmentOutcome::AlreadyEnrolled => {
            leptos_axum::redirect("/mfa");
            Ok(FormFeedback::new(SETUP_FORM))
        }
    }
}

/// A code at sign-in: from the app (`code`) or a recovery code
/// (`recovery_code`), each from its own form on `/mfa`.
#[server(prefix = "/api", endpoint = "verify_second_factor")]
pub async fn verify_second_factor(
    code: Option<String>,
    recovery_code: Option<String>,
) -> Result<FormFeedback, PortalError> {
    use domain::second_factor::{CodeBox, Verification};
    let (ctx, actor) = check_staff::<VerifySecondFactor>()?;
    let (typed, field, code_box) = match (code, recovery_code) {
        (None, Some(recovery)) => (recovery, "recovery_code", CodeBox::Recovery),
        (code, _) => (code.unwrap_or_default(), "code", CodeBox::Authenticator),
    };
    match ports()?
        .second_factor
        .verify(actor.account, &typed, code_box, &ctx.request_id)
        .await?
    {
        Verification::Accepted => {
            ctx.session.second_factor_given().await?;
            leptos_axum::redirect(crate::access_rules::home_path(actor.role));
            Ok(FormFeedback::new(VERIFY_FORM))
        }
        Verification::Refused(problem) => {
            let feedback = FormFeedback::new(VERIFY_FORM).error(field, problem.to_string());
            crate::api::send_back(&ctx, feedback, "/mfa").await
        }
        Verification::NotEnrolled => {
            leptos_axum::redirect("/mfa/setup");
            Ok(FormFeedback::new(VERIFY_FORM))
        }
    }
}

/// The recovery codes just made, the first time this is asked; None after.
#[server(prefix = "/api", endpoint = "new_recovery_codes")]
pub async fn new_recovery_codes() -> Result<Option<Vec<String>>, PortalError> {
    let (ctx, _) = check_staff::<NewRecoveryCodes>()?;
    Ok(ctx
        .session
        .take_feedback(NEW_RECOVERY_CODES)
        .await?
        .map(|kept| kept.values.into_iter().map(|(_, code)| code).collect()))
}

/// The staff of the practice manager's practice, with whether each has an
/// authenticator app set up.
#[server(prefix = "/api", endpoint = "practice_team")]
pub async fn practice_team() -> Result<Vec<TeamMember>, PortalError> {
    let (_, actor) = check_signed_in::<PracticeTeam>()?;
    Ok(ports()?.second_factor.team(&actor).await?)
}

/// A practice manager resets a colleague's second factor (a lost phone):
/// the app and recovery codes are forgotten, the colleague is signed out
/// everywhere, and sets up a new app at their next sign-in.
#[server(prefix = "/api", endpoint = "reset_second_factor")]
pub async fn reset_second_factor(account: i64) -> Result<(), PortalError> {
    use domain::second_factor::ResetOutcome;
    let (ctx, actor) = check_signed_in::<ResetSecondFactor>()?;
    match ports()?
        .second_factor
        .reset_for_colleague(&actor, domain::AccountId(account), &ctx.request_id)
        .await?
    {
        ResetOutcome::Done => {
            leptos_axum::redirect("/staff/team?reset=1");
            Ok(())
        }
        ResetOutcome::Forbidden => Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden)),
    }
}
