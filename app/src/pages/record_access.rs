//! The "GP record online" section of the staff patient page, for
//! clinicians and practice managers: what of the record the patient sees
//! online (level and start date), and hiding single entries with a reason.

use crate::CurrentUser;
use crate::api::take_feedback;
use crate::components::{DateInput, ErrorSummary, ProblemPanel, SuccessBanner, long_date};
use crate::error::PortalError;
use crate::pages::record::RecordText;
use crate::record_api::{describe_settings, staff_online_record};
use domain::forms::FormFeedback;
use domain::gp_record::{
    AccessLevel, HIDE_ENTRY_FORM, ONLINE_ACCESS_FORM, RecordEntry, StaffRecordView,
};
use domain::{PatientId, Permission};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The section's data, made once at the top of the staff patient page: a
/// resource made inside a `Suspend` is made again when that suspense
/// resolves, which would read the record twice and lose feedback.
#[derive(Clone, Copy)]
pub struct OnlineRecordResources {
    record: Resource<Result<Option<StaffRecordView>, PortalError>>,
    access: Resource<Result<Option<FormFeedback>, PortalError>>,
    hide: Resource<Result<Option<FormFeedback>, PortalError>>,
}

impl OnlineRecordResources {
    pub fn new(patient: impl Fn() -> Option<PatientId> + Send + Sync + 'static) -> Self {
        let user = expect_context::<CurrentUser>().0;
        let record = Resource::new(patient, move |patient| async move {
            let allowed = user
                .await?
                .is_some_and(|u| u.role.has(Permission::ManageOnlineRecordAccess));
            match patient {
                // Nothing is read for those who may not change it.
                Some(p) if allowed => staff_online_record(p).await.map(Some),
                _ => Ok(None),
            }
        });
        let access = Resource::new(|| (), |_| take_feedback(ONLINE_ACCESS_FORM.to_owned()));
        let hide = Resource::new(|| (), |_| take_feedback(HIDE_ENTRY_FORM.to_owned()));
        Self {
            record,
            access,
            hide,
        }
    }
}

/// Shown only to those who may change it.
#[component]
pub fn OnlineRecordSection(patient: PatientId, resources: OnlineRecordResources) -> impl IntoView {
    let OnlineRecordResources {
        record,
        access: access_feedback,
        hide: hide_feedback,
    } = resources;
    let query = use_query_map();
    let done = move || {
        query.with(|q| match q.get("record").as_deref() {
            Some("saved") => Some("What this patient can see online has been saved"),
            Some("hidden") => Some("The entry is now hidden from this patient's online record"),
            Some("shown") => Some("The entry is visible in this patient's online record again"),
            _ => None,
        })
    };
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match (record.await, access_feedback.await, hide_feedback.await) {
                    (Ok(None), _, _) => ().into_any(),
                    (Ok(Some(view_data)), Ok(access), Ok(hide)) => {
                        let settings = view_data.settings.clone();
                        let access = access.unwrap_or_default();
                        let level_value = if access.value("level").is_empty() { settings.level.as_str().to_owned() } else { access.value("level") };
                        let access = if access.value("from_year").is_empty() && !access.has_errors() {
                            match settings.show_from {
                                Some(d) => access
                                    .keep("from_day", &d.format("%-d").to_string())
                                    .keep("from_month", &d.format("%-m").to_string())
                                    .keep("from_year", &d.format("%Y").to_string()),
                                None => access,
                            }
                        } else { access };
                        let access_signal = Signal::stored(access.clone());
                        let hide = hide.unwrap_or_default();
                        let hide_signal = Signal::stored(hide.clone());
                        view! {
                            {done().map(|message| view! { <SuccessBanner message/> })}
                            <h2 id="online-record">"GP record online"</h2>
                            <ErrorSummary feedback=access_signal/>
                            <ErrorSummary feedback=hide_signal/>
                            <p>{format!("Now online: {}.", describe_settings(&settings))}</p>
                            <form method="post" action="/api/set_online_access" novalidate>
                                <input type="hidden" name="patient" value=patient.to_string()/>
                                <div class="nhsuk-form-group">
                                    <fieldset class="nhsuk-fieldset" id="level">
                                        <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">"What can this patient see online?"</legend>
                                        <div class="nhsuk-radios">
                                            {AccessLevel::ALL.into_iter().map(|level| {
                                                let id = format!("level-{}", level.as_str());
                                                view! {
                                                    <div class="nhsuk-radios__item">
                                                        <input class="nhsuk-radios__input" id=id.clone() name="level" type="radio" value=level.as_str() checked=level.as_str() == level_value/>
                                                        <label class="nhsuk-label nhsuk-radios__label" for=id>{level.label()}</label>
                                                    </div>
                                                }
                                            }).collect_view()}
                                        </div>
                                    </fieldset>
                                </div>
                                <DateInput id="from" legend="Show entries recorded from" hint="For example, 1 4 2020. Leave empty to show entries from any date" feedback=access_signal/>
                                <button class="nhsuk-button" type="submit">"Save online access"</button>
                            </form>
                            <h3>"Recent entries"</h3>
                            <p>"Hide an entry that should not be seen online, for example one with information about someone else. Hidden entries are never sent to the patient."</p>
                            <EntriesTable patient entries=view_data.entries hide/>
                        }.into_any()
                    }
                    (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn EntriesTable(
    patient: PatientId,
    entries: Vec<RecordEntry>,
    hide: FormFeedback,
) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p>"This patient's record has no entries."</p> }.into_any();
    }
    view! {
        <table class="nhsuk-table portal-staff-entries">
            <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"Recent entries of this patient's record"</caption>
            <thead class="nhsuk-table__head">
                <tr class="nhsuk-table__row">
                    <th class="nhsuk-table__header" scope="col">"Entry"</th>
                    <th class="nhsuk-table__header" scope="col">"Recorded"</th>
                    <th class="nhsuk-table__header" scope="col">"Online"</th>
                </tr>
            </thead>
            <tbody class="nhsuk-table__body">
                {entries.into_iter().map(|entry| {
                    let reason_id = format!("reason-{}", entry.id);
                    let error = hide.error_for(&reason_id);
                    let typed = if hide.value("entry") == entry.id.to_string() { hide.value("reason") } else { String::new() };
                    let control = if entry.hidden {
                        view! {
                            <strong class="nhsuk-tag nhsuk-tag--grey">"Hidden"</strong>
                            <form method="post" action="/api/unhide_record_entry" novalidate>
                                <input type="hidden" name="patient" value=patient.to_string()/>
                                <input type="hidden" name="entry" value=entry.id.to_string()/>
                                <button class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">
                                    "Show online"<span class="nhsuk-u-visually-hidden">{format!(": {}", entry.title)}</span>
                                </button>
                            </form>
                        }.into_any()
                    } else {
                        let group = if error.is_some() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" };
                        view! {
                            <form method="post" action="/api/hide_record_entry" novalidate>
                                <input type="hidden" name="patient" value=patient.to_string()/>
                                <input type="hidden" name="entry" value=entry.id.to_string()/>
                                <div class=group>
                                    <label class="nhsuk-label nhsuk-label--s" for=reason_id.clone()>
                                        "Reason for hiding"<span class="nhsuk-u-visually-hidden">{format!(": {}", entry.title)}</span>
                                    </label>
                                    {error.map(|m| view! { <span class="nhsuk-error-message"><span class="nhsuk-u-visually-hidden">"Error:"</span>" "{m}</span> })}
                                    <input class="nhsuk-input" id=reason_id.clone() name="reason" type="text" value=typed/>
                                </div>
                                <button class="nhsuk-button nhsuk-button--secondary nhsuk-button--small" type="submit">
                                    "Hide"<span class="nhsuk-u-visually-hidden">{format!(": {}", entry.title)}</span>
                                </button>
                            </form>
                        }.into_any()
                    };
                    view! {
                        <tr class="nhsuk-table__row">
                            <td class="nhsuk-table__cell">
                                <RecordText text=entry.title.clone()/>
                                <br/><span class="nhsuk-body-s">{entry.section.title()}</span>
                            </td>
                            <td class="nhsuk-table__cell">{long_date(entry.provenance.recorded_on)}</td>
                            <td class="nhsuk-table__cell">{control}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
