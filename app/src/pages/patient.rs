//! A patient's own pages: home with their details, and who has accessed
//! their record.

use crate::CurrentUser;
use crate::api::{access_history, load_patient_details};
use crate::components::{
    BackLink, ProblemPanel, SuccessBanner, SummaryRow, long_date, long_date_time,
};
use crate::error::PortalError;
use domain::PatientId;
use domain::access_log::Outcome;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// The patient the signed-in person is using, from the header's resource.
async fn own_patient() -> Result<PatientId, PortalError> {
    let user = expect_context::<CurrentUser>().0.await?;
    user.and_then(|u| u.patient).ok_or(PortalError::Forbidden)
}

#[component]
pub fn HomePage() -> impl IntoView {
    let details = Resource::new(
        || (),
        |_| async move { load_patient_details(own_patient().await?).await },
    );
    // After a registration letter has linked the account (see
    // pages::registration_letter).
    let query = use_query_map();
    let linked = move || query.with(|q| q.get("linked").is_some());
    view! {
        <Title text="Your GP practice online"/>
        {move || linked().then(|| view! { <SuccessBanner message="Your online account is now linked to your GP record"/> })}
        <Suspense>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(d) => view! {
                        <h1>{format!("Hello, {}", d.given_name)}</h1>
                        <p class="nhsuk-lede-text">{format!("You are registered at {}.", d.practice_name)}</p>
                        <h2>"Your details"</h2>
                        <dl class="nhsuk-summary-list">
                            <SummaryRow key="Name" value=format!("{} {}", d.given_name, d.family_name)/>
                            <SummaryRow key="Date of birth" value=long_date(d.date_of_birth)/>
                            <SummaryRow key="NHS number" value=d.nhs_number.map(|n| n.formatted()).unwrap_or_else(|| "Not yet assigned. Your practice can still help you.".to_owned())/>
                            <SummaryRow key="GP practice" value=format!("{} ({})", d.practice_name, d.practice_ods_code)/>
                        </dl>
                        <p>"If any of these details are wrong, contact your GP practice."</p>
                        <h2>"Your record"</h2>
                        <ul class="nhsuk-list">
                            <li><a href="/access-log">"See who has accessed your record"</a></li>
                            <li><a href="/record">"View your GP record"</a></li>
                            <li><a href="/appointments">"Book and manage appointments"</a></li>
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <h1>"Your GP practice online"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AccessLogPage() -> impl IntoView {
    let entries = Resource::new(
        || (),
        |_| async move { access_history(own_patient().await?).await },
    );
    view! {
        <Title text="Who has accessed your record"/>
        <BackLink href="/home" text="Back to home"/>
        <h1>"Who has accessed your record"</h1>
        <p>"Every time someone looks at or changes your information in this service, we write it down here, including you. If you see something you do not expect, contact your GP practice."</p>
        <Suspense>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(rows) => view! {
                        <table class="nhsuk-table">
                            <caption class="nhsuk-table__caption">"Most recent first"</caption>
                            <thead class="nhsuk-table__head">
                                <tr class="nhsuk-table__row">
                                    <th class="nhsuk-table__header" scope="col">"When"</th>
                                    <th class="nhsuk-table__header" scope="col">"Who"</th>
                                    <th class="nhsuk-table__header" scope="col">"What"</th>
                                </tr>
                            </thead>
                            <tbody class="nhsuk-table__body">
                                {rows.into_iter().map(|row| view! {
                                    <tr class="nhsuk-table__row">
                                        <td class="nhsuk-table__cell">{long_date_time(row.at)}</td>
                                        <td class="nhsuk-table__cell">{format!("{} ({})", row.who, row.who_role.label())}</td>
                                        <td class="nhsuk-table__cell">
                                            {row.action.describe()}
                                            {(row.outcome == Outcome::Refused).then(|| view! {
                                                " "<strong class="nhsuk-tag nhsuk-tag--red">"Refused"</strong>
                                            })}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
