#![recursion_limit = "512"]
//! The portal's pages, components and server functions (Leptos). Compiled
//! twice: with `ssr` into the server, with `hydrate` into the browser
//! bundle. Nothing server-only may appear outside `cfg(feature = "ssr")`.

pub mod access_rules;
pub mod api;
pub mod appointments_api;
pub mod components;
pub mod devices_api;
pub mod error;
pub mod glossary_text;
#[cfg(feature = "ssr")]
pub mod guard;
pub mod pages;
pub mod record_api;
pub mod registration_letters;
pub mod second_factor_api;

use components::{Footer, Header, SkipLink};
use domain::views::SignedInUser;
use error::PortalError;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The signed-in person, loaded once per page for the header and shared
/// with the pages through context.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Result<Option<SignedInUser>, PortalError>>);

/// The name of the compiled browser bundle under /pkg.
pub const BUNDLE_NAME: &str = "portal";

/// The whole HTML document, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href="/assets/nhsuk-frontend.min.css"/>
                <link rel="stylesheet" href="/assets/portal.css"/>
                <link rel="icon" href="/assets/favicon.ico"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// A strict policy: scripts only from this origin or carrying this
/// response's nonce (the hydration script), WebAssembly allowed to compile,
/// no inline styles, no framing.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use leptos::nonce::use_nonce;
    if let (Some(nonce), Some(res)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        );
        if let Ok(value) = http::HeaderValue::from_str(&policy) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user = Resource::new(|| (), |_| api::current_user());
    provide_context(CurrentUser(user));
    // Every route renders completely on the server before anything is sent:
    // pages must be whole without JavaScript, and headers such as the CSP
    // and status codes are decided during rendering.
    let ssr = SsrMode::Async;
    view! {
        <Title formatter=|text: String| format!("{text} - GP online services")/>
        <Router>
            <SkipLink/>
            <Suspense>
                {move || Suspend::new(async move {
                    let signed_in = user.await.ok().flatten();
                    view! { <Header user=signed_in/> }
                })}
            </Suspense>
            <div class="nhsuk-width-container">
                <main class="nhsuk-main-wrapper" id="maincontent" role="main">
                    <ErrorFromPlainForm/>
                    <Routes fallback=pages::info::NotFoundPage>
                        <Route path=path!("/") view=pages::info::StartPage ssr=ssr.clone()/>
                        <Route path=path!("/sign-in") view=pages::sign_in::SignInPage ssr=ssr.clone()/>
                        <Route path=path!("/signed-out") view=pages::info::SignedOutPage ssr=ssr.clone()/>
                        <Route path=path!("/forbidden") view=pages::info::ForbiddenPage ssr=ssr.clone()/>
                        <Route path=path!("/accessibility") view=pages::info::AccessibilityPage ssr=ssr.clone()/>
                        <Route path=path!("/cookies") view=pages::info::CookiesPage ssr=ssr.clone()/>
                        <Route path=path!("/nhs-login/problem") view=pages::nhs_login::NhsLoginProblemPage ssr=ssr.clone()/>
                        <Route path=path!("/prove-identity") view=pages::nhs_login::ProveIdentityPage ssr=ssr.clone()/>
                        <Route path=path!("/home") view=pages::patient::HomePage ssr=ssr.clone()/>
                        <Route path=path!("/access-log") view=pages::patient::AccessLogPage ssr=ssr.clone()/>
                        <Route path=path!("/staff") view=pages::staff::StaffHomePage ssr=ssr.clone()/>
                        <Route path=path!("/staff/patients/:id") view=pages::staff::StaffPatientPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/patients/:id/letter") view=pages::registration_letter::StaffLetterPage ssr=ssr.clone()/>
                        <Route path=path!("/link-record") view=pages::registration_letter::LinkRecordPage ssr=ssr.clone()/>
                        <Route path=path!("/admin") view=pages::admin::AdminPage ssr=ssr.clone()/>
                        <Route path=path!("/admin/emails") view=pages::admin_emails::AdminEmailsPage ssr=ssr.clone()/>
                        <Route path=path!("/sign-up") view=pages::sign_up::SignUpPage ssr=ssr.clone()/>
                        <Route path=path!("/sign-up/check-email") view=pages::sign_up::SignUpSentPage ssr=ssr.clone()/>
                        <Route path=path!("/verify-email") view=pages::email_links::VerifyEmailPage ssr=ssr.clone()/>
                        <Route path=path!("/email-confirmed") view=pages::email_links::EmailConfirmedPage ssr=ssr.clone()/>
                        <Route path=path!("/confirm-email") view=pages::email_links::ConfirmEmailPage ssr=ssr.clone()/>
                        <Route path=path!("/confirm-email-change") view=pages::email_links::ConfirmEmailChangePage ssr=ssr.clone()/>
                        <Route path=path!("/email-changed") view=pages::email_links::EmailChangedPage ssr=ssr.clone()/>
                        <Route path=path!("/forgot-password") view=pages::password_reset::ForgotPasswordPage ssr=ssr.clone()/>
                        <Route path=path!("/forgot-password/sent") view=pages::password_reset::ResetSentPage ssr=ssr.clone()/>
                        <Route path=path!("/reset-password") view=pages::password_reset::ResetPasswordPage ssr=ssr.clone()/>
                        <Route path=path!("/password-reset-done") view=pages::password_reset::PasswordResetDonePage ssr=ssr.clone()/>
                        <Route path=path!("/account") view=pages::account::AccountPage ssr=ssr.clone()/>
                        <Route path=path!("/account/email") view=pages::account::ChangeEmailPage ssr=ssr.clone()/>
                        <Route path=path!("/account/password") view=pages::account::ChangePasswordPage ssr=ssr.clone()/>
                        <Route path=path!("/account/notifications") view=pages::account::NotificationsPage ssr=ssr.clone()/>
                        <Route path=path!("/account/devices") view=pages::devices::DevicesPage ssr=ssr.clone()/>
                        <Route path=path!("/mfa") view=pages::second_factor::SecondFactorPage ssr=ssr.clone()/>
                        <Route path=path!("/mfa/setup") view=pages::second_factor::SetUpSecondFactorPage ssr=ssr.clone()/>
                        <Route path=path!("/mfa/recovery-codes") view=pages::second_factor::RecoveryCodesPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/team") view=pages::second_factor::TeamPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/team/:id/reset") view=pages::second_factor::ResetSecondFactorPage ssr=ssr.clone()/>
                        <Route path=path!("/glossary") view=pages::glossary::GlossaryPage ssr=SsrMode::Async/>
                        <Route path=path!("/dev/emails") view=pages::dev_mail::DevMailboxPage ssr=ssr.clone()/>
                        <Route path=path!("/record") view=pages::record::RecordSummaryPage ssr=ssr.clone()/>
                        <Route path=path!("/record/print") view=pages::record_print::RecordPrintPage ssr=ssr.clone()/>
                        <Route path=path!("/record/:section") view=pages::record::RecordSectionPage ssr=ssr.clone()/>
                        <Route path=path!("/record/documents/:id") view=pages::record::RecordDocumentPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments") view=pages::appointments::MyAppointmentsPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments/find") view=pages::appointments::FindAppointmentPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments/book/:slot") view=pages::appointments::BookAppointmentPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments/book/:slot/check") view=pages::appointments::CheckBookingPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments/:id") view=pages::appointments::AppointmentPage ssr=ssr.clone()/>
                        <Route path=path!("/appointments/:id/cancel") view=pages::appointments::CancelAppointmentPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/appointments") view=pages::staff_appointments::DayViewPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/appointments/new") view=pages::staff_appointments::NewSessionPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/appointments/rules") view=pages::staff_appointments::ReleaseRulesPage ssr=ssr.clone()/>
                        <Route path=path!("/staff/appointments/book/:slot") view=pages::staff_appointments::StaffBookPage ssr=ssr.clone()/>
                        <Route path=path!("/record/test-results/trend") view=pages::record_trend::RecordTrendPage ssr=ssr/>
                    </Routes>
                </main>
            </div>
            <Footer/>
        </Router>
    }
}

/// Without JavaScript, a server function that fails outright sends the
/// browser back to the form's page with the error in the URL (`__err`).
/// Show it in plain words rather than silently dropping it.
#[component]
fn ErrorFromPlainForm() -> impl IntoView {
    use leptos::server_fn::error::ServerFnUrlError;
    let query = leptos_router::hooks::use_query_map();
    move || {
        query.with(|q| q.get("__err")).map(|encoded| {
            let error = ServerFnUrlError::<PortalError>::decode_err(&encoded);
            view! { <components::ProblemPanel error/> }
        })
    }
}
