//! Sign in with email and password. Works as a plain form; with JavaScript
//! the same checks run before sending, and the password can be shown.

use crate::api::take_feedback;
use crate::components::{ErrorSummary, ProblemPanel, TextInput};
use domain::forms::{FormFeedback, check_sign_in};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage() -> impl IntoView {
    let stored = Resource::new(|| (), |_| take_feedback("sign-in".to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match stored.await {
                    Ok(feedback) => view! { <SignInForm initial=feedback.unwrap_or_default()/> }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SignInForm(initial: FormFeedback) -> impl IntoView {
    let feedback = RwSignal::new(initial.clone());
    let (email, set_email) = signal(initial.value("email"));
    let (password, set_password) = signal(String::new());
    let show_password = RwSignal::new(false);
    // Effects run only in the browser, so this turns true once hydrated.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let checked = check_sign_in(&email.get_untracked(), &password.get_untracked());
        if checked.has_errors() {
            ev.prevent_default();
            feedback.set(checked);
        }
    };
    let title = move || {
        if feedback.get().has_errors() {
            "Error: Sign in"
        } else {
            "Sign in"
        }
    };
    view! {
        <Title text=title/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback=feedback.into()/>
                <h1>"Sign in"</h1>
                <form method="post" action="/api/sign_in" novalidate on:submit=on_submit>
                    <TextInput
                        id="email"
                        label="Email address"
                        input_type="email"
                        autocomplete="email"
                        feedback=feedback.into()
                        on_value=set_email
                    />
                    <PasswordInput feedback=feedback.into() show=show_password hydrated on_value=set_password/>
                    <button class="nhsuk-button" type="submit" data-module="nhsuk-button">"Sign in"</button>
                </form>
                <p>"If you have forgotten your password, ask your GP practice to reset it."</p>
            </div>
        </div>
    }
}

/// The password is never put back into the page after a failed attempt.
#[component]
fn PasswordInput(
    feedback: Signal<FormFeedback>,
    show: RwSignal<bool>,
    hydrated: RwSignal<bool>,
    on_value: WriteSignal<String>,
) -> impl IntoView {
    let error = move || feedback.get().error_for("password");
    view! {
        <div class=move || if error().is_some() { "nhsuk-form-group nhsuk-form-group--error" } else { "nhsuk-form-group" }>
            <label class="nhsuk-label" for="password">"Password"</label>
            {move || error().map(|message| view! {
                <span class="nhsuk-error-message" id="password-error">
                    <span class="nhsuk-u-visually-hidden">"Error:"</span>" "{message}
                </span>
            })}
            <input
                class=move || if error().is_some() { "nhsuk-input nhsuk-input--width-20 nhsuk-input--error" } else { "nhsuk-input nhsuk-input--width-20" }
                id="password"
                name="password"
                type=move || if show.get() { "text" } else { "password" }
                autocomplete="current-password"
                spellcheck="false"
                aria-describedby=move || error().map(|_| "password-error")
                on:input=move |ev| on_value.set(event_target_value(&ev))
            />
            // Only offered once the page is interactive: without JavaScript it could not work.
            <Show when=move || hydrated.get()>
                <p>
                    <button
                        type="button"
                        class="nhsuk-button nhsuk-button--secondary nhsuk-button--small portal-show-password"
                        aria-controls="password"
                        aria-pressed=move || show.get().to_string()
                        on:click=move |_| show.update(|s| *s = !*s)
                    >
                        {move || if show.get() { "Hide password" } else { "Show password" }}
                    </button>
                </p>
            </Show>
        </div>
    }
}
