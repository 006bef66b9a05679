//! Registration letters: the section of the staff patient page that
//! creates and cancels them, the printable letter shown once, and the
//! patient's page that uses one (`/link-record`).

use crate::api::take_feedback;
use crate::components::{
    DateInput, DateSinks, ErrorSummary, FormTitle, PrintButton, ProblemPanel, SummaryRow,
    TextInput, today_utc,
};
use crate::registration_letters::{LinkVisitor, link_record_visitor, take_registration_letter};
use domain::PatientId;
use domain::forms::FormFeedback;
use domain::linkage::{
    IssuedLetter, LINK_FORM, LetterState, LetterStatus, LinkageForm, MAX_WRONG_ATTEMPTS,
    check_linkage_form,
};
use domain::uk_time::long_uk_date_time;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn state_tag(state: LetterState) -> &'static str {
    match state {
        LetterState::Active => "nhsuk-tag nhsuk-tag--green",
        LetterState::Used => "nhsuk-tag nhsuk-tag--blue",
        LetterState::Locked => "nhsuk-tag nhsuk-tag--red",
        LetterState::Expired | LetterState::Revoked => "nhsuk-tag nhsuk-tag--grey",
    }
}

/// The "Registration letter" section of the staff patient page.
#[component]
pub fn LetterSection(patient: PatientId, letter: Option<LetterStatus>) -> impl IntoView {
    let live = letter.as_ref().is_some_and(|l| l.state.is_live());
    let create_label = if letter.is_some() {
        "Create a new letter"
    } else {
        "Create registration letter"
    };
    let summary = match letter {
        None => {
            view! { <p>"No registration letter has been created for this patient."</p> }.into_any()
        }
        Some(l) => {
            let ended = l.ended_at.map(|ended| {
                let key = match l.state {
                    LetterState::Used => "Used",
                    LetterState::Locked => "Locked",
                    _ => "Cancelled",
                };
                view! { <SummaryRow key=key value=long_uk_date_time(ended)/> }
            });
            let expiry_key = if l.state == LetterState::Expired {
                "Expired"
            } else {
                "Expires"
            };
            view! {
                <dl class="nhsuk-summary-list">
                    <div class="nhsuk-summary-list__row">
                        <dt class="nhsuk-summary-list__key">"Status"</dt>
                        <dd class="nhsuk-summary-list__value">
                            <strong class=state_tag(l.state)>{l.state.label()}</strong>
                        </dd>
                    </div>
                    <SummaryRow key="Account ID" value=l.account_reference.clone()/>
                    <SummaryRow key="Created" value=long_uk_date_time(l.created_at)/>
                    <SummaryRow key=expiry_key value=long_uk_date_time(l.expires_at)/>
                    {ended}
                    <SummaryRow key="Wrong attempts" value=format!("{} of {MAX_WRONG_ATTEMPTS}", l.failed_attempts)/>
                </dl>
            }
            .into_any()
        }
    };
    view! {
        <h2>"Registration letter"</h2>
        <p>"A registration letter lets this patient link their online account or NHS login to their record. Create one only after checking their photo ID in person. The linkage key is shown once, to print."</p>
        {summary}
        {live.then(|| view! { <p>"Creating a new letter cancels this one."</p> })}
        <form method="post" action="/api/issue_registration_letter" novalidate>
            <input type="hidden" name="patient" value=patient.to_string()/>
            <button class="nhsuk-button" type="submit">{create_label}</button>
        </form>
        {live.then(|| view! {
            <form method="post" action="/api/revoke_registration_letter" novalidate>
                <input type="hidden" name="patient" value=patient.to_string()/>
                <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Cancel this letter"</button>
            </form>
        })}
    }
}

/// `/staff/patients/:id/letter`: the letter just created, to print. Shown
/// once: the key is not kept anywhere, so a reload shows it has gone.
#[component]
pub fn StaffLetterPage() -> impl IntoView {
    let params = use_params_map();
    let patient = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .map(PatientId)
        })
    };
    let letter = Resource::new(patient, |patient| async move {
        match patient {
            Some(p) => take_registration_letter(p).await,
            None => Err(crate::error::PortalError::NotFound),
        }
    });
    view! {
        <Title text="Registration letter"/>
        <Suspense>
            {move || Suspend::new(async move {
                let back = patient().map(|p| format!("/staff/patients/{p}")).unwrap_or_else(|| "/staff".to_owned());
                match letter.await {
                    Ok(Some(letter)) => view! { <PrintableLetter letter back/> }.into_any(),
                    Ok(None) => view! {
                        <a class="nhsuk-back-link" href=back.clone()>"Back to the patient"</a>
                        <h1>"This letter has already been shown"</h1>
                        <p>"To keep the linkage key safe, it is shown only once, straight after the letter is created."</p>
                        <p>"If the letter was not printed, create a new one. That cancels the letter shown before."</p>
                        <a class="nhsuk-button" href=back draggable="false">"Back to the patient"</a>
                    }.into_any(),
                    Err(error) => view! { <h1>"Registration letter"</h1><ProblemPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PrintableLetter(letter: IssuedLetter, back: String) -> impl IntoView {
    let expires = long_uk_date_time(letter.expires_at);
    view! {
        <div class="portal-no-print">
            <a class="nhsuk-back-link" href=back>"Back to the patient"</a>
            <div class="nhsuk-inset-text">
                <span class="nhsuk-u-visually-hidden">"Information: "</span>
                <p>"Print this letter and give it to the patient now. The linkage key is shown only this once: if you leave this page before printing, create a new letter."</p>
            </div>
            <PrintButton label="Print this letter"/>
        </div>
        <article class="portal-letter">
            <p class="portal-letter__from">
                <strong>{letter.practice_name.clone()}</strong><br/>
                {format!("Practice ODS code: {}", letter.practice_ods)}
            </p>
            <h1>"Your registration letter for GP online services"</h1>
            <p>{format!("Dear {},", letter.patient_name)}</p>
            <p>"We have checked your identity. Use this letter to link your online account, or your NHS login, to your GP record. You can then see your record online."</p>
            <dl class="nhsuk-summary-list portal-letter__details">
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"Account ID"</dt>
                    <dd class="nhsuk-summary-list__value portal-letter__code" id="letter-account-id">{letter.account_reference.clone()}</dd>
                </div>
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"Linkage key"</dt>
                    <dd class="nhsuk-summary-list__value portal-letter__code" id="letter-linkage-key">{letter.linkage_key.clone()}</dd>
                </div>
                <div class="nhsuk-summary-list__row">
                    <dt class="nhsuk-summary-list__key">"Practice ODS code"</dt>
                    <dd class="nhsuk-summary-list__value portal-letter__code" id="letter-ods-code">{letter.practice_ods.clone()}</dd>
                </div>
                <SummaryRow key="Use it by" value=expires.clone()/>
            </dl>
            <h2>"How to use this letter"</h2>
            <ol class="nhsuk-list nhsuk-list--number">
                <li>{format!("Go to {}", letter.portal_address)}</li>
                <li>"Sign in with NHS login, or with the account you created on this service."</li>
                <li>"Choose \u{2018}Use your registration letter\u{2019}."</li>
                <li>"Enter the account ID, linkage key and practice ODS code from this letter, with your last name and date of birth."</li>
            </ol>
            <h2>"Keep this letter safe"</h2>
            <p>{format!("The letter works once, until {expires}. If the details are entered wrongly {MAX_WRONG_ATTEMPTS} times, it stops working.")}</p>
            <p>"Anyone with this letter, your last name and your date of birth could see your GP record online, so do not share it. If you lose it, or it stops working, ask us for a new one."</p>
        </article>
    }
}

/// `/link-record`: a patient enters the details from their letter.
#[component]
pub fn LinkRecordPage() -> impl IntoView {
    // Both made here, once. A resource made inside the Suspend below is
    // made again when the first one resolves, and feedback can be taken
    // from the session only once.
    let visitor = Resource::new(|| (), |_| link_record_visitor());
    let stored = Resource::new(|| (), |_| take_feedback(LINK_FORM.to_owned()));
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match (visitor.await, stored.await) {
                    (Ok(LinkVisitor::NhsLogin | LinkVisitor::Patient), Ok(feedback)) => {
                        let initial = feedback.unwrap_or_default();
                        view! { <LinkRecordForm initial/> }.into_any()
                    }
                    (Ok(visitor), Ok(_)) => view! { <CannotUseLetter visitor/> }.into_any(),
                    (Err(error), _) | (_, Err(error)) => view! {
                        <Title text="Use your registration letter"/>
                        <h1>"Use your registration letter"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Why this person cannot use a letter here, and what to do instead.
#[component]
fn CannotUseLetter(visitor: LinkVisitor) -> impl IntoView {
    let body = match visitor {
        LinkVisitor::AlreadyChecked => view! {
            <p>"Your identity has already been checked, so you do not need a registration letter."</p>
            <a class="nhsuk-button" href="/home" draggable="false">"Go to your GP record"</a>
        }
        .into_any(),
        LinkVisitor::Staff => view! {
            <p>"Registration letters are for patients. To create one for a patient, find them and open their details."</p>
            <a class="nhsuk-button" href="/staff" draggable="false">"Find a patient"</a>
        }
        .into_any(),
        _ => view! {
            <p>"If your GP practice has given you a registration letter, sign in first with NHS login or with the account you created on this service. Then come back to this page to enter the details from your letter."</p>
            <a class="nhsuk-button" href="/sign-in" draggable="false">"Sign in"</a>
            <p><a href="/sign-up">"Create an account"</a></p>
        }
        .into_any(),
    };
    view! {
        <Title text="Use your registration letter"/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>"Use your registration letter"</h1>
                {body}
            </div>
        </div>
    }
}

#[component]
fn LinkRecordForm(initial: FormFeedback) -> impl IntoView {
    let feedback = RwSignal::new(initial.clone());
    let typed = |field: &str| signal(initial.value(field));
    let (account_id, set_account_id) = typed("account_id");
    // The key is never put back into the page after a failed try.
    let (linkage_key, set_linkage_key) = signal(String::new());
    let (ods_code, set_ods_code) = typed("ods_code");
    let (family_name, set_family_name) = typed("family_name");
    let (dob_day, set_dob_day) = typed("dob_day");
    let (dob_month, set_dob_month) = typed("dob_month");
    let (dob_year, set_dob_year) = typed("dob_year");

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        // Without a sensible clock, leave the checking to the server.
        let Some(today) = today_utc() else { return };
        let form = LinkageForm {
            account_id: account_id.get_untracked(),
            linkage_key: linkage_key.get_untracked(),
            ods_code: ods_code.get_untracked(),
            family_name: family_name.get_untracked(),
            dob_day: dob_day.get_untracked(),
            dob_month: dob_month.get_untracked(),
            dob_year: dob_year.get_untracked(),
        };
        if let Err(checked) = check_linkage_form(&form, today) {
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
        <FormTitle text="Use your registration letter" feedback/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <ErrorSummary feedback/>
                <h1>"Use your registration letter"</h1>
                <p>"Enter the details from the registration letter your GP practice gave you. This links your online account to your GP record, so you can see it online."</p>
                <form method="post" action="/api/link_record" novalidate on:submit=on_submit>
                    <TextInput
                        id="account_id"
                        label="Account ID"
                        hint="10 numbers, like 123 456 7890"
                        autocomplete="off"
                        width_class="nhsuk-input--width-10"
                        feedback
                        on_value=set_account_id
                    />
                    <TextInput
                        id="linkage_key"
                        label="Linkage key"
                        hint="15 letters and numbers, like ABCDE FGHJK MNPQR"
                        autocomplete="off"
                        width_class="nhsuk-input--width-20"
                        feedback
                        on_value=set_linkage_key
                    />
                    <TextInput
                        id="ods_code"
                        label="Practice ODS code"
                        hint="Letters and numbers, like A81001. It is on your letter, under your practice's name"
                        autocomplete="off"
                        width_class="nhsuk-input--width-10"
                        feedback
                        on_value=set_ods_code
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
                    <button class="nhsuk-button" type="submit">"Link my record"</button>
                </form>
                <p>"If you have lost your letter, or it has stopped working, ask your GP practice for a new one."</p>
            </div>
        </div>
    }
}
