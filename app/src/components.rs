//! NHS.UK frontend components as Leptos views. Markup follows the NHS.UK
//! design system so its stylesheet applies unchanged.

use crate::error::PortalError;
use domain::forms::FormFeedback;
use domain::views::SignedInUser;
use leptos::prelude::*;

const NHS_LOGO_PATH: &str = "M200 0v80H0V0h200Zm-27.5 5.5c-14.5 0-29 5-29 22 0 10.2 7.7 13.5 14.7 16.3l.7.3c5.4 2 10.1 3.9 10.1 8.4 0 6.5-8.5 7.5-14 7.5s-12.5-1.5-16-3.5L135 70c5.5 2 13.5 3.5 20 3.5 15.5 0 32-4.5 32-22.5 0-19.5-25.5-16.5-25.5-25.5 0-5.5 5.5-6.5 12.5-6.5a35 35 0 0 1 14.5 3l4-13.5c-4.5-2-12-3-20-3Zm-131 2h-22l-14 65H22l9-45h.5l13.5 45h21.5l14-65H64l-9 45h-.5l-13-45Zm63 0h-18l-13 65h17l6-28H117l-5.5 28H129l13.5-65H125L119.5 32h-20l5-24.5Z";

#[component]
pub fn SkipLink() -> impl IntoView {
    view! { <a class="nhsuk-skip-link" href="#maincontent">"Skip to main content"</a> }
}

/// The header: NHS logo, the practice's name when someone is signed in,
/// account links and the navigation for their role.
#[component]
pub fn Header(user: Option<SignedInUser>) -> impl IntoView {
    let service_name = user
        .as_ref()
        .and_then(|u| u.practice_name.clone())
        .unwrap_or_else(|| "GP online services".to_owned());
    let home = user
        .as_ref()
        .map(|u| crate::access_rules::home_path(u.role))
        .unwrap_or("/");
    let account = user.clone().map(|u| {
        view! {
            <nav class="nhsuk-header__account" aria-label="Account">
                <ul class="nhsuk-header__account-list">
                    <li class="nhsuk-header__account-item">{u.display_name}</li>
                    <li class="nhsuk-header__account-item">
                        <form class="nhsuk-header__account-form" method="post" action="/api/sign_out" novalidate>
                            <button class="nhsuk-header__account-button">"Sign out"</button>
                        </form>
                    </li>
                </ul>
            </nav>
        }
    });
    let links: Vec<(&'static str, &'static str)> = match user.as_ref().map(|u| u.role) {
        Some(domain::Role::Patient) => vec![
            ("/home", "Home"),
            ("/access-log", "Who has accessed your record"),
        ],
        Some(domain::Role::SystemAdmin) => vec![("/admin", "Practices")],
        Some(_) => vec![("/staff", "Find a patient")],
        None => vec![],
    };
    let navigation = (!links.is_empty()).then(|| {
        view! {
            <nav class="nhsuk-header__navigation" aria-label="Menu">
                <div class="nhsuk-header__navigation-container nhsuk-width-container">
                    <ul class="nhsuk-header__navigation-list">
                        {links
                            .into_iter()
                            .map(|(href, text)| {
                                view! {
                                    <li class="nhsuk-header__navigation-item">
                                        <a class="nhsuk-header__navigation-link" href=href>{text}</a>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </div>
            </nav>
        }
    });
    view! {
        <header class="nhsuk-header" role="banner">
            <div class="nhsuk-header__container nhsuk-width-container">
                <div class="nhsuk-header__service">
                    <a class="nhsuk-header__service-logo" href=home aria-label=format!("{service_name} homepage")>
                        <svg class="nhsuk-header__logo" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 80"
                            height="40" width="100" focusable="false" role="img" aria-label="NHS">
                            <title>"NHS"</title>
                            <path fill="currentcolor" d=NHS_LOGO_PATH></path>
                        </svg>
                        <span class="nhsuk-header__service-name">{service_name.clone()}</span>
                    </a>
                </div>
                {account}
            </div>
            {navigation}
        </header>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="nhsuk-footer" role="contentinfo">
            <div class="nhsuk-width-container">
                <div class="nhsuk-footer__meta">
                    <h2 class="nhsuk-u-visually-hidden">"Support links"</h2>
                    <ul class="nhsuk-footer__list">
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/accessibility">"Accessibility statement"</a>
                        </li>
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/cookies">"Cookies"</a>
                        </li>
                    </ul>
                    <p class="nhsuk-body-s">"An open-source patient portal for GP practices"</p>
                </div>
            </div>
        </footer>
    }
}

#[component]
pub fn BackLink(href: &'static str, #[prop(default = "Back")] text: &'static str) -> impl IntoView {
    view! { <a class="nhsuk-back-link" href=href>{text}</a> }
}

/// The error summary shown at the top of a form that failed validation.
#[component]
pub fn ErrorSummary(feedback: Signal<FormFeedback>) -> impl IntoView {
    move || {
        let feedback = feedback.get();
        feedback.has_errors().then(|| {
            view! {
                <div class="nhsuk-error-summary" aria-labelledby="error-summary-title" role="alert" tabindex="-1" id="error-summary">
                    <h2 class="nhsuk-error-summary__title" id="error-summary-title">"There is a problem"</h2>
                    <div class="nhsuk-error-summary__body">
                        <ul class="nhsuk-list nhsuk-error-summary__list">
                            {feedback
                                .errors
                                .into_iter()
                                .map(|e| view! { <li><a href=format!("#{}", e.field)>{e.message}</a></li> })
                                .collect_view()}
                        </ul>
                    </div>
                </div>
            }
        })
    }
}

/// A labelled text input with its hint and error message, NHS.UK style.
/// `id` is also the field's `name`, so it must be the server function's
/// argument name (and the key used in its `FormFeedback`).
#[component]
pub fn TextInput(
    id: &'static str,
    label: &'static str,
    feedback: Signal<FormFeedback>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] width_class: Option<&'static str>,
    #[prop(optional)] on_value: Option<WriteSignal<String>>,
) -> impl IntoView {
    let error = move || feedback.get().error_for(id);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    let initial = feedback.get_untracked().value(id);
    let input_class = move || {
        let mut class = String::from("nhsuk-input");
        if let Some(w) = width_class {
            class.push(' ');
            class.push_str(w);
        }
        if error().is_some() {
            class.push_str(" nhsuk-input--error");
        }
        class
    };
    view! {
        <div class=move || if error().is_some() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" }>
            <label class="nhsuk-label" for=id>{label}</label>
            {hint.map(|h| view! { <div class="nhsuk-hint" id=hint_id.clone()>{h}</div> })}
            {move || error().map(|message| view! {
                <span class="nhsuk-error-message" id=error_id.clone()>
                    <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                </span>
            })}
            <input
                class=input_class
                id=id
                name=id
                type=input_type
                value=initial
                autocomplete=autocomplete
                spellcheck="false"
                aria-describedby=described_by
                on:input=move |ev| {
                    if let Some(sink) = on_value {
                        sink.set(event_target_value(&ev));
                    }
                }
            />
        </div>
    }
}

/// A row of an NHS.UK summary list.
#[component]
pub fn SummaryRow(key: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">{key}</dt>
            <dd class="nhsuk-summary-list__value">{value}</dd>
        </div>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn ProblemPanel(error: PortalError) -> impl IntoView {
    let sign_in = matches!(error, PortalError::SignInRequired);
    view! {
        <div class="nhsuk-warning-callout">
            <h2 class="nhsuk-warning-callout__label">
                <span role="text"><span class="nhsuk-u-visually-hidden">"Important: "</span>"There is a problem"</span>
            </h2>
            <p>{error.to_string()}</p>
            {sign_in.then(|| view! { <p><a href="/sign-in">"Sign in"</a></p> })}
        </div>
    }
}

/// Formats a date the way NHS.UK content does: 3 March 1960.
pub fn long_date(date: chrono::NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// Formats a time as UK local-style text; the server stores UTC.
pub fn long_date_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}
