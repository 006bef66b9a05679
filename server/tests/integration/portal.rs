//! The portal over real HTTP, on a fresh database per test. The same suite
//! runs on SQLite (default) and on PostgreSQL (PORTAL_TEST_DATABASE_URL).

use crate::common;

use app::access_rules::{API_ACCESS, api_access};
use common::*;
use domain::Access;

#[tokio::test]
async fn a_patient_signs_in_without_javascript_and_sees_their_home() {
    let app = TestApp::spawn().await;
    // Anonymous visitors to a signed-in page are sent to sign in.
    assert_eq!(location(&app.get("/home").await), "/sign-in");
    app.sign_in(SARAH).await;
    let res = app.get("/").await;
    assert_eq!(location(&res), "/home");
    let res = app.get("/home").await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let body = res.text().await.expect("body");
    assert!(body.contains("Hello, Sarah"), "{}", common::backend());
    assert!(body.contains("943 476 5919"));
    assert!(body.contains("Riverside Surgery"));
    // Reading the details wrote an access-log row.
    let rows = app
        .count("select count(*) from access_log where action = 'view_personal_details' and outcome = 'allowed'")
        .await;
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn a_patient_without_an_nhs_number_is_still_served() {
    let app = TestApp::spawn().await;
    app.sign_in("bob@example.com").await;
    let body = app.get("/home").await.text().await.expect("body");
    assert!(body.contains("Hello, Bob"));
    assert!(body.contains("Not yet assigned"));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer_and_keep_the_email() {
    let app = TestApp::spawn().await;
    let wrong = app
        .post_form(
            "/api/sign_in",
            &[("email", SARAH), ("password", "not-her-password")],
        )
        .await;
    assert_eq!(location(&wrong), "/sign-in");
    let page = app.get("/sign-in").await.text().await.expect("body");
    assert!(page.contains("Enter a correct email address and password"));
    assert!(
        page.contains(&format!("value=\"{SARAH}\"")),
        "the email is kept"
    );
    assert!(
        !page.contains("not-her-password"),
        "the password is never sent back"
    );
    // Shown once: a reload is clean.
    let again = app.get("/sign-in").await.text().await.expect("body");
    assert!(!again.contains("There is a problem"));

    let c = client();
    let known: serde_json::Value = app
        .call(
            &c,
            "/api/sign_in",
            &[("email", SARAH), ("password", "nope-nope-nope")],
        )
        .await
        .json()
        .await
        .expect("json");
    let unknown: serde_json::Value = app
        .call(
            &c,
            "/api/sign_in",
            &[
                ("email", "nobody@example.com"),
                ("password", "nope-nope-nope"),
            ],
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(known["errors"], unknown["errors"]);
}

#[tokio::test]
async fn empty_and_over_long_fields_get_plain_messages() {
    let app = TestApp::spawn().await;
    let c = client();
    let empty: serde_json::Value = app
        .call(&c, "/api/sign_in", &[("email", ""), ("password", "")])
        .await
        .json()
        .await
        .expect("json");
    let messages: Vec<&str> = empty["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert_eq!(
        messages,
        vec!["Enter your email address", "Enter your password"]
    );
    let long_email = format!("{}@example.com", "a".repeat(10_000));
    let long: serde_json::Value = app
        .call(
            &c,
            "/api/sign_in",
            &[("email", &long_email), ("password", &"p".repeat(10_000))],
        )
        .await
        .json()
        .await
        .expect("json");
    let text = long.to_string();
    assert!(text.contains("254 characters or fewer"));
    assert!(text.contains("128 characters or fewer"));
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_and_per_address() {
    let app = TestApp::spawn().await;
    for _ in 0..domain::throttle::MAX_FAILURES_PER_ACCOUNT {
        app.post_form(
            "/api/sign_in",
            &[("email", SARAH), ("password", "wrong-wrong-wrong")],
        )
        .await;
    }
    // Even the right password is refused now, with a plain message.
    let res = app
        .post_form("/api/sign_in", &[("email", SARAH), ("password", PASSWORD)])
        .await;
    assert_eq!(location(&res), "/sign-in");
    let page = app.get("/sign-in").await.text().await.expect("body");
    assert!(page.contains("too many times. Wait 15 minutes"), "{page}");

    // Per address: many different emails from one address.
    let app = TestApp::spawn().await;
    for i in 0..domain::throttle::MAX_FAILURES_PER_ADDRESS {
        let email = format!("guess{i}@example.com");
        app.post_form(
            "/api/sign_in",
            &[("email", email.as_str()), ("password", "wrong-wrong-wrong")],
        )
        .await;
    }
    let res = app
        .post_form("/api/sign_in", &[("email", SARAH), ("password", PASSWORD)])
        .await;
    assert_eq!(location(&res), "/sign-in", "the address is throttled");
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_sign_out_ends_it() {
    let app = TestApp::spawn().await;
    // A failed attempt leaves feedback in an anonymous session.
    let before = app
        .post_form(
            "/api/sign_in",
            &[("email", SARAH), ("password", "wrong-wrong-wrong")],
        )
        .await;
    let anonymous_cookie = header(&before, "set-cookie");
    assert!(
        anonymous_cookie.starts_with("portal_session="),
        "{anonymous_cookie}"
    );
    let after = app.sign_in(SARAH).await;
    let signed_in_cookie = header(&after, "set-cookie");
    let id = |c: &str| c.split(';').next().unwrap_or("").to_owned();
    assert_ne!(
        id(&anonymous_cookie),
        id(&signed_in_cookie),
        "session fixation: id must change at sign-in"
    );
    assert!(signed_in_cookie.contains("HttpOnly"));
    assert!(signed_in_cookie.contains("SameSite=Lax"));

    let out = app.post_form("/api/sign_out", &[]).await;
    assert_eq!(location(&out), "/signed-out");
    assert_eq!(location(&app.get("/home").await), "/sign-in");

    // The old cookie is worthless once signed out.
    let replay = client()
        .get(app.url("/home"))
        .header("accept", "text/html")
        .header("cookie", id(&signed_in_cookie))
        .send()
        .await
        .expect("get");
    assert_eq!(location(&replay), "/sign-in");
}

#[tokio::test]
async fn inactive_sessions_end_with_an_explanation() {
    use sqlx::Row;
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    assert_eq!(app.get("/home").await.status(), 200);
    // Pretend 16 minutes have passed since the last request.
    let rows = sqlx::query("select id, data from sessions")
        .fetch_all(&app.db.pool)
        .await
        .expect("sessions");
    for row in rows {
        let id: String = row.try_get("id").expect("id");
        let mut data: serde_json::Value =
            serde_json::from_str(&row.try_get::<String, _>("data").expect("data")).expect("json");
        if let Some(auth) = data.get_mut("auth") {
            let last = auth["last_seen_at"].as_i64().expect("last seen");
            auth["last_seen_at"] = serde_json::json!(last - 16 * 60);
            sqlx::query("update sessions set data = $1 where id = $2")
                .bind(data.to_string())
                .bind(id)
                .execute(&app.db.pool)
                .await
                .expect("update");
        }
    }
    let res = app.get("/home").await;
    assert_eq!(location(&res), "/signed-out?reason=inactive");
    let page = app
        .get("/signed-out?reason=inactive")
        .await
        .text()
        .await
        .expect("body");
    assert!(page.contains("had not done anything for 15 minutes"));
    assert_eq!(
        location(&app.get("/home").await),
        "/sign-in",
        "the session is gone"
    );
}

/// Every server function is in the access table, and each one that is not
/// public refuses an anonymous caller before doing anything.
#[tokio::test]
async fn every_server_function_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path)
        .collect();
    assert!(
        registered.len() >= API_ACCESS.len(),
        "server functions are registered: {registered:?}"
    );
    for path in &registered {
        assert!(
            api_access(path).is_some(),
            "{path} has no access rule in app::access_rules::API_ACCESS"
        );
    }
    let anonymous = client();
    let mut refused = 0;
    for (path, access) in API_ACCESS {
        assert!(
            registered.contains(path),
            "{path} is in the table but not registered"
        );
        if *access == Access::Public {
            continue;
        }
        let res = app
            .call(
                &anonymous,
                path,
                &[("patient", "1"), ("nhs_number", SARAH_NHS)],
            )
            .await;
        assert_eq!(res.status(), 401, "{path} must refuse anonymous callers");
        refused += 1;
    }
    assert!(refused >= 5);
    // Nothing was read, so nothing was logged.
    assert_eq!(app.count("select count(*) from access_log").await, 0);
}

#[tokio::test]
async fn a_patient_cannot_call_staff_functions_or_read_another_patient() {
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    for (path, access) in API_ACCESS {
        if let Access::Requires(p) = access
            && !domain::Role::Patient.has(*p)
        {
            let res = app
                .call(&app.client, path, &[("nhs_number", SARAH_NHS)])
                .await;
            assert_eq!(res.status(), 403, "{path} must refuse a patient");
        }
    }
    let other = app.fixtures.bob.0.to_string();
    let res = app
        .call(
            &app.client,
            "/api/patient_details",
            &[("patient", other.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(!res.text().await.expect("body").contains("Bob"));
    let res = app
        .call(
            &app.client,
            "/api/access_history",
            &[("patient", other.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);
    // The refusals are in Bob's access log.
    let refused = app
        .count(&format!(
            "select count(*) from access_log where patient_id = {other} and outcome = 'refused'"
        ))
        .await;
    assert_eq!(refused, 2);
    // Their own record works.
    let own = app.fixtures.sarah.0.to_string();
    let res = app
        .call(
            &app.client,
            "/api/patient_details",
            &[("patient", own.as_str())],
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn staff_see_only_their_own_practices_patients() {
    let app = TestApp::spawn().await;
    app.sign_in(RECEPTION_B).await;
    let res = app
        .post_form("/api/find_patient", &[("nhs_number", SARAH_NHS)])
        .await;
    assert_eq!(location(&res), "/staff");
    let page = app.get("/staff").await.text().await.expect("body");
    assert!(page.contains("No patient with that NHS number is registered at this practice"));
    assert!(
        page.contains(&format!("value=\"{SARAH_NHS}\"")),
        "the typed number is kept"
    );
    let sarah = app.fixtures.sarah.0.to_string();
    let res = app
        .call(
            &app.client,
            "/api/patient_details",
            &[("patient", sarah.as_str())],
        )
        .await;
    assert_eq!(res.status(), 403);

    let app = TestApp::spawn().await;
    app.sign_in(RECEPTION_A).await;
    // The field the form really sends is the one the server function reads.
    let form = app.get("/staff").await.text().await.expect("body");
    assert!(form.contains(r#"name="nhs_number""#), "{form}");
    let res = app
        .post_form("/api/find_patient", &[("nhs_number", "943 476 5919")])
        .await;
    assert_eq!(
        location(&res),
        format!("/staff/patients/{}", app.fixtures.sarah)
    );
    let page = app.get(&location(&res)).await.text().await.expect("body");
    assert!(page.contains("Sarah Testperson"));
    let logged = app.count("select count(*) from access_log where actor_role = 'receptionist' and outcome = 'allowed'").await;
    assert_eq!(logged, 2, "finding and viewing are both logged");
    // A malformed number gets a plain message.
    app.post_form("/api/find_patient", &[("nhs_number", "943476591X")])
        .await;
    let page = app.get("/staff").await.text().await.expect("body");
    assert!(page.contains("NHS number must contain only numbers, spaces or hyphens"));
}

#[tokio::test]
async fn the_patient_sees_who_accessed_their_record() {
    let app = TestApp::spawn().await;
    let receptionist = client();
    app.sign_in_with(&receptionist, RECEPTION_A).await;
    app.post_form_with(
        &receptionist,
        "/api/find_patient",
        &[("nhs_number", SARAH_NHS)],
    )
    .await;
    app.sign_in(SARAH).await;
    let page = app.get("/access-log").await.text().await.expect("body");
    assert!(
        page.contains("Staff reception@a.example.com (Receptionist)"),
        "{page}"
    );
    assert!(page.contains("Looked up your record by NHS number"));
}

/// Sarah's correct sign-in, sent as a plain form with exactly these extra
/// headers (none added for origin), to test the origin checks.
async fn sign_in_sent_with(app: &TestApp, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/sign_in"))
        .header("accept", "text/html");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .form(&[("email", SARAH), ("password", PASSWORD)])
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn cross_origin_form_posts_are_refused() {
    let app = TestApp::spawn().await;
    let forged = sign_in_sent_with(&app, &[("origin", "https://attacker.example")]).await;
    assert_eq!(forged.status(), 403);
    assert!(
        header(&forged, "set-cookie").is_empty(),
        "no session was started"
    );
    let no_origin = sign_in_sent_with(&app, &[]).await;
    assert_eq!(no_origin.status(), 403);
    let from_referer = sign_in_sent_with(&app, &[("referer", &app.url("/sign-in"))]).await;
    assert_eq!(location(&from_referer), "/");
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_security_headers() {
    let app = TestApp::spawn().await;
    let res = app.get("/sign-in").await;
    let csp = header(&res, "content-security-policy");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("nonce in CSP")
        .to_owned();
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(header(&res, "referrer-policy"), "same-origin");
    assert!(!header(&res, "x-request-id").is_empty());
    let body = res.text().await.expect("body");
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "the hydration script carries the header's nonce"
    );
    // A fresh nonce every response.
    let again = header(&app.get("/sign-in").await, "content-security-policy");
    assert_ne!(csp, again);
    // Compression is on.
    let gz = app
        .client
        .get(app.url("/accessibility"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("get");
    assert_eq!(header(&gz, "content-encoding"), "gzip");
}

#[tokio::test]
async fn cookies_are_secure_when_served_over_https() {
    let app = TestApp::spawn_with(|c| {
        c.public_url = "https://portal.example.nhs.uk".to_owned();
        // Off localhost a real mail server is required (never contacted here).
        c.email.smtp_host = Some("mail.example.nhs.uk".to_owned());
    })
    .await;
    let res = sign_in_sent_with(&app, &[("origin", "https://portal.example.nhs.uk")]).await;
    let cookie = header(&res, "set-cookie");
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(header(&res, "strict-transport-security").contains("max-age="));
}

#[tokio::test]
async fn if_the_access_log_cannot_be_written_the_data_is_not_shown() {
    let app = TestApp::spawn().await;
    app.sign_in(SARAH).await;
    sqlx::query("alter table access_log rename to access_log_unavailable")
        .execute(&app.db.pool)
        .await
        .expect("rename");
    let own = app.fixtures.sarah.0.to_string();
    let res = app
        .call(
            &app.client,
            "/api/patient_details",
            &[("patient", own.as_str())],
        )
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let body = res.text().await.expect("body");
    assert!(
        !body.contains("Sarah") && !body.contains(SARAH_NHS),
        "{body}"
    );
    assert!(
        !body.contains("access_log") && !body.to_lowercase().contains("sql"),
        "no database detail: {body}"
    );
    let page = app.get("/home").await.text().await.expect("body");
    assert!(page.contains("Sorry, there is a problem with the service"));
    assert!(!page.contains("9434765919") && !page.contains("943 476 5919"));
    assert!(
        !page.contains("access_log_unavailable")
            && !page.contains("no such table")
            && !page.contains("relation")
    );
}

#[tokio::test]
async fn the_cookie_key_survives_a_restart() {
    let app = TestApp::spawn().await;
    let res = app.sign_in(SARAH).await;
    let cookie = header(&res, "set-cookie")
        .split(';')
        .next()
        .unwrap_or("")
        .to_owned();
    // A new server on the same database (a restart, or a second instance)
    // loads the same key, so the same browser stays signed in.
    let mut config = app.config.clone();
    config.public_url = "http://127.0.0.1:0".to_owned();
    let second = start(&mut config, app.db.clone()).await;
    let res = client()
        .get(format!("{second}/home"))
        .header("accept", "text/html")
        .header("cookie", cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200, "still signed in after the restart");
    assert_eq!(
        app.count("select count(*) from server_secrets where name = 'cookie_key'")
            .await,
        1
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.db.pool.close().await;
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn unknown_pages_get_a_404_page_and_staff_pages_are_closed_to_patients() {
    let app = TestApp::spawn().await;
    let res = app.get("/no-such-page").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.expect("body").contains("Page not found"));
    app.sign_in(SARAH).await;
    for page in [
        "/staff",
        &format!("/staff/patients/{}", app.fixtures.sarah),
        "/admin",
    ] {
        let res = app.get(page).await;
        assert_eq!(location(&res), "/forbidden", "{page}");
    }
    let res = app.get("/forbidden").await;
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("You do not have permission to see this.")
    );
}

/// Every page the router can render is in the page access table (which
/// fails closed for anything signed-in), so a new page cannot be added
/// without deciding who may open it.
#[tokio::test]
async fn every_page_has_an_access_rule() {
    let routes = leptos_axum::generate_route_list(app::App);
    assert!(routes.len() >= 10);
    for route in routes {
        let pattern = route.path().replace('{', ":").replace('}', "");
        assert!(
            app::access_rules::PAGE_ACCESS
                .iter()
                .any(|(p, _)| *p == pattern),
            "{pattern} has no rule in app::access_rules::PAGE_ACCESS"
        );
    }
}

/// An unknown email costs about as much as a wrong password (a dummy hash is
/// verified), so response times do not reveal who has an account.
#[tokio::test]
async fn unknown_emails_take_as_long_as_wrong_passwords() {
    let app = TestApp::spawn().await;
    let c = client();
    let timed = |email: String| {
        let app = &app;
        let c = &c;
        async move {
            let started = std::time::Instant::now();
            app.call(
                c,
                "/api/sign_in",
                &[("email", email.as_str()), ("password", "wrong-wrong-wrong")],
            )
            .await;
            started.elapsed()
        }
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    // Below both throttle limits: 4 per account, 8 from this address.
    for i in 0..4 {
        known.push(timed(SARAH.to_owned()).await);
        unknown.push(timed(format!("nobody{i}@example.com")).await);
    }
    known.sort();
    unknown.sort();
    let (known, unknown) = (known[2], unknown[2]);
    assert!(
        unknown * 3 > known,
        "unknown email answered in {unknown:?}, wrong password in {known:?}: the dummy verification is missing"
    );
}

/// A form post the server cannot make sense of (here, a field name the
/// server function does not know) sends a browser without JavaScript back to
/// the page with a plain message, never a blank page or a stack trace.
#[tokio::test]
async fn a_failed_plain_form_post_is_explained_on_the_page() {
    let app = TestApp::spawn().await;
    app.sign_in(RECEPTION_A).await;
    let res = app
        .client
        .post(app.url("/api/find_patient"))
        .header("origin", &app.base)
        .header("referer", app.url("/staff"))
        .header("accept", "text/html")
        .form(&[("nhs-number", SARAH_NHS)])
        .send()
        .await
        .expect("post");
    let back = location(&res);
    assert!(back.contains("/staff") && back.contains("__err="), "{back}");
    let page = app
        .client
        .get(&back)
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let body = page.text().await.expect("body");
    assert!(
        body.contains("Sorry, we could not understand that request"),
        "{body}"
    );
}
