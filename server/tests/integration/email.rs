//! Account emails end to end over HTTP, with a real SMTP server
//! (aiosmtpd) receiving what the portal sends: sign-up and confirmation,
//! password reset, changes of password and email address, preferences.
//! Runs on SQLite and on PostgreSQL like the rest of the suite.

use crate::common;

use common::mail::{MailSink, Received};
use common::*;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn with_mail() -> (TestApp, MailSink) {
    let sink = MailSink::start().await;
    let app = TestApp::spawn_with(|c| sink.configure(&mut c.email)).await;
    (app, sink)
}

fn carol_sign_up<'a>(email: &'a str, family: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("email", email),
        ("given_name", "Carol"),
        ("family_name", family),
        ("dob_day", CAROL_DOB.0),
        ("dob_month", CAROL_DOB.1),
        ("dob_year", CAROL_DOB.2),
        ("nhs_number", CAROL_NHS),
        ("password", PASSWORD),
    ]
}

/// Nothing clinical or identifying beyond a first name ever goes in an email.
fn assert_no_clinical_detail(email: &Received) {
    for secret in [
        CAROL_NHS,
        "999 000 1014",
        SARAH_NHS,
        "943 476 5919",
        "1990-07-14",
        "14 July 1990",
        "Testperson",
        PASSWORD,
    ] {
        assert!(
            !email.raw.contains(secret),
            "email must not contain {secret}:\n{}",
            email.raw
        );
    }
}

/// Where a new browser lands after signing in: "/" when the password is accepted.
async fn fresh_sign_in(app: &TestApp, email: &str, password: &str) -> String {
    let res = app
        .post_form_with(
            &client(),
            "/api/sign_in",
            &[("email", email), ("password", password)],
        )
        .await;
    location(&res)
}

/// Posts a form without JavaScript and reads the page it sends the browser to.
async fn post_and_follow(app: &TestApp, path: &str, form: &[(&str, &str)]) -> String {
    let res = app.post_form(path, form).await;
    app.get(&location(&res)).await.text().await.expect("body")
}

fn path_of(link: &str, base: &str) -> String {
    link.strip_prefix(base).unwrap_or(link).to_owned()
}

fn token_of(link: &str) -> String {
    link.split("token=").nth(1).unwrap_or("").to_owned()
}

#[tokio::test]
async fn sign_up_sends_a_confirmation_email_and_the_record_waits_for_a_proved_identity() {
    let (app, sink) = with_mail().await;
    let res = app
        .post_form(
            "/api/sign_up",
            &carol_sign_up("carol@example.com", "testperson"),
        )
        .await;
    assert_eq!(location(&res), "/sign-up/check-email");
    let page = app
        .get("/sign-up/check-email")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("carol@example.com"));

    let email = sink.wait_for_to("carol@example.com", WAIT).await;
    assert_eq!(email.envelope_to, vec!["carol@example.com".to_owned()]);
    assert_eq!(email.to, "carol@example.com");
    assert_eq!(email.from, "GP online services <no-reply@portal.test>");
    assert_eq!(
        email.subject,
        "Confirm your email address - GP online services"
    );
    assert!(
        email.message_id.ends_with("@portal.test"),
        "{}",
        email.message_id
    );
    assert!(email.text.contains("Hello Carol,"));
    assert!(
        email.text.contains("Riverside Surgery"),
        "the practice's name"
    );
    assert!(email.html.contains("Confirm your email address"));
    assert_no_clinical_detail(&email);
    let link = email
        .link(&format!("{}/verify-email?token=", app.base))
        .expect("a confirmation link");
    assert!(
        email.html.contains(&link),
        "the HTML part carries the same link"
    );

    // Signed in but not confirmed: no record yet, only the confirm page.
    let res = app
        .post_form(
            "/api/sign_in",
            &[("email", "carol@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/");
    assert_eq!(location(&app.get("/home").await), "/confirm-email");
    let refused = app
        .call(
            &app.client,
            "/api/patient_details",
            &[("patient", &app.fixtures.carol.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 403);
    let page = app.get("/confirm-email").await.text().await.expect("body");
    assert!(page.contains("carol@example.com"));

    // Following the link: a page with a button, then the form post.
    let page = app.get(&path_of(&link, &app.base)).await;
    assert_eq!(page.status(), 200);
    let res = app
        .post_form("/api/confirm_email", &[("token", &token_of(&link))])
        .await;
    assert_eq!(location(&res), "/email-confirmed");
    // Confirmed, but knowing someone's details is not proof of being them:
    // the record waits for NHS login at P9 or the practice's letter.
    assert_eq!(location(&app.get("/home").await), "/prove-identity");
    assert_eq!(
        app.count("select count(*) from accounts where email = 'carol@example.com' and identity_level = 'P5'")
            .await,
        1
    );
    // As the registration letter does (tested in linkage.rs):
    sqlx::query("update accounts set identity_level = 'P9' where email = 'carol@example.com'")
        .execute(&app.db.pool)
        .await
        .expect("raise");
    let home = app.get("/home").await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.expect("body").contains("Hello, Carol"));
    // Linking the account to her record is in her access log.
    let log = app.get("/access-log").await.text().await.expect("body");
    assert!(
        log.contains("Created an online account for your record"),
        "{log}"
    );

    // The link is used up.
    let again = app
        .post_form("/api/confirm_email", &[("token", &token_of(&link))])
        .await;
    assert!(location(&again).starts_with("/verify-email"));
    let page = app.get(&location(&again)).await.text().await.expect("body");
    assert!(page.contains("This link has already been used"), "{page}");
    assert_eq!(sink.received().len(), 1, "one email, sent once");
}

#[tokio::test]
async fn sign_up_answers_the_same_whatever_the_details_and_tells_only_the_mailbox() {
    let (app, sink) = with_mail().await;
    // Details that match nobody, and an address that already has an account.
    let wrong = app
        .post_form(
            "/api/sign_up",
            &carol_sign_up("someone@example.com", "Notthem"),
        )
        .await;
    let taken = app
        .post_form("/api/sign_up", &carol_sign_up(SARAH, "Testperson"))
        .await;
    assert_eq!(location(&wrong), "/sign-up/check-email");
    assert_eq!(location(&taken), "/sign-up/check-email");
    let not_matched = sink.wait_for_to("someone@example.com", WAIT).await;
    assert_eq!(
        not_matched.subject,
        "We could not create your account - GP online services"
    );
    let already = sink.wait_for_to(SARAH, WAIT).await;
    assert_eq!(
        already.subject,
        "You already have an account - GP online services"
    );
    assert!(
        already
            .text
            .contains(&format!("{}/forgot-password", app.base))
    );
    assert_no_clinical_detail(&not_matched);
    assert_eq!(
        app.count("select count(*) from accounts where email = 'someone@example.com'")
            .await,
        0
    );
    // Carol's record was not linked by the failed attempt, nor by Sarah's address.
    assert_eq!(
        app.count(&format!(
            "select count(*) from accounts where patient_id = {}",
            app.fixtures.carol
        ))
        .await,
        0
    );
}

#[tokio::test]
async fn bad_sign_up_input_is_explained_kept_and_writes_nothing() {
    let (app, _sink) = with_mail().await;
    let mut form = carol_sign_up("carol@", "Testperson");
    form[1] = ("given_name", "Carol\r\nBcc: evil@example.com");
    form[3] = ("dob_day", "31");
    form[4] = ("dob_month", "2");
    form[7] = ("password", "short");
    let res = app.post_form("/api/sign_up", &form).await;
    assert_eq!(location(&res), "/sign-up");
    let page = app.get("/sign-up").await.text().await.expect("body");
    for message in [
        "Enter an email address in the correct format, like name@example.com",
        "First name must only include letters, spaces, hyphens and apostrophes",
        "Date of birth must be a real date",
        "Password must be at least 12 characters",
    ] {
        assert!(page.contains(message), "{message}");
    }
    assert!(page.contains("value=\"carol@\""), "the email is kept");
    assert!(
        page.contains(&format!("value=\"{CAROL_NHS}\"")),
        "the NHS number is kept"
    );
    assert!(!page.contains("value=\"short\""), "the password is not");
    assert_eq!(app.count("select count(*) from outbox").await, 0);
    assert_eq!(
        app.count("select count(*) from accounts where email like 'carol%'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_practice_name_cannot_add_a_header_or_a_recipient() {
    use server::outbox::store::{EmailPayload, NewEmail, enqueue};
    let (app, sink) = with_mail().await;
    let hostile = "Riverside\r\nBcc: evil@example.com\r\nSubject: Pay now";
    sqlx::query("update practices set name = $1")
        .bind(hostile)
        .execute(&app.db.pool)
        .await
        .expect("a hostile practice name");
    // In a body (sign-up confirmation) and in a subject (a new-message notice).
    app.post_form(
        "/api/sign_up",
        &carol_sign_up("carol@example.com", "Testperson"),
    )
    .await;
    let mut tx = app.db.begin_write().await.expect("tx");
    enqueue(
        &mut tx,
        NewEmail {
            kind: domain::notifications::EmailKind::NewMessage,
            recipient: domain::Email::parse(SARAH).expect("email"),
            account: None,
            payload: EmailPayload {
                name: Some("Sarah".into()),
                practice_name: Some(hostile.into()),
                ..Default::default()
            },
            link_token: None,
        },
        "portal.test",
        chrono::Utc::now().timestamp(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    let notice = sink.wait_for_to(SARAH, WAIT).await;
    let confirmation = sink.wait_for_to("carol@example.com", WAIT).await;
    for email in [&notice, &confirmation] {
        assert_eq!(email.envelope_to.len(), 1, "no one else");
        let headers = email.raw.split("\r\n\r\n").next().unwrap_or("");
        assert!(!headers.to_lowercase().contains("\nbcc:"), "{headers}");
        assert_eq!(headers.matches("\nSubject:").count(), 1, "{headers}");
    }
    assert_eq!(
        notice.subject,
        "New message from Riverside Bcc: evil@example.com Subject: Pay now - GP online services"
    );
    assert!(!notice.text.contains("\r\nBcc"));
}

#[tokio::test]
async fn a_password_reset_link_works_once_and_ends_every_session() {
    let (app, sink) = with_mail().await;
    // Signed in elsewhere before the reset.
    let other_device = client();
    app.sign_in_with(&other_device, SARAH).await;

    let res = app
        .post_form("/api/request_password_reset", &[("email", SARAH)])
        .await;
    assert_eq!(location(&res), "/forgot-password/sent");
    let unknown = app
        .post_form(
            "/api/request_password_reset",
            &[("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(
        location(&unknown),
        "/forgot-password/sent",
        "the same answer for an unknown address"
    );

    let email = sink.wait_for_to(SARAH, WAIT).await;
    assert_eq!(email.subject, "Reset your password - GP online services");
    assert!(email.text.contains("30 minutes"));
    assert_no_clinical_detail(&email);
    let link = email
        .link(&format!("{}/reset-password?token=", app.base))
        .expect("reset link");
    let token = token_of(&link);
    // Only the hash is stored.
    assert_eq!(
        app.count(&format!(
            "select count(*) from account_tokens where token_hash = '{token}'"
        ))
        .await,
        0
    );
    assert_eq!(app.get(&path_of(&link, &app.base)).await.status(), 200);

    let res = app
        .post_form(
            "/api/reset_password",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/password-reset-done");
    assert_eq!(
        app.count("select count(*) from security_events where event = 'password_reset'")
            .await,
        1,
        "the reset is recorded"
    );
    // The other device is signed out; the new password works and the old does not.
    let elsewhere = other_device
        .get(app.url("/home"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(location(&elsewhere), "/sign-in");
    assert_eq!(fresh_sign_in(&app, SARAH, PASSWORD).await, "/sign-in");
    assert_eq!(fresh_sign_in(&app, SARAH, NEW_PASSWORD).await, "/");
    let notice = sink
        .wait_for(2, WAIT)
        .await
        .into_iter()
        .find(|m| m.subject.starts_with("Your password has been changed"))
        .expect("a notice");
    assert_eq!(notice.envelope_to, vec![SARAH.to_owned()]);
    assert!(sink.to("nobody@example.com").is_empty());

    // Used twice: refused, nothing changes.
    let page = post_and_follow(
        &app,
        "/api/reset_password",
        &[("token", &token), ("password", "yet another passphrase")],
    )
    .await;
    assert!(page.contains("This link has already been used"), "{page}");
    assert_eq!(fresh_sign_in(&app, SARAH, NEW_PASSWORD).await, "/");
}

#[tokio::test]
async fn expired_and_tampered_reset_links_are_refused_plainly() {
    let (app, sink) = with_mail().await;
    app.post_form("/api/request_password_reset", &[("email", SARAH)])
        .await;
    let email = sink.wait_for_to(SARAH, WAIT).await;
    let token = token_of(
        &email
            .link(&format!("{}/reset-password?token=", app.base))
            .expect("link"),
    );

    let mut tampered = token.clone();
    let last = if tampered.ends_with('A') { "B" } else { "A" };
    tampered.replace_range(42..43, last);
    for (bad, message) in [
        (tampered.as_str(), "This link is not valid"),
        ("not-even-a-token", "This link is not valid"),
    ] {
        let page = post_and_follow(
            &app,
            "/api/reset_password",
            &[("token", bad), ("password", NEW_PASSWORD)],
        )
        .await;
        assert!(page.contains(message), "{bad}: {page}");
    }

    sqlx::query("update account_tokens set expires_at = expires_at - 1801")
        .execute(&app.db.pool)
        .await
        .expect("age the link");
    let page = post_and_follow(
        &app,
        "/api/reset_password",
        &[("token", &token), ("password", NEW_PASSWORD)],
    )
    .await;
    assert!(page.contains("This link has expired"), "{page}");
    // Nothing changed: the old password still works.
    assert_eq!(fresh_sign_in(&app, SARAH, PASSWORD).await, "/");
}

#[tokio::test]
async fn changing_the_email_address_needs_the_new_one_confirmed_and_tells_the_old_one() {
    let (app, sink) = with_mail().await;
    app.sign_in(SARAH).await;
    let res = app
        .post_form(
            "/api/request_email_change",
            &[("email", "not an email"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/account/email");
    let page = app.get("/account/email").await.text().await.expect("body");
    assert!(page.contains("Enter an email address in the correct format"));
    assert!(page.contains("value=\"not an email\""));

    let res = app
        .post_form(
            "/api/request_email_change",
            &[
                ("email", "sarah.new@example.com"),
                ("password", "wrong password!!"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account/email");
    assert!(sink.received().is_empty());

    let res = app
        .post_form(
            "/api/request_email_change",
            &[("email", "Sarah.New@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert!(location(&res).starts_with("/account"), "{}", location(&res));
    let confirm = sink.wait_for_to("sarah.new@example.com", WAIT).await;
    assert_eq!(
        confirm.subject,
        "Confirm your new email address - GP online services"
    );
    // Not changed until confirmed.
    assert_eq!(
        app.count(&format!(
            "select count(*) from accounts where email = '{SARAH}'"
        ))
        .await,
        1
    );
    let link = confirm
        .link(&format!("{}/confirm-email-change?token=", app.base))
        .expect("link");
    let res = app
        .post_form("/api/confirm_email_change", &[("token", &token_of(&link))])
        .await;
    assert_eq!(location(&res), "/email-changed");
    assert_eq!(
        app.count("select count(*) from security_events where event = 'email_changed'")
            .await,
        1,
        "the change is recorded"
    );
    let notice = sink.wait_for_to(SARAH, WAIT).await;
    assert_eq!(
        notice.subject,
        "Your email address has been changed - GP online services"
    );
    assert_eq!(
        fresh_sign_in(&app, "sarah.new@example.com", PASSWORD).await,
        "/"
    );
}

#[tokio::test]
async fn changing_the_password_signs_out_other_devices_and_sends_a_notice() {
    let (app, sink) = with_mail().await;
    let other_device = client();
    app.sign_in_with(&other_device, SARAH).await;
    app.sign_in(SARAH).await;
    let res = app
        .post_form(
            "/api/change_password",
            &[
                ("current_password", "not my password"),
                ("password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(location(&res), "/account/password");
    let res = app
        .post_form(
            "/api/change_password",
            &[("current_password", PASSWORD), ("password", NEW_PASSWORD)],
        )
        .await;
    assert!(location(&res).starts_with("/account"), "{}", location(&res));
    assert_eq!(
        app.count("select count(*) from security_events where event = 'password_changed'")
            .await,
        1,
        "the change is recorded"
    );
    assert_eq!(
        app.get("/home").await.status(),
        200,
        "this device stays signed in"
    );
    let elsewhere = other_device
        .get(app.url("/home"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(
        location(&elsewhere),
        "/sign-in",
        "the other device is signed out"
    );
    let notice = sink.wait_for_to(SARAH, WAIT).await;
    assert_eq!(
        notice.subject,
        "Your password has been changed - GP online services"
    );
}

#[tokio::test]
async fn optional_emails_follow_preferences_and_security_emails_always_go() {
    use domain::notifications::EmailKind;
    use server::outbox::store::{EmailPayload, Enqueued, NewEmail, enqueue};
    let (app, _sink) = with_mail().await;
    app.sign_in(SARAH).await;
    let res = app
        .post_form(
            "/api/set_email_preferences",
            &[("appointment_reminders", "on")],
        )
        .await;
    assert!(location(&res).starts_with("/account"));
    let page = app.get(&location(&res)).await.text().await.expect("body");
    assert!(page.contains("Your email preferences have been saved"));
    let account = domain::AccountId(
        app.count(&format!("select id from accounts where email = '{SARAH}'"))
            .await,
    );
    let mut tx = app.db.begin_write().await.expect("tx");
    let mut write = async |kind| {
        enqueue(
            &mut tx,
            NewEmail {
                kind,
                recipient: domain::Email::parse(SARAH).expect("email"),
                account: Some(account),
                payload: EmailPayload::default(),
                link_token: None,
            },
            "portal.test",
            chrono::Utc::now().timestamp(),
        )
        .await
        .expect("enqueue")
    };
    assert_eq!(write(EmailKind::NewMessage).await, Enqueued::NotWanted);
    assert_eq!(
        write(EmailKind::AppointmentReminder).await,
        Enqueued::Written
    );
    assert_eq!(write(EmailKind::PasswordChanged).await, Enqueued::Written);
    tx.rollback().await.expect("rollback");
}

#[tokio::test]
async fn without_a_mail_server_emails_go_to_the_log_and_the_development_mailbox() {
    let app = TestApp::spawn().await;
    assert!(
        app.get("/dev/emails")
            .await
            .text()
            .await
            .expect("body")
            .contains("Development mailbox")
    );
    app.post_form("/api/request_password_reset", &[("email", SARAH)])
        .await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let page = app.get("/dev/emails").await.text().await.expect("body");
        if page.contains("Reset your password - GP online services") {
            assert!(page.contains(&format!("{}/reset-password?token=", app.base)));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email in the development mailbox"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // With a real mail server configured, the page does not exist.
    let (with_smtp, _sink) = with_mail().await;
    assert_eq!(with_smtp.get("/dev/emails").await.status(), 404);
}

#[tokio::test]
async fn a_log_only_mailbox_is_refused_outside_localhost() {
    let url = fresh_database_url().await;
    let db = server::db::connect(&database_config(&url))
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    let mut config = serve_config(&url);
    config.public_url = "https://portal.example.nhs.uk".into();
    let err = server::web::build(config.clone(), db.clone())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("Set PORTAL_SMTP_HOST"), "{err}");
    // Nor when it listens beyond this machine, whatever the public URL says.
    let mut listening_widely = serve_config(&url);
    listening_widely.addr = "0.0.0.0:0".parse().expect("addr");
    let err = server::web::build(listening_widely, db.clone())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("Set PORTAL_SMTP_HOST"), "{err}");
    config.email.smtp_host = Some("mail.example.nhs.uk".into());
    config.email.smtp_tls = server::config::SmtpTls::None;
    let err = server::web::build(config, db).await.expect_err("refused");
    assert!(err.to_string().contains("unencrypted"), "{err}");
}

#[tokio::test]
async fn wrong_passwords_in_account_settings_are_limited_like_sign_ins() {
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    for _ in 0..5 {
        let res = app
            .post_form(
                "/api/change_password",
                &[
                    ("current_password", "a wrong guess!!"),
                    ("password", NEW_PASSWORD),
                ],
            )
            .await;
        assert_eq!(location(&res), "/account/password");
    }
    // Even the right password is refused now, and nothing changes.
    let res = app
        .post_form(
            "/api/change_password",
            &[("current_password", PASSWORD), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/account/password");
    let page = app
        .get("/account/password")
        .await
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("You have entered a wrong password too many times"),
        "{page}"
    );
    let res = app
        .post_form(
            "/api/request_email_change",
            &[("email", "new@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&res), "/account/email");
    assert_eq!(app.count("select count(*) from outbox").await, 0);
}
