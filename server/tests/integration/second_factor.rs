//! Staff second factor over real HTTP: the way to /mfa, setting up an
//! authenticator app through the pages, codes that work once, recovery
//! codes, the limit on wrong codes, and a practice manager's reset. Runs on
//! SQLite and on PostgreSQL (PORTAL_TEST_DATABASE_URL).

use crate::common;

use common::*;
use domain::second_factor::step_at;
use domain::{Email, OdsCode, Role};
use secrecy::SecretString;
use server::provisioning::{self, NewStaff};
use server::stores::second_factor::code_for_step;

const NEW_STARTER: &str = "new.starter@a.example.com";

async fn account_id(app: &TestApp, email: &str) -> i64 {
    use sqlx::Row;
    sqlx::query("select id from accounts where email = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .expect("account")
        .try_get("id")
        .expect("id")
}

async fn add_staff(app: &TestApp, email: &str, role: Role, practice: &str) {
    provisioning::create_staff(
        &app.db,
        NewStaff {
            email: Email::parse(email).expect("email"),
            display_name: format!("Staff {email}"),
            role,
            practice: Some(OdsCode::parse(practice).expect("ods")),
            password: SecretString::from(PASSWORD),
        },
    )
    .await
    .expect("staff");
}

/// A six-digit code that is none of the ones the server would take now.
fn wrong_code(secret: &str) -> String {
    let now = step_at(chrono::Utc::now().timestamp());
    let right: Vec<String> = (now - 2..=now + 2)
        .map(|step| code_for_step(secret, step).expect("code"))
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", 123_456 + n))
        .find(|candidate| !right.contains(candidate))
        .expect("a wrong code")
}

/// The text between `start` and the next `end`, hydration comments dropped.
fn between(page: &str, start: &str, end: &str) -> Option<String> {
    let from = page.find(start)? + start.len();
    let to = page[from..].find(end)? + from;
    Some(page[from..to].replace("<!---->", "").replace("<!>", ""))
}

async fn text(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String, String) {
    let res = client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    let to = location(&res);
    (status, to, res.text().await.expect("body"))
}

/// The setup key as the page shows it, grouped in fours.
fn setup_key(page: &str) -> Option<String> {
    let from = page.find("id=\"setup-key\"")?;
    between(&page[from..], "<code>", "</code>")
}

/// A member of staff with no app sets one up through the real pages: the
/// setup key read from the page, a code from it, the recovery codes shown.
async fn set_up_through_the_pages(
    app: &TestApp,
    client: &reqwest::Client,
) -> (String, Vec<String>) {
    let (_, _, page) = text(app, client, "/mfa/setup").await;
    let secret: String = setup_key(&page)
        .expect("setup key on the page")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let code = code_after_step(&secret, 0).await;
    let res = app
        .post_form_with(client, "/api/confirm_second_factor", &[("code", &code)])
        .await;
    assert_eq!(location(&res), "/mfa/recovery-codes");
    let (status, _, page) = text(app, client, "/mfa/recovery-codes").await;
    assert_eq!(status, 200);
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(|code| code.replace("<!---->", "").replace("<!>", ""))
        .collect();
    (secret, codes)
}

#[tokio::test]
async fn staff_without_a_second_factor_are_sent_to_give_it_and_see_no_patient_data() {
    let app = TestApp::spawn().await;
    let c = client();
    app.sign_in_password_only(&c, RECEPTION_A).await;
    let (_, to, _) = text(&app, &c, "/").await;
    assert_eq!(to, "/staff");
    let sarah = app.fixtures.sarah.0.to_string();
    for page in ["/staff", &format!("/staff/patients/{sarah}")] {
        let (_, to, _) = text(&app, &c, page).await;
        assert_eq!(to, "/mfa", "{page} on {}", backend());
    }
    let (status, _, page) = text(&app, &c, "/mfa").await;
    assert_eq!(status, 200);
    assert!(page.contains("Enter the 6-digit code from your authenticator app"));
    assert!(page.contains("Use a recovery code instead"));

    let refused = app
        .call(&c, "/api/find_patient", &[("nhs_number", SARAH_NHS)])
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.text().await.expect("body"),
        "\"SecondFactorRequired\""
    );
    let refused = app
        .call(&c, "/api/patient_details", &[("patient", sarah.as_str())])
        .await;
    assert_eq!(refused.status(), 403);
    let shown = app
        .count("select count(*) from access_log where outcome = 'allowed'")
        .await;
    assert_eq!(shown, 0, "nothing was read");

    // A manager without one cannot reach the team page either.
    let manager = client();
    app.sign_in_password_only(&manager, MANAGER_A).await;
    let (_, to, _) = text(&app, &manager, "/staff/team").await;
    assert_eq!(to, "/mfa");
    let refused = app.call(&manager, "/api/practice_team", &[]).await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn a_new_member_of_staff_sets_up_an_app_and_sees_the_recovery_codes_once() {
    let app = TestApp::spawn().await;
    add_staff(&app, NEW_STARTER, Role::Clinician, "A81001").await;
    let c = client();
    app.sign_in_password_only(&c, NEW_STARTER).await;
    let (_, to, _) = text(&app, &c, "/staff").await;
    assert_eq!(to, "/mfa");
    let (_, to, _) = text(&app, &c, "/mfa").await;
    assert_eq!(to, "/mfa/setup", "no app yet: sent to set one up");

    let (status, _, page) = text(&app, &c, "/mfa/setup").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "the QR code is inline SVG"
    );
    assert!(page.contains("role=\"img\" focusable=\"false\" class=\"portal-qr-code\""));
    assert!(page.contains("aria-label=\"QR code for your authenticator app"));
    assert!(page.contains("otpauth://totp/"));
    let key = setup_key(&page).expect("setup key");
    let secret: String = key.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(secret.len(), 32, "{key}");
    assert!(key.contains(' '), "grouped in fours for typing: {key}");
    // A reload shows the same key: an app already scanned keeps working.
    let (_, _, again) = text(&app, &c, "/mfa/setup").await;
    assert_eq!(setup_key(&again), Some(key));

    // A wrong code: a plain message, and nothing is set up.
    let res = app
        .post_form_with(
            &c,
            "/api/confirm_second_factor",
            &[("code", &wrong_code(&secret))],
        )
        .await;
    assert_eq!(location(&res), "/mfa/setup");
    let (_, _, page) = text(&app, &c, "/mfa/setup").await;
    assert!(
        page.contains("The code is not right. Enter the code your authenticator app shows now")
    );
    assert_eq!(
        app.count("select count(*) from staff_mfa where enrolled_at is not null")
            .await,
        4,
        "only the seeded staff"
    );
    assert_eq!(
        app.count("select count(*) from mfa_recovery_codes").await,
        0
    );

    // The right code: set up, and the recovery codes are shown once.
    let code = code_after_step(&secret, 0).await;
    let res = app
        .post_form_with(&c, "/api/confirm_second_factor", &[("code", &code)])
        .await;
    assert_eq!(location(&res), "/mfa/recovery-codes");
    let (status, _, page) = text(&app, &c, "/mfa/recovery-codes").await;
    assert_eq!(status, 200);
    assert!(page.contains("Save your recovery codes"));
    assert!(page.contains("I have saved my recovery codes"));
    let codes: Vec<String> = page
        .split("<li><code>")
        .skip(1)
        .filter_map(|rest| rest.split("</code>").next())
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{page}");
    for code in &codes {
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.matches('-').count(), 2, "{code}");
    }
    let (_, _, page) = text(&app, &c, "/mfa/recovery-codes").await;
    assert!(page.contains("Your recovery codes have already been shown"));
    for code in &codes {
        assert!(!page.contains(code.as_str()), "shown once only");
    }
    // Only hashes are kept.
    assert_eq!(
        app.count("select count(*) from mfa_recovery_codes where used_at is null")
            .await,
        10
    );
    let stored = app
        .count(&format!(
            "select count(*) from mfa_recovery_codes where code_hash like '%{}%' or code_hash like '%{}%'",
            codes[0],
            codes[0].replace('-', "")
        ))
        .await;
    assert_eq!(stored, 0);
    let id = account_id(&app, NEW_STARTER).await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from security_events where account_id = {id} and actor_account_id = {id} and event = 'second_factor_enrolled'"
        ))
        .await,
        1
    );

    // Setting up the app counts as giving it for this sign-in.
    let (status, _, _) = text(&app, &c, "/staff").await;
    assert_eq!(status, 200);
    let (_, to, _) = text(&app, &c, "/mfa").await;
    assert_eq!(to, "/staff", "already given: sent home");
    // And a second set-up is not offered.
    let (_, to, _) = text(&app, &c, "/mfa/setup").await;
    assert_eq!(to, "/mfa");
}

#[tokio::test]
async fn an_authenticator_code_works_once() {
    let app = TestApp::spawn().await;
    let code = code_after_step(TOTP_SECRET, 0).await;
    let first = client();
    app.sign_in_password_only(&first, RECEPTION_A).await;
    let res = app
        .post_form_with(&first, "/api/verify_second_factor", &[("code", &code)])
        .await;
    assert_eq!(location(&res), "/staff");
    let (status, _, _) = text(&app, &first, "/staff").await;
    assert_eq!(status, 200);

    // The same code again, from another browser: refused, with why.
    let second = client();
    app.sign_in_password_only(&second, RECEPTION_A).await;
    let res = app
        .post_form_with(&second, "/api/verify_second_factor", &[("code", &code)])
        .await;
    assert_eq!(location(&res), "/mfa");
    let (_, _, page) = text(&app, &second, "/mfa").await;
    assert!(page.contains("That code has already been used"), "{page}");
    let (_, to, _) = text(&app, &second, "/staff").await;
    assert_eq!(to, "/mfa");
    // A replay is not a guess: it does not count towards the limit.
    assert_eq!(
        app.count("select count(*) from second_factor_failures")
            .await,
        0
    );
    // The next code works.
    let next = app.next_totp_code(RECEPTION_A).await.expect("enrolled");
    let res = app
        .post_form_with(&second, "/api/verify_second_factor", &[("code", &next)])
        .await;
    assert_eq!(location(&res), "/staff");
}

#[tokio::test]
async fn of_two_requests_racing_with_one_code_exactly_one_gets_in() {
    let app = TestApp::spawn().await;
    let code = code_after_step(TOTP_SECRET, 0).await;
    let (a, b) = (client(), client());
    app.sign_in_password_only(&a, RECEPTION_A).await;
    app.sign_in_password_only(&b, RECEPTION_A).await;
    let form = [("code", code.as_str())];
    let (ra, rb) = tokio::join!(
        app.post_form_with(&a, "/api/verify_second_factor", &form),
        app.post_form_with(&b, "/api/verify_second_factor", &form),
    );
    let mut landed = [location(&ra), location(&rb)];
    landed.sort();
    assert_eq!(
        landed,
        ["/mfa".to_owned(), "/staff".to_owned()],
        "{}",
        backend()
    );
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::spawn().await;
    add_staff(&app, NEW_STARTER, Role::Receptionist, "A81001").await;
    let setup = client();
    app.sign_in_password_only(&setup, NEW_STARTER).await;
    let (_, codes) = set_up_through_the_pages(&app, &setup).await;
    assert_eq!(codes.len(), 10);

    // Phone lost: typed in capitals with spaces, as people do.
    let typed = codes[3].to_uppercase().replace('-', " ");
    let c = client();
    app.sign_in_password_only(&c, NEW_STARTER).await;
    let res = app
        .post_form_with(
            &c,
            "/api/verify_second_factor",
            &[("recovery_code", &typed)],
        )
        .await;
    assert_eq!(location(&res), "/staff");
    let (status, _, _) = text(&app, &c, "/staff").await;
    assert_eq!(status, 200);
    assert_eq!(
        app.count("select count(*) from security_events where event = 'recovery_code_used'")
            .await,
        1
    );

    let again = client();
    app.sign_in_password_only(&again, NEW_STARTER).await;
    let res = app
        .post_form_with(
            &again,
            "/api/verify_second_factor",
            &[("recovery_code", &codes[3])],
        )
        .await;
    assert_eq!(location(&res), "/mfa");
    let (_, _, page) = text(&app, &again, "/mfa").await;
    assert!(page.contains("That recovery code is not right, or it has already been used"));
    // The recovery form is open, so the error summary's link leads somewhere visible.
    assert!(
        page.contains("<details open class=\"nhsuk-details\">"),
        "{page}"
    );
    // Another of the codes still works.
    let res = app
        .post_form_with(
            &again,
            "/api/verify_second_factor",
            &[("recovery_code", &codes[4])],
        )
        .await;
    assert_eq!(location(&res), "/staff");
}

#[tokio::test]
async fn after_five_wrong_codes_even_the_right_one_waits() {
    let app = TestApp::spawn().await;
    let c = client();
    app.sign_in_password_only(&c, RECEPTION_A).await;
    for _ in 0..5 {
        let res = app
            .post_form_with(
                &c,
                "/api/verify_second_factor",
                &[("code", &wrong_code(TOTP_SECRET))],
            )
            .await;
        assert_eq!(location(&res), "/mfa");
        let (_, _, page) = text(&app, &c, "/mfa").await;
        assert!(page.contains("The code is not right"));
    }
    let wrong_recovery = app
        .post_form_with(
            &c,
            "/api/verify_second_factor",
            &[("recovery_code", "abcd-efgh-jkmn")],
        )
        .await;
    assert_eq!(location(&wrong_recovery), "/mfa");
    let right = app.next_totp_code(RECEPTION_A).await.expect("enrolled");
    let res = app
        .post_form_with(&c, "/api/verify_second_factor", &[("code", &right)])
        .await;
    assert_eq!(location(&res), "/mfa");
    let (_, _, page) = text(&app, &c, "/mfa").await;
    assert!(
        page.contains(
            "You have entered a wrong code too many times. Wait 15 minutes, then try again"
        )
    );
    let (_, to, _) = text(&app, &c, "/staff").await;
    assert_eq!(to, "/mfa");

    // Signing in again with the right password does not clear the count.
    let fresh = client();
    app.sign_in_password_only(&fresh, RECEPTION_A).await;
    let res = app
        .post_form_with(&fresh, "/api/verify_second_factor", &[("code", &right)])
        .await;
    assert_eq!(location(&res), "/mfa");
    let (_, to, _) = text(&app, &fresh, "/staff").await;
    assert_eq!(to, "/mfa");
}

#[tokio::test]
async fn a_practice_manager_resets_a_colleagues_second_factor() {
    let app = TestApp::spawn().await;
    let receptionist = client();
    app.sign_in_with(&receptionist, RECEPTION_A).await;
    let (status, _, _) = text(&app, &receptionist, "/staff").await;
    assert_eq!(status, 200);
    let manager = client();
    app.sign_in_with(&manager, MANAGER_A).await;

    let (status, _, page) = text(&app, &manager, "/staff/team").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("Staff {RECEPTION_A}")));
    assert!(page.contains(&format!("Staff {MANAGER_A}")));
    assert!(
        !page.contains(RECEPTION_B),
        "only their own practice: {page}"
    );
    assert!(page.contains("This is you"));
    assert!(
        page.contains("href=\"/staff/team\""),
        "the header leads here"
    );
    let colleague = account_id(&app, RECEPTION_A).await;
    let me = account_id(&app, MANAGER_A).await;
    let reset_page = format!("/staff/team/{colleague}/reset");
    assert!(page.contains(&format!("href=\"{reset_page}\"")));

    // A confirmation step first.
    let (status, _, page) = text(&app, &manager, &reset_page).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("Reset Staff {RECEPTION_A}")) && page.contains("s second factor?"),
        "{page}"
    );
    assert!(page.contains("signed out on every device"));

    let res = app
        .post_form_with(
            &manager,
            "/api/reset_second_factor",
            &[("account", &colleague.to_string())],
        )
        .await;
    assert_eq!(location(&res), "/staff/team?reset=1");
    let (_, _, page) = text(&app, &manager, "/staff/team?reset=1").await;
    assert!(page.contains("Their second factor has been reset"));

    assert_eq!(
        app.count(&format!(
            "select count(*) from staff_mfa where account_id = {colleague}"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from security_events where account_id = {colleague} and actor_account_id = {me} and event = 'second_factor_reset'"
        ))
        .await,
        1,
        "logged, with who did it"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from sessions where account_id = {colleague}"
        ))
        .await,
        0
    );
    // The colleague's browser is signed out.
    let (_, to, _) = text(&app, &receptionist, "/staff").await;
    assert_eq!(to, "/sign-in");
    // At the next sign-in they set up an app again.
    app.sign_in_password_only(&receptionist, RECEPTION_A).await;
    let (_, to, _) = text(&app, &receptionist, "/mfa").await;
    assert_eq!(to, "/mfa/setup");
    // The manager is still signed in.
    let (status, _, _) = text(&app, &manager, "/staff/team").await;
    assert_eq!(status, 200);
}

async fn reset(app: &TestApp, client: &reqwest::Client, account: i64) -> reqwest::Response {
    app.post_form_with(
        client,
        "/api/reset_second_factor",
        &[("account", &account.to_string())],
    )
    .await
}

#[tokio::test]
async fn only_a_practice_manager_of_the_same_practice_may_reset() {
    let app = TestApp::spawn().await;
    let manager_b = "manager@b.example.com";
    add_staff(&app, manager_b, Role::PracticeManager, "B82002").await;
    provisioning::enrol_second_factor(
        &app.db,
        &Email::parse(manager_b).expect("email"),
        TOTP_SECRET,
    )
    .await
    .expect("enrol");
    let reception_a = account_id(&app, RECEPTION_A).await;
    let reception_b = account_id(&app, RECEPTION_B).await;
    let manager_a = account_id(&app, MANAGER_A).await;
    let sarah = account_id(&app, SARAH).await;
    // A receptionist may not.
    let receptionist = client();
    app.sign_in_with(&receptionist, RECEPTION_A).await;
    let res = reset(&app, &receptionist, manager_a).await;
    assert_eq!(res.status(), 403);
    let (_, to, _) = text(&app, &receptionist, "/staff/team").await;
    assert_eq!(to, "/forbidden");

    // A manager of another practice may not.
    let other_manager = client();
    app.sign_in_with(&other_manager, manager_b).await;
    let res = reset(&app, &other_manager, reception_a).await;
    assert_eq!(res.status(), 403);
    let (_, _, page) = text(&app, &other_manager, "/staff/team").await;
    assert!(!page.contains(RECEPTION_A));
    assert!(page.contains(&format!("Staff {RECEPTION_B}")));

    // Nor a manager for themselves, a patient, or someone at another practice.
    let manager = client();
    app.sign_in_with(&manager, MANAGER_A).await;
    for account in [manager_a, sarah, reception_b, 999_999] {
        let res = reset(&app, &manager, account).await;
        assert_eq!(res.status(), 403, "account {account}");
    }
    let (_, _, page) = text(&app, &manager, &format!("/staff/team/{reception_b}/reset")).await;
    assert!(!page.contains("Reset second factor</button>"), "{page}");

    assert_eq!(
        app.count("select count(*) from security_events where event = 'second_factor_reset'")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from staff_mfa where enrolled_at is not null")
            .await,
        5,
        "every app is still set up"
    );
}

#[tokio::test]
async fn patients_have_no_second_factor_here() {
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    for (function, form) in [
        ("/api/second_factor_state", vec![]),
        ("/api/start_second_factor_setup", vec![]),
        ("/api/confirm_second_factor", vec![("code", "123456")]),
        ("/api/verify_second_factor", vec![("code", "123456")]),
        ("/api/new_recovery_codes", vec![]),
        ("/api/practice_team", vec![]),
        ("/api/reset_second_factor", vec![("account", "1")]),
    ] {
        let res = app.call(&app.client, function, &form).await;
        assert_eq!(res.status(), 403, "{function}");
    }
    let (status, _, page) = text(&app, &app.client, "/mfa/setup").await;
    assert_eq!(status, 403);
    assert!(page.contains("You do not have permission to see this."));
    let (_, to, _) = text(&app, &app.client, "/staff/team").await;
    assert_eq!(to, "/forbidden");
    let sarah = account_id(&app, SARAH).await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from staff_mfa where account_id = {sarah}"
        ))
        .await,
        0
    );
    // Her record stays open to her: patients are never sent to /mfa.
    let (status, _, _) = text(&app, &app.client, "/home").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_window_is_one_step_either_side() {
    // The codes a phone a step slow or fast shows are accepted; two steps
    // out are not. Checked here against the real store.
    let app = TestApp::spawn().await;
    let c = client();
    app.sign_in_password_only(&c, RECEPTION_A).await;
    let now = step_at(chrono::Utc::now().timestamp());
    // Three steps ahead is outside the window even if the request lands in
    // the next step.
    let far = code_for_step(TOTP_SECRET, now + 3).expect("code");
    let res = app
        .post_form_with(&c, "/api/verify_second_factor", &[("code", &far)])
        .await;
    assert_eq!(location(&res), "/mfa");
    let ahead = code_for_step(TOTP_SECRET, now + 1).expect("code");
    let res = app
        .post_form_with(&c, "/api/verify_second_factor", &[("code", &ahead)])
        .await;
    assert_eq!(location(&res), "/staff");
}
