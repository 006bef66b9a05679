//! The development mailbox: with no mail server configured, the emails the
//! portal would have sent, so a newcomer can follow their links. On a real
//! deployment the page does not exist (404).

use crate::api::development_mailbox;
use crate::components::{ProblemPanel, SummaryRow, long_date_time};
use crate::error::PortalError;
use crate::pages::info::NotFoundPage;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DevMailboxPage() -> impl IntoView {
    let mailbox = Resource::new(|| (), |_| development_mailbox());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match mailbox.await {
                    Ok(emails) => view! {
                        <Title text="Development mailbox"/>
                        <h1>"Development mailbox"</h1>
                        <p>"No mail server is configured, so the emails the portal sends are shown here instead, newest first. This page does not exist once a mail server is set up."</p>
                        {emails.is_empty().then(|| view! { <p>"No emails have been sent yet."</p> })}
                        {emails.into_iter().map(|email| view! {
                            <section class="nhsuk-u-margin-bottom-7">
                                <h2>{email.subject}</h2>
                                <dl class="nhsuk-summary-list">
                                    <SummaryRow key="To" value=email.to/>
                                    <SummaryRow key="Sent" value=long_date_time(email.sent_at)/>
                                </dl>
                                <pre class="portal-email-text">{email.text}</pre>
                                {(!email.links.is_empty()).then(|| view! {
                                    <h3>"Links in this email"</h3>
                                    <ul class="nhsuk-list">
                                        {email.links.into_iter().map(|link| {
                                            let text = link.clone();
                                            view! { <li><a href=link>{text}</a></li> }
                                        }).collect_view()}
                                    </ul>
                                })}
                            </section>
                        }).collect_view()}
                    }.into_any(),
                    Err(PortalError::NotFound) => view! { <NotFoundPage/> }.into_any(),
                    Err(error) => view! {
                        <Title text="Development mailbox"/>
                        <h1>"Development mailbox"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
