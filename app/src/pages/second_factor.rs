//! Staff second factor pages: the code at sign-in (`/mfa`), setting up an
//! authenticator app (`/mfa/setup`), the recovery codes shown once
//! (`/mfa/recovery-codes`), and a practice manager's team with its reset
//! (`/staff/team`). All work without JavaScript: plain forms, and the QR
//! code is an SVG drawn on the server.

use crate::CurrentUser;
use crate::api::take_feedback;
use crate::components::{
    BackLink, ErrorSummary, FormTitle, ProblemPanel, SuccessBanner, TextInput,
};
use crate::second_factor_api::{
    SETUP_FORM, VERIFY_FORM, new_recovery_codes, practice_team, second_factor_state,
    start_second_factor_setup,
};
use domain::forms::FormFeedback;
use domain::second_factor::{Enrolment, SecondFactorStatus, group_setup_key};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

const ENTER_CODE: &str = "Enter the code from your authenticator app";
const SET_UP: &str = "Set up your authenticator app";

#[component]
pub fn SecondFactorPage() -> impl IntoView {
    // Both made here, not inside the Suspend: a resource made there would
    // be made again each time it re-runs, and take the feedback twice.
    let state = Resource::new(|| (), |_| second_factor_state());
    let stored = Resource::new(|| (), |_| take_feedback(VERIFY_FORM.to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let (state, stored) = (state.await, stored.await);
                match state.and_then(|state| stored.map(|stored| (state, stored))) {
                    Ok((SecondFactorStatus::Enrolled, stored)) => {
                        enter_code(stored.unwrap_or_default()).into_any()
                    }
                    // The server has already sent them to set-up; this is
                    // only seen if that redirect was not followed.
                    Ok((SecondFactorStatus::NotEnrolled, _)) => view! {
                        <Title text=SET_UP/>
                        <h1>{SET_UP}</h1>
                        <p>"Before you can use GP online services, set up an authenticator app on your phone."</p>
                        <a class="nhsuk-button" href="/mfa/setup" draggable="false">"Set up your authenticator app"</a>
                    }.into_any(),
                    Err(error) => view! {
                        <Title text=ENTER_CODE/>
                        <h1>{ENTER_CODE}</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn enter_code(initial: FormFeedback) -> impl IntoView {
    // The recovery-code form is open when its code was the one refused,
    // so the error summary's link leads to a field that can be seen.
    let recovery_refused = initial.error_for("recovery_code").is_some();
    let feedback = Signal::stored(initial);
    view! {
        <FormTitle text=ENTER_CODE feedback/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback/>
                <h1>"Enter the 6-digit code from your authenticator app"</h1>
                <p>"Staff give a second proof of who they are each time they sign in, to keep patients' information safe. Open the authenticator app on your phone to see your code."</p>
                <form method="post" action="/api/verify_second_factor" novalidate>
                    <TextInput
                        id="code"
                        label="Code from your authenticator app"
                        hint="For example, 123456"
                        autocomplete="one-time-code"
                        width_class="nhsuk-input--width-10"
                        feedback
                    />
                    <button class="nhsuk-button" type="submit">"Continue"</button>
                </form>
                <details class="nhsuk-details" open=recovery_refused>
                    <summary class="nhsuk-details__summary">
                        <span class="nhsuk-details__summary-text">"Use a recovery code instead"</span>
                    </summary>
                    <div class="nhsuk-details__text">
                        <p>"If you do not have your phone, enter one of the recovery codes you saved when you set up your authenticator app. Each code works once."</p>
                        <form method="post" action="/api/verify_second_factor" novalidate>
                            <TextInput
                                id="recovery_code"
                                label="Recovery code"
                                hint="For example, abcd-efgh-jkmn"
                                autocomplete="off"
                                width_class="nhsuk-input--width-20"
                                feedback
                            />
                            <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Use recovery code"</button>
                        </form>
                        <p>"If you have lost your recovery codes too, ask your practice manager to reset your second factor. You will then set up your authenticator app again."</p>
                    </div>
                </details>
            </div>
        </div>
    }
}

#[component]
pub fn SetUpSecondFactorPage() -> impl IntoView {
    let enrolment = Resource::new(|| (), |_| start_second_factor_setup());
    let stored = Resource::new(|| (), |_| take_feedback(SETUP_FORM.to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let (enrolment, stored) = (enrolment.await, stored.await);
                match enrolment.and_then(|enrolment| stored.map(|stored| (enrolment, stored))) {
                    Ok((Some(enrolment), stored)) => {
                        set_up(enrolment, stored.unwrap_or_default()).into_any()
                    }
                    Ok((None, _)) => view! {
                        <Title text=SET_UP/>
                        <h1>"Your authenticator app is already set up"</h1>
                        <a class="nhsuk-button" href="/mfa" draggable="false">"Enter your code"</a>
                    }.into_any(),
                    Err(error) => view! {
                        <Title text=SET_UP/>
                        <h1>{SET_UP}</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn set_up(enrolment: Enrolment, initial: FormFeedback) -> impl IntoView {
    let feedback = Signal::stored(initial);
    let setup_key = group_setup_key(&enrolment.secret_base32);
    view! {
        <FormTitle text=SET_UP feedback/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback/>
                <h1>{SET_UP}</h1>
                <p>"Staff enter a code from an authenticator app each time they sign in, as well as their password. This keeps patients' information safe even if someone else learns your password."</p>
                <h2>"1. Add your account to the app"</h2>
                <p>"Open an authenticator app on your phone, such as Microsoft Authenticator or Google Authenticator, and choose to add an account. Then scan this QR code."</p>
                <div inner_html=enrolment.qr_svg></div>
                <p>"If you are using the phone with the app on it, "<a href=enrolment.otpauth_url>"add your account to the app from this link"</a>"."</p>
                <h3>"If you cannot scan the QR code"</h3>
                <p>"Type this setup key into the app instead. If the app asks what kind of key it is, choose time-based."</p>
                <p class="portal-setup-key" id="setup-key"><code>{setup_key}</code></p>
                <h2>"2. Check it works"</h2>
                <form method="post" action="/api/confirm_second_factor" novalidate>
                    <TextInput
                        id="code"
                        label="Enter the 6-digit code the app shows"
                        hint="For example, 123456"
                        autocomplete="one-time-code"
                        width_class="nhsuk-input--width-10"
                        feedback
                    />
                    <button class="nhsuk-button" type="submit">"Continue"</button>
                </form>
            </div>
        </div>
    }
}

#[component]
pub fn RecoveryCodesPage() -> impl IntoView {
    let codes = Resource::new(|| (), |_| new_recovery_codes());
    let user = expect_context::<CurrentUser>().0;
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let (codes, user) = (codes.await, user.await);
                let home = match &user {
                    Ok(Some(user)) => crate::access_rules::home_path(user.role),
                    _ => "/",
                };
                match codes {
                    Ok(Some(codes)) => view! {
                        <Title text="Save your recovery codes"/>
                        <SuccessBanner message="Your authenticator app is set up"/>
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <h1>"Save your recovery codes"</h1>
                                <p>"If you lose your phone, you can sign in with one of these recovery codes instead of a code from your authenticator app. Each code works once."</p>
                                <div class="nhsuk-inset-text">
                                    <span class="nhsuk-u-visually-hidden">"Information: "</span>
                                    <p>"We will only show you these codes once. Print this page or write the codes down, and keep them somewhere safe, away from your phone."</p>
                                </div>
                                <ol class="nhsuk-list nhsuk-list--number portal-recovery-codes">
                                    {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
                                </ol>
                                <a class="nhsuk-button portal-no-print" href=home draggable="false">"I have saved my recovery codes"</a>
                            </div>
                        </div>
                    }.into_any(),
                    Ok(None) => view! {
                        <Title text="Your recovery codes"/>
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <h1>"Your recovery codes have already been shown"</h1>
                                <p>"For your security, we show recovery codes only once, straight after you set up your authenticator app."</p>
                                <p>"If you did not save them, ask your practice manager to reset your second factor. You will then set up your app again and get new recovery codes."</p>
                                <a class="nhsuk-button" href=home draggable="false">"Continue"</a>
                            </div>
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <Title text="Your recovery codes"/>
                        <h1>"Your recovery codes"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn TeamPage() -> impl IntoView {
    let query = use_query_map();
    let reset = move || query.with(|q| q.get("reset").as_deref() == Some("1"));
    let team = Resource::new(|| (), |_| practice_team());
    view! {
        <Title text="Your team"/>
        {move || reset().then(|| view! {
            <SuccessBanner message="Their second factor has been reset and they have been signed out. They will set up their authenticator app again when they next sign in"/>
        })}
        <h1>"Your team"</h1>
        <p>"Everyone at your practice must set up an authenticator app before they can see patients' information. If someone loses their phone and their recovery codes, reset their second factor so they can set it up again."</p>
        <Suspense>
            {move || Suspend::new(async move {
                match team.await {
                    Ok(members) => view! {
                        <table class="nhsuk-table">
                            <caption class="nhsuk-table__caption nhsuk-u-visually-hidden">"Staff at your practice"</caption>
                            <thead class="nhsuk-table__head">
                                <tr class="nhsuk-table__row">
                                    <th class="nhsuk-table__header" scope="col">"Name"</th>
                                    <th class="nhsuk-table__header" scope="col">"Role"</th>
                                    <th class="nhsuk-table__header" scope="col">"Authenticator app"</th>
                                    <th class="nhsuk-table__header" scope="col"><span class="nhsuk-u-visually-hidden">"Action"</span></th>
                                </tr>
                            </thead>
                            <tbody class="nhsuk-table__body">
                                {members.into_iter().map(|member| {
                                    let status = match member.second_factor {
                                        SecondFactorStatus::Enrolled => view! { <strong class="nhsuk-tag nhsuk-tag--green">"Set up"</strong> }.into_any(),
                                        SecondFactorStatus::NotEnrolled => view! { <strong class="nhsuk-tag nhsuk-tag--grey">"Not set up"</strong> }.into_any(),
                                    };
                                    let action = if member.is_you {
                                        view! { <span>"This is you"</span> }.into_any()
                                    } else {
                                        view! {
                                            <a href=format!("/staff/team/{}/reset", member.account.0)>
                                                "Reset second factor"
                                                <span class="nhsuk-u-visually-hidden">{format!(" for {}", member.display_name)}</span>
                                            </a>
                                        }.into_any()
                                    };
                                    view! {
                                        <tr class="nhsuk-table__row">
                                            <td class="nhsuk-table__cell">{member.display_name}</td>
                                            <td class="nhsuk-table__cell">{member.role.label()}</td>
                                            <td class="nhsuk-table__cell">{status}</td>
                                            <td class="nhsuk-table__cell">{action}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The confirmation step before a reset: who, and what will happen.
#[component]
pub fn ResetSecondFactorPage() -> impl IntoView {
    let params = use_params_map();
    let colleague = move || params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok()));
    let team = Resource::new(|| (), |_| practice_team());
    view! {
        <Title text="Reset second factor"/>
        <BackLink href="/staff/team" text="Back to your team"/>
        <Suspense>
            {move || Suspend::new(async move {
                let wanted = colleague();
                match team.await {
                    Ok(members) => match members.into_iter().find(|m| Some(m.account.0) == wanted && !m.is_you) {
                        Some(member) => view! {
                            <div class="nhsuk-grid-row">
                                <div class="nhsuk-grid-column-two-thirds">
                                    <h1>{format!("Reset {}'s second factor?", member.display_name)}</h1>
                                    <p>"They will be signed out on every device. When they next sign in, they will set up an authenticator app again and get new recovery codes. Their old app and recovery codes will stop working."</p>
                                    <div class="nhsuk-inset-text">
                                        <span class="nhsuk-u-visually-hidden">"Information: "</span>
                                        <p>"Only do this if you are sure it is them asking, for example because they asked you in person. Whoever signs in with their password next will set up the new app."</p>
                                    </div>
                                    <form method="post" action="/api/reset_second_factor" novalidate>
                                        <input type="hidden" name="account" value=member.account.0.to_string()/>
                                        <button class="nhsuk-button nhsuk-button--warning" type="submit">"Reset second factor"</button>
                                    </form>
                                    <p><a href="/staff/team">"Cancel"</a></p>
                                </div>
                            </div>
                        }.into_any(),
                        None => view! {
                            <h1>"Reset second factor"</h1>
                            <ProblemPanel error=crate::error::PortalError::NotFound/>
                        }.into_any(),
                    },
                    Err(error) => view! {
                        <h1>"Reset second factor"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
