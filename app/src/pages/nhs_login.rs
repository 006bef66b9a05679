//! NHS login's pages in the portal: the "Continue with NHS login" choice,
//! the plain explanation when a sign-in did not work, and the step-up offer
//! for someone whose identity is not proved well enough for what they
//! opened. The sign-in itself is a chain of plain redirects
//! (server/src/nhs_login/routes.rs), so it needs no JavaScript.

use crate::api::sign_in_options;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Starts an NHS login sign-in. A link, not a form: the start is a GET
/// that redirects to NHS login.
#[component]
pub fn ContinueWithNhsLogin(#[prop(default = false)] step_up: bool) -> impl IntoView {
    let href = if step_up {
        "/auth/nhs-login?level=P9"
    } else {
        "/auth/nhs-login"
    };
    view! {
        // rel="external": a full page load, so the browser really goes to
        // the server (which redirects to NHS login) instead of the router.
        <a class="nhsuk-button nhs-login-button" href=href rel="external" draggable="false">"Continue with NHS login"</a>
    }
}

/// The NHS login choice above the practice-account form, when this
/// deployment offers NHS login.
#[component]
pub fn NhsLoginChoice() -> impl IntoView {
    let options = Resource::new(|| (), |_| sign_in_options());
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let offered = options.await.map(|o| o.nhs_login).unwrap_or(false);
                offered.then(|| view! {
                    <h2 class="nhsuk-heading-m">"Use NHS login"</h2>
                    <p>"NHS login is the same login you use for the NHS App. If you have proved your identity with it, you can see your GP record straight away."</p>
                    <ContinueWithNhsLogin/>
                    <h2 class="nhsuk-heading-m">"Or sign in with your practice account"</h2>
                })
            })}
        </Suspense>
    }
}

struct Explanation {
    heading: &'static str,
    advice: &'static str,
    try_again: bool,
}

fn explain(reason: &str) -> Explanation {
    match reason {
        "unavailable" => Explanation {
            heading: "NHS login is not available right now",
            advice: "Try again in a few minutes, or sign in with your practice account instead.",
            try_again: true,
        },
        "cancelled" => Explanation {
            heading: "You did not finish signing in with NHS login",
            advice: "Nothing has changed. You can try again, or sign in with your practice account.",
            try_again: true,
        },
        "expired" => Explanation {
            heading: "Your sign-in took too long",
            advice: "For your security, signing in with NHS login must be finished within 15 minutes, in the same browser you started in. Start again.",
            try_again: true,
        },
        "level" => Explanation {
            heading: "You have not proved your identity to the level needed",
            advice: "To see your GP record, NHS login must have checked your photo ID. Start again and follow NHS login's steps to prove who you are, or ask your GP practice for a registration letter.",
            try_again: true,
        },
        "email-in-use" => Explanation {
            heading: "We could not create your account",
            advice: "The email address your NHS login uses already belongs to another account here, or NHS login did not share an email address. Sign in with that account instead, or contact your GP practice.",
            try_again: false,
        },
        "linked-elsewhere" => Explanation {
            heading: "Your record is already linked to a different NHS login",
            advice: "Each GP record can be linked to one NHS login. Sign in with the NHS login you used before, or contact your GP practice.",
            try_again: false,
        },
        "not-configured" => Explanation {
            heading: "NHS login is not available here",
            advice: "This service does not offer NHS login. Sign in with your practice account.",
            try_again: false,
        },
        // state, refused, invalid-token, provider-error: something in the
        // exchange could not be trusted. Nothing was linked or changed.
        _ => Explanation {
            heading: "We could not sign you in with NHS login",
            advice: "Something in the sign-in could not be checked, so we stopped for your safety. Nothing has been linked or changed. Start again from this service's sign-in page.",
            try_again: true,
        },
    }
}

#[component]
pub fn NhsLoginProblemPage() -> impl IntoView {
    let query = use_query_map();
    let explanation = move || explain(&query.with(|q| q.get("reason").unwrap_or_default()));
    view! {
        {move || {
            let e = explanation();
            view! {
                <Title text=e.heading/>
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <h1>{e.heading}</h1>
                        <p>{e.advice}</p>
                        {e.try_again.then(|| view! { <ContinueWithNhsLogin/> })}
                        <p><a href="/sign-in">"Sign in with your practice account"</a></p>
                    </div>
                </div>
            }
        }}
    }
}

/// Where the server sends someone who opened something that needs a
/// fully proved identity (P9) while theirs is not.
#[component]
pub fn ProveIdentityPage() -> impl IntoView {
    view! {
        <Title text="Prove who you are to see your GP record"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Prove who you are to see your GP record"</h1>
                <p>"To keep health records safe, you can only see your GP record, order repeat prescriptions or manage appointments once your identity has been fully checked."</p>
                <p>"You can still change your account settings and email preferences."</p>
                <h2 class="nhsuk-heading-m">"Prove your identity with NHS login"</h2>
                <p>"NHS login will ask you to sign in again and, if you have not done it before, to take a photo of your ID. It usually takes a few minutes."</p>
                <ContinueWithNhsLogin step_up=true/>
                <h2 class="nhsuk-heading-m">"Or use a registration letter from your GP practice"</h2>
                <p>"If your practice has checked your ID in person and given you a letter with an account ID and a linkage key, you can enter those instead."</p>
                <p><a href="/link-record">"Use your registration letter"</a></p>
                <p><a href="/account">"Go to your account settings"</a></p>
            </div>
        </div>
    }
}
