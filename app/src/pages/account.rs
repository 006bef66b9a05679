//! A signed-in person's own account: email address, password and which
//! emails they get. Open to a patient who has not confirmed their address,
//! so they can correct it.

use crate::api::account_settings;
use crate::components::{
    BackLink, ChangeableRow, ErrorSummary, FormTitle, PasswordInput, ProblemPanel, SuccessBanner,
    TextInput, WithFeedback,
};
use domain::notifications::OptionalEmail;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

const SECURITY_EMAILS: &str = "We always email you about your account's security: when you ask to reset your password, and when your password or email address changes.";

#[component]
pub fn AccountPage() -> impl IntoView {
    let query = use_query_map();
    let changed = move || {
        query.with(|q| match q.get("changed").as_deref() {
            Some("password") => Some("Your password has been changed"),
            Some("email") => Some(
                "We have sent a link to your new email address. Your email address will change when you follow it",
            ),
            Some("preferences") => Some("Your email preferences have been saved"),
            _ => None,
        })
    };
    let settings = Resource::new(|| (), |_| account_settings());
    view! {
        <Title text="Your account"/>
        {move || changed().map(|message| view! { <SuccessBanner message/> })}
        <h1>"Your account"</h1>
        <Suspense>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => {
                        let pending = s.pending_email.clone();
                        let preferences = s.preferences;
                        view! {
                            <dl class="nhsuk-summary-list">
                                {if s.nhs_login_only {
                                    view! {
                                        <div class="nhsuk-summary-list__row">
                                            <dt class="nhsuk-summary-list__key">"Email address"</dt>
                                            <dd class="nhsuk-summary-list__value">{s.email.clone()}</dd>
                                        </div>
                                        <div class="nhsuk-summary-list__row">
                                            <dt class="nhsuk-summary-list__key">"How you sign in"</dt>
                                            <dd class="nhsuk-summary-list__value">"With NHS login. Change your email address or password in your NHS login settings."</dd>
                                        </div>
                                    }.into_any()
                                } else {
                                    view! {
                                        <ChangeableRow key="Email address" change_href="/account/email" what="email address">
                                            <p class="nhsuk-u-margin-bottom-0">{s.email.clone()}</p>
                                            {(!s.email_verified).then(|| view! {
                                                <p class="nhsuk-u-margin-bottom-0 nhsuk-u-margin-top-2">
                                                    <strong class="nhsuk-tag nhsuk-tag--yellow">"Not confirmed yet"</strong>
                                                    " "<a href="/confirm-email">"Confirm your email address"</a>
                                                </p>
                                            })}
                                            {pending.map(|pending| view! {
                                                <p class="nhsuk-body-s nhsuk-u-margin-bottom-0 nhsuk-u-margin-top-2">{format!("Waiting for you to confirm {pending}")}</p>
                                            })}
                                        </ChangeableRow>
                                        <ChangeableRow key="Password" change_href="/account/password" what="password">
                                            <span aria-hidden="true">"********"</span>
                                            <span class="nhsuk-u-visually-hidden">"Not shown"</span>
                                        </ChangeableRow>
                                    }.into_any()
                                }}
                                {s.is_patient.then(|| view! {
                                    <ChangeableRow key="Email notifications" change_href="/account/notifications" what="email notifications">
                                        <ul class="nhsuk-list nhsuk-u-margin-bottom-0">
                                            {OptionalEmail::ALL.into_iter().map(|optional| {
                                                let on = if preferences.wants(optional) { "on" } else { "off" };
                                                view! { <li>{format!("{}: {on}", optional.label())}</li> }
                                            }).collect_view()}
                                        </ul>
                                    </ChangeableRow>
                                })}
                            </dl>
                            <p>{SECURITY_EMAILS}</p>
                            <h2>"Where you are signed in"</h2>
                            <p><a href="/account/devices">"Your devices"</a>" lists the phones, tablets and computers signed in to your account, and lets you sign them out."</p>
                        }.into_any()
                    }
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn ChangeEmailPage() -> impl IntoView {
    view! {
        <WithFeedback form="change-email" render=|initial| {
            let feedback = Signal::stored(initial);
            view! {
                <FormTitle text="Change your email address" feedback/>
                <BackLink href="/account" text="Back to your account"/>
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <ErrorSummary feedback/>
                        <h1>"Change your email address"</h1>
                        <p>"We will email a link to your new address. Your email address changes when you follow the link. Until then, sign in with your current address."</p>
                        <form method="post" action="/api/request_email_change" novalidate>
                            <TextInput
                                id="email"
                                label="New email address"
                                input_type="email"
                                autocomplete="email"
                                feedback
                            />
                            <PasswordInput
                                id="password"
                                label="Your password"
                                hint="To keep your account safe, enter the password you use to sign in"
                                autocomplete="current-password"
                                feedback
                            />
                            <button class="nhsuk-button" type="submit">"Send confirmation link"</button>
                        </form>
                    </div>
                </div>
            }
        }/>
    }
}

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    view! {
        <WithFeedback form="change-password" render=|initial| {
            let feedback = Signal::stored(initial);
            view! {
                <FormTitle text="Change your password" feedback/>
                <BackLink href="/account" text="Back to your account"/>
                <div class="nhsuk-grid-row">
                    <div class="nhsuk-grid-column-two-thirds">
                        <ErrorSummary feedback/>
                        <h1>"Change your password"</h1>
                        <p>"When you change your password, you will be signed out on every other device."</p>
                        <form method="post" action="/api/change_password" novalidate>
                            <PasswordInput
                                id="current_password"
                                label="Current password"
                                autocomplete="current-password"
                                what="current password"
                                feedback
                            />
                            <PasswordInput
                                id="password"
                                label="New password"
                                hint="Use at least 12 characters. Three random words is a good way to do it"
                                autocomplete="new-password"
                                what="new password"
                                feedback
                            />
                            <button class="nhsuk-button" type="submit">"Change password"</button>
                        </form>
                    </div>
                </div>
            }
        }/>
    }
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| account_settings());
    view! {
        <Title text="Email notifications"/>
        <BackLink href="/account" text="Back to your account"/>
        <Suspense>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) if s.is_patient => view! {
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <form method="post" action="/api/set_email_preferences" novalidate>
                                    <div class="nhsuk-form-group">
                                        <fieldset class="nhsuk-fieldset" aria-describedby="notifications-hint">
                                            <legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--l">
                                                <h1 class="nhsuk-fieldset__heading">"Email notifications"</h1>
                                            </legend>
                                            <div class="nhsuk-hint" id="notifications-hint">
                                                "Choose the emails you want to get. "{SECURITY_EMAILS}
                                            </div>
                                            <div class="nhsuk-checkboxes">
                                                {OptionalEmail::ALL.into_iter().map(|optional| view! {
                                                    <div class="nhsuk-checkboxes__item">
                                                        <input
                                                            class="nhsuk-checkboxes__input"
                                                            id=optional.as_str()
                                                            name=optional.as_str()
                                                            type="checkbox"
                                                            value="on"
                                                            checked=s.preferences.wants(optional)
                                                        />
                                                        <label class="nhsuk-label nhsuk-checkboxes__label" for=optional.as_str()>
                                                            {optional.label()}
                                                        </label>
                                                    </div>
                                                }).collect_view()}
                                            </div>
                                        </fieldset>
                                    </div>
                                    <button class="nhsuk-button" type="submit">"Save preferences"</button>
                                </form>
                            </div>
                        </div>
                    }.into_any(),
                    Ok(_) => view! {
                        <h1>"Email notifications"</h1>
                        <p>"Staff accounts only get emails about the account's security, which cannot be turned off."</p>
                    }.into_any(),
                    Err(error) => view! {
                        <h1>"Email notifications"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
