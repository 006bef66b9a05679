//! Practice staff: find a patient of their practice by NHS number and see
//! their details and registration letter.

use crate::CurrentUser;
use crate::api::take_feedback;
use crate::components::{
    BackLink, ErrorSummary, ProblemPanel, SuccessBanner, SummaryRow, TextInput, long_date,
};
use crate::pages::registration_letter::LetterSection;
use crate::registration_letters::staff_patient;
use domain::PatientId;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn StaffHomePage() -> impl IntoView {
    let user = expect_context::<CurrentUser>().0;
    let stored = Resource::new(|| (), |_| take_feedback("find-patient".to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let (user, stored) = (user.await, stored.await);
                match (user, stored) {
                    (Ok(Some(user)), Ok(feedback)) => {
                        let feedback = Signal::stored(feedback.unwrap_or_default());
                        let title = if feedback.get_untracked().has_errors() { "Error: Find a patient" } else { "Find a patient" };
                        view! {
                            <Title text=title/>
                            <ErrorSummary feedback/>
                            <span class="nhsuk-caption-l">{user.practice_name.unwrap_or_default()}</span>
                            <h1>"Find a patient"</h1>
                            <p>{format!("You are signed in as {} ({}).", user.display_name, user.role.label())}</p>
                            {user.role.has(domain::Permission::ManagePracticeAppointments).then(|| view! {
                                <p><a href="/staff/appointments">"Appointments: day lists and sessions"</a></p>
                            })}
                            <form method="post" action="/api/find_patient" novalidate>
                                <TextInput
                                    id="nhs_number"
                                    label="NHS number"
                                    hint="For example, 943 476 5919"
                                    width_class="nhsuk-input--width-10"
                                    feedback
                                />
                                <button class="nhsuk-button" type="submit">"Find patient"</button>
                            </form>
                        }.into_any()
                    }
                    (Err(error), _) | (_, Err(error)) => view! { <ProblemPanel error/> }.into_any(),
                    (Ok(None), _) => view! { <ProblemPanel error=crate::error::PortalError::SignInRequired/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn StaffPatientPage() -> impl IntoView {
    let params = use_params_map();
    let patient = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .map(PatientId)
        })
    };
    let query = use_query_map();
    let cancelled = move || query.with(|q| q.get("letter").as_deref() == Some("cancelled"));
    let online_record = crate::pages::record_access::OnlineRecordResources::new(patient);
    let view_data = Resource::new(patient, |patient| async move {
        match patient {
            Some(p) => staff_patient(p).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    view! {
        <Title text="Patient details"/>
        {move || cancelled().then(|| view! { <SuccessBanner message="The registration letter has been cancelled. It can no longer be used"/> })}
        <BackLink href="/staff" text="Find another patient"/>
        <Suspense>
            {move || Suspend::new(async move {
                match view_data.await {
                    Ok(found) => {
                        let d = found.details;
                        let id = patient().unwrap_or(PatientId(0));
                        view! {
                        <h1>{format!("{} {}", d.given_name, d.family_name)}</h1>
                        <dl class="nhsuk-summary-list">
                            <SummaryRow key="Date of birth" value=long_date(d.date_of_birth)/>
                            <SummaryRow key="NHS number" value=d.nhs_number.map(|n| n.formatted()).unwrap_or_else(|| "Not assigned".to_owned())/>
                            <SummaryRow key="Registered at" value=format!("{} ({})", d.practice_name, d.practice_ods_code)/>
                        </dl>
                        <p class="nhsuk-body-s">"Your viewing of this record has been recorded in the patient's access log."</p>
                        <LetterSection patient=id letter=found.letter/>
                        <crate::pages::record_access::OnlineRecordSection patient=id resources=online_record/>
                    }.into_any()
                    }
                    Err(error) => view! { <h1>"Patient details"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
