//! Server functions. Each is thin: who is asking and may they (`check*`),
//! call a port, map the error. Forms post here directly, so every one works
//! without JavaScript: a plain form post gets a redirect, and any feedback
//! waits in the session for the page it came from.

use crate::error::PortalError;
use domain::PatientId;
use domain::access_log::AccessLogEntry;
use domain::forms::FormFeedback;
use domain::views::{PatientDetails, PracticeSummary, SignedInUser};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::guard::{
    access_history_rule, check, check_signed_in, details_rule, is_plain_form_post, ports,
    read_patient_data,
};

/// Sends a form's feedback back to the page it came from. A plain form post
/// is redirected there with the feedback kept in the session; a script
/// caller gets it in the response.
#[cfg(feature = "ssr")]
async fn send_back(
    ctx: &domain::ports::RequestContext,
    feedback: FormFeedback,
    page: &str,
) -> Result<FormFeedback, PortalError> {
    if is_plain_form_post() {
        ctx.session.put_feedback(feedback.clone()).await?;
        leptos_axum::redirect(page);
    }
    Ok(feedback)
}

#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<FormFeedback, PortalError> {
    use domain::ports::SignInOutcome;
    let ctx = check::<SignIn>()?;
    let feedback = domain::forms::check_sign_in(&email, &password);
    let Ok(email) = domain::Email::parse(&email) else {
        return send_back(&ctx, feedback, "/sign-in").await;
    };
    if feedback.has_errors() {
        return send_back(&ctx, feedback, "/sign-in").await;
    }
    match ports()?
        .authenticator
        .sign_in(&email, &password, &ctx.client)
        .await?
    {
        SignInOutcome::SignedIn(account) => {
            ctx.session.begin(account).await?;
            // "/" sends each role on to its own home page.
            leptos_axum::redirect("/");
            Ok(FormFeedback::new("sign-in"))
        }
        SignInOutcome::Rejected => {
            let feedback = feedback.error("email", "Enter a correct email address and password");
            send_back(&ctx, feedback, "/sign-in").await
        }
        SignInOutcome::TooManyAttempts => {
            let feedback = feedback.error(
                "email",
                "You have tried to sign in too many times. Wait 15 minutes, then try again",
            );
            send_back(&ctx, feedback, "/sign-in").await
        }
    }
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), PortalError> {
    let (ctx, _) = check_signed_in::<SignOut>()?;
    ctx.session.end().await?;
    leptos_axum::redirect("/signed-out");
    Ok(())
}

#[server(prefix = "/api", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SignedInUser>, PortalError> {
    let ctx = check::<CurrentUser>()?;
    Ok(ctx.actor.as_ref().map(SignedInUser::from))
}

/// Feedback left by a plain form post for this page, shown once.
#[server(prefix = "/api", endpoint = "take_feedback")]
pub async fn take_feedback(form: String) -> Result<Option<FormFeedback>, PortalError> {
    let ctx = check::<TakeFeedback>()?;
    Ok(ctx.session.take_feedback(&form).await?)
}

#[server(prefix = "/api", endpoint = "patient_details")]
pub async fn load_patient_details(patient: PatientId) -> Result<PatientDetails, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<LoadPatientDetails>()?;
    let directory = ports()?.directory;
    read_patient_data(
        &ctx,
        &actor,
        patient,
        RecordAction::ViewPersonalDetails,
        details_rule,
        |p| async move { directory.patient_details(p).await },
    )
    .await
}

#[server(prefix = "/api", endpoint = "access_history")]
pub async fn access_history(patient: PatientId) -> Result<Vec<AccessLogEntry>, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<AccessHistory>()?;
    let log = ports()?.access_log;
    read_patient_data(
        &ctx,
        &actor,
        patient,
        RecordAction::ViewAccessLog,
        access_history_rule,
        |p| async move { log.for_patient(p, 200).await.map(Some) },
    )
    .await
}

#[server(prefix = "/api", endpoint = "find_patient")]
pub async fn find_patient(nhs_number: String) -> Result<FormFeedback, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<FindPatient>()?;
    let feedback = FormFeedback::new("find-patient").keep("nhs_number", &nhs_number);
    let nhs = match domain::NhsNumber::parse(&nhs_number) {
        Ok(n) => n,
        Err(e) => {
            return send_back(&ctx, feedback.error("nhs_number", e.to_string()), "/staff").await;
        }
    };
    let Some(practice) = actor.practice else {
        return Err(PortalError::Forbidden);
    };
    let found = ports()?
        .directory
        .find_by_nhs_number(practice, &nhs)
        .await?;
    let Some(found) = found else {
        let message = "No patient with that NHS number is registered at this practice. Check the number and try again";
        return send_back(&ctx, feedback.error("nhs_number", message), "/staff").await;
    };
    let patient = read_patient_data(
        &ctx,
        &actor,
        found.id,
        RecordAction::FindPatient,
        details_rule,
        |p| async move { Ok(Some(p.id)) },
    )
    .await?;
    leptos_axum::redirect(&format!("/staff/patients/{patient}"));
    Ok(FormFeedback::new("find-patient"))
}

#[server(prefix = "/api", endpoint = "list_practices")]
pub async fn list_practices() -> Result<Vec<PracticeSummary>, PortalError> {
    let _ = check_signed_in::<ListPractices>()?;
    Ok(ports()?.directory.list_practices().await?)
}
