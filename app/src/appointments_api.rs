//! Server functions for appointments. Patients find, book and cancel
//! their own; staff publish sessions, see a clinician's day, book for a
//! patient, block slots and record attendance. Every change is a plain form
//! post answered with a redirect (the 8am load test drives the same
//! posts), and the rules are in `domain::appointments`.

use crate::error::PortalError;
use domain::appointments::{
    AppointmentId, DaySession, FreeSlot, PatientAppointment, ReleaseRulesForm, SessionForm,
    SessionId, SlotId, SlotSearchForm,
};
use domain::forms::FormFeedback;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use crate::api::send_back;
#[cfg(feature = "ssr")]
use crate::guard::{
    authorize_or_refuse, check_signed_in, details_rule, ports, read_patient_data, refuse,
};

/// What the find page shows: the slots, or why the filters were refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotResults {
    pub feedback: FormFeedback,
    pub slots: Vec<FreeSlot>,
}

/// What the booking page shows: the slot (None once taken or gone), what
/// was typed, and after a lost race the next free slots.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingView {
    pub slot: Option<FreeSlot>,
    pub feedback: FormFeedback,
    pub next_free: Vec<FreeSlot>,
}

/// The check-your-answers page: the slot, what was typed and the key that
/// makes the confirm form book at most once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAnswers {
    pub slot: FreeSlot,
    pub reason: String,
    pub note: String,
    pub idempotency_key: String,
}

/// A patient's appointments: upcoming soonest first, the rest newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentLists {
    pub upcoming: Vec<PatientAppointment>,
    pub past: Vec<PatientAppointment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayView {
    pub date: chrono::NaiveDate,
    pub sessions: Vec<DaySession>,
    pub feedback: FormFeedback,
    /// When the page was made: which attendance buttons it offers
    /// (`Attendance::may_record`), the same on the server and in the browser.
    pub now: chrono::DateTime<chrono::Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffBookingView {
    pub slot: Option<FreeSlot>,
    pub feedback: FormFeedback,
    pub idempotency_key: String,
}

#[cfg(feature = "ssr")]
fn patient_of(actor: &domain::Actor) -> Result<domain::PatientId, PortalError> {
    actor
        .acting_for
        .ok_or_else(|| refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden))
}

#[cfg(feature = "ssr")]
fn practice_of(actor: &domain::Actor) -> Result<domain::PracticeId, PortalError> {
    actor
        .practice
        .ok_or_else(|| refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden))
}

/// Slots kept in the session for the page after a redirect: one line each.
#[cfg(feature = "ssr")]
fn slot_line(slot: &FreeSlot) -> String {
    [
        slot.id.to_string(),
        slot.start.timestamp().to_string(),
        slot.end.timestamp().to_string(),
        slot.clinician.replace('\t', " "),
        slot.role.as_str().to_owned(),
        slot.location.replace('\t', " "),
        slot.mode.as_str().to_owned(),
    ]
    .join("\t")
}

#[cfg(feature = "ssr")]
fn slot_from_line(line: &str) -> Option<FreeSlot> {
    use domain::appointments::{AppointmentMode, ClinicianRole};
    let parts: Vec<&str> = line.split('\t').collect();
    let [id, start, end, clinician, role, location, mode] = parts.as_slice() else {
        return None;
    };
    Some(FreeSlot {
        id: id.parse().ok()?,
        start: chrono::DateTime::from_timestamp(start.parse().ok()?, 0)?,
        end: chrono::DateTime::from_timestamp(end.parse().ok()?, 0)?,
        clinician: (*clinician).to_owned(),
        role: ClinicianRole::parse(role)?,
        location: (*location).to_owned(),
        mode: AppointmentMode::parse(mode)?,
    })
}

/// Feedback that should survive a reload (what was typed on the booking
/// form, on its way to the check page) is put back after reading.
#[cfg(feature = "ssr")]
async fn peek_feedback(
    ctx: &domain::ports::RequestContext,
    form: &str,
) -> Result<Option<FormFeedback>, PortalError> {
    let stored = ctx.session.take_feedback(form).await?;
    if let Some(kept) = stored.as_ref().filter(|f| !f.has_errors()) {
        ctx.session.put_feedback(kept.clone()).await?;
    }
    Ok(stored)
}

/// The patient's appointments, newest first. One access-log row.
#[server(prefix = "/api", endpoint = "my_appointments")]
pub async fn my_appointments() -> Result<AppointmentLists, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<MyAppointments>()?;
    let patient = patient_of(&actor)?;
    let appointments = ports()?.appointments;
    read_patient_data(
        &ctx,
        &actor,
        patient,
        RecordAction::ViewAppointments,
        details_rule,
        |p| async move {
            let now = chrono::Utc::now();
            let (mut upcoming, past): (Vec<_>, Vec<_>) = appointments
                .for_patient(p, now)
                .await?
                .into_iter()
                .partition(|a| {
                    a.status == domain::appointments::AppointmentStatus::Booked && a.slot.end > now
                });
            upcoming.reverse();
            Ok(Some(AppointmentLists { upcoming, past }))
        },
    )
    .await
}

/// One appointment. Someone else's is refused, and the refusal is written
/// to that patient's access log.
#[server(prefix = "/api", endpoint = "appointment_details")]
pub async fn appointment_details(
    appointment: AppointmentId,
) -> Result<PatientAppointment, PortalError> {
    use domain::access_log::RecordAction;
    let (ctx, actor) = check_signed_in::<AppointmentDetails>()?;
    let appointments = ports()?.appointments;
    let Some(owner) = appointments.appointment_patient(appointment).await? else {
        return Err(refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound));
    };
    read_patient_data(
        &ctx,
        &actor,
        owner.id,
        RecordAction::ViewAppointments,
        details_rule,
        |p| async move {
            appointments
                .appointment(p, appointment, chrono::Utc::now())
                .await
        },
    )
    .await
}

/// Free slots for the find page, from its GET form's filters. No patient
/// data is read: only the practice's free slots.
#[server(prefix = "/api", endpoint = "find_slots")]
pub async fn find_slots(
    #[server(flatten)] form: SlotSearchForm,
) -> Result<SlotResults, PortalError> {
    let (_, actor) = check_signed_in::<FindSlots>()?;
    let practice = practice_of(&actor)?;
    let now = chrono::Utc::now();
    let search = domain::appointments::check_slot_search(&form, now);
    // Each patient's own order of equally soon slots (see tie_rank).
    let search = match actor.acting_for {
        Some(patient) => search.map(|s| s.seen_by(patient)),
        None => search,
    };
    match search {
        Err(feedback) => Ok(SlotResults {
            feedback,
            slots: Vec::new(),
        }),
        Ok(search) => Ok(SlotResults {
            feedback: form.feedback(),
            slots: ports()?
                .appointments
                .free_slots(practice, &search, now, 50)
                .await?,
        }),
    }
}

#[server(prefix = "/api", endpoint = "booking_page")]
pub async fn booking_page(slot: SlotId) -> Result<BookingView, PortalError> {
    use domain::appointments::BOOK_FORM;
    let (ctx, actor) = check_signed_in::<BookingPage>()?;
    let practice = practice_of(&actor)?;
    let feedback = peek_feedback(&ctx, BOOK_FORM)
        .await?
        .filter(|f| f.value("slot") == slot.to_string())
        .unwrap_or_else(|| FormFeedback::new(BOOK_FORM));
    let next_free = feedback
        .values
        .iter()
        .filter(|(k, _)| k == "next_free")
        .filter_map(|(_, line)| slot_from_line(line))
        .collect();
    let found = ports()?
        .appointments
        .slot(practice, slot, true, chrono::Utc::now())
        .await?;
    Ok(BookingView {
        slot: found,
        feedback,
        next_free,
    })
}

/// The booking form: checks the reason and note, then shows them back on
/// the check-your-answers page.
#[server(prefix = "/api", endpoint = "check_booking")]
pub async fn check_booking(
    slot: SlotId,
    reason: String,
    note: String,
) -> Result<FormFeedback, PortalError> {
    let (ctx, _) = check_signed_in::<CheckBooking>()?;
    let page = format!("/appointments/book/{slot}");
    match domain::appointments::check_booking_text(&reason, &note) {
        Err(feedback) => send_back(&ctx, feedback.keep("slot", &slot.to_string()), &page).await,
        Ok(text) => {
            // One key per visit to the check page: a reload, a double click
            // or a retried post all carry the same one.
            let feedback = FormFeedback::new(domain::appointments::BOOK_FORM)
                .keep("slot", &slot.to_string())
                .keep("reason", &text.reason)
                .keep("note", &text.note)
                .keep("idempotency_key", &ctx.request_id);
            ctx.session.put_feedback(feedback.clone()).await?;
            leptos_axum::redirect(&format!("{page}/check"));
            Ok(feedback)
        }
    }
}

#[server(prefix = "/api", endpoint = "booking_answers")]
pub async fn booking_answers(slot: SlotId) -> Result<Option<CheckAnswers>, PortalError> {
    let (ctx, actor) = check_signed_in::<BookingAnswers>()?;
    let practice = practice_of(&actor)?;
    let Some(stored) = peek_feedback(&ctx, domain::appointments::BOOK_FORM)
        .await?
        .filter(|f| f.value("slot") == slot.to_string() && !f.value("idempotency_key").is_empty())
    else {
        return Ok(None);
    };
    let Some(found) = ports()?
        .appointments
        .slot(practice, slot, true, chrono::Utc::now())
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(CheckAnswers {
        slot: found,
        reason: stored.value("reason"),
        note: stored.value("note"),
        idempotency_key: stored.value("idempotency_key"),
    }))
}

/// Books. The form carries everything (no session state needed), so a
/// double submit is answered from the idempotency key alone.
#[server(prefix = "/api", endpoint = "book_appointment")]
pub async fn book_appointment(
    slot: SlotId,
    reason: String,
    note: String,
    idempotency_key: String,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::{BOOK_FORM, BookingError, NewBooking};
    let (ctx, actor) = check_signed_in::<BookAppointment>()?;
    let patient = patient_of(&actor)?;
    let page = format!("/appointments/book/{slot}");
    let text = match domain::appointments::check_booking_text(&reason, &note) {
        Ok(text) => text,
        Err(feedback) => {
            return send_back(&ctx, feedback.keep("slot", &slot.to_string()), &page).await;
        }
    };
    let ports = ports()?;
    let Some(owner) = ports.directory.patient_ref(patient).await? else {
        return Err(refuse(http::StatusCode::FORBIDDEN, PortalError::Forbidden));
    };
    let owner = authorize_or_refuse(
        &ctx,
        &actor,
        owner,
        domain::access_log::RecordAction::BookAppointment,
        details_rule,
    )
    .await?;
    let booking = NewBooking {
        patient: owner,
        slot,
        text,
        idempotency_key,
        by: actor,
        request_id: ctx.request_id.clone(),
    };
    match ports.appointments.book(booking, chrono::Utc::now()).await? {
        Ok(booked) => {
            // The check page's answers are used up.
            ctx.session.take_feedback(BOOK_FORM).await?;
            leptos_axum::redirect(&format!("/appointments/{}?booked=1", booked.id));
            Ok(FormFeedback::new(BOOK_FORM))
        }
        Err(BookingError::BadKey) => Err(refuse(
            http::StatusCode::BAD_REQUEST,
            PortalError::BadRequest,
        )),
        Err(problem) => {
            let mut feedback = FormFeedback::new(BOOK_FORM)
                .keep("slot", &slot.to_string())
                .keep("reason", &reason)
                .keep("note", &note)
                .error("reason", problem.to_string());
            if let BookingError::SlotTaken { next_free } = &problem {
                for free in next_free {
                    feedback = feedback.keep("next_free", &slot_line(free));
                }
            }
            send_back(&ctx, feedback, &page).await
        }
    }
}

#[server(prefix = "/api", endpoint = "cancel_appointment")]
pub async fn cancel_appointment(
    appointment: AppointmentId,
    reason: String,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::CANCEL_FORM;
    let (ctx, actor) = check_signed_in::<CancelAppointment>()?;
    let page = format!("/appointments/{appointment}/cancel");
    let reason = match domain::appointments::check_cancel_reason(CANCEL_FORM, &reason) {
        Ok(reason) => reason,
        Err(feedback) => return send_back(&ctx, feedback, &page).await,
    };
    let appointments = ports()?.appointments;
    let Some(owner) = appointments.appointment_patient(appointment).await? else {
        return Err(refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound));
    };
    let owner = authorize_or_refuse(
        &ctx,
        &actor,
        owner,
        domain::access_log::RecordAction::CancelAppointment,
        details_rule,
    )
    .await?;
    match appointments
        .cancel(
            owner,
            appointment,
            &reason,
            &actor,
            &ctx.request_id,
            chrono::Utc::now(),
        )
        .await?
    {
        Ok(()) => {
            leptos_axum::redirect("/appointments?cancelled=1");
            Ok(FormFeedback::new(CANCEL_FORM))
        }
        Err(problem) => {
            let feedback = FormFeedback::new(CANCEL_FORM)
                .keep("reason", &reason)
                .error("reason", problem.to_string());
            send_back(&ctx, feedback, &page).await
        }
    }
}

// Staff.

/// A UK date from `YYYY-MM-DD`, or today.
#[cfg(feature = "ssr")]
fn day_or_today(date: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
        .unwrap_or_else(|_| domain::uk_time::uk_local(chrono::Utc::now()).date())
}

#[server(prefix = "/api", endpoint = "appointment_day")]
pub async fn appointment_day(date: String) -> Result<DayView, PortalError> {
    use domain::appointments::DAY_VIEW_FORM;
    let (ctx, actor) = check_signed_in::<AppointmentDay>()?;
    let practice = practice_of(&actor)?;
    let date = day_or_today(&date);
    let sessions = ports()?
        .appointments
        .day_view(practice, date, &actor, &ctx.request_id)
        .await?;
    let feedback = ctx
        .session
        .take_feedback(DAY_VIEW_FORM)
        .await?
        .unwrap_or_default();
    Ok(DayView {
        date,
        sessions,
        feedback,
        now: chrono::Utc::now(),
    })
}

#[server(prefix = "/api", endpoint = "create_session")]
pub async fn create_session(
    #[server(flatten)] form: SessionForm,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::{SESSION_FORM, check_session_form};
    let (ctx, actor) = check_signed_in::<CreateSession>()?;
    let practice = practice_of(&actor)?;
    let page = "/staff/appointments/new";
    let today = domain::uk_time::uk_local(chrono::Utc::now()).date();
    let checked = match check_session_form(&form, today) {
        Ok(checked) => checked,
        Err(feedback) => return send_back(&ctx, feedback, page).await,
    };
    match ports()?
        .appointments
        .create_sessions(practice, actor.account, &checked)
        .await?
    {
        Ok(created) => {
            leptos_axum::redirect(&format!(
                "/staff/appointments?date={}&created={}",
                checked.plan.date.format("%Y-%m-%d"),
                created.len()
            ));
            Ok(FormFeedback::new(SESSION_FORM))
        }
        Err(refusal) => {
            send_back(
                &ctx,
                form.feedback().error("start_time", refusal.to_string()),
                page,
            )
            .await
        }
    }
}

#[server(prefix = "/api", endpoint = "set_slot_blocked")]
pub async fn set_slot_blocked(
    slot: SlotId,
    action: String,
    date: String,
) -> Result<(), PortalError> {
    let (_, actor) = check_signed_in::<SetSlotBlocked>()?;
    let practice = practice_of(&actor)?;
    let blocked = match action.as_str() {
        "block" => true,
        "unblock" => false,
        _ => {
            return Err(refuse(
                http::StatusCode::BAD_REQUEST,
                PortalError::BadRequest,
            ));
        }
    };
    let done = ports()?
        .appointments
        .set_slot_blocked(practice, slot, blocked)
        .await?;
    let outcome = if done { action.as_str() } else { "booked" };
    leptos_axum::redirect(&format!(
        "/staff/appointments?date={}&slot={outcome}",
        day_or_today(&date).format("%Y-%m-%d")
    ));
    Ok(())
}

#[server(prefix = "/api", endpoint = "cancel_session")]
pub async fn cancel_session(
    session: SessionId,
    reason: String,
    date: String,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::DAY_VIEW_FORM;
    let (ctx, actor) = check_signed_in::<CancelSession>()?;
    let practice = practice_of(&actor)?;
    let date = day_or_today(&date).format("%Y-%m-%d").to_string();
    let page = format!("/staff/appointments?date={date}");
    let field = format!("reason-{session}");
    let reason = match domain::appointments::check_cancel_reason(DAY_VIEW_FORM, &reason) {
        Ok(reason) if reason.is_empty() => {
            let feedback = FormFeedback::new(DAY_VIEW_FORM).error(
                &field,
                "Enter the reason for cancelling the session. Patients are told it by email",
            );
            return send_back(&ctx, feedback, &page).await;
        }
        Ok(reason) => reason,
        Err(feedback) => {
            let message = feedback
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default();
            let feedback = FormFeedback::new(DAY_VIEW_FORM)
                .keep(&field, &reason)
                .error(&field, message);
            return send_back(&ctx, feedback, &page).await;
        }
    };
    let emailed = ports()?
        .appointments
        .cancel_session(practice, session, &reason, &actor, &ctx.request_id)
        .await?;
    match emailed {
        Some(n) => leptos_axum::redirect(&format!("{page}&session_cancelled={n}")),
        None => leptos_axum::redirect(&page),
    }
    Ok(FormFeedback::new(DAY_VIEW_FORM))
}

#[server(prefix = "/api", endpoint = "mark_attendance")]
pub async fn mark_attendance(
    appointment: AppointmentId,
    outcome: String,
    date: String,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::{Attendance, AttendanceError, DAY_VIEW_FORM};
    let (ctx, actor) = check_signed_in::<MarkAttendance>()?;
    let practice = practice_of(&actor)?;
    let attendance = match outcome.as_str() {
        "attended" => Attendance::Attended,
        "did_not_attend" => Attendance::DidNotAttend,
        _ => {
            return Err(refuse(
                http::StatusCode::BAD_REQUEST,
                PortalError::BadRequest,
            ));
        }
    };
    let page = format!(
        "/staff/appointments?date={}",
        day_or_today(&date).format("%Y-%m-%d")
    );
    match ports()?
        .appointments
        .mark_attendance(
            practice,
            appointment,
            attendance,
            chrono::Utc::now(),
            &actor,
            &ctx.request_id,
        )
        .await?
    {
        Ok(()) => {
            leptos_axum::redirect(&format!("{page}&marked=1"));
            Ok(FormFeedback::new(DAY_VIEW_FORM))
        }
        Err(AttendanceError::NotFound) => {
            Err(refuse(http::StatusCode::NOT_FOUND, PortalError::NotFound))
        }
        // The day view only offers what may be recorded, so this is a page
        // kept open from another day, or a request made by hand.
        Err(too_soon) => {
            let feedback = FormFeedback::new(DAY_VIEW_FORM)
                .error(&attendance_field(appointment), too_soon.to_string());
            send_back(&ctx, feedback, &page).await
        }
    }
}

/// Where the day view's error summary points for an appointment's
/// attendance: its row's patient cell.
pub fn attendance_field(appointment: AppointmentId) -> String {
    format!("attendance-{appointment}")
}

#[server(prefix = "/api", endpoint = "staff_booking_page")]
pub async fn staff_booking_page(slot: SlotId) -> Result<StaffBookingView, PortalError> {
    let (ctx, actor) = check_signed_in::<StaffBookingPage>()?;
    let practice = practice_of(&actor)?;
    let feedback = ctx
        .session
        .take_feedback("staff-book")
        .await?
        .unwrap_or_default();
    let slot = ports()?
        .appointments
        .slot(practice, slot, false, chrono::Utc::now())
        .await?;
    Ok(StaffBookingView {
        slot,
        feedback,
        idempotency_key: ctx.request_id.clone(),
    })
}

/// Staff book a slot for a patient of their practice, found by NHS number.
#[server(prefix = "/api", endpoint = "book_for_patient")]
pub async fn book_for_patient(
    slot: SlotId,
    nhs_number: String,
    reason: String,
    idempotency_key: String,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::NewBooking;
    let (ctx, actor) = check_signed_in::<BookForPatient>()?;
    let practice = practice_of(&actor)?;
    let page = format!("/staff/appointments/book/{slot}");
    let mut feedback = FormFeedback::new("staff-book")
        .keep("nhs_number", &nhs_number)
        .keep("reason", &reason);
    let number = match domain::NhsNumber::parse(&nhs_number) {
        Ok(n) => n,
        Err(e) => return send_back(&ctx, feedback.error("nhs_number", e.to_string()), &page).await,
    };
    let text = match domain::appointments::check_staff_booking_reason(&reason) {
        Ok(text) => text,
        Err(checked) => {
            for e in checked.errors {
                feedback = feedback.error(&e.field, e.message);
            }
            return send_back(&ctx, feedback, &page).await;
        }
    };
    let ports = ports()?;
    let Some(patient) = ports
        .directory
        .find_by_nhs_number(practice, &number)
        .await?
    else {
        let feedback = feedback.error(
            "nhs_number",
            "No patient of this practice has that NHS number. Check it and try again",
        );
        return send_back(&ctx, feedback, &page).await;
    };
    let patient = authorize_or_refuse(
        &ctx,
        &actor,
        patient,
        domain::access_log::RecordAction::BookAppointmentOnBehalf,
        details_rule,
    )
    .await?;
    let date = ports
        .appointments
        .slot(practice, slot, false, chrono::Utc::now())
        .await?
        .map(|s| {
            domain::uk_time::uk_local(s.start)
                .date()
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    let booking = NewBooking {
        patient,
        slot,
        text,
        idempotency_key,
        by: actor,
        request_id: ctx.request_id.clone(),
    };
    match ports.appointments.book(booking, chrono::Utc::now()).await? {
        Ok(_) => {
            leptos_axum::redirect(&format!("/staff/appointments?date={date}&booked=1"));
            Ok(FormFeedback::new("staff-book"))
        }
        Err(problem) => {
            send_back(
                &ctx,
                feedback.error("nhs_number", problem.to_string()),
                &page,
            )
            .await
        }
    }
}

#[server(prefix = "/api", endpoint = "release_rules")]
pub async fn release_rules() -> Result<FormFeedback, PortalError> {
    use domain::appointments::RULES_FORM;
    let (ctx, actor) = check_signed_in::<ReleaseRules>()?;
    let practice = practice_of(&actor)?;
    if let Some(typed) = ctx.session.take_feedback(RULES_FORM).await? {
        return Ok(typed);
    }
    let rules = ports()?.appointments.release_rules(practice).await?;
    let form = ReleaseRulesForm::from_rules(&rules);
    Ok(FormFeedback::new(RULES_FORM)
        .keep("release_days_ahead", &form.release_days_ahead)
        .keep("release_time", &form.release_time)
        .keep("max_future_bookings", &form.max_future_bookings)
        .keep("cancel_cutoff_hours", &form.cancel_cutoff_hours))
}

#[server(prefix = "/api", endpoint = "set_release_rules")]
pub async fn set_release_rules(
    #[server(flatten)] form: ReleaseRulesForm,
) -> Result<FormFeedback, PortalError> {
    use domain::appointments::{RULES_FORM, check_release_rules};
    let (ctx, actor) = check_signed_in::<SetReleaseRules>()?;
    let practice = practice_of(&actor)?;
    let page = "/staff/appointments/rules";
    match check_release_rules(&form) {
        Err(feedback) => send_back(&ctx, feedback, page).await,
        Ok(rules) => {
            ports()?
                .appointments
                .set_release_rules(practice, rules)
                .await?;
            leptos_axum::redirect("/staff/appointments/rules?saved=1");
            Ok(FormFeedback::new(RULES_FORM))
        }
    }
}
