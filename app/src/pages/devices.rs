//! "Your devices": where the person is signed in now, with a way to sign
//! out of any other device, or everywhere. For every role; open to staff
//! before their second factor and to patients before they confirm their
//! email address, since ending a session someone else holds is most
//! urgent exactly when something is wrong.

use crate::components::{
    BackLink, ErrorSummary, FormTitle, ProblemPanel, SuccessBanner, SummaryRow, WithFeedback,
};
use crate::devices_api::{DEVICE_LIST, DEVICES_FORM, SIGNED_OUT, my_devices};
use domain::devices::DeviceSession;
use domain::uk_time::long_uk_date_time;
use leptos::prelude::*;

#[component]
pub fn DevicesPage() -> impl IntoView {
    let sessions = Resource::new(|| (), |_| my_devices());
    view! {
        <WithFeedback form=DEVICES_FORM render=move |initial| {
            let signed_out = initial.value(SIGNED_OUT);
            let feedback = Signal::stored(initial);
            view! {
                <FormTitle text="Your devices" feedback/>
                <BackLink href="/account" text="Back to your account"/>
                {(!signed_out.is_empty()).then(|| view! {
                    <SuccessBanner message=format!("You signed out of {signed_out}")/>
                })}
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <ErrorSummary feedback/>
                        <h1>"Your devices"</h1>
                        <p>"These are the phones, tablets and computers signed in to your account now. If you do not recognise one, sign it out, then change your password."</p>
                        <Suspense>
                            {move || Suspend::new(async move {
                                match sessions.await {
                                    Ok(sessions) => view! { <DeviceList sessions/> }.into_any(),
                                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                                }
                            })}
                        </Suspense>
                        <h2>"Sign out everywhere"</h2>
                        <p>"This signs you out on every device, including this one. You can then sign in again here."</p>
                        <form method="post" action="/api/sign_out_everywhere" novalidate>
                            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Sign out everywhere"</button>
                        </form>
                    </div>
                </div>
            }
        }/>
    }
}

/// One card per session, this device first. The error summary leads here
/// (`DEVICE_LIST`) when a sign-out could not be done.
#[component]
fn DeviceList(sessions: Vec<DeviceSession>) -> impl IntoView {
    view! {
        <div id=DEVICE_LIST tabindex="-1">
            {sessions.into_iter().map(|session| view! { <DeviceCard session/> }).collect_view()}
        </div>
    }
}

#[component]
fn DeviceCard(session: DeviceSession) -> impl IntoView {
    let how = if session.via_nhs_login {
        "NHS login"
    } else {
        "Email address and password"
    };
    let last_active = if session.this_device {
        "Now".to_owned()
    } else {
        long_uk_date_time(session.last_active_at)
    };
    // Two devices can have the same description: the hidden words name
    // the button by when it was last used as well.
    let which = format!("{}, last active {last_active}", session.description);
    view! {
        <div class="nhsuk-card">
            <div class="nhsuk-card__content">
                <h2 class="nhsuk-card__heading nhsuk-heading-m">
                    {session.description.clone()}
                    {session.this_device.then(|| view! {
                        " "<strong class="nhsuk-tag nhsuk-tag--blue">"This device"</strong>
                    })}
                </h2>
                <dl class="nhsuk-summary-list">
                    <SummaryRow key="Signed in" value=long_uk_date_time(session.signed_in_at)/>
                    <SummaryRow key="Last active" value=last_active/>
                    <SummaryRow key="Signed in with" value=how.to_owned()/>
                </dl>
                {if session.this_device {
                    view! {
                        <p class="nhsuk-u-margin-bottom-0">"This is the device you are using now. To sign out of it, use Sign out at the top of the page."</p>
                    }.into_any()
                } else {
                    view! {
                        <form method="post" action="/api/sign_out_device" novalidate>
                            <input type="hidden" name="handle" value=session.handle/>
                            <button class="nhsuk-button nhsuk-button--secondary nhsuk-u-margin-bottom-0" type="submit">
                                "Sign out"<span class="nhsuk-u-visually-hidden">{format!(" of {which}")}</span>
                            </button>
                        </form>
                    }.into_any()
                }}
            </div>
        </div>
    }
}
