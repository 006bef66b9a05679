//! The HTTP side of NHS login: start (redirect to the provider), callback
//! (finish and sign in, or offer the registration letter), and the
//! portal's public keys. Plain redirects, so they work without JavaScript.
//! Every failure lands on `/nhs-login/problem`, which explains it plainly.

use super::{PENDING_SECONDS, PendingSignIn, SignInProblem};
use crate::stores::nhs_login_links::{self, SignInResult};
use crate::stores::sessions::{AUTH_KEY, UNLINKED_NHS_LOGIN_KEY};
use crate::web::AppState;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use domain::IdentityLevel;
use domain::ports::RequestContext;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_sessions::Session;

pub const START_PATH: &str = "/auth/nhs-login";
pub const CALLBACK_PATH: &str = "/auth/nhs-login/callback";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
const PENDING_KEY: &str = "nhs_login_pending";
/// Where someone NHS login vouched for, but who matched no patient, goes.
const LINK_RECORD: &str = "/link-record";

fn problem(reason: &str) -> Response {
    Redirect::to(&format!("/nhs-login/problem?reason={reason}")).into_response()
}

#[derive(Deserialize)]
pub struct StartQuery {
    /// "P9" for a step-up from a weaker sign-in.
    level: Option<String>,
}

/// Sends the person to NHS login. A plain sign-in accepts any level (NHS
/// login answers with the highest the person has); a step-up asks for P9
/// and makes NHS login sign them in again.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(nhs_login) = state.nhs_login.clone() else {
        return problem("not-configured");
    };
    let step_up = query.level.as_deref() == Some("P9");
    // Anyone NHS login knows may sign in; what they may then see depends on
    // the level it reports (someone at P0 can still link by letter).
    let minimum = if step_up {
        IdentityLevel::P9
    } else {
        IdentityLevel::P0
    };
    match nhs_login
        .start(minimum, step_up, crate::db::now_unix())
        .await
    {
        Ok((url, pending)) => {
            if let Err(err) = session.insert(PENDING_KEY, pending).await {
                tracing::error!(cause = %err, "could not keep the NHS login sign-in in the session");
                return problem("unavailable");
            }
            Redirect::to(&url).into_response()
        }
        Err(err) => {
            tracing::warn!(cause = %err, "could not start an NHS login sign-in");
            problem("unavailable")
        }
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Compares through a hash so the time taken says nothing about how much
/// of the value matched.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    Extension(ctx): Extension<RequestContext>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(nhs_login) = state.nhs_login.clone() else {
        return problem("not-configured");
    };
    // Used once, whatever happens next: a replayed callback finds nothing.
    let pending: Option<PendingSignIn> = session.remove(PENDING_KEY).await.ok().flatten();
    if let Some(error) = query.error.as_deref() {
        tracing::info!(
            error,
            "NHS login sent the person back without signing them in"
        );
        return problem(if error == "access_denied" {
            "cancelled"
        } else {
            "provider-error"
        });
    }
    let now = crate::db::now_unix();
    let Some(pending) = pending.filter(|p| now - p.started_at <= PENDING_SECONDS) else {
        return problem("expired");
    };
    let (Some(code), Some(returned_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return problem("refused");
    };
    if !same_secret(returned_state, &pending.state) {
        tracing::warn!("NHS login callback with a state that does not match this session's");
        return problem("state");
    }
    let identity = match nhs_login.finish(&pending, code, now).await {
        Ok(identity) => identity,
        Err(err) => {
            tracing::warn!(cause = %err, "NHS login sign-in refused");
            return problem(match err {
                SignInProblem::Unavailable(_) => "unavailable",
                SignInProblem::Refused(_) => "refused",
                SignInProblem::InvalidToken(_) => "invalid-token",
                SignInProblem::LevelTooLow { .. } => "level",
            });
        }
    };
    let level = identity.level;
    match nhs_login_links::sign_in_with(&state.db, &identity, &ctx.request_id).await {
        Ok(SignInResult::SignedIn(account)) => {
            let begun = async {
                ctx.session.forget_unlinked_nhs_login().await?;
                ctx.session.begin(account, Some(level)).await
            };
            match begun.await {
                Ok(()) => Redirect::to("/").into_response(),
                Err(err) => {
                    tracing::error!(cause = %err, "could not start the session after NHS login");
                    problem("unavailable")
                }
            }
        }
        Ok(SignInResult::NotLinked) => {
            // Whoever was signed in here before is not this person's record.
            let _ = session.remove_value(AUTH_KEY).await;
            let kept = async {
                session.cycle_id().await?;
                session.insert(UNLINKED_NHS_LOGIN_KEY, identity).await
            };
            match kept.await {
                Ok(()) => Redirect::to(LINK_RECORD).into_response(),
                Err(err) => {
                    tracing::error!(cause = %err, "could not keep the NHS login identity in the session");
                    problem("unavailable")
                }
            }
        }
        Ok(SignInResult::EmailInUse) => problem("email-in-use"),
        Ok(SignInResult::AccountLinkedElsewhere) => problem("linked-elsewhere"),
        Err(err) => {
            tracing::error!(cause = %err, "could not link the NHS login identity");
            problem("unavailable")
        }
    }
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    match state.nhs_login.as_ref() {
        Some(nhs_login) => (
            [(header::CONTENT_TYPE, "application/json")],
            nhs_login.jwks().to_owned(),
        )
            .into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}
