//! A patient's appointments: the list, finding a slot, booking it (reason
//! and note, check your answers, confirm), the confirmation with its
//! calendar file, and cancelling. Every step is a link or a plain form, so
//! all of it works without JavaScript.

use crate::api::take_feedback;
use crate::appointments_api::{
    appointment_details, booking_answers, booking_page, find_slots, my_appointments,
};
use crate::components::{
    BackLink, DateInput, ErrorSummary, FormTitle, ProblemPanel, SuccessBanner, SummaryRow,
    TextInput,
};
use domain::appointments::{
    AppointmentId, AppointmentMode, CANCEL_FORM, ClinicianRole, FreeSlot, PatientAppointment,
    SlotId, SlotSearchForm, TimeOfDay,
};
use domain::forms::FormFeedback;
use domain::uk_time::long_uk_date_time;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// What people are told when no slot is free.
pub const NONE_AVAILABLE: &str =
    "No appointments available: call the practice, or use 111 online if you need help today";

/// An NHS.UK select with its label, hint and error. `id` is also the name.
#[component]
pub fn SelectInput(
    id: &'static str,
    label: &'static str,
    feedback: Signal<FormFeedback>,
    /// (value, label); the first is chosen when nothing was typed.
    options: Vec<(String, String)>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let current = feedback.get_untracked().value(id);
    let error = feedback.get_untracked().error_for(id);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = [
        hint.map(|_| hint_id.clone()),
        error.as_ref().map(|_| error_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let described = (!described.is_empty()).then_some(described);
    let group = if error.is_some() {
        "nhsuk-form-group nhsuk-form-group--error"
    } else {
        "nhsuk-form-group"
    };
    let select_class = if error.is_some() {
        "nhsuk-select nhsuk-select--error"
    } else {
        "nhsuk-select"
    };
    view! {
        <div class=group>
            <label class="nhsuk-label" for=id>{label}</label>
            {hint.map(|h| view! { <div class="nhsuk-hint" id=hint_id.clone()>{h}</div> })}
            {error.map(|message| view! {
                <span class="nhsuk-error-message" id=error_id.clone()>
                    <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                </span>
            })}
            <select class=select_class id=id name=id aria-describedby=described>
                {options
                    .into_iter()
                    .map(|(value, text)| {
                        let selected = value == current;
                        view! { <option value=value selected=selected>{text}</option> }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

/// An NHS.UK textarea. `id` is also the name.
#[component]
pub fn TextArea(
    id: &'static str,
    label: &'static str,
    feedback: Signal<FormFeedback>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = 5)] rows: u32,
) -> impl IntoView {
    let current = feedback.get_untracked().value(id);
    let error = feedback.get_untracked().error_for(id);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = [
        hint.map(|_| hint_id.clone()),
        error.as_ref().map(|_| error_id.clone()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let described = (!described.is_empty()).then_some(described);
    let (group, class) = if error.is_some() {
        (
            "nhsuk-form-group nhsuk-form-group--error",
            "nhsuk-textarea nhsuk-textarea--error",
        )
    } else {
        ("nhsuk-form-group", "nhsuk-textarea")
    };
    view! {
        <div class=group>
            <label class="nhsuk-label" for=id>{label}</label>
            {hint.map(|h| view! { <div class="nhsuk-hint" id=hint_id.clone()>{h}</div> })}
            {error.map(|message| view! {
                <span class="nhsuk-error-message" id=error_id.clone()>
                    <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                </span>
            })}
            <textarea class=class id=id name=id rows=rows aria-describedby=described>{current}</textarea>
        </div>
    }
}

fn with_any(
    any: &str,
    items: impl Iterator<Item = (&'static str, &'static str)>,
) -> Vec<(String, String)> {
    std::iter::once((String::new(), any.to_owned()))
        .chain(items.map(|(v, l)| (v.to_owned(), l.to_owned())))
        .collect()
}

pub fn role_options(any: &str) -> Vec<(String, String)> {
    with_any(
        any,
        ClinicianRole::ALL
            .into_iter()
            .map(|r| (r.as_str(), r.label())),
    )
}

pub fn mode_options(any: &str) -> Vec<(String, String)> {
    with_any(
        any,
        AppointmentMode::ALL
            .into_iter()
            .map(|m| (m.as_str(), m.label())),
    )
}

/// The rows every appointment page shows about a slot.
#[component]
pub fn SlotSummary(free: FreeSlot) -> impl IntoView {
    view! {
        <SummaryRow key="When" value=long_uk_date_time(free.start)/>
        <SummaryRow key="Who with" value=format!("{} ({})", free.clinician, free.role.label())/>
        <SummaryRow key="How" value=free.mode.label().to_owned()/>
        <SummaryRow key="Where" value=free.location.clone()/>
    }
}

fn slot_param(name: &'static str) -> impl Fn() -> Option<i64> + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.with(|p| p.get(name).and_then(|v| v.parse::<i64>().ok()))
}

/// `/appointments`: upcoming and past.
#[component]
pub fn MyAppointmentsPage() -> impl IntoView {
    let list = Resource::new(|| (), |_| my_appointments());
    let query = use_query_map();
    let cancelled = move || query.with(|q| q.get("cancelled").is_some());
    view! {
        <Title text="Your appointments"/>
        <BackLink href="/home" text="Back to home"/>
        {move || cancelled().then(|| view! { <SuccessBanner message="Your appointment has been cancelled. We have sent you an email to confirm"/> })}
        <h1>"Your appointments"</h1>
        <a class="nhsuk-button" href="/appointments/find" draggable="false">"Book an appointment"</a>
        <Suspense>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(mine) => view! {
                        <h2>"Upcoming"</h2>
                        {if mine.upcoming.is_empty() {
                            view! { <p>"You have no upcoming appointments."</p> }.into_any()
                        } else {
                            view! { <AppointmentList items=mine.upcoming/> }.into_any()
                        }}
                        <h2>"Past and cancelled"</h2>
                        {if mine.past.is_empty() {
                            view! { <p>"You have no past appointments booked online."</p> }.into_any()
                        } else {
                            view! { <AppointmentList items=mine.past/> }.into_any()
                        }}
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AppointmentList(items: Vec<PatientAppointment>) -> impl IntoView {
    view! {
        <ul class="nhsuk-list">
            {items.into_iter().map(|a| {
                let when = long_uk_date_time(a.slot.start);
                view! {
                    <li class="nhsuk-card">
                        <div class="nhsuk-card__content">
                            <h3 class="nhsuk-card__heading nhsuk-heading-s">
                                <a href=format!("/appointments/{}", a.id)>{when.clone()}</a>
                            </h3>
                            <p class="nhsuk-card__description">
                                {format!("{} with {} ({}), {}. ", a.slot.mode.label(), a.slot.clinician, a.slot.role.label(), a.slot.location)}
                                <strong class="nhsuk-tag nhsuk-tag--grey">{a.status.label()}</strong>
                            </p>
                            {a.can_cancel_online.then(|| view! {
                                <p><a href=format!("/appointments/{}/cancel", a.id)>"Cancel"<span class="nhsuk-u-visually-hidden">{format!(" the appointment on {when}")}</span></a></p>
                            })}
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// `/appointments/find`: a GET form of filters over the free slots,
/// soonest first.
#[component]
pub fn FindAppointmentPage() -> impl IntoView {
    let query = use_query_map();
    let form = move || {
        query.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            SlotSearchForm {
                role: get("role"),
                clinician: get("clinician"),
                mode: get("mode"),
                date_day: get("date_day"),
                date_month: get("date_month"),
                date_year: get("date_year"),
                time_of_day: get("time_of_day"),
            }
        })
    };
    let results = Resource::new(form, find_slots);
    view! {
        <BackLink href="/appointments" text="Back to your appointments"/>
        <Suspense>
            {move || Suspend::new(async move {
                match results.await {
                    Ok(found) => {
                        let feedback = Signal::stored(found.feedback.clone());
                        let times = with_any("Any time", TimeOfDay::ALL.into_iter().map(|t| (t.as_str(), t.label())));
                        view! {
                            <FormTitle text="Find an appointment" feedback/>
                            <ErrorSummary feedback/>
                            <h1>"Find an appointment"</h1>
                            <p>"Appointments you can book online over the next 14 days, soonest first."</p>
                            <form method="get" action="/appointments/find" novalidate>
                                <SelectInput id="role" label="Type of appointment" feedback options=role_options("Any")/>
                                <SelectInput id="mode" label="How" feedback options=mode_options("Any")/>
                                <TextInput id="clinician" label="Clinician's name (optional)" hint="As the practice writes it, for example Dr Patel" feedback/>
                                <DateInput id="date" legend="Date (optional)" hint="Within the next 14 days, for example 7 12 2026" feedback/>
                                <SelectInput id="time_of_day" label="Time of day" feedback options=times/>
                                <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Show appointments"</button>
                            </form>
                            <SlotTable slots=found.slots errors=found.feedback.has_errors()/>
                        }.into_any()
                    }
                    Err(error) => view! { <Title text="Find an appointment"/><h1>"Find an appointment"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SlotTable(slots: Vec<FreeSlot>, errors: bool) -> impl IntoView {
    if errors {
        return ().into_any();
    }
    if slots.is_empty() {
        return view! {
            <h2>"Appointments"</h2>
            <div class="nhsuk-inset-text" id="no-appointments">
                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>{NONE_AVAILABLE}</p>
                <p><a href="https://111.nhs.uk/">"Use 111 online"</a></p>
            </div>
        }
        .into_any();
    }
    view! {
        <h2>"Appointments"</h2>
        <table class="nhsuk-table">
            <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"Free appointments, soonest first"</caption>
            <thead class="nhsuk-table__head">
                <tr class="nhsuk-table__row">
                    <th class="nhsuk-table__header" scope="col">"When"</th>
                    <th class="nhsuk-table__header" scope="col">"Who with"</th>
                    <th class="nhsuk-table__header" scope="col">"How and where"</th>
                    <th class="nhsuk-table__header" scope="col"><span class="nhsuk-u-visually-hidden">"Action"</span></th>
                </tr>
            </thead>
            <tbody class="nhsuk-table__body">
                {slots.into_iter().map(|s| {
                    let when = long_uk_date_time(s.start);
                    view! {
                        <tr class="nhsuk-table__row">
                            <td class="nhsuk-table__cell">{when.clone()}</td>
                            <td class="nhsuk-table__cell">{format!("{} ({})", s.clinician, s.role.label())}</td>
                            <td class="nhsuk-table__cell">{format!("{}, {}", s.mode.label(), s.location)}</td>
                            <td class="nhsuk-table__cell">
                                <a href=format!("/appointments/book/{}", s.id)>"Book"<span class="nhsuk-u-visually-hidden">{format!(" {when}")}</span></a>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// `/appointments/book/:slot`: the reason and the note.
#[component]
pub fn BookAppointmentPage() -> impl IntoView {
    let slot = slot_param("slot");
    let page = Resource::new(slot, |slot| async move {
        match slot {
            Some(s) => booking_page(SlotId(s)).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    view! {
        <BackLink href="/appointments/find" text="Back to appointments"/>
        <Suspense>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view) => {
                        let feedback = Signal::stored(view.feedback.clone());
                        let next = (!view.next_free.is_empty()).then(|| view! {
                            <h2>"Appointments you can book instead"</h2>
                            <SlotTable slots=view.next_free.clone() errors=false/>
                        });
                        match view.slot {
                            Some(slot) => view! {
                                <FormTitle text="Book an appointment" feedback/>
                                <ErrorSummary feedback/>
                                <h1>"Book an appointment"</h1>
                                <dl class="nhsuk-summary-list"><SlotSummary free=slot.clone()/></dl>
                                <form method="post" action="/api/check_booking" novalidate>
                                    <input type="hidden" name="slot" value=slot.id.to_string()/>
                                    <TextInput id="reason" label="Reason for the appointment (optional)" hint="A few words, up to 100 characters, like \u{2018}sore knee\u{2019}" feedback/>
                                    <TextArea id="note" label="Anything else the practice should know (optional)" hint="Up to 500 characters" feedback/>
                                    <button class="nhsuk-button" type="submit">"Continue"</button>
                                </form>
                                {next}
                            }.into_any(),
                            None => {
                                let problem = view.feedback.errors.first().map(|e| e.message.clone())
                                    .unwrap_or_else(|| "This appointment is not available to book. Choose another".to_owned());
                                let title = if view.feedback.has_errors() { "Error: Book an appointment" } else { "Book an appointment" };
                                view! {
                                    <Title text=title/>
                                    <ErrorSummary feedback/>
                                    <h1>"This appointment is not available"</h1>
                                    <p id="slot-problem">{problem}</p>
                                    {next}
                                    <p><a href="/appointments/find">"Find another appointment"</a></p>
                                }.into_any()
                            }
                        }
                    }
                    Err(error) => view! { <Title text="Book an appointment"/><h1>"Book an appointment"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/appointments/book/:slot/check`: check your answers, then confirm.
#[component]
pub fn CheckBookingPage() -> impl IntoView {
    let slot = slot_param("slot");
    let answers = Resource::new(slot, |slot| async move {
        match slot {
            Some(s) => booking_answers(SlotId(s)).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    view! {
        <Title text="Check your answers before booking"/>
        <Suspense>
            {move || Suspend::new(async move {
                let back = slot().map(|s| format!("/appointments/book/{s}")).unwrap_or_else(|| "/appointments/find".to_owned());
                match answers.await {
                    Ok(Some(a)) => {
                        let shown = |text: &str| if text.is_empty() { "Not given".to_owned() } else { text.to_owned() };
                        view! {
                            <a class="nhsuk-back-link" href=back.clone()>"Back"</a>
                            <h1>"Check your answers before booking"</h1>
                            <dl class="nhsuk-summary-list">
                                <SlotSummary free=a.slot.clone()/>
                                <div class="nhsuk-summary-list__row">
                                    <dt class="nhsuk-summary-list__key">"Reason"</dt>
                                    <dd class="nhsuk-summary-list__value">{shown(&a.reason)}</dd>
                                    <dd class="nhsuk-summary-list__actions"><a href=back.clone()>"Change"<span class="nhsuk-u-visually-hidden">" reason"</span></a></dd>
                                </div>
                                <div class="nhsuk-summary-list__row">
                                    <dt class="nhsuk-summary-list__key">"Note"</dt>
                                    <dd class="nhsuk-summary-list__value portal-preserve-lines">{shown(&a.note)}</dd>
                                    <dd class="nhsuk-summary-list__actions"><a href=back>"Change"<span class="nhsuk-u-visually-hidden">" note"</span></a></dd>
                                </div>
                            </dl>
                            <form method="post" action="/api/book_appointment" novalidate>
                                <input type="hidden" name="slot" value=a.slot.id.to_string()/>
                                <input type="hidden" name="reason" value=a.reason.clone()/>
                                <input type="hidden" name="note" value=a.note.clone()/>
                                <input type="hidden" name="idempotency_key" value=a.idempotency_key.clone()/>
                                <button class="nhsuk-button" type="submit">"Book appointment"</button>
                            </form>
                        }.into_any()
                    }
                    Ok(None) => view! {
                        <a class="nhsuk-back-link" href="/appointments/find">"Back"</a>
                        <h1>"This appointment is not available"</h1>
                        <p>"It may have just been taken, or your answers were not kept. Start again."</p>
                        <a class="nhsuk-button" href="/appointments/find" draggable="false">"Find an appointment"</a>
                    }.into_any(),
                    Err(error) => view! { <h1>"Check your answers"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/appointments/:id`: one appointment; after booking, the confirmation.
#[component]
pub fn AppointmentPage() -> impl IntoView {
    let id = slot_param("id");
    let details = Resource::new(id, |id| async move {
        match id {
            Some(id) => appointment_details(AppointmentId(id)).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    let query = use_query_map();
    let booked = move || query.with(|q| q.get("booked").is_some());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(a) => {
                        let title = if booked() { "Appointment booked" } else { "Your appointment" };
                        view! {
                            <Title text=title/>
                            <BackLink href="/appointments" text="Back to your appointments"/>
                            {if booked() {
                                view! {
                                    <div class="nhsuk-panel nhsuk-panel--confirmation portal-confirmation">
                                        <h1 class="nhsuk-panel__title">"Appointment booked"</h1>
                                        <div class="nhsuk-panel__body">{long_uk_date_time(a.slot.start)}</div>
                                    </div>
                                    <p>"We have sent you a confirmation email with a calendar file."</p>
                                }.into_any()
                            } else {
                                view! { <h1>"Your appointment"</h1> }.into_any()
                            }}
                            <dl class="nhsuk-summary-list">
                                <SlotSummary free=a.slot.clone()/>
                                <SummaryRow key="Status" value=a.status.label().to_owned()/>
                                <SummaryRow key="Reason" value=if a.reason.is_empty() { "Not given".to_owned() } else { a.reason.clone() }/>
                                <SummaryRow key="Practice" value=a.practice_name.clone()/>
                            </dl>
                            <p><a href=format!("/appointments/{}/calendar.ics", a.id) rel="external" download="appointment.ics">"Add to your calendar"<span class="nhsuk-u-visually-hidden">" (calendar file)"</span></a></p>
                            {a.can_cancel_online.then(|| view! {
                                <p><a href=format!("/appointments/{}/cancel", a.id)>"Cancel this appointment"</a></p>
                            })}
                            <p>"To change an appointment, cancel it and book another."</p>
                        }.into_any()
                    }
                    Err(error) => view! { <Title text="Your appointment"/><h1>"Your appointment"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/appointments/:id/cancel`: a reason (optional), then cancel.
#[component]
pub fn CancelAppointmentPage() -> impl IntoView {
    let id = slot_param("id");
    let details = Resource::new(id, |id| async move {
        match id {
            Some(id) => appointment_details(AppointmentId(id)).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    let stored = Resource::new(|| (), |_| take_feedback(CANCEL_FORM.to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match (details.await, stored.await) {
                    (Ok(a), Ok(feedback)) => {
                        let feedback = Signal::stored(feedback.unwrap_or_default());
                        view! {
                            <FormTitle text="Cancel your appointment" feedback/>
                            <a class="nhsuk-back-link" href=format!("/appointments/{}", a.id)>"Back"</a>
                            <ErrorSummary feedback/>
                            <h1>"Cancel your appointment"</h1>
                            <dl class="nhsuk-summary-list"><SlotSummary free=a.slot.clone()/></dl>
                            {if a.can_cancel_online {
                                view! {
                                    <form method="post" action="/api/cancel_appointment" novalidate>
                                        <input type="hidden" name="appointment" value=a.id.to_string()/>
                                        <TextArea id="reason" label="Why are you cancelling? (optional)" hint="Up to 200 characters. This helps the practice offer the time to someone else" feedback rows=3/>
                                        <button class="nhsuk-button nhsuk-button--warning" type="submit">"Cancel appointment"</button>
                                    </form>
                                }.into_any()
                            } else {
                                view! { <p>"It is too late to cancel this appointment online. Call the practice."</p> }.into_any()
                            }}
                        }.into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <Title text="Cancel your appointment"/><h1>"Cancel your appointment"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
