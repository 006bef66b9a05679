//! Signing in with NHS login against a real OpenID provider (npm
//! `oidc-provider`, configured like NHS login by testing/oidc-provider.mjs):
//! the whole authorization code flow with private_key_jwt, identity levels
//! and step-up, linking by NHS number and date of birth, and every refusal.

use crate::common;

use common::oidc::{
    Provider, callback_for, log_in_at_provider, sign_in_with_nhs_login, spawn_with_nhs_login,
    spawn_with_nhs_login_users, submit_provider_form,
};
use common::{TestApp, client, location};

async fn links(app: &TestApp) -> i64 {
    app.count("select count(*) from nhs_login_links").await
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get")
}

fn query_value(url: &str, name: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
        .to_owned()
}

fn with_query_value(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("a query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| {
            if pair.starts_with(&format!("{name}=")) {
                format!("{name}={value}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

#[tokio::test]
async fn a_p9_patient_signs_in_and_is_linked_to_their_record() {
    let (app, provider) = spawn_with_nhs_login().await;
    let browser = client();
    let start = get(&app, &browser, "/auth/nhs-login").await;
    let authorize = location(&start);
    // NHS login's request: code flow, PKCE, state, nonce, the scopes and a vtr.
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "scope=openid+profile+email+phone",
        "vtr=",
        "state=",
        "nonce=",
    ] {
        assert!(authorize.contains(part), "{part} missing from {authorize}");
    }
    assert!(
        !authorize.contains("prompt=login"),
        "a first sign-in does not force a login"
    );

    let landed = sign_in_with_nhs_login(&app, &browser, &provider, "sarah.p9@nhslogin.test").await;
    assert_eq!(landed, "/");
    let home = get(&app, &browser, "/home").await;
    assert_eq!(home.status(), 200, "a P9 sign-in opens the record");
    assert!(home.text().await.expect("body").contains("Sarah"));
    // Linked to Sarah's existing account, and the link is in her access log.
    assert_eq!(links(&app).await, 1);
    assert_eq!(
        app.count(&format!(
            "select count(*) from nhs_login_links l join accounts a on a.id = l.account_id where a.email = '{}'",
            common::SARAH
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from access_log where action = 'link_nhs_login' and patient_id = {}",
            app.fixtures.sarah.0
        ))
        .await,
        1
    );

    // Signing in again finds the link and creates nothing new.
    let again = client();
    assert_eq!(
        sign_in_with_nhs_login(&app, &again, &provider, "sarah.p9@nhslogin.test").await,
        "/"
    );
    assert_eq!(links(&app).await, 1);
    assert_eq!(
        app.count("select count(*) from access_log where action = 'link_nhs_login'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_portal_publishes_only_its_public_key() {
    let (app, _provider) = spawn_with_nhs_login().await;
    let res = get(&app, &client(), "/.well-known/jwks.json").await;
    assert_eq!(res.status(), 200);
    let jwks: serde_json::Value = res.json().await.expect("json");
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["kid"], "portal-test-1");
    assert!(key["n"].is_string() && key["e"].is_string());
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(
            key.get(private).is_none(),
            "{private} must never be published"
        );
    }
    // Without NHS login configured there is nothing at that address, and
    // the sign-in page offers only practice accounts.
    let plain = TestApp::spawn().await;
    assert_eq!(plain.get("/.well-known/jwks.json").await.status(), 404);
    let page = plain.get("/sign-in").await.text().await.expect("body");
    assert!(!page.contains("Continue with NHS login"));
    let page = app.get("/sign-in").await.text().await.expect("body");
    assert!(page.contains("Continue with NHS login"));
}

#[tokio::test]
async fn a_p5_patient_is_offered_a_step_up_and_then_sees_their_record() {
    let (app, provider) = spawn_with_nhs_login().await;
    let browser = client();
    let accounts_before = app.count("select count(*) from accounts").await;
    assert_eq!(
        sign_in_with_nhs_login(&app, &browser, &provider, "carol.p5@nhslogin.test").await,
        "/"
    );
    // Carol had no account: one that signs in only through NHS login now.
    assert_eq!(
        app.count("select count(*) from accounts").await,
        accounts_before + 1
    );
    assert_eq!(
        app.count(
            "select count(*) from accounts where password_hash = '!' and identity_level = 'P0'"
        )
        .await,
        1
    );
    // P5 opens the account, not the record: a step-up is offered instead.
    let account = get(&app, &browser, "/account").await;
    assert_eq!(account.status(), 200);
    let account = account.text().await.expect("body");
    // No password here to change: NHS login manages it.
    assert!(account.contains("With NHS login"), "{account}");
    assert!(!account.contains("/account/password"));
    let home = get(&app, &browser, "/home").await;
    assert_eq!(location(&home), "/prove-identity");
    let offer = get(&app, &browser, "/prove-identity")
        .await
        .text()
        .await
        .expect("body");
    assert!(offer.contains("Continue with NHS login"));
    assert!(offer.contains("/auth/nhs-login?level=P9"));
    let refused = app
        .call(
            &browser,
            "/api/patient_details",
            &[("patient", &app.fixtures.carol.0.to_string())],
        )
        .await;
    assert_eq!(refused.status(), 403);

    // The step-up asks for P9 only and makes NHS login sign her in again.
    let start = get(&app, &browser, "/auth/nhs-login?level=P9").await;
    let authorize = location(&start);
    assert!(authorize.contains("prompt=login"), "{authorize}");
    let vtr = urlencoding_decode(&query_value(&authorize, "vtr"));
    assert_eq!(vtr, r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#);
    // (prompt=login: the provider's login page again, then its ID check)
    let prove = log_in_at_provider(
        &app,
        &browser,
        &provider,
        authorize,
        "carol.p5@nhslogin.test",
    )
    .await
    .expect_err("NHS login asks her to prove who she is");
    assert!(prove.contains("Prove who you are"));
    let callback =
        submit_provider_form(&app, &browser, &provider, &prove, "/confirm-identity", &[])
            .await
            .expect("back to the portal");
    let done = browser.get(&callback).send().await.expect("callback");
    assert_eq!(location(&done), "/");
    let home = get(&app, &browser, "/home").await;
    assert_eq!(home.status(), 200, "P9 now: the record opens");
    assert!(home.text().await.expect("body").contains("Carol"));
}

/// Percent-decoding for the few characters a vtr holds.
fn urlencoding_decode(s: &str) -> String {
    s.replace("%5B", "[")
        .replace("%5D", "]")
        .replace("%22", "\"")
        .replace("%2C", ",")
}

#[tokio::test]
async fn someone_who_matches_no_record_is_offered_the_registration_letter() {
    let (app, provider) = spawn_with_nhs_login().await;
    let accounts_before = app.count("select count(*) from accounts").await;
    for email in ["nobody.p9@nhslogin.test", "p0@nhslogin.test"] {
        let browser = client();
        assert_eq!(
            sign_in_with_nhs_login(&app, &browser, &provider, email).await,
            "/link-record",
            "{email}"
        );
        // Not signed in to any record, and nothing created.
        assert_eq!(location(&get(&app, &browser, "/home").await), "/sign-in");
    }
    assert_eq!(
        app.count("select count(*) from accounts").await,
        accounts_before
    );
    assert_eq!(links(&app).await, 0);
}

async fn assert_refused(app: &TestApp, browser: &reqwest::Client, landed: &str, reason: &str) {
    assert_eq!(landed, format!("/nhs-login/problem?reason={reason}"));
    assert_eq!(links(app).await, 0, "nothing linked");
    assert_eq!(
        location(&get(app, browser, "/home").await),
        "/sign-in",
        "not signed in"
    );
    let page = get(app, browser, landed).await.text().await.expect("body");
    assert!(page.contains("NHS login"), "{page}");
}

#[tokio::test]
async fn a_wrong_state_is_refused_and_the_sign_in_cannot_be_finished_after() {
    let (app, provider) = spawn_with_nhs_login().await;
    let browser = client();
    let callback = callback_for(
        &app,
        &browser,
        &provider,
        "/auth/nhs-login",
        "sarah.p9@nhslogin.test",
    )
    .await;
    let forged = with_query_value(&callback, "state", "not-the-state-we-sent");
    let res = browser.get(&forged).send().await.expect("callback");
    assert_refused(&app, &browser, &location(&res), "state").await;
    let page = get(&app, &browser, "/nhs-login/problem?reason=state")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("We could not sign you in with NHS login"));
    // The pending sign-in was used up by the forged attempt.
    let res = browser.get(&callback).send().await.expect("callback");
    assert_refused(&app, &browser, &location(&res), "expired").await;
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let (app, provider) = spawn_with_nhs_login().await;
    let first = client();
    let used = callback_for(
        &app,
        &first,
        &provider,
        "/auth/nhs-login",
        "sarah.p9@nhslogin.test",
    )
    .await;
    assert_eq!(
        location(&first.get(&used).send().await.expect("callback")),
        "/"
    );
    assert_eq!(links(&app).await, 1);

    // Someone replays the code in a sign-in of their own: the state is
    // theirs, the code is spent.
    let attacker = client();
    let start = get(&app, &attacker, "/auth/nhs-login").await;
    let their_state = query_value(&location(&start), "state");
    let replay = with_query_value(&used, "state", &their_state);
    let res = attacker.get(&replay).send().await.expect("callback");
    assert_eq!(location(&res), "/nhs-login/problem?reason=refused");
    assert_eq!(location(&get(&app, &attacker, "/home").await), "/sign-in");
}

#[tokio::test]
async fn tampered_id_tokens_are_refused_and_link_nothing() {
    let (app, provider) = spawn_with_nhs_login().await;
    for behaviour in [
        "wrong-nonce",
        "other-key",
        "unknown-kid",
        "expired",
        "wrong-audience",
    ] {
        let browser = client();
        let landed = sign_in_with_nhs_login(
            &app,
            &browser,
            &provider,
            &format!("{behaviour}@nhslogin.test"),
        )
        .await;
        assert_eq!(
            landed, "/nhs-login/problem?reason=invalid-token",
            "{behaviour}"
        );
        assert_refused(&app, &browser, &landed, "invalid-token").await;
    }
}

#[tokio::test]
async fn cancelling_at_nhs_login_changes_nothing() {
    let (app, provider) = spawn_with_nhs_login().await;
    let browser = client();
    let start = get(&app, &browser, "/auth/nhs-login?level=P9").await;
    let prove = log_in_at_provider(
        &app,
        &browser,
        &provider,
        location(&start),
        "carol.p5@nhslogin.test",
    )
    .await
    .expect_err("step-up page");
    let callback = submit_provider_form(&app, &browser, &provider, &prove, "/cancel", &[])
        .await
        .expect("back to the portal");
    let res = browser.get(&callback).send().await.expect("callback");
    assert_refused(&app, &browser, &location(&res), "cancelled").await;
    let page = get(&app, &browser, "/nhs-login/problem?reason=cancelled")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("You did not finish signing in with NHS login"));
}

#[tokio::test]
async fn a_provider_that_is_down_gets_a_plain_answer() {
    let (app, mut provider) = spawn_with_nhs_login().await;
    // Down in the middle of a sign-in: the code cannot be exchanged.
    let browser = client();
    let callback = callback_for(
        &app,
        &browser,
        &provider,
        "/auth/nhs-login",
        "sarah.p9@nhslogin.test",
    )
    .await;
    provider.stop().await;
    let res = browser.get(&callback).send().await.expect("callback");
    assert_refused(&app, &browser, &location(&res), "unavailable").await;
    let page = get(&app, &browser, "/nhs-login/problem?reason=unavailable")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("NHS login is not available right now"));
    assert!(page.contains("practice account"));

    // Down before anyone starts (nothing cached): the same plain answer.
    let (fresh, mut down) = spawn_with_nhs_login().await;
    down.stop().await;
    let started = std::time::Instant::now();
    let res = fresh.get("/auth/nhs-login").await;
    assert_eq!(location(&res), "/nhs-login/problem?reason=unavailable");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    drop::<Provider>(down);
}

/// NHS numbers as NHS login might send them: spaced or hyphenated ones are
/// read once normalised; one with a wrong check digit, the wrong length or
/// letters links nothing, even when the date of birth matches.
#[tokio::test]
async fn only_a_valid_nhs_number_and_the_same_date_of_birth_link_a_record() {
    let user = |email: &str, sub: &str, nhs: &str, birthdate: &str| {
        serde_json::json!({
            "email": email, "password": common::oidc::NHS_LOGIN_PASSWORD, "sub": sub,
            "level": "P9", "nhs_number": nhs, "birthdate": birthdate,
            "given_name": "Sarah", "family_name": "Testperson", "phone_number": "+447700900001"
        })
    };
    let users = serde_json::json!([
        user(
            "check-digit@nhslogin.test",
            "s-check",
            "9434765918",
            "1984-03-27"
        ),
        user("short@nhslogin.test", "s-short", "943476591", "1984-03-27"),
        user(
            "letters@nhslogin.test",
            "s-letters",
            "94347659AB",
            "1984-03-27"
        ),
        user(
            "other-birthday@nhslogin.test",
            "s-birthday",
            "9434765919",
            "1984-03-28"
        ),
        user(
            "spaced@nhslogin.test",
            "s-spaced",
            "943 476-5919",
            "1984-03-27"
        ),
    ]);
    let file = std::env::temp_dir().join(format!("portal-oidc-users-{}.json", std::process::id()));
    std::fs::write(&file, users.to_string()).expect("users file");
    let (app, provider) = spawn_with_nhs_login_users(Some(&file)).await;
    for email in [
        "check-digit@nhslogin.test",
        "short@nhslogin.test",
        "letters@nhslogin.test",
        "other-birthday@nhslogin.test",
    ] {
        let browser = client();
        assert_eq!(
            sign_in_with_nhs_login(&app, &browser, &provider, email).await,
            "/link-record",
            "{email} must not be linked"
        );
    }
    assert_eq!(links(&app).await, 0);
    let browser = client();
    assert_eq!(
        sign_in_with_nhs_login(&app, &browser, &provider, "spaced@nhslogin.test").await,
        "/"
    );
    assert_eq!(get(&app, &browser, "/home").await.status(), 200);
    assert_eq!(links(&app).await, 1);
}
