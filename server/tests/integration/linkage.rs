//! Registration letters (linkage keys) over HTTP: staff create one (shown
//! once, kept only as a hash), cancel and replace it; a patient who signed
//! up online (P5), or someone whose NHS login matched no record, uses it to
//! open their GP record. Wrong, expired, reused, cancelled and locked
//! letters are refused with plain words, and every step is in the access
//! log. Runs on SQLite and on PostgreSQL like the rest of the suite.

use crate::common;

use common::oidc::{sign_in_with_nhs_login, spawn_with_nhs_login};
use common::*;
use domain::PatientId;
use sha2::{Digest, Sha256};
use std::time::Duration;

const CAROL: &str = "carol@example.com";

/// Gets a page in `browser`, as a browser without JavaScript does.
async fn page(app: &TestApp, browser: &reqwest::Client, path: &str) -> (u16, String) {
    let res = browser
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    let location = location(&res);
    let body = res.text().await.expect("body");
    (status, if location.is_empty() { body } else { location })
}

/// The text of the element with this id: `id="…">text<`.
fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].trim().to_owned())
}

/// A letter as printed: (account ID, linkage key).
struct Letter {
    account_id: String,
    key: String,
}

/// A member of staff creates a letter and reads it off the page that shows
/// it once.
async fn create_letter(app: &TestApp, staff: &reqwest::Client, patient: PatientId) -> Letter {
    let res = app
        .post_form_with(
            staff,
            "/api/issue_registration_letter",
            &[("patient", &patient.to_string())],
        )
        .await;
    let letter_page = format!("/staff/patients/{patient}/letter");
    assert_eq!(location(&res), letter_page);
    let (status, html) = page(app, staff, &letter_page).await;
    assert_eq!(status, 200, "{html}");
    let letter = Letter {
        account_id: element_text(&html, "letter-account-id").expect("an account ID on the letter"),
        key: element_text(&html, "letter-linkage-key").expect("a linkage key on the letter"),
    };
    assert!(html.contains("Your registration letter for GP online services"));
    assert!(html.contains(&format!("Go to {}", app.base)), "{html}");
    assert!(html.contains("Use your registration letter"));
    letter
}

/// The details typed into /link-record.
fn details<'a>(
    letter: &'a Letter,
    key: &'a str,
    family_name: &'a str,
    dob: (&'a str, &'a str, &'a str),
    ods: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("account_id", letter.account_id.as_str()),
        ("linkage_key", key),
        ("ods_code", ods),
        ("family_name", family_name),
        ("dob_day", dob.0),
        ("dob_month", dob.1),
        ("dob_year", dob.2),
    ]
}

/// Carol's own letter details, as she might type them: any case, hyphens.
fn carols<'a>(letter: &'a Letter, typed_key: &'a str) -> Vec<(&'a str, &'a str)> {
    details(letter, typed_key, "testperson", CAROL_DOB, " a81001 ")
}

/// Posts the form, and reads the page it sends the browser back to.
async fn try_letter(
    app: &TestApp,
    browser: &reqwest::Client,
    form: &[(&str, &str)],
) -> (String, String) {
    let res = app.post_form_with(browser, "/api/link_record", form).await;
    let to = location(&res);
    let (_, body) = page(app, browser, &to).await;
    (to, body)
}

/// Carol signs up online (an account at P5: only her details were
/// matched), confirms her address from the development mailbox, and signs
/// in. Returns her browser.
async fn carol_signs_up(app: &TestApp) -> reqwest::Client {
    let browser = client();
    let res = app
        .post_form_with(
            &browser,
            "/api/sign_up",
            &[
                ("email", CAROL),
                ("given_name", "Carol"),
                ("family_name", "Testperson"),
                ("dob_day", CAROL_DOB.0),
                ("dob_month", CAROL_DOB.1),
                ("dob_year", CAROL_DOB.2),
                ("nhs_number", CAROL_NHS),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&res), "/sign-up/check-email");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let token = loop {
        let (_, mailbox) = page(app, &browser, "/dev/emails").await;
        if let Some(at) = mailbox.find("/verify-email?token=") {
            let start = at + "/verify-email?token=".len();
            break mailbox[start..start + 43].to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation email"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let res = app
        .post_form_with(&browser, "/api/confirm_email", &[("token", &token)])
        .await;
    assert_eq!(location(&res), "/email-confirmed");
    app.sign_in_with(&browser, CAROL).await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from accounts where email = '{CAROL}' and identity_level = 'P5'"
        ))
        .await,
        1,
        "an online sign-up is P5"
    );
    // Her record stays closed until she proves more.
    assert_eq!(page(app, &browser, "/home").await.1, "/prove-identity");
    browser
}

async fn staff(app: &TestApp, email: &str) -> reqwest::Client {
    let browser = client();
    app.sign_in_with(&browser, email).await;
    browser
}

async fn log_rows(app: &TestApp, action: &str, outcome: &str) -> i64 {
    app.count(&format!(
        "select count(*) from access_log where action = '{action}' and outcome = '{outcome}'"
    ))
    .await
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn a_letter_is_shown_once_kept_as_a_hash_and_opens_the_record_of_an_online_sign_up() {
    let app = TestApp::spawn().await;
    let carol = app.fixtures.carol;
    let reception = staff(&app, RECEPTION_A).await;
    let (_, before) = page(&app, &reception, &format!("/staff/patients/{carol}")).await;
    assert!(
        before.contains("No registration letter has been created for this patient"),
        "{before}"
    );
    assert!(before.contains("Create registration letter"));

    let letter = create_letter(&app, &reception, carol).await;
    assert_eq!(
        letter.account_id.len(),
        12,
        "shown 3-3-4: {}",
        letter.account_id
    );
    assert_eq!(
        letter.key.len(),
        17,
        "shown in three groups of 5: {}",
        letter.key
    );
    let stored_key = letter.key.replace(' ', "");

    // Shown once: the page cannot show it again, and it is nowhere else.
    let (_, again) = page(&app, &reception, &format!("/staff/patients/{carol}/letter")).await;
    assert!(
        again.contains("This letter has already been shown"),
        "{again}"
    );
    assert!(!again.contains(&letter.key));
    assert_eq!(
        app.count(&format!(
            "select count(*) from sessions where data like '%{stored_key}%' or data like '%{}%'",
            letter.key
        ))
        .await,
        0,
        "the session no longer holds the key"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from linkage_keys where key_hash = '{}' and account_reference = '{}' and status = 'active'",
            sha256_hex(&stored_key),
            letter.account_id.replace(' ', "")
        ))
        .await,
        1,
        "only the SHA-256 of the key is kept"
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from linkage_keys where key_hash like '%{stored_key}%'"
        ))
        .await,
        0
    );
    let (_, status) = page(&app, &reception, &format!("/staff/patients/{carol}")).await;
    for shown in [
        "Waiting to be used",
        letter.account_id.as_str(),
        "0 of 3",
        "Cancel this letter",
        "Create a new letter",
    ] {
        assert!(status.contains(shown), "{shown} in {status}");
    }
    assert!(
        !status.contains(&letter.key),
        "staff never see the key again"
    );

    // Carol signed up online: P5, record closed. The letter opens it.
    let browser = carol_signs_up(&app).await;
    let (code, form) = page(&app, &browser, "/link-record").await;
    assert_eq!(code, 200);
    assert!(
        form.contains("Linkage key") && form.contains("Account ID"),
        "{form}"
    );
    let typed_key = letter.key.to_lowercase().replace(' ', "-");
    let no_spaces = Letter {
        account_id: letter.account_id.replace(' ', ""),
        key: String::new(),
    };
    let (to, home) = try_letter(&app, &browser, &carols(&no_spaces, &typed_key)).await;
    assert_eq!(to, "/home?linked=1");
    assert!(
        home.contains("Your online account is now linked to your GP record"),
        "{home}"
    );
    assert!(home.contains("Hello, Carol"));
    let (code, _) = page(&app, &browser, "/home").await;
    assert_eq!(code, 200, "the record opens, not /prove-identity");
    assert_eq!(
        app.count(&format!(
            "select count(*) from accounts where email = '{CAROL}' and identity_level = 'P9'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from linkage_keys where status = 'used' and ended_at is not null"
        )
        .await,
        1
    );
    assert_eq!(
        log_rows(&app, "issue_registration_letter", "allowed").await,
        1
    );
    assert_eq!(
        log_rows(&app, "use_registration_letter", "allowed").await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from security_events where event = 'identity_checked_by_letter'"
        )
        .await,
        1
    );
    let (_, history) = page(&app, &browser, "/access-log").await;
    assert!(
        history.contains("Created a registration letter for your online services"),
        "{history}"
    );
    assert!(history.contains("Entered the details from your registration letter"));
    let (_, link_again) = page(&app, &browser, "/link-record").await;
    assert!(
        link_again.contains("Your identity has already been checked"),
        "{link_again}"
    );

    // Used once: the same letter again (as if by someone else, or a second
    // submission) is refused and changes nothing.
    sqlx::query("update accounts set identity_level = 'P5' where email = $1")
        .bind(CAROL)
        .execute(&app.db.pool)
        .await
        .expect("back to P5");
    let (to, refused) = try_letter(&app, &browser, &carols(&letter, &letter.key)).await;
    assert_eq!(to, "/link-record");
    assert!(
        refused.contains("This registration letter has already been used"),
        "{refused}"
    );
    assert_eq!(
        log_rows(&app, "use_registration_letter", "refused").await,
        1
    );
    let (_, used) = page(&app, &reception, &format!("/staff/patients/{carol}")).await;
    assert!(
        used.contains("Used") && used.contains("Create a new letter"),
        "{used}"
    );
    assert!(!used.contains("Cancel this letter"));
}

#[tokio::test]
async fn wrong_details_say_how_many_tries_are_left_and_the_third_locks_the_letter() {
    let app = TestApp::spawn().await;
    let carol = app.fixtures.carol;
    let reception = staff(&app, RECEPTION_A).await;
    let letter = create_letter(&app, &reception, carol).await;
    let browser = carol_signs_up(&app).await;

    // The shape of each field is checked before anything is looked up.
    let (to, checked) = try_letter(
        &app,
        &browser,
        &details(&letter, "short", "", ("31", "2", "1990"), "A8"),
    )
    .await;
    assert_eq!(to, "/link-record");
    for message in [
        "Linkage key must be 15 letters and numbers",
        "Enter your last name",
        "Date of birth must be a real date",
        "ODS code must be 3 to 6 letters and numbers",
    ] {
        assert!(checked.contains(message), "{message} in {checked}");
    }
    assert_eq!(
        app.count("select count(*) from linkage_keys where failed_attempts > 0")
            .await,
        0,
        "a form that is not even the right shape is no try at the letter"
    );

    // A wrong last name, then a wrong key, then a wrong date of birth.
    let (_, first) = try_letter(
        &app,
        &browser,
        &details(&letter, &letter.key, "Testpersen", CAROL_DOB, "A81001"),
    )
    .await;
    assert!(
        first.contains("do not match your registration letter"),
        "{first}"
    );
    assert!(
        first.contains("You can try 2 more times before the letter stops working"),
        "{first}"
    );
    // What was typed is kept, except the key.
    assert!(first.contains("value=\"Testpersen\""), "{first}");
    assert!(first.contains(&format!("value=\"{}\"", letter.account_id)));
    assert!(
        !first.contains(&letter.key),
        "the key is never put back into the page"
    );

    let wrong_key = if letter.key.starts_with('A') {
        "BBBBB BBBBB BBBBB"
    } else {
        "AAAAA AAAAA AAAAA"
    };
    let (_, second) = try_letter(
        &app,
        &browser,
        &details(&letter, wrong_key, "Testperson", CAROL_DOB, "A81001"),
    )
    .await;
    assert!(
        second.contains("You can try 1 more time before"),
        "{second}"
    );

    let (_, third) = try_letter(
        &app,
        &browser,
        &details(
            &letter,
            &letter.key,
            "Testperson",
            ("15", "7", "1990"),
            "A81001",
        ),
    )
    .await;
    assert!(
        third.contains("stopped working because wrong details were entered too many times"),
        "{third}"
    );
    assert!(third.contains("Ask your GP practice for a new letter"));

    // Locked: even the right details no longer work.
    let (_, locked) = try_letter(&app, &browser, &carols(&letter, &letter.key)).await;
    assert!(locked.contains("stopped working"), "{locked}");
    assert_eq!(
        app.count("select count(*) from linkage_keys where status = 'locked' and failed_attempts = 3 and ended_at is not null").await,
        1
    );
    assert_eq!(page(&app, &browser, "/home").await.1, "/prove-identity");
    assert_eq!(
        log_rows(&app, "use_registration_letter", "refused").await,
        4
    );
    assert_eq!(
        log_rows(&app, "use_registration_letter", "allowed").await,
        0
    );
    let (_, status) = page(&app, &reception, &format!("/staff/patients/{carol}")).await;
    assert!(
        status.contains("Locked after wrong details") && status.contains("3 of 3"),
        "{status}"
    );

    // A wrong ODS code counts as wrong details too, on a new letter.
    let fresh = create_letter(&app, &reception, carol).await;
    let (_, wrong_practice) = try_letter(
        &app,
        &browser,
        &details(&fresh, &fresh.key, "Testperson", CAROL_DOB, "B82002"),
    )
    .await;
    assert!(
        wrong_practice.contains("You can try 2 more times"),
        "{wrong_practice}"
    );
}

#[tokio::test]
async fn expired_cancelled_and_replaced_letters_are_refused() {
    let app = TestApp::spawn().await;
    let carol = app.fixtures.carol;
    let reception = staff(&app, RECEPTION_A).await;
    let browser = carol_signs_up(&app).await;

    let expired = create_letter(&app, &reception, carol).await;
    sqlx::query("update linkage_keys set expires_at = $1")
        .bind(chrono::Utc::now().timestamp() - 1)
        .execute(&app.db.pool)
        .await
        .expect("expire it");
    let (_, refused) = try_letter(&app, &browser, &carols(&expired, &expired.key)).await;
    assert!(
        refused.contains(
            "This registration letter has expired. Ask your GP practice for a new letter"
        ),
        "{refused}"
    );
    let (_, status) = page(&app, &reception, &format!("/staff/patients/{carol}")).await;
    assert!(status.contains("Expired"), "{status}");

    // A new letter replaces (cancels) the old one.
    let replacement = create_letter(&app, &reception, carol).await;
    assert_ne!(replacement.account_id, expired.account_id);
    assert_eq!(
        app.count("select count(*) from linkage_keys where status = 'revoked'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from linkage_keys where status = 'active'")
            .await,
        1
    );

    // Staff cancel the new one.
    let res = app
        .post_form_with(
            &reception,
            "/api/revoke_registration_letter",
            &[("patient", &carol.to_string())],
        )
        .await;
    assert_eq!(
        location(&res),
        format!("/staff/patients/{carol}?letter=cancelled")
    );
    let (_, cancelled) = page(&app, &reception, &location(&res)).await;
    assert!(
        cancelled.contains("The registration letter has been cancelled"),
        "{cancelled}"
    );
    assert!(cancelled.contains("Cancelled") && !cancelled.contains("Cancel this letter"));
    assert_eq!(
        app.count("select count(*) from linkage_keys where status = 'active'")
            .await,
        0
    );

    // The expired one was replaced, the replacement cancelled: both are
    // now cancelled letters.
    for letter in [&expired, &replacement] {
        let (_, refused) = try_letter(&app, &browser, &carols(letter, &letter.key)).await;
        assert!(
            refused.contains("has been cancelled, or replaced by a newer one"),
            "{refused}"
        );
    }
    assert_eq!(page(&app, &browser, "/home").await.1, "/prove-identity");

    // An account ID no letter has: refused, and nothing to log it against.
    let logged = app.count("select count(*) from access_log").await;
    let unknown = Letter {
        account_id: "000 000 0000".into(),
        key: String::new(),
    };
    let (_, missing) = try_letter(&app, &browser, &carols(&unknown, &replacement.key)).await;
    assert!(
        missing.contains("could not find a registration letter with that account ID"),
        "{missing}"
    );
    assert_eq!(app.count("select count(*) from access_log").await, logged);

    assert_eq!(
        log_rows(&app, "issue_registration_letter", "allowed").await,
        2
    );
    assert_eq!(
        log_rows(&app, "revoke_registration_letter", "allowed").await,
        2,
        "replaced, then cancelled"
    );
    assert_eq!(
        log_rows(&app, "use_registration_letter", "refused").await,
        3
    );
}

#[tokio::test]
async fn guessing_account_ids_is_limited_per_address() {
    let app = TestApp::spawn().await;
    let reception = staff(&app, RECEPTION_A).await;
    let letter = create_letter(&app, &reception, app.fixtures.carol).await;
    let browser = carol_signs_up(&app).await;
    for n in 0..20 {
        let guess = Letter {
            account_id: format!("{:010}", 1_000_000 + n),
            key: String::new(),
        };
        let (_, answer) = try_letter(&app, &browser, &carols(&guess, &letter.key)).await;
        assert!(
            answer.contains("could not find a registration letter"),
            "{answer}"
        );
    }
    // Even the right letter must wait now.
    let (_, throttled) = try_letter(&app, &browser, &carols(&letter, &letter.key)).await;
    assert!(
        throttled.contains("You have tried too many times. Wait 15 minutes"),
        "{throttled}"
    );
    assert_eq!(
        app.count(
            "select count(*) from linkage_keys where status = 'active' and failed_attempts = 0"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn only_staff_of_the_patients_practice_manage_letters_and_refusals_are_logged() {
    let app = TestApp::spawn().await;
    let carol = app.fixtures.carol.to_string();
    let other_practice = staff(&app, RECEPTION_B).await;
    for function in [
        "/api/issue_registration_letter",
        "/api/revoke_registration_letter",
        "/api/staff_patient",
    ] {
        let res = app
            .call(&other_practice, function, &[("patient", &carol)])
            .await;
        assert_eq!(res.status(), 403, "{function}");
    }
    assert_eq!(app.count("select count(*) from linkage_keys").await, 0);
    assert_eq!(
        log_rows(&app, "issue_registration_letter", "refused").await,
        1
    );
    assert_eq!(
        log_rows(&app, "revoke_registration_letter", "refused").await,
        1
    );
    assert_eq!(log_rows(&app, "view_personal_details", "refused").await, 1);
    // Not even the letter page of another practice's patient.
    let (_, shown) = page(
        &app,
        &other_practice,
        &format!("/staff/patients/{carol}/letter"),
    )
    .await;
    assert!(
        shown.contains("This letter has already been shown"),
        "nothing to show: {shown}"
    );

    // Patients cannot create letters; staff cannot use them; nobody can
    // use one without signing in.
    let sarah = client();
    app.sign_in_with(&sarah, SARAH).await;
    let res = app
        .call(
            &sarah,
            "/api/issue_registration_letter",
            &[("patient", &carol)],
        )
        .await;
    assert_eq!(res.status(), 403);
    let (_, staff_page) = page(&app, &sarah, &format!("/staff/patients/{carol}/letter")).await;
    assert_eq!(staff_page, "/forbidden");
    let fields = [
        ("account_id", "1234567890"),
        ("linkage_key", "ABCDEFGHJKMNPQR"),
    ];
    let res = app.call(&other_practice, "/api/link_record", &fields).await;
    assert_eq!(res.status(), 403);
    let res = app.call(&client(), "/api/link_record", &fields).await;
    assert_eq!(res.status(), 401);
    let (code, anonymous) = page(&app, &client(), "/link-record").await;
    assert_eq!(code, 200);
    assert!(anonymous.contains("sign in first"), "{anonymous}");
    assert_eq!(app.count("select count(*) from linkage_keys").await, 0);
}

/// Someone signs in with NHS login whose NHS number matches no record (or
/// who has none): the callback sends them to /link-record, and a letter
/// links their NHS login to the record.
#[tokio::test]
async fn an_nhs_login_that_matched_no_record_is_linked_by_a_letter() {
    let (app, provider) = spawn_with_nhs_login().await;

    // Hana (Hillside, no online account): a new account that signs in
    // through NHS login only, proved by the letter.
    let hillside = staff(&app, RECEPTION_B).await;
    let hana = app.fixtures.other_practice_patient;
    let letter = create_letter(&app, &hillside, hana).await;
    let browser = client();
    assert_eq!(
        sign_in_with_nhs_login(&app, &browser, &provider, "nobody.p9@nhslogin.test").await,
        "/link-record"
    );
    let (code, form) = page(&app, &browser, "/link-record").await;
    assert_eq!(code, 200);
    assert!(form.contains("Linkage key"), "{form}");
    let hana_details = |key: &'static str| (key, "Testperson", ("27", "3", "1984"), "B82002");
    let (_, wrong) = {
        let (key, name, dob, ods) = hana_details("AAAAA AAAAA AAAAB");
        try_letter(&app, &browser, &details(&letter, key, name, dob, ods)).await
    };
    assert!(wrong.contains("You can try 2 more times"), "{wrong}");
    assert_eq!(
        app.count("select count(*) from access_log where action = 'use_registration_letter' and outcome = 'refused' and actor_account_id is null").await,
        1,
        "a refusal for someone with no account yet"
    );
    let (to, home) = try_letter(
        &app,
        &browser,
        &details(
            &letter,
            &letter.key,
            "Testperson",
            ("27", "3", "1984"),
            "B82002",
        ),
    )
    .await;
    assert_eq!(to, "/home?linked=1");
    assert!(
        home.contains("Your online account is now linked to your GP record"),
        "{home}"
    );
    assert!(home.contains("Hello, Hana"), "{home}");
    assert_eq!(
        app.count(&format!(
            "select count(*) from accounts a join nhs_login_links l on l.account_id = a.id
             where a.patient_id = {} and a.identity_level = 'P9' and a.email = 'nobody.p9@nhslogin.test'",
            hana.0
        ))
        .await,
        1
    );
    assert_eq!(log_rows(&app, "link_nhs_login", "allowed").await, 1);
    assert_eq!(
        log_rows(&app, "use_registration_letter", "allowed").await,
        1
    );

    // Bob (Riverside, no NHS number, an account already): NHS login at P0
    // with no NHS number is linked to his account by his letter.
    let riverside = staff(&app, RECEPTION_A).await;
    let bob = app.fixtures.bob;
    let bobs = create_letter(&app, &riverside, bob).await;
    let other = client();
    assert_eq!(
        sign_in_with_nhs_login(&app, &other, &provider, "p0@nhslogin.test").await,
        "/link-record"
    );
    let (to, home) = try_letter(
        &app,
        &other,
        &details(
            &bobs,
            &bobs.key,
            "TESTPERSON",
            ("27", "03", "1984"),
            "a81001",
        ),
    )
    .await;
    assert_eq!(to, "/home?linked=1");
    assert!(home.contains("Hello, Bob"), "{home}");
    assert_eq!(
        app.count("select count(*) from nhs_login_links l join accounts a on a.id = l.account_id where a.email = 'bob@example.com'").await,
        1
    );
    // Next time NHS login alone signs them in.
    let later = client();
    assert_eq!(
        sign_in_with_nhs_login(&app, &later, &provider, "p0@nhslogin.test").await,
        "/"
    );
    assert_eq!(page(&app, &later, "/home").await.0, 200);
}

/// The same form sent several times at once (a double click, a retry):
/// the letter is used once, and the account linked once.
#[tokio::test]
async fn a_letter_sent_several_times_at_once_links_once() {
    let app = TestApp::spawn().await;
    let reception = staff(&app, RECEPTION_A).await;
    let letter = create_letter(&app, &reception, app.fixtures.carol).await;
    let browser = carol_signs_up(&app).await;
    let form = carols(&letter, &letter.key);
    let sends = (0..5).map(|_| app.post_form_with(&browser, "/api/link_record", &form));
    let answers = futures_util::future::join_all(sends).await;
    for answer in &answers {
        let to = location(answer);
        assert!(
            to == "/home?linked=1" || to == "/home" || to == "/link-record",
            "{to}"
        );
    }
    assert_eq!(
        log_rows(&app, "use_registration_letter", "allowed").await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from security_events where event = 'identity_checked_by_letter'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from linkage_keys where status = 'used'")
            .await,
        1
    );
    assert_eq!(page(&app, &browser, "/home").await.0, 200);
}
