//! A patient creates their own account. Works as a plain form; with
//! JavaScript the same checks run before sending. The page after it looks
//! the same whatever happened: only the owner of the address learns, by
//! email, whether the details matched a registered patient.

use crate::components::{
    DateInput, DateSinks, ErrorSummary, FormTitle, PasswordInput, TextInput, WithFeedback,
    today_utc,
};
use domain::account_tokens::TokenPurpose;
use domain::forms::{FormFeedback, SignUpForm, check_sign_up};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignUpPage() -> impl IntoView {
    view! { <WithFeedback form="sign-up" render=|initial| view! { <CreateAccountForm initial/> }/> }
}

#[component]
fn CreateAccountForm(initial: FormFeedback) -> impl IntoView {
    let feedback = RwSignal::new(initial.clone());
    let typed = |field: &str| signal(initial.value(field));
    let (email, set_email) = typed("email");
    let (given_name, set_given_name) = typed("given_name");
    let (family_name, set_family_name) = typed("family_name");
    let (dob_day, set_dob_day) = typed("dob_day");
    let (dob_month, set_dob_month) = typed("dob_month");
    let (dob_year, set_dob_year) = typed("dob_year");
    let (nhs_number, set_nhs_number) = typed("nhs_number");
    let (password, set_password) = signal(String::new());

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        // Without a sensible clock, leave the checking to the server.
        let Some(today) = today_utc() else { return };
        let form = SignUpForm {
            email: email.get_untracked(),
            given_name: given_name.get_untracked(),
            family_name: family_name.get_untracked(),
            dob_day: dob_day.get_untracked(),
            dob_month: dob_month.get_untracked(),
            dob_year: dob_year.get_untracked(),
            nhs_number: nhs_number.get_untracked(),
            password: password.get_untracked(),
        };
        if let Err(checked) = check_sign_up(&form, today) {
            ev.prevent_default();
            feedback.set(checked);
        }
    };
    let feedback: Signal<FormFeedback> = feedback.into();
    let dob_sinks = DateSinks {
        day: set_dob_day,
        month: set_dob_month,
        year: set_dob_year,
    };
    view! {
        <FormTitle text="Create an account" feedback/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback/>
                <h1>"Create an account"</h1>
                <p>"You can create an account if you are registered with a GP practice that uses this service. We check the details you give against your practice's records."</p>
                <form method="post" action="/api/sign_up" novalidate on:submit=on_submit>
                    <TextInput
                        id="email"
                        label="Email address"
                        hint="We will send a link to this address to check it is yours"
                        input_type="email"
                        autocomplete="email"
                        feedback
                        on_value=set_email
                    />
                    <TextInput
                        id="given_name"
                        label="First name"
                        autocomplete="given-name"
                        feedback
                        on_value=set_given_name
                    />
                    <TextInput
                        id="family_name"
                        label="Last name"
                        autocomplete="family-name"
                        feedback
                        on_value=set_family_name
                    />
                    <DateInput
                        id="dob"
                        legend="Date of birth"
                        hint="For example, 27 3 1984"
                        autocomplete="bday"
                        feedback
                        sinks=dob_sinks
                    />
                    <TextInput
                        id="nhs_number"
                        label="NHS number"
                        hint="This is a 10 digit number, like 943 476 5919. You can find it on a letter from your GP practice or in the NHS App"
                        width_class="nhsuk-input--width-10"
                        feedback
                        on_value=set_nhs_number
                    />
                    <PasswordInput
                        id="password"
                        label="Password"
                        hint="Use at least 12 characters. Three random words is a good way to do it"
                        autocomplete="new-password"
                        feedback
                        on_value=set_password
                    />
                    <button class="nhsuk-button" type="submit">"Create account"</button>
                </form>
                <p><a href="/sign-in">"Already have an account? Sign in"</a></p>
            </div>
        </div>
    }
}

/// After signing up. Names the address given, when this browser sent it.
#[component]
pub fn SignUpSentPage() -> impl IntoView {
    view! {
        <Title text="Check your email"/>
        <WithFeedback form="sign-up-sent" render=|sent| {
            let email = sent.value("email");
            let to = if email.is_empty() { "the address you gave".to_owned() } else { email };
            view! {
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <h1>"Check your email"</h1>
                        <p>{format!(
                            "If your details match a patient registered with a GP practice that uses this service, we have sent an email to {to} with a link to confirm your email address. The link works for {}.",
                            TokenPurpose::VerifyEmail.lifetime_words(),
                        )}</p>
                        <h2>"If you do not get an email"</h2>
                        <p>"It can take a few minutes to arrive. Check your spam or junk folder."</p>
                        <p>"If it still has not arrived, check the details you gave and "<a href="/sign-up">"try again"</a>", or ask your GP practice for help."</p>
                    </div>
                </div>
            }
        }/>
    }
}
