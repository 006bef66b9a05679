//! Pages reached from links in emails, and the pages after them. Opening a
//! link only shows a page: the change happens when the person presses its
//! button, so a mail scanner that opens links cannot use one up.

use crate::CurrentUser;
use crate::api::{account_settings, check_link, take_feedback};
use crate::components::{ErrorSummary, ProblemPanel, WarningCallout};
use crate::error::PortalError;
use domain::account_tokens::{TokenProblem, TokenPurpose, looks_like_token};
use domain::forms::FormFeedback;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// What a link page needs to know before it shows anything.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LinkState {
    token: String,
    /// Left by a failed post of this page's form.
    feedback: FormFeedback,
    /// Why the link does not work, if it does not.
    problem: Option<String>,
}

async fn link_state(
    purpose: TokenPurpose,
    form: &'static str,
    token: String,
) -> Result<LinkState, PortalError> {
    let feedback = take_feedback(form.to_owned()).await?.unwrap_or_default();
    // A failed post has already said what was wrong with the link.
    let problem = match feedback.error_for("token") {
        Some(problem) => Some(problem),
        None if !looks_like_token(&token) => Some(TokenProblem::Unknown.to_string()),
        None => check_link(purpose.as_str().to_owned(), token.clone()).await?,
    };
    Ok(LinkState {
        token,
        feedback,
        problem,
    })
}

/// Extra inputs a link page's form needs besides the token.
pub type LinkFields = fn(Signal<FormFeedback>) -> AnyView;

/// A page for a link from an email: the form that uses the link, or what
/// is wrong with it and how to get a new one.
#[component]
pub fn LinkPage(
    purpose: TokenPurpose,
    /// The form name its server function's feedback uses.
    form: &'static str,
    heading: &'static str,
    action: &'static str,
    button: &'static str,
    /// Where to go, and the words, when the link does not work.
    new_link_href: &'static str,
    new_link_text: &'static str,
    #[prop(optional)] intro: Option<&'static str>,
    #[prop(optional)] fields: Option<LinkFields>,
) -> impl IntoView {
    let query = use_query_map();
    let state = Resource::new(
        move || query.with(|q| q.get("token").unwrap_or_default()),
        move |token| link_state(purpose, form, token),
    );
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match state.await {
                    Ok(LinkState { problem: Some(problem), .. }) => view! {
                        <Title text=format!("Error: {heading}")/>
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <h1>{heading}</h1>
                                <WarningCallout>
                                    <p>{problem}</p>
                                    <p><a href=new_link_href>{new_link_text}</a></p>
                                </WarningCallout>
                            </div>
                        </div>
                    }.into_any(),
                    Ok(LinkState { token, feedback, .. }) => {
                        let title = if feedback.has_errors() { format!("Error: {heading}") } else { heading.to_owned() };
                        let feedback = Signal::stored(feedback);
                        view! {
                            <Title text=title/>
                            <div class="nhsuk-grid-row">
                                <div class="nhsuk-grid-column-two-thirds">
                                    <ErrorSummary feedback/>
                                    <h1>{heading}</h1>
                                    {intro.map(|text| view! { <p>{text}</p> })}
                                    <form method="post" action=action novalidate>
                                        <input type="hidden" name="token" value=token/>
                                        {fields.map(|fields| fields(feedback))}
                                        <button class="nhsuk-button" type="submit">{button}</button>
                                    </form>
                                </div>
                            </div>
                        }.into_any()
                    }
                    Err(error) => view! {
                        <Title text=heading/>
                        <h1>{heading}</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    view! {
        <LinkPage
            purpose=TokenPurpose::VerifyEmail
            form="confirm-email"
            heading="Confirm your email address"
            intro="Confirm this is your email address to start using GP online services."
            action="/api/confirm_email"
            button="Confirm email address"
            new_link_href="/confirm-email"
            new_link_text="Ask for a new link"
        />
    }
}

#[component]
pub fn ConfirmEmailChangePage() -> impl IntoView {
    view! {
        <LinkPage
            purpose=TokenPurpose::ChangeEmail
            form="confirm-email-change"
            heading="Confirm your new email address"
            intro="Confirm this is your new email address. You will use it to sign in from now on."
            action="/api/confirm_email_change"
            button="Confirm new email address"
            new_link_href="/account/email"
            new_link_text="Change your email address again"
        />
    }
}

/// A "done" page ending with the way on: the person's home if this browser
/// is signed in, otherwise the sign-in page.
#[component]
pub fn DonePage(heading: &'static str, children: Children) -> impl IntoView {
    let user = expect_context::<CurrentUser>().0;
    view! {
        <Title text=heading/>
        <div class="nhsuk-grid-row">
            <div class="nhsuk-grid-column-two-thirds">
                <h1>{heading}</h1>
                {children()}
                <Suspense>
                    {move || Suspend::new(async move {
                        match user.await.ok().flatten() {
                            Some(user) => view! {
                                <a class="nhsuk-button" href=crate::access_rules::home_path(user.role) draggable="false">"Continue"</a>
                            }.into_any(),
                            None => view! {
                                <a class="nhsuk-button" href="/sign-in" draggable="false">"Sign in"</a>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </div>
    }
}

#[component]
pub fn EmailConfirmedPage() -> impl IntoView {
    view! {
        <DonePage heading="Your email address is confirmed">
            <p>"You can now use GP online services."</p>
        </DonePage>
    }
}

#[component]
pub fn EmailChangedPage() -> impl IntoView {
    view! {
        <DonePage heading="Your email address has been changed">
            <p>"Use your new email address to sign in from now on. We have told your old address about the change."</p>
        </DonePage>
    }
}

/// Where a signed-in patient who has not confirmed their address is sent.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.with(|q| q.get("sent").as_deref() == Some("1"));
    let settings = Resource::new(|| (), |_| account_settings());
    let lifetime = TokenPurpose::VerifyEmail.lifetime_words();
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) if s.email_verified => view! {
                        <Title text="Your email address is confirmed"/>
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <h1>"Your email address is confirmed"</h1>
                                <p>{format!("You have already confirmed {}.", s.email)}</p>
                                <a class="nhsuk-button" href="/" draggable="false">"Continue"</a>
                            </div>
                        </div>
                    }.into_any(),
                    Ok(s) => view! {
                        <Title text="Confirm your email address"/>
                        <div class="nhsuk-grid-row">
                            <div class="nhsuk-grid-column-two-thirds">
                                <h1>"Confirm your email address"</h1>
                                {sent().then(|| view! {
                                    <div class="nhsuk-inset-text">
                                        <span class="nhsuk-u-visually-hidden">"Information: "</span>
                                        <p>{format!("We have sent a new link to {}. It works for {lifetime}.", s.email)}</p>
                                    </div>
                                })}
                                <p>{format!("We sent a link to {}. Follow it to start using GP online services. The link works for {lifetime}.", s.email)}</p>
                                <p>"If you cannot find the email, check your spam or junk folder."</p>
                                <form method="post" action="/api/resend_confirmation" novalidate>
                                    <button class="nhsuk-button nhsuk-button--secondary" type="submit">"Send the link again"</button>
                                </form>
                                <p>"If that is not your email address, "<a href="/account/email">"change your email address"</a>"."</p>
                            </div>
                        </div>
                    }.into_any(),
                    Err(error) => view! {
                        <Title text="Confirm your email address"/>
                        <h1>"Confirm your email address"</h1>
                        <ProblemPanel error/>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
