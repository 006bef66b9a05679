//! Server functions. Each is thin: who is asking and may they (`check*`),
//! call a port, map the error. Forms post here directly, so every one works
//! without JavaScript: a plain form post gets a redirect, and any feedback
//! waits in the session for the page it came from.

use crate::error::PortalError;
use domain::PatientId;
use domain::access_log::AccessLogEntry;
use domain::forms::{FormFeedback, SignUpForm};
use domain::views::{
    DevEmail, FailedEmail, OutboxSummary, PatientDetails, PracticeSummary, SignedInUser,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::guard::{
    access_history_rule, check, check_signed_in, details_rule, is_plain_form_post, ports,
    read_patient_data, refuse,
};

/// Sends a form's feedback back to the page it came from. A plain form post
/// is redirected there with the feedback kept in the session; a script
/// caller gets it in the response.
#[cfg(feature = "ssr")]
pub(crate) async fn send_back(
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
            ctx.session.begin(account, None).await?;
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

/// Which ways of signing in this deployment offers (NHS login or not).
#[server(prefix = "/api", endpoint = "sign_in_options")]
pub async fn sign_in_options() -> Result<domain::ports::SignInOptions, PortalError> {
    check::<SignInOptions>()?;
    Ok(ports()?.sign_in_options)
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

/// Wrong passwords count with failed sign-ins for the account.
#[cfg(feature = "ssr")]
const TOO_MANY_TRIES: &str =
    "You have entered a wrong password too many times. Wait 15 minutes, then try again";

// Account emails: signing up, confirming an address, resetting and changing
// a password, changing the email address, and the outbox. A password is
// never put back into feedback.

/// A link page's address, with its token only if it looks like one: a
/// malformed token is not worth carrying back.
#[cfg(feature = "ssr")]
fn link_page(page: &str, token: &str) -> String {
    if domain::account_tokens::looks_like_token(token) {
        format!("{page}?token={token}")
    } else {
        page.to_owned()
    }
}

/// The form's fields arrive under their own names (`email`, `dob_day`...):
/// `flatten` reads them straight into the domain's form.
#[server(prefix = "/api", endpoint = "sign_up")]
pub async fn sign_up(#[server(flatten)] form: SignUpForm) -> Result<FormFeedback, PortalError> {
    use domain::forms::check_sign_up;
    let ctx = check::<SignUp>()?;
    let checked = match check_sign_up(&form, chrono::Utc::now().date_naive()) {
        Ok(checked) => checked,
        Err(feedback) => return send_back(&ctx, feedback, "/sign-up").await,
    };
    let address = checked.email.to_string();
    ports()?
        .accounts
        .sign_up(checked, &form.password, &ctx.request_id)
        .await?;
    // The next page names the address, whatever the outcome was: only its
    // owner learns, by email, whether the details matched.
    ctx.session
        .put_feedback(FormFeedback::new("sign-up-sent").keep("email", &address))
        .await?;
    leptos_axum::redirect("/sign-up/check-email");
    Ok(FormFeedback::new("sign-up"))
}

#[server(prefix = "/api", endpoint = "resend_confirmation")]
pub async fn resend_confirmation() -> Result<(), PortalError> {
    let (_, actor) = check_signed_in::<ResendConfirmation>()?;
    ports()?.accounts.resend_confirmation(actor.account).await?;
    leptos_axum::redirect("/confirm-email?sent=1");
    Ok(())
}

/// Whether a link from an email still works, so its page can say so before
/// asking for anything. None when it works, otherwise what is wrong.
#[server(prefix = "/api", endpoint = "check_link")]
pub async fn check_link(purpose: String, token: String) -> Result<Option<String>, PortalError> {
    use domain::account_tokens::{TokenProblem, TokenPurpose, looks_like_token};
    let _ = check::<CheckLink>()?;
    let purpose = TokenPurpose::parse(&purpose).ok_or(PortalError::BadRequest)?;
    if !looks_like_token(&token) {
        return Ok(Some(TokenProblem::Unknown.to_string()));
    }
    let answer = ports()?.accounts.check_link(purpose, &token).await?;
    Ok(answer.err().map(|problem| problem.to_string()))
}

#[server(prefix = "/api", endpoint = "confirm_email")]
pub async fn confirm_email(token: String) -> Result<FormFeedback, PortalError> {
    use domain::account_tokens::{TokenProblem, looks_like_token};
    let ctx = check::<ConfirmEmail>()?;
    let outcome = if looks_like_token(&token) {
        ports()?.accounts.confirm_email(&token).await?
    } else {
        Err(TokenProblem::Unknown)
    };
    match outcome {
        Ok(()) => {
            leptos_axum::redirect("/email-confirmed");
            Ok(FormFeedback::new("confirm-email"))
        }
        Err(problem) => {
            let feedback = FormFeedback::new("confirm-email").error("token", problem.to_string());
            send_back(&ctx, feedback, &link_page("/verify-email", &token)).await
        }
    }
}

/// Answers the same whether or not an account uses the address.
#[server(prefix = "/api", endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<FormFeedback, PortalError> {
    let ctx = check::<RequestPasswordReset>()?;
    let email = match domain::forms::check_email_only("forgot-password", &email) {
        Ok(email) => email,
        Err(feedback) => return send_back(&ctx, feedback, "/forgot-password").await,
    };
    ports()?.accounts.request_password_reset(&email).await?;
    ctx.session
        .put_feedback(FormFeedback::new("reset-sent").keep("email", email.as_str()))
        .await?;
    leptos_axum::redirect("/forgot-password/sent");
    Ok(FormFeedback::new("forgot-password"))
}

#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<FormFeedback, PortalError> {
    use domain::account_tokens::{TokenProblem, looks_like_token};
    let ctx = check::<ResetPassword>()?;
    let back = link_page("/reset-password", &token);
    let link_problem = |problem: TokenProblem| {
        FormFeedback::new("reset-password").error("token", problem.to_string())
    };
    if !looks_like_token(&token) {
        return send_back(&ctx, link_problem(TokenProblem::Unknown), &back).await;
    }
    // The account's address is not known until the link is used, so the
    // "not your email address" rule cannot be checked here.
    if let Err(feedback) = domain::forms::check_new_password("reset-password", &password, "") {
        return send_back(&ctx, feedback, &back).await;
    }
    match ports()?
        .accounts
        .reset_password(&token, &password, &ctx.request_id)
        .await?
    {
        Ok(()) => {
            // Every session of the account has ended; this browser may be
            // signed in as someone else, so it is signed out too.
            if ctx.actor.is_some() {
                ctx.session.end().await?;
            }
            leptos_axum::redirect("/password-reset-done");
            Ok(FormFeedback::new("reset-password"))
        }
        Err(problem) => send_back(&ctx, link_problem(problem), &back).await,
    }
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    password: String,
) -> Result<FormFeedback, PortalError> {
    use domain::forms::{MAX_PASSWORD_LEN, new_password_problem};
    use domain::ports::PasswordChange;
    const WRONG_CURRENT: &str = "Your current password is not right. Check it and try again";
    let (ctx, actor) = check_signed_in::<ChangePassword>()?;
    let mut feedback = FormFeedback::new("change-password");
    if current_password.is_empty() {
        feedback = feedback.error("current_password", "Enter your current password");
    } else if current_password.chars().count() > MAX_PASSWORD_LEN {
        // No password that long was ever accepted: refuse it before hashing.
        feedback = feedback.error("current_password", WRONG_CURRENT);
    }
    if let Some(problem) = new_password_problem(&password, "") {
        feedback = feedback.error("password", problem);
    }
    if feedback.has_errors() {
        return send_back(&ctx, feedback, "/account/password").await;
    }
    match ports()?
        .accounts
        .change_password(actor.account, &current_password, &password, &ctx.request_id)
        .await?
    {
        PasswordChange::Changed => {
            // The port ended every session of the account, this one too;
            // the person who made the change stays signed in here.
            ctx.session.begin(actor.account, None).await?;
            if actor.second_factor_done {
                ctx.session.second_factor_given().await?;
            }
            leptos_axum::redirect("/account?changed=password");
            Ok(FormFeedback::new("change-password"))
        }
        PasswordChange::WrongCurrentPassword => {
            let feedback = feedback.error("current_password", WRONG_CURRENT);
            send_back(&ctx, feedback, "/account/password").await
        }
        PasswordChange::TooManyAttempts => {
            let feedback = feedback.error("current_password", TOO_MANY_TRIES);
            send_back(&ctx, feedback, "/account/password").await
        }
    }
}

#[server(prefix = "/api", endpoint = "request_email_change")]
pub async fn request_email_change(
    email: String,
    password: String,
) -> Result<FormFeedback, PortalError> {
    use domain::forms::MAX_PASSWORD_LEN;
    use domain::ports::EmailChangeRequest;
    const WRONG_PASSWORD: &str = "Your password is not right. Check it and try again";
    let (ctx, actor) = check_signed_in::<RequestEmailChange>()?;
    let mut feedback = FormFeedback::new("change-email").keep("email", &email);
    let new_email = domain::Email::parse(&email);
    if let Err(e) = &new_email {
        feedback = feedback.error("email", e.to_string());
    }
    if password.is_empty() {
        feedback = feedback.error("password", "Enter your password");
    } else if password.chars().count() > MAX_PASSWORD_LEN {
        feedback = feedback.error("password", WRONG_PASSWORD);
    }
    let (Ok(new_email), false) = (new_email, feedback.has_errors()) else {
        return send_back(&ctx, feedback, "/account/email").await;
    };
    match ports()?
        .accounts
        .request_email_change(actor.account, &password, &new_email)
        .await?
    {
        EmailChangeRequest::LinkSent => {
            leptos_axum::redirect("/account?changed=email");
            Ok(FormFeedback::new("change-email"))
        }
        EmailChangeRequest::WrongPassword => {
            let feedback = feedback.error("password", WRONG_PASSWORD);
            send_back(&ctx, feedback, "/account/email").await
        }
        EmailChangeRequest::TooManyAttempts => {
            let feedback = feedback.error("password", TOO_MANY_TRIES);
            send_back(&ctx, feedback, "/account/email").await
        }
        EmailChangeRequest::SameAsCurrent => {
            let feedback = feedback.error("email", "That is already your email address");
            send_back(&ctx, feedback, "/account/email").await
        }
    }
}

#[server(prefix = "/api", endpoint = "confirm_email_change")]
pub async fn confirm_email_change(token: String) -> Result<FormFeedback, PortalError> {
    use domain::account_tokens::{TokenProblem, looks_like_token};
    use domain::ports::EmailChangeProblem;
    let ctx = check::<ConfirmEmailChange>()?;
    let outcome = if looks_like_token(&token) {
        ports()?
            .accounts
            .confirm_email_change(&token, &ctx.request_id)
            .await?
    } else {
        Err(EmailChangeProblem::Link(TokenProblem::Unknown))
    };
    match outcome {
        Ok(()) => {
            leptos_axum::redirect("/email-changed");
            Ok(FormFeedback::new("confirm-email-change"))
        }
        Err(problem) => {
            let feedback =
                FormFeedback::new("confirm-email-change").error("token", problem.to_string());
            send_back(&ctx, feedback, &link_page("/confirm-email-change", &token)).await
        }
    }
}

#[server(prefix = "/api", endpoint = "account_settings")]
pub async fn account_settings() -> Result<domain::views::AccountSettings, PortalError> {
    let (_, actor) = check_signed_in::<AccountSettings>()?;
    ports()?
        .accounts
        .settings(actor.account)
        .await?
        .ok_or(PortalError::NotFound)
}

/// A checkbox is sent only when ticked, so each argument is Some for "on".
#[server(prefix = "/api", endpoint = "set_email_preferences")]
pub async fn set_email_preferences(
    appointment_reminders: Option<String>,
    new_messages: Option<String>,
) -> Result<(), PortalError> {
    use domain::notifications::EmailPreferences;
    let (_, actor) = check_signed_in::<SetEmailPreferences>()?;
    let preferences = EmailPreferences {
        appointment_reminders: appointment_reminders.is_some(),
        new_messages: new_messages.is_some(),
    };
    ports()?
        .accounts
        .set_preferences(actor.account, preferences)
        .await?;
    leptos_axum::redirect("/account?changed=preferences");
    Ok(())
}

#[server(prefix = "/api", endpoint = "email_outbox")]
pub async fn email_outbox() -> Result<(OutboxSummary, Vec<FailedEmail>), PortalError> {
    let _ = check_signed_in::<EmailOutbox>()?;
    let outbox = ports()?.outbox;
    let summary = outbox.summary().await?;
    let failed = outbox.failed(200).await?;
    Ok((summary, failed))
}

#[server(prefix = "/api", endpoint = "retry_email")]
pub async fn retry_email(id: i64) -> Result<(), PortalError> {
    let (_, actor) = check_signed_in::<RetryEmail>()?;
    let retried = ports()?.outbox.retry(id).await?;
    tracing::info!(
        email = id,
        by = actor.account.0,
        retried,
        "an administrator asked to retry a failed email"
    );
    leptos_axum::redirect(if retried {
        "/admin/emails?retried=1"
    } else {
        "/admin/emails"
    });
    Ok(())
}

/// The emails "sent" while no mail server is configured. Not found (404)
/// otherwise: the page does not exist on a real deployment.
#[server(prefix = "/api", endpoint = "development_mailbox")]
pub async fn development_mailbox() -> Result<Vec<DevEmail>, PortalError> {
    let _ = check::<DevelopmentMailbox>()?;
    ports()?
        .outbox
        .development_mailbox()
        .await?
        .ok_or_else(|| refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound))
}
