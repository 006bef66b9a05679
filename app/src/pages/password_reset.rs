//! Forgotten password: ask for a link by email, then choose a new password.
//! Every page answers the same whether or not an account uses the address.

use super::email_links::{DonePage, LinkPage};
use crate::components::{ErrorSummary, FormTitle, PasswordInput, TextInput, WithFeedback};
use domain::account_tokens::TokenPurpose;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <WithFeedback form="forgot-password" render=|initial| {
            let feedback = Signal::stored(initial);
            view! {
                <FormTitle text="Reset your password" feedback/>
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <ErrorSummary feedback/>
                        <h1>"Reset your password"</h1>
                        <p>"Enter the email address you use to sign in. We will email you a link to choose a new password."</p>
                        <form method="post" action="/api/request_password_reset" novalidate>
                            <TextInput
                                id="email"
                                label="Email address"
                                input_type="email"
                                autocomplete="email"
                                feedback
                            />
                            <button class="nhsuk-button" type="submit">"Send reset link"</button>
                        </form>
                        <p>"If you can no longer get emails at that address, ask your GP practice for help."</p>
                    </div>
                </div>
            }
        }/>
    }
}

#[component]
pub fn ResetSentPage() -> impl IntoView {
    view! {
        <Title text="Check your email"/>
        <WithFeedback form="reset-sent" render=|sent| {
            let email = sent.value("email");
            let address = if email.is_empty() { "the address you gave".to_owned() } else { email };
            view! {
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <h1>"Check your email"</h1>
                        <p>{format!(
                            "If an account uses {address}, we have sent it a link to reset your password. The link works for {}.",
                            TokenPurpose::ResetPassword.lifetime_words(),
                        )}</p>
                        <h2>"If you do not get an email"</h2>
                        <p>"It can take a few minutes to arrive. Check your spam or junk folder."</p>
                        <p>"Check you used the address you sign in with, then "<a href="/forgot-password">"ask for another link"</a>"."</p>
                    </div>
                </div>
            }
        }/>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    view! {
        <LinkPage
            purpose=TokenPurpose::ResetPassword
            form="reset-password"
            heading="Choose a new password"
            action="/api/reset_password"
            button="Save new password"
            new_link_href="/forgot-password"
            new_link_text="Ask for a new link"
            intro="You will be signed out on every device. Then sign in with your new password."
            fields=|feedback| view! {
                <PasswordInput
                    id="password"
                    label="New password"
                    hint="Use at least 12 characters. Three random words is a good way to do it"
                    autocomplete="new-password"
                    what="new password"
                    feedback
                />
            }.into_any()
        />
    }
}

#[component]
pub fn PasswordResetDonePage() -> impl IntoView {
    view! {
        <DonePage heading="Your password has been changed">
            <p>"For your security, you have been signed out on every device."</p>
        </DonePage>
    }
}
