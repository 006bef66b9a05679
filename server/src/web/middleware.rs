//! Middleware every request passes through, outermost first: request id,
//! tracing, compression, panic catching, security headers, the CSRF origin
//! check, the session, and the request context (who is asking, and may they
//! open this page or call this function at all).

use super::AppState;
use crate::stores::accounts::actor_for;
use crate::stores::sessions::{AUTH_KEY, SessionAdapter};
use app::access_rules::{api_access, home_path, page_access};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::ports::{ClientAddress, RequestContext};
use domain::session_rules::{SessionState, SignedInSession};
use domain::{Actor, Decision};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_sessions::Session;

const SIGNED_OUT_INACTIVE: &str = "/signed-out?reason=inactive";
/// Where a patient who has not confirmed their email address is sent.
const CONFIRM_EMAIL_FIRST: &str = "/confirm-email";
/// Where someone whose identity is not proved well enough is offered a step-up.
pub const PROVE_IDENTITY: &str = "/prove-identity";
/// Where a member of staff gives their second factor (or sets one up).
pub const SECOND_FACTOR: &str = "/mfa";

fn accepts_html(req: &Request) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn client_address(req: &Request, trust_forwarded_for: bool) -> ClientAddress {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
        })
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    ClientAddress(forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned()))
}

/// A plain-English page for when something went wrong on our side.
fn problem_page(status: StatusCode, heading: &str, advice: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{heading} - GP online services</title><link rel=\"stylesheet\" href=\"/assets/nhsuk-frontend.min.css\"></head>\
         <body><div class=\"nhsuk-width-container\"><main class=\"nhsuk-main-wrapper\" id=\"maincontent\">\
         <h1>{heading}</h1><p>{advice}</p><p><a href=\"/\">Go to the start page</a></p></main></div></body></html>"
    );
    (status, Html(body)).into_response()
}

fn json_refusal(status: StatusCode, error: app::error::PortalError) -> Response {
    let body = serde_json::to_string(&error).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Resolves who is asking, enforces the idle timeout, and applies the page
/// and server-function access tables before anything else runs.
pub async fn request_context(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let now = crate::db::now_unix();
    let mut actor = None;
    let mut timed_out = false;
    match session.get::<SignedInSession>(AUTH_KEY).await {
        Ok(Some(signed_in)) => match signed_in.state(now, state.limits) {
            SessionState::Active => match actor_for(&state.db, signed_in.account).await {
                Ok(Some(found)) => {
                    actor = Some(Actor {
                        // The stronger of what the account holds (a practice's
                        // own check) and what NHS login said this time.
                        identity_level: signed_in
                            .nhs_login_level
                            .map_or(found.identity_level, |l| l.max(found.identity_level)),
                        second_factor_done: signed_in.second_factor_at.is_some(),
                        ..found
                    });
                    if signed_in.needs_touch(now) {
                        let touched = SignedInSession {
                            last_seen_at: now,
                            ..signed_in
                        };
                        if let Err(err) = session.insert(AUTH_KEY, touched).await {
                            tracing::warn!(cause = %err, "could not record session activity");
                        }
                    }
                }
                Ok(None) => {
                    let _ = session.flush().await;
                }
                Err(err) => {
                    tracing::error!(cause = %err, "could not load the signed-in account");
                    return problem_page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Sorry, there is a problem with the service",
                        "Try again later.",
                    );
                }
            },
            SessionState::IdleTimedOut | SessionState::LifetimeExceeded => {
                let _ = session.flush().await;
                timed_out = true;
            }
        },
        Ok(None) => {}
        Err(err) => {
            tracing::warn!(cause = %err, "unreadable session discarded");
            let _ = session.flush().await;
        }
    }

    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    // Only for "your devices": cut short so a huge header cannot bloat the session.
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect::<String>());
    let context = RequestContext {
        actor: actor.clone(),
        client: client_address(&req, state.config.trust_forwarded_for),
        request_id,
        session: Arc::new(SessionAdapter(session, user_agent)),
    };
    req.extensions_mut().insert(context);

    let path = req.uri().path().to_owned();
    let html = accepts_html(&req);
    if let Some(function) = path.strip_prefix("/api/").map(|_| path.as_str()) {
        // Fail closed: a server function missing from the table is refused.
        let Some(access) = api_access(function) else {
            tracing::error!(path = %function, "server function without an access rule refused");
            return json_refusal(StatusCode::FORBIDDEN, app::error::PortalError::Forbidden);
        };
        match access.decide(actor.as_ref()) {
            Decision::Allow => {}
            Decision::SignInRequired if html => {
                return Redirect::to(if timed_out {
                    SIGNED_OUT_INACTIVE
                } else {
                    "/sign-in"
                })
                .into_response();
            }
            Decision::SignInRequired => {
                return json_refusal(
                    StatusCode::UNAUTHORIZED,
                    app::error::PortalError::SignInRequired,
                );
            }
            Decision::Forbidden => {
                return json_refusal(StatusCode::FORBIDDEN, app::error::PortalError::Forbidden);
            }
            Decision::EmailNotConfirmed if html => {
                return Redirect::to(CONFIRM_EMAIL_FIRST).into_response();
            }
            Decision::EmailNotConfirmed => {
                return json_refusal(
                    StatusCode::FORBIDDEN,
                    app::error::PortalError::EmailNotConfirmed,
                );
            }
            Decision::IdentityCheckRequired if html => {
                return Redirect::to(PROVE_IDENTITY).into_response();
            }
            Decision::IdentityCheckRequired => {
                return json_refusal(
                    StatusCode::FORBIDDEN,
                    app::error::PortalError::IdentityCheckRequired,
                );
            }
            Decision::SecondFactorRequired if html => {
                return Redirect::to(SECOND_FACTOR).into_response();
            }
            Decision::SecondFactorRequired => {
                return json_refusal(
                    StatusCode::FORBIDDEN,
                    app::error::PortalError::SecondFactorRequired,
                );
            }
        }
    } else if matches!(*req.method(), Method::GET | Method::HEAD) {
        if timed_out && path != "/signed-out" {
            return Redirect::to(SIGNED_OUT_INACTIVE).into_response();
        }
        if let Some(a) = actor.as_ref().filter(|_| path == "/" || path == "/sign-in") {
            return Redirect::to(home_path(a.role)).into_response();
        }
        match page_access(&path).map(|access| access.decide(actor.as_ref())) {
            Some(Decision::SignInRequired) => return Redirect::to("/sign-in").into_response(),
            // The page is never rendered: a page may show data its role may
            // not see even when every server function it calls is public.
            Some(Decision::Forbidden) => return Redirect::to("/forbidden").into_response(),
            Some(Decision::EmailNotConfirmed) => {
                return Redirect::to(CONFIRM_EMAIL_FIRST).into_response();
            }
            Some(Decision::IdentityCheckRequired) => {
                return Redirect::to(PROVE_IDENTITY).into_response();
            }
            Some(Decision::SecondFactorRequired) => {
                return Redirect::to(SECOND_FACTOR).into_response();
            }
            Some(Decision::Allow) | None => {}
        }
    }
    next.run(req).await
}

/// The CSRF defence: a state-changing request must come from one of our own
/// origins (Origin header, or Referer where a browser sends no Origin).
/// SameSite=Lax cookies are the second line.
pub async fn reject_cross_origin_writes(
    State(origins): State<Arc<Vec<String>>>,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let same_origin = {
        let header_text = |name| {
            req.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        match (header_text(header::ORIGIN), header_text(header::REFERER)) {
            (Some(origin), _) => origins.iter().any(|o| o == origin),
            (None, Some(referer)) => origins
                .iter()
                .any(|o| referer == o || referer.starts_with(&format!("{o}/"))),
            (None, None) => false,
        }
    };
    if same_origin {
        next.run(req).await
    } else {
        tracing::warn!(method = %req.method(), path = %req.uri().path(), "cross-origin write refused");
        problem_page(
            StatusCode::FORBIDDEN,
            "This form could not be sent",
            "For your security we only accept forms sent from this website. Go back to the page, refresh it, and try again.",
        )
    }
}

pub async fn security_headers(State(secure): State<bool>, req: Request, next: Next) -> Response {
    let is_static =
        req.uri().path().starts_with("/pkg/") || req.uri().path().starts_with("/assets/");
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    // Pages set their own policy with a nonce; everything else gets the strictest.
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(
            headers,
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        );
    }
    // Nothing a person sees after signing in may be kept by a browser or proxy.
    let cache = if is_static { "no-cache" } else { "no-store" };
    set(headers, header::CACHE_CONTROL, cache);
    if secure {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    res
}

pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    tracing::error!("a request handler panicked");
    problem_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sorry, there is a problem with the service",
        "Try again later. If you were sending a form, check whether it went through before sending it again.",
    )
}
