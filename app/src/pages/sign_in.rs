//! Sign in with email and password. Works as a plain form; with JavaScript
//! the same checks run before sending, and the password can be shown.

use crate::api::take_feedback;
use crate::components::{ErrorSummary, FormTitle, PasswordInput, ProblemPanel, TextInput};
use domain::forms::{FormFeedback, check_sign_in};
use leptos::prelude::*;

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

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let checked = check_sign_in(&email.get_untracked(), &password.get_untracked());
        if checked.has_errors() {
            ev.prevent_default();
            feedback.set(checked);
        }
    };
    view! {
        <FormTitle text="Sign in" feedback=feedback.into()/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback=feedback.into()/>
                <h1>"Sign in"</h1>
                <crate::pages::nhs_login::NhsLoginChoice/>
                <form method="post" action="/api/sign_in" novalidate on:submit=on_submit>
                    <TextInput
                        id="email"
                        label="Email address"
                        input_type="email"
                        autocomplete="email"
                        feedback=feedback.into()
                        on_value=set_email
                    />
                    <PasswordInput
                        id="password"
                        label="Password"
                        autocomplete="current-password"
                        feedback=feedback.into()
                        on_value=set_password
                    />
                    <button class="nhsuk-button" type="submit" data-module="nhsuk-button">"Sign in"</button>
                </form>
                <p><a href="/forgot-password">"Forgotten your password?"</a></p>
                <p><a href="/sign-up">"Create an account"</a></p>
            </div>
        </div>
    }
}
