//! Practice staff: the day view per clinician (slots, who is booked and
//! why; block, unblock, cancel a session, mark attendance, book for a
//! patient), publishing a session, and the practice's release rules.

use crate::appointments_api::{
    appointment_day, attendance_field, release_rules, staff_booking_page,
};
use crate::components::{
    BackLink, DateInput, ErrorSummary, FormTitle, ProblemPanel, SuccessBanner, TextInput,
    WithFeedback,
};
use crate::pages::appointments::{SelectInput, SlotSummary, mode_options, role_options};
use domain::appointments::{
    AppointmentStatus, Attendance, DaySession, DaySlot, SESSION_FORM, SlotId, next_day,
    previous_day, weekday_name,
};
use domain::forms::FormFeedback;
use domain::uk_time::uk_local;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

fn clock(at: chrono::DateTime<chrono::Utc>) -> String {
    uk_local(at).format("%H:%M").to_string()
}

/// `/staff/appointments?date=YYYY-MM-DD`: the practice's sessions that day.
#[component]
pub fn DayViewPage() -> impl IntoView {
    let query = use_query_map();
    let date = move || query.with(|q| q.get("date").unwrap_or_default());
    let day = Resource::new(date, appointment_day);
    let notice = move || {
        query.with(|q| {
            if let Some(n) = q.get("created") {
                Some(if n == "1" {
                    "Session published".to_owned()
                } else {
                    format!("Session published on {n} days")
                })
            } else if let Some(n) = q.get("session_cancelled") {
                Some(match n.as_str() {
                    "0" => "Session cancelled. Nobody was booked into it".to_owned(),
                    "1" => "Session cancelled. 1 patient was emailed".to_owned(),
                    _ => format!("Session cancelled. {n} patients were emailed"),
                })
            } else if q.get("booked").is_some() {
                Some("Appointment booked".to_owned())
            } else if q.get("marked").is_some() {
                Some("Attendance recorded".to_owned())
            } else {
                match q.get("slot").as_deref() {
                    Some("block") => Some("Slot blocked".to_owned()),
                    Some("unblock") => Some("Slot unblocked".to_owned()),
                    Some("booked") => Some("That slot is booked, so it was not changed".to_owned()),
                    _ => None,
                }
            }
        })
    };
    view! {
        <BackLink href="/staff" text="Back to staff home"/>
        {move || notice().map(|message| view! { <SuccessBanner message/> })}
        <Suspense>
            {move || Suspend::new(async move {
                match day.await {
                    Ok(view) => {
                        let feedback = Signal::stored(view.feedback.clone());
                        let d = view.date;
                        let iso = d.format("%Y-%m-%d").to_string();
                        let now = view.now;
                        view! {
                            <FormTitle text="Appointments" feedback/>
                            <ErrorSummary feedback/>
                            <h1>{format!("Appointments on {} {}", weekday_name(d), d.format("%-d %B %Y"))}</h1>
                            <ul class="nhsuk-list portal-inline-list">
                                <li><a href=format!("/staff/appointments?date={}", previous_day(d).format("%Y-%m-%d"))>"Previous day"</a></li>
                                <li><a href=format!("/staff/appointments?date={}", next_day(d).format("%Y-%m-%d"))>"Next day"</a></li>
                                <li><a href="/staff/appointments/new">"Publish a session"</a></li>
                                <li><a href="/staff/appointments/rules">"Online booking rules"</a></li>
                            </ul>
                            <form method="get" action="/staff/appointments" novalidate>
                                <div class="nhsuk-form-group">
                                    <label class="nhsuk-label" for="date">"Show another day"</label>
                                    <div class="nhsuk-hint" id="date-hint">"As year-month-day, for example 2026-12-07"</div>
                                    <input class="nhsuk-input nhsuk-input--width-10" id="date" name="date" type="text" value=iso.clone() aria-describedby="date-hint"/>
                                </div>
                                <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Show"</button>
                            </form>
                            {if view.sessions.is_empty() {
                                view! { <p id="no-sessions">"No sessions on this day."</p> }.into_any()
                            } else {
                                view.sessions.into_iter().map(|s| view! { <SessionCard session=s date=iso.clone() feedback now/> }).collect_view().into_any()
                            }}
                        }.into_any()
                    }
                    Err(error) => view! { <Title text="Appointments"/><h1>"Appointments"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SessionCard(
    session: DaySession,
    date: String,
    feedback: Signal<FormFeedback>,
    now: chrono::DateTime<chrono::Utc>,
) -> impl IntoView {
    let first = session
        .slots
        .first()
        .map(|s| clock(s.start))
        .unwrap_or_default();
    let last = session
        .slots
        .last()
        .map(|s| clock(s.end))
        .unwrap_or_default();
    let heading = format!(
        "{} ({}), {} to {}",
        session.clinician,
        session.role.label(),
        first,
        last
    );
    let online = if session.bookable_online {
        "bookable online"
    } else {
        "not bookable online"
    };
    let reason_field = format!("reason-{}", session.id);
    let error = feedback.get_untracked().error_for(&reason_field);
    let id = session.id;
    let cancelled = session.cancelled;
    let rows = session
        .slots
        .into_iter()
        .map(|slot| view! { <SlotRow day_slot=slot date=date.clone() cancelled feedback now/> })
        .collect_view();
    view! {
        <section class="nhsuk-card">
            <div class="nhsuk-card__content">
                <h2 class="nhsuk-card__heading">{heading.clone()}</h2>
                <p>{format!("{}, {}, {}.", session.mode.label(), session.location, online)}
                    {cancelled.then(|| view! { " " <strong class="nhsuk-tag nhsuk-tag--red">"Cancelled"</strong> })}
                </p>
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">{format!("Slots: {heading}")}</caption>
                    <thead class="nhsuk-table__head">
                        <tr class="nhsuk-table__row">
                            <th class="nhsuk-table__header" scope="col">"Time"</th>
                            <th class="nhsuk-table__header" scope="col">"Patient"</th>
                            <th class="nhsuk-table__header" scope="col">"Reason"</th>
                            <th class="nhsuk-table__header" scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody class="nhsuk-table__body">{rows}</tbody>
                </table>
                {(!cancelled).then(|| {
                    let group = if error.is_some() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" };
                    let typed = feedback.get_untracked().value(&reason_field);
                    view! {
                        <form method="post" action="/api/cancel_session" novalidate>
                            <input type="hidden" name="session" value=id.to_string()/>
                            <input type="hidden" name="date" value=date.clone()/>
                            <div class=group>
                                <label class="nhsuk-label" for=reason_field.clone()>"Reason for cancelling this session"</label>
                                <div class="nhsuk-hint" id=format!("{reason_field}-hint")>"Each booked patient is emailed this reason"</div>
                                {error.clone().map(|message| view! {
                                    <span class="nhsuk-error-message" id=format!("{reason_field}-error")>
                                        <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                                    </span>
                                })}
                                <input class="nhsuk-input" id=reason_field.clone() name="reason" type="text" value=typed
                                    aria-describedby=if error.is_some() { format!("{reason_field}-hint {reason_field}-error") } else { format!("{reason_field}-hint") }/>
                            </div>
                            <button class="nhsuk-button nhsuk-button--warning" type="submit">"Cancel session"</button>
                        </form>
                    }
                })}
            </div>
        </section>
    }
}

#[component]
fn SlotRow(
    day_slot: DaySlot,
    date: String,
    cancelled: bool,
    feedback: Signal<FormFeedback>,
    now: chrono::DateTime<chrono::Utc>,
) -> impl IntoView {
    let slot = day_slot;
    let time = clock(slot.start);
    // A booked row's patient cell is where the error summary points when
    // its attendance could not be recorded.
    let mut cell_id = None;
    let mut problem = None;
    let (patient, reason, actions) = match slot.booking {
        Some(b) => {
            let status = b.status;
            let field = attendance_field(b.appointment);
            problem = feedback
                .get_untracked()
                .error_for(&field)
                .map(|message| (field.clone(), message));
            cell_id = Some(field);
            let recordable = status == AppointmentStatus::Booked
                || status == AppointmentStatus::Attended
                || status == AppointmentStatus::DidNotAttend;
            // Only what may be recorded yet: "did not attend" from the start,
            // "attended" from the day (Attendance::may_record).
            let offered = |attendance: Attendance| attendance.may_record(slot.start, now).is_ok();
            let actions = recordable.then(|| {
                let form = |outcome: &'static str, label: &'static str| view! {
                    <form method="post" action="/api/mark_attendance" class="portal-inline-form" novalidate>
                        <input type="hidden" name="appointment" value=b.appointment.to_string()/>
                        <input type="hidden" name="outcome" value=outcome/>
                        <input type="hidden" name="date" value=date.clone()/>
                        <button class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">{label}<span class="nhsuk-u-visually-hidden">{format!(" at {time}")}</span></button>
                    </form>
                };
                view! {
                    {offered(Attendance::Attended).then(|| form("attended", "Attended"))}
                    {offered(Attendance::DidNotAttend).then(|| form("did_not_attend", "Did not attend"))}
                }
            });
            (
                format!("{} ({})", b.patient_name, status.label()),
                b.reason.clone(),
                actions.into_any(),
            )
        }
        None if cancelled => ("Cancelled".to_owned(), String::new(), ().into_any()),
        None => {
            let (action, label) = if slot.blocked {
                ("unblock", "Unblock")
            } else {
                ("block", "Block")
            };
            let state = if slot.blocked { "Blocked" } else { "Free" };
            let actions = view! {
                {(!slot.blocked).then(|| view! {
                    <a href=format!("/staff/appointments/book/{}", slot.id)>"Book for a patient"<span class="nhsuk-u-visually-hidden">{format!(" at {time}")}</span></a>
                })}
                <form method="post" action="/api/set_slot_blocked" class="portal-inline-form" novalidate>
                    <input type="hidden" name="slot" value=slot.id.to_string()/>
                    <input type="hidden" name="action" value=action/>
                    <input type="hidden" name="date" value=date.clone()/>
                    <button class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">{label}<span class="nhsuk-u-visually-hidden">{format!(" {time}")}</span></button>
                </form>
            };
            (state.to_owned(), String::new(), actions.into_any())
        }
    };
    view! {
        <tr class="nhsuk-table__row">
            <td class="nhsuk-table__cell">{time.clone()}</td>
            <td class="nhsuk-table__cell" id=cell_id>
                {problem.map(|(field, message)| view! {
                    <span class="nhsuk-error-message" id=format!("{field}-error")>
                        <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                    </span>
                })}
                {patient}
            </td>
            <td class="nhsuk-table__cell">{reason}</td>
            <td class="nhsuk-table__cell">{actions}</td>
        </tr>
    }
}

/// `/staff/appointments/new`: publish a session, optionally weekly.
#[component]
pub fn NewSessionPage() -> impl IntoView {
    view! {
        <BackLink href="/staff/appointments" text="Back to appointments"/>
        <WithFeedback form=SESSION_FORM render=|initial: FormFeedback| {
            let feedback = Signal::stored(initial);
            let online = vec![("yes".to_owned(), "Yes".to_owned()), ("no".to_owned(), "No, staff book them".to_owned())];
            view! {
                <FormTitle text="Publish a session" feedback/>
                <ErrorSummary feedback/>
                <h1>"Publish a session"</h1>
                <form method="post" action="/api/create_session" novalidate>
                    <TextInput id="clinician" label="Clinician's name" hint="As patients will see it, for example Dr Amir Khan" feedback/>
                    <SelectInput id="role" label="Type of clinician" feedback options=role_options("Select")/>
                    <TextInput id="location" label="Where" hint="For example, Room 3 or Riverside Surgery" feedback/>
                    <DateInput id="date" legend="Date" hint="For example, 7 12 2026" feedback/>
                    <TextInput id="start_time" label="Start time" hint="UK time, 24-hour clock, for example 09:00" width_class="nhsuk-input--width-5" feedback/>
                    <TextInput id="end_time" label="End time" hint="For example, 12:30" width_class="nhsuk-input--width-5" feedback/>
                    <TextInput id="slot_minutes" label="Length of each appointment, in minutes" hint="From 5 to 120" width_class="nhsuk-input--width-3" feedback/>
                    <SelectInput id="mode" label="How the appointments happen" feedback options=mode_options("Select")/>
                    <SelectInput id="bookable_online" label="Can patients book these online?" feedback options=online/>
                    <DateInput id="repeat_until" legend="Repeat every week until (optional)" hint="Leave empty for one day only. For example, 28 12 2026" feedback/>
                    <button class="nhsuk-button" type="submit">"Publish session"</button>
                </form>
            }
        }/>
    }
}

/// `/staff/appointments/rules`: when online slots open, how many a patient
/// may hold, and how late they may cancel online.
#[component]
pub fn ReleaseRulesPage() -> impl IntoView {
    let stored = Resource::new(|| (), |_| release_rules());
    let query = use_query_map();
    let saved = move || query.with(|q| q.get("saved").is_some());
    view! {
        <BackLink href="/staff/appointments" text="Back to appointments"/>
        {move || saved().then(|| view! { <SuccessBanner message="Online booking rules saved"/> })}
        <Suspense>
            {move || Suspend::new(async move {
                match stored.await {
                    Ok(initial) => {
                        let feedback = Signal::stored(initial);
                        view! {
                            <FormTitle text="Online booking rules" feedback/>
                            <ErrorSummary feedback/>
                            <h1>"Online booking rules"</h1>
                            <form method="post" action="/api/set_release_rules" novalidate>
                                <TextInput id="release_days_ahead" label="How many days ahead slots open online" hint="0 opens each day's slots on the day itself" width_class="nhsuk-input--width-3" feedback/>
                                <TextInput id="release_time" label="Time they open" hint="UK time, for example 08:00" width_class="nhsuk-input--width-5" feedback/>
                                <TextInput id="max_future_bookings" label="Most upcoming appointments one patient can book online" width_class="nhsuk-input--width-3" feedback/>
                                <TextInput id="cancel_cutoff_hours" label="Patients can cancel online until this many hours before" width_class="nhsuk-input--width-3" feedback/>
                                <button class="nhsuk-button" type="submit">"Save rules"</button>
                            </form>
                        }.into_any()
                    }
                    Err(error) => view! { <Title text="Online booking rules"/><h1>"Online booking rules"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/staff/appointments/book/:slot`: book for a patient by NHS number.
#[component]
pub fn StaffBookPage() -> impl IntoView {
    let params = use_params_map();
    let slot = move || params.with(|p| p.get("slot").and_then(|s| s.parse::<i64>().ok()));
    let page = Resource::new(slot, |slot| async move {
        match slot {
            Some(s) => staff_booking_page(SlotId(s)).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    view! {
        <BackLink href="/staff/appointments" text="Back to appointments"/>
        <Suspense>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => {
                        let feedback = Signal::stored(view.feedback.clone());
                        match view.slot {
                            Some(slot) => view! {
                                <FormTitle text="Book for a patient" feedback/>
                                <ErrorSummary feedback/>
                                <h1>"Book for a patient"</h1>
                                <dl class="nhsuk-summary-list"><SlotSummary free=slot.clone()/></dl>
                                <form method="post" action="/api/book_for_patient" novalidate>
                                    <input type="hidden" name="slot" value=slot.id.to_string()/>
                                    <input type="hidden" name="idempotency_key" value=view.idempotency_key.clone()/>
                                    <TextInput id="nhs_number" label="Patient's NHS number" hint="For example, 943 476 5919" width_class="nhsuk-input--width-10" feedback/>
                                    <TextInput id="reason" label="Reason (optional)" hint="Up to 100 characters" feedback/>
                                    <button class="nhsuk-button" type="submit">"Book appointment"</button>
                                </form>
                            }.into_any(),
                            None => view! {
                                <Title text="Book for a patient"/>
                                <ErrorSummary feedback/>
                                <h1>"This slot cannot be booked"</h1>
                                <p>"It has passed, is blocked, or is already booked."</p>
                            }.into_any(),
                        }
                    }
                    Err(error) => view! { <Title text="Book for a patient"/><h1>"Book for a patient"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
