//! Pages anyone may read: start, signed out, accessibility, cookies, 404.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn StartPage() -> impl IntoView {
    view! {
        <Title text="Use your GP practice online"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Use your GP practice online"</h1>
                <p class="nhsuk-lede-text">"Sign in to see your details and who has looked at your GP record."</p>
                <a class="nhsuk-button" href="/sign-in" draggable="false">"Sign in"</a>
                <p>"If you are registered with a GP practice that uses this service, you can "<a href="/sign-up">"create an account"</a>"."</p>
                <h2>"Practice staff"</h2>
                <p>"Staff sign in with the same button, using the email address the practice manager registered."</p>
            </div>
        </div>
    }
}

#[component]
pub fn SignedOutPage() -> impl IntoView {
    let query = use_query_map();
    let reason = move || query.with(|q| q.get("reason"));
    view! {
        <Title text="You have been signed out"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"You have been signed out"</h1>
                {move || match reason().as_deref() {
                    Some("inactive") => view! { <p>"For your security, we signed you out because you had not done anything for 15 minutes. Anything you had not saved has been lost."</p> }.into_any(),
                    Some("everywhere") => view! { <p>"You have signed out of GP online services on every device, including this one. If you think someone else knows your password, sign in again and change it."</p> }.into_any(),
                    _ => view! { <p>"You have signed out of GP online services."</p> }.into_any(),
                }}
                <a class="nhsuk-button" href="/sign-in" draggable="false">"Sign in again"</a>
            </div>
        </div>
    }
}

#[component]
pub fn AccessibilityPage() -> impl IntoView {
    view! {
        <Title text="Accessibility statement"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Accessibility statement"</h1>
                <p>"This service is for patients, carers and staff of GP practices. We want as many people as possible to be able to use it. You should be able to:"</p>
                <ul>
                    <li>"change colours, contrast levels and fonts using your browser or device settings"</li>
                    <li>"zoom in up to 400% without the text spilling off the screen"</li>
                    <li>"navigate the whole service using just a keyboard"</li>
                    <li>"use the whole service with a screen reader"</li>
                    <li>"use every part of the service with JavaScript turned off"</li>
                </ul>
                <h2>"How accessible this service is"</h2>
                <p>"We test every page against the Web Content Accessibility Guidelines (WCAG) 2.2 at level AA with automated checks, with JavaScript turned on and turned off. Automated checks do not find every problem; if you find one, tell your GP practice."</p>
                <h2>"Reporting problems"</h2>
                <p>"If you cannot use part of this service, contact your GP practice. They can give you the information another way and will pass your report on to us."</p>
                <h2>"Enforcement procedure"</h2>
                <p>"The Equality and Human Rights Commission (EHRC) is responsible for enforcing the accessibility regulations. If you are not happy with how we respond to your complaint, contact the Equality Advisory and Support Service (EASS)."</p>
            </div>
        </div>
    }
}

#[component]
pub fn CookiesPage() -> impl IntoView {
    view! {
        <Title text="Cookies"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Cookies"</h1>
                <p>"We put one small file (a cookie) on your device. It is strictly necessary, so we do not ask for your consent to use it."</p>
                <table class="nhsuk-table">
                    <caption class="nhsuk-table__caption">"Cookies we use"</caption>
                    <thead class="nhsuk-table__head">
                        <tr class="nhsuk-table__row">
                            <th class="nhsuk-table__header" scope="col">"Name"</th>
                            <th class="nhsuk-table__header" scope="col">"Purpose"</th>
                            <th class="nhsuk-table__header" scope="col">"Expires"</th>
                        </tr>
                    </thead>
                    <tbody class="nhsuk-table__body">
                        <tr class="nhsuk-table__row">
                            <td class="nhsuk-table__cell">"portal_session"</td>
                            <td class="nhsuk-table__cell">"Keeps you signed in as you move between pages"</td>
                            <td class="nhsuk-table__cell">"When you sign out, or after 15 minutes without activity"</td>
                        </tr>
                    </tbody>
                </table>
                <p>"We do not use analytics or advertising cookies."</p>
            </div>
        </div>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    set_status(404);
    view! {
        <Title text="Page not found"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Page not found"</h1>
                <p>"If you typed the web address, check it is correct."</p>
                <p>"If you pasted the web address, check you copied the entire address."</p>
                <p><a href="/">"Go to the start page"</a></p>
            </div>
        </div>
    }
}

/// Where the server sends someone who opened a page their role may not see.
#[component]
pub fn ForbiddenPage() -> impl IntoView {
    set_status(403);
    view! {
        <Title text="You do not have permission to see this"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"You do not have permission to see this"</h1>
                <p>"You do not have permission to see this. The page you tried to open is for people with a different role."</p>
                <p><a href="/">"Go to your home page"</a></p>
            </div>
        </div>
    }
}

/// Sets the HTTP status of the page being rendered (server only).
fn set_status(_code: u16) {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(_code),
    ) {
        res.set_status(status);
    }
}
