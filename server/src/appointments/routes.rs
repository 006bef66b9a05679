//! The "add to calendar" download: `/appointments/{id}/calendar.ics`. A
//! plain axum route (a file, not a page), authorized like a server
//! function: the patient's own appointment only, every read and refusal
//! written to the access log.

use crate::web::AppState;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Decision;
use domain::access::authorize_patient;
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::appointments::AppointmentId;
use domain::ports::{PortError, RequestContext};

pub const CALENDAR_PATH: &str = "/appointments/{id}/calendar.ics";

fn problem(err: PortError) -> Response {
    tracing::error!(cause = %err, "calendar download failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "Sorry, there is a problem with the service. Try again later.",
    )
        .into_response()
}

pub async fn calendar(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<String>,
) -> Response {
    let not_found =
        || (StatusCode::NOT_FOUND, "We could not find that appointment.").into_response();
    let Ok(id) = id.parse::<AppointmentId>() else {
        return not_found();
    };
    let Some(actor) = ctx.actor.clone() else {
        return (StatusCode::UNAUTHORIZED, "You need to sign in to do this.").into_response();
    };
    let ports = &state.ports;
    let owner = match ports.appointments.appointment_patient(id).await {
        Ok(Some(owner)) => owner,
        Ok(None) => return not_found(),
        Err(err) => return problem(err),
    };
    let entry = |outcome| NewAccessLogEntry {
        practice: owner.practice,
        patient: owner.id,
        actor: Some(actor.account),
        actor_role: actor.role,
        acting_for: actor.acting_for,
        action: RecordAction::ViewAppointments,
        outcome,
        request_id: ctx.request_id.clone(),
    };
    if authorize_patient(&actor, owner) != Decision::Allow {
        if let Err(err) = ports.access_log.record(entry(Outcome::Refused)).await {
            return problem(err);
        }
        return (
            StatusCode::FORBIDDEN,
            "You do not have permission to see this.",
        )
            .into_response();
    }
    let appointment = match ports
        .appointments
        .appointment(owner, id, chrono::Utc::now())
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => return not_found(),
        Err(err) => return problem(err),
    };
    // No row, no file.
    if let Err(err) = ports.access_log.record(entry(Outcome::Allowed)).await {
        return problem(err);
    }
    let domain = crate::outbox::transport::sender(&state.config.email)
        .map(|m| m.email.domain().to_owned())
        .unwrap_or_else(|_| "portal.invalid".to_owned());
    let ics =
        super::ics::appointment_ics(id, &appointment.slot, &appointment.practice_name, &domain);
    let mut response = ics.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"appointment.ics\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
