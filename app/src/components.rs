//! NHS.UK frontend components as Leptos views. Markup follows the NHS.UK
//! design system so its stylesheet applies unchanged.

use crate::error::PortalError;
use domain::forms::FormFeedback;
use domain::views::SignedInUser;
use leptos::prelude::*;
use leptos_meta::Title;

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
                        <a class="nhsuk-header__account-link" href="/account">"Your account"</a>
                    </li>
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
        Some(domain::Role::SystemAdmin) => {
            vec![("/admin", "Practices"), ("/admin/emails", "Emails")]
        }
        Some(domain::Role::PracticeManager) => {
            vec![("/staff", "Find a patient"), ("/staff/team", "Your team")]
        }
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
                        <li class="nhsuk-footer__list-item">
                            <a class="nhsuk-footer__list-item-link" href="/glossary">"Medical words explained"</a>
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
    // NHS.UK pattern: focus moves to the summary when it appears, so a
    // screen reader announces it and keyboard users start there. Without
    // JavaScript `autofocus` does it on page load; once hydrated, this
    // effect does it for errors found in the browser.
    let summary = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if feedback.with(FormFeedback::has_errors)
            && let Some(element) = summary.get()
        {
            let _ = element.focus();
        }
    });
    move || {
        let feedback = feedback.get();
        feedback.has_errors().then(|| {
            view! {
                <div class="nhsuk-error-summary" aria-labelledby="error-summary-title" role="alert" tabindex="-1" id="error-summary" autofocus node_ref=summary>
                    <h2 class="nhsuk-error-summary__title" id="error-summary-title">"There is a problem"</h2>
                    <div class="nhsuk-error-summary__body">
                        <ul class="nhsuk-list nhsuk-error-summary__list">
                            {feedback
                                .errors
                                .into_iter()
                                .map(|e| {
                                    let field = e.field.clone();
                                    view! {
                                        <li>
                                            <a href=format!("#{}", e.field) on:click=move |ev| focus_field(ev, &field)>
                                                {e.message}
                                            </a>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </div>
                </div>
            }
        })
    }
}

/// An error summary link's click, once hydrated. The router would take
/// the `#field` link as a navigation and leave focus where it was; like the
/// NHS.UK error summary script, focus the field with its question (the
/// fieldset's legend, or the label) in view. Without JavaScript the browser
/// follows the fragment itself.
fn focus_field(ev: leptos::ev::MouseEvent, id: &str) {
    use leptos::wasm_bindgen::JsCast;
    let Some(field) = document()
        .get_element_by_id(id)
        .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok())
    else {
        return;
    };
    ev.prevent_default();
    let question = field
        .closest("fieldset")
        .ok()
        .flatten()
        .and_then(|fieldset| fieldset.query_selector("legend").ok().flatten())
        .or_else(|| {
            document()
                .query_selector(&format!("label[for='{id}']"))
                .ok()
                .flatten()
        });
    match question {
        Some(question) => question.scroll_into_view(),
        None => field.scroll_into_view(),
    }
    // Focus cannot fail for an input that is on the page.
    let _ = field.focus();
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
    let described_by = described_by(hint.map(|_| hint_id.clone()), error_id.clone(), error);
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

/// A password input with its hint and error message. What was typed is
/// never put back after a failed attempt. Once the page has hydrated, a
/// button shows or hides the password; without JavaScript it could not
/// work, so it is not offered. `what` names the field in that button
/// ("Show current password") so two on one page can be told apart.
#[component]
pub fn PasswordInput(
    id: &'static str,
    label: &'static str,
    feedback: Signal<FormFeedback>,
    autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = "password")] what: &'static str,
    #[prop(optional)] on_value: Option<WriteSignal<String>>,
) -> impl IntoView {
    let show = RwSignal::new(false);
    // Effects run only in the browser, so this turns true once hydrated.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let error = move || feedback.get().error_for(id);
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = described_by(hint.map(|_| hint_id.clone()), error_id.clone(), error);
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
                class=move || if error().is_some() { "nhsuk-input nhsuk-input--width-20 nhsuk-input--error" } else { "nhsuk-input nhsuk-input--width-20" }
                id=id
                name=id
                type=move || if show.get() { "text" } else { "password" }
                autocomplete=autocomplete
                autocapitalize="none"
                spellcheck="false"
                aria-describedby=described_by
                on:input=move |ev| {
                    if let Some(sink) = on_value {
                        sink.set(event_target_value(&ev));
                    }
                }
            />
            <Show when=move || hydrated.get()>
                <p>
                    <button
                        type="button"
                        class="nhsuk-button nhsuk-button--secondary nhsuk-button--small portal-show-password"
                        aria-controls=id
                        aria-pressed=move || show.get().to_string()
                        on:click=move |_| show.update(|s| *s = !*s)
                    >
                        {move || if show.get() { format!("Hide {what}") } else { format!("Show {what}") }}
                    </button>
                </p>
            </Show>
        </div>
    }
}

/// The `aria-describedby` of an input: its hint, and its error while there
/// is one.
fn described_by(
    hint_id: Option<String>,
    error_id: String,
    error: impl Fn() -> Option<String> + Send + Sync + 'static,
) -> impl Fn() -> Option<String> + Send + Sync + 'static {
    move || {
        let ids: Vec<&str> = hint_id
            .as_deref()
            .into_iter()
            .chain(error().is_some().then_some(error_id.as_str()))
            .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// Where a [`DateInput`] reports what is typed into each box, for checks
/// made in the browser before sending.
#[derive(Clone, Copy)]
pub struct DateSinks {
    pub day: WriteSignal<String>,
    pub month: WriteSignal<String>,
    pub year: WriteSignal<String>,
}

/// An NHS.UK date input: day, month and year boxes in a fieldset. The boxes
/// are named `{id}_day`, `{id}_month` and `{id}_year` (the server function's
/// argument names). A problem with the date is reported against `{id}_day`,
/// so the error summary leads to the first box; which box is wrong is not
/// known, so all three are marked.
#[component]
pub fn DateInput(
    id: &'static str,
    legend: &'static str,
    feedback: Signal<FormFeedback>,
    #[prop(optional)] hint: Option<&'static str>,
    /// The autocomplete prefix, such as `bday` for a date of birth.
    #[prop(optional)]
    autocomplete: Option<&'static str>,
    #[prop(optional)] sinks: Option<DateSinks>,
) -> impl IntoView {
    let error_field = format!("{id}_day");
    let error = {
        let error_field = error_field.clone();
        move || feedback.get().error_for(&error_field)
    };
    let hint_id = format!("{id}-hint");
    let error_id = format!("{error_field}-error");
    let described_by = described_by(
        hint.map(|_| hint_id.clone()),
        error_id.clone(),
        error.clone(),
    );
    let parts = [
        ("day", "Day", 2, sinks.map(|s| s.day)),
        ("month", "Month", 2, sinks.map(|s| s.month)),
        ("year", "Year", 4, sinks.map(|s| s.year)),
    ];
    let boxes = parts
        .into_iter()
        .map(|(part, label, width, sink)| {
            let name = format!("{id}_{part}");
            let initial = feedback.get_untracked().value(&name);
            let error = error.clone();
            let class = move || {
                let marked = if error().is_some() { " nhsuk-input--error" } else { "" };
                format!("nhsuk-input nhsuk-date-input__input nhsuk-input--width-{width}{marked}")
            };
            view! {
                <div class="nhsuk-date-input__item">
                    <div class="nhsuk-form-group">
                        <label class="nhsuk-label nhsuk-date-input__label" for=name.clone()>{label}</label>
                        <input
                            class=class
                            id=name.clone()
                            name=name
                            type="text"
                            inputmode="numeric"
                            value=initial
                            autocomplete=autocomplete.map(|prefix| format!("{prefix}-{part}"))
                            on:input=move |ev| {
                                if let Some(sink) = sink {
                                    sink.set(event_target_value(&ev));
                                }
                            }
                        />
                    </div>
                </div>
            }
        })
        .collect_view();
    let group_class = {
        let error = error.clone();
        move || {
            if error().is_some() {
                "nhsuk-form-group nhsuk-form-group--error"
            } else {
                "nhsuk-form-group"
            }
        }
    };
    view! {
        <div class=group_class>
            <fieldset class="nhsuk-fieldset" role="group" aria-describedby=described_by>
                <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">{legend}</legend>
                {hint.map(|h| view! { <div class="nhsuk-hint" id=hint_id.clone()>{h}</div> })}
                {move || error().map(|message| view! {
                    <span class="nhsuk-error-message" id=error_id.clone()>
                        <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                    </span>
                })}
                <div class="nhsuk-date-input" id=id>{boxes}</div>
            </fieldset>
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

/// A summary-list row whose value can be changed on another page. The
/// hidden words tell a screen reader user which "Change" link this is.
#[component]
pub fn ChangeableRow(
    key: &'static str,
    change_href: &'static str,
    /// What changes, in lower case: "email address".
    what: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="nhsuk-summary-list__row">
            <dt class="nhsuk-summary-list__key">{key}</dt>
            <dd class="nhsuk-summary-list__value">{children()}</dd>
            <dd class="nhsuk-summary-list__actions">
                <a class="nhsuk-link" href=change_href>"Change"<span class="nhsuk-u-visually-hidden">{format!(" {what}")}</span></a>
            </dd>
        </div>
    }
}

/// An NHS.UK warning callout headed "There is a problem".
#[component]
pub fn WarningCallout(children: Children) -> impl IntoView {
    view! {
        <div class="nhsuk-warning-callout">
            <h2 class="nhsuk-warning-callout__label">
                <span role="text"><span class="nhsuk-u-visually-hidden">"Important: "</span>"There is a problem"</span>
            </h2>
            {children()}
        </div>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn ProblemPanel(error: PortalError) -> impl IntoView {
    // Where to go next, when the refusal has a way through. Full page
    // loads (rel="external"), so the server's own checks run on arrival.
    let next = match error {
        PortalError::SignInRequired => Some(("/sign-in", "Sign in")),
        PortalError::EmailNotConfirmed => Some(("/confirm-email", "Confirm your email address")),
        PortalError::IdentityCheckRequired => Some(("/prove-identity", "Prove who you are")),
        PortalError::SecondFactorRequired => Some(("/mfa", "Enter your security code")),
        _ => None,
    };
    view! {
        <WarningCallout>
            <p>{error.to_string()}</p>
            {next.map(|(href, text)| view! { <p><a href=href rel="external">{text}</a></p> })}
        </WarningCallout>
    }
}

/// Tells someone that what they just did worked: the NHS.UK notification
/// banner, success variant, placed above the page's heading.
#[component]
pub fn SuccessBanner(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <div class="nhsuk-notification-banner nhsuk-notification-banner--success" role="alert" aria-labelledby="success-banner-title">
            <div class="nhsuk-notification-banner__header">
                <h2 class="nhsuk-notification-banner__title" id="success-banner-title">"Success"</h2>
            </div>
            <div class="nhsuk-notification-banner__content">
                <p class="nhsuk-notification-banner__heading">{message}</p>
            </div>
        </div>
    }
}

/// A form page's title, starting "Error: " while the form shows errors so
/// that a screen reader announces the problem first.
#[component]
pub fn FormTitle(text: &'static str, feedback: Signal<FormFeedback>) -> impl IntoView {
    // The server renders the document title after the page body, by which
    // time a form rendered inside a `Suspense` may have been disposed and
    // rendered again; a disposed form keeps the answer it had when rendered
    // rather than panicking the request.
    let had_errors = feedback.get_untracked().has_errors();
    let title = move || {
        if feedback
            .try_get()
            .map_or(had_errors, |feedback| feedback.has_errors())
        {
            format!("Error: {text}")
        } else {
            text.to_owned()
        }
    };
    view! { <Title text=title/> }
}

/// Renders a form page with the feedback a plain form post left for it in
/// the session (see `api::take_feedback`): empty on a first visit.
#[component]
pub fn WithFeedback<F, V>(form: &'static str, render: F) -> impl IntoView
where
    F: Fn(FormFeedback) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let stored = Resource::new(|| (), move |_| crate::api::take_feedback(form.to_owned()));
    view! {
        <Suspense>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match stored.await {
                        Ok(feedback) => render(feedback.unwrap_or_default()).into_any(),
                        Err(error) => view! { <ProblemPanel error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
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

/// Today's date in UTC, as the server counts it. In the browser chrono
/// cannot read the clock (it is built without `wasmbind`), so JavaScript's
/// is asked there. None only if that clock makes no sense.
pub fn today_utc() -> Option<chrono::NaiveDate> {
    #[cfg(target_arch = "wasm32")]
    {
        let now = leptos::web_sys::js_sys::Date::new_0();
        i32::try_from(now.get_utc_full_year())
            .ok()
            .and_then(|year| {
                chrono::NaiveDate::from_ymd_opt(year, now.get_utc_month() + 1, now.get_utc_date())
            })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Some(chrono::Utc::now().date_naive())
    }
}

/// "Print this page" for a printable page. The button needs JavaScript, so
/// it appears only once the page is hydrated; without it, the browser's own
/// print command does the same.
#[component]
pub fn PrintButton(label: &'static str) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Show when=move || hydrated.get()>
            <p>
                <button type="button" class="nhsuk-button" on:click=move |_| {
                    let _ = window().print();
                }>{label}</button>
            </p>
        </Show>
    }
}
