//! System administrator: how the outbox is doing, and the emails it gave
//! up on, to retry once the mail server is fixed. Shows who each email was
//! for and what kind it was, never what it said.

use crate::api::email_outbox;
use crate::components::{BackLink, ProblemPanel, SuccessBanner, SummaryRow, long_date_time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AdminEmailsPage() -> impl IntoView {
    let query = use_query_map();
    let retried = move || query.with(|q| q.get("retried").as_deref() == Some("1"));
    let outbox = Resource::new(|| (), |_| email_outbox());
    view! {
        <Title text="Emails"/>
        <BackLink href="/admin" text="Back to practices"/>
        {move || retried().then(|| view! {
            <SuccessBanner message="The email is back in the queue and will be sent again shortly"/>
        })}
        <h1>"Emails"</h1>
        <Suspense>
            {move || Suspend::new(async move {
                match outbox.await {
                    Ok((summary, failed)) => view! {
                        <dl class="nhsuk-summary-list">
                            <SummaryRow key="Waiting to be sent" value=summary.waiting.to_string()/>
                            <SummaryRow key="Failed" value=summary.failed.to_string()/>
                            <SummaryRow key="Sent in the last 24 hours" value=summary.sent_last_24_hours.to_string()/>
                        </dl>
                        <h2>"Emails that could not be sent"</h2>
                        {if failed.is_empty() {
                            view! { <p>"No emails have failed."</p> }.into_any()
                        } else {
                            view! {
                                <p>"Each of these was tried several times. Check the mail server is working, then retry them."</p>
                                <table class="nhsuk-table">
                                    <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"Failed emails, newest first"</caption>
                                    <thead class="nhsuk-table__head">
                                        <tr class="nhsuk-table__row">
                                            <th class="nhsuk-table__header" scope="col">"What"</th>
                                            <th class="nhsuk-table__header" scope="col">"To"</th>
                                            <th class="nhsuk-table__header nhsuk-table__header--numeric" scope="col">"Tries"</th>
                                            <th class="nhsuk-table__header" scope="col">"Last error"</th>
                                            <th class="nhsuk-table__header" scope="col">"Created"</th>
                                            <th class="nhsuk-table__header" scope="col"><span class="nhsuk-u-visually-hidden">"Action"</span></th>
                                        </tr>
                                    </thead>
                                    <tbody class="nhsuk-table__body">
                                        {failed.into_iter().map(|email| {
                                            let what = email.kind.label();
                                            view! {
                                                <tr class="nhsuk-table__row">
                                                    <td class="nhsuk-table__cell">{what}</td>
                                                    <td class="nhsuk-table__cell">{email.recipient.clone()}</td>
                                                    <td class="nhsuk-table__cell nhsuk-table__cell--numeric">{email.attempts}</td>
                                                    <td class="nhsuk-table__cell">{email.last_error}</td>
                                                    <td class="nhsuk-table__cell">{long_date_time(email.created_at)}</td>
                                                    <td class="nhsuk-table__cell">
                                                        <form method="post" action="/api/retry_email" novalidate>
                                                            <input type="hidden" name="id" value=email.id/>
                                                            <button class="nhsuk-button nhsuk-button--secondary nhsuk-button--small nhsuk-u-margin-bottom-0" type="submit">
                                                                "Retry"
                                                                <span class="nhsuk-u-visually-hidden">{format!(": {what}, to {}", email.recipient)}</span>
                                                            </button>
                                                        </form>
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
