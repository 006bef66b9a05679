//! "Your devices" over real HTTP: a person sees where they are signed in,
//! signs out another device or every device, and can touch no one else's
//! sessions. Runs on SQLite and PostgreSQL (PORTAL_TEST_DATABASE_URL).

use crate::common;

use common::*;
use server::stores::devices::handle_of;
use sqlx::Row;

const ANDROID_CHROME: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
const WINDOWS_FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0";
const IPHONE_SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const BOB: &str = "bob@example.com";

/// A browser of its own (cookies, no redirects followed) that says what it is.
fn browser(user_agent: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn get_with(app: &TestApp, client: &reqwest::Client, path: &str) -> reqwest::Response {
    client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get")
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let res = get_with(app, client, path).await;
    assert_eq!(res.status(), 200, "{path} on {}", backend());
    res.text().await.expect("body")
}

/// Still signed in: their home page opens rather than sending them to sign in.
async fn signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = get_with(app, client, "/home").await;
    match res.status().as_u16() {
        200 => true,
        _ => {
            assert_eq!(location(&res), "/sign-in", "{}", backend());
            false
        }
    }
}

async fn account_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query("select id from accounts where email = $1")
        .bind(email)
        .fetch_one(&app.db.pool)
        .await
        .expect("account")
        .try_get::<i64, _>("id")
        .expect("id")
}

/// The ids of the account's stored sessions, with each one's JSON.
async fn sessions_of(app: &TestApp, email: &str) -> Vec<(String, String)> {
    let account = account_id(app, email).await;
    sqlx::query("select id, data from sessions where account_id = $1")
        .bind(account)
        .fetch_all(&app.db.pool)
        .await
        .expect("sessions")
        .into_iter()
        .map(|row| {
            (
                row.try_get::<String, _>("id").expect("id"),
                row.try_get::<String, _>("data").expect("data"),
            )
        })
        .collect()
}

/// The id of the account's session begun by a browser whose User-Agent
/// contains `marker`.
async fn session_id_of(app: &TestApp, email: &str, marker: &str) -> String {
    sessions_of(app, email)
        .await
        .into_iter()
        .find(|(_, data)| data.contains(marker))
        .map(|(id, _)| id)
        .expect("a session from that browser")
}

async fn security_events(app: &TestApp, email: &str, event: &str) -> i64 {
    let account = account_id(app, email).await;
    sqlx::query(
        "select count(*) from security_events where account_id = $1 and actor_account_id = $1 and event = $2",
    )
    .bind(account)
    .bind(event)
    .fetch_one(&app.db.pool)
    .await
    .expect("count")
    .try_get::<i64, _>(0)
    .expect("i64")
}

/// The `value` of every hidden `handle` input on the page.
fn handles_on(html: &str) -> Vec<String> {
    html.split("name=\"handle\"")
        .skip(1)
        .filter_map(|rest| {
            let value = rest.split("value=\"").nth(1)?;
            Some(value.split('"').next()?.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_person_sees_both_sign_ins_and_signs_the_other_one_out() {
    let app = TestApp::spawn().await;
    let phone = browser(ANDROID_CHROME);
    let laptop = browser(WINDOWS_FIREFOX);
    let bobs = browser(IPHONE_SAFARI);
    app.sign_in_with(&phone, SARAH).await;
    app.sign_in_with(&laptop, SARAH).await;
    app.sign_in_with(&bobs, BOB).await;

    // The account page leads there.
    let account = page(&app, &laptop, "/account").await;
    assert!(account.contains("href=\"/account/devices\""));

    let listed = page(&app, &laptop, "/account/devices").await;
    assert!(listed.contains("<h1>Your devices</h1>"), "{listed}");
    assert!(listed.contains("Chrome on Android"));
    assert!(listed.contains("Firefox on Windows"));
    assert!(
        !listed.contains("Safari on iPhone"),
        "someone else's session is not listed"
    );
    assert_eq!(listed.matches(">This device<").count(), 1, "one tag");
    // This device comes first, tagged; the other has a sign-out button.
    let laptop_at = listed.find("Firefox on Windows").expect("laptop");
    let phone_at = listed.find("Chrome on Android").expect("phone");
    let tag_at = listed.find(">This device<").expect("tag");
    assert!(laptop_at < tag_at && tag_at < phone_at, "{listed}");
    assert!(listed.contains("Last active"));
    assert!(listed.contains(" at "), "times are written out");

    // The page names sessions by handle, never by id: an id is a bearer
    // credential for the session.
    for (id, _) in sessions_of(&app, SARAH).await {
        assert!(!listed.contains(&id), "session id {id} leaked");
    }
    let phone_id = session_id_of(&app, SARAH, "Android").await;
    let handles = handles_on(&listed);
    assert_eq!(handles, vec![handle_of(&phone_id)], "one button: the phone");

    // Sign the phone out, as a form without JavaScript does.
    let res = app
        .post_form_with(&laptop, "/api/sign_out_device", &[("handle", &handles[0])])
        .await;
    assert_eq!(location(&res), "/account/devices", "{}", backend());
    let after = page(&app, &laptop, "/account/devices").await;
    assert!(
        after.contains("You signed out of Chrome on Android"),
        "{after}"
    );
    assert!(
        !after.contains("name=\"handle\""),
        "no other device is left"
    );
    let again = page(&app, &laptop, "/account/devices").await;
    assert!(
        !again.contains("You signed out of"),
        "the banner shows once"
    );

    assert!(!signed_in(&app, &phone).await, "the phone is signed out");
    assert!(signed_in(&app, &laptop).await, "this device is not");
    assert!(signed_in(&app, &bobs).await, "nor is anyone else");
    assert_eq!(
        security_events(&app, SARAH, "signed_out_other_device").await,
        1
    );
}

#[tokio::test]
async fn another_persons_session_cannot_be_signed_out() {
    let app = TestApp::spawn().await;
    let sarahs = browser(WINDOWS_FIREFOX);
    let bobs = browser(ANDROID_CHROME);
    app.sign_in_with(&sarahs, SARAH).await;
    app.sign_in_with(&bobs, BOB).await;
    let bobs_handle = handle_of(&session_id_of(&app, BOB, "Android").await);

    for handle in [bobs_handle.as_str(), "not-a-handle", ""] {
        let res = app
            .post_form_with(&sarahs, "/api/sign_out_device", &[("handle", handle)])
            .await;
        assert_eq!(location(&res), "/account/devices", "{handle:?}");
        let refused = page(&app, &sarahs, "/account/devices").await;
        assert!(refused.contains("There is a problem"), "{refused}");
        assert!(
            refused.contains("That device is not signed in to your account"),
            "{refused}"
        );
        assert!(refused.contains("href=\"#device-list\""));
        assert!(refused.contains("<title>Error: Your devices"));
    }
    // The hydrated app's call gets the same answer in the response.
    let answer: serde_json::Value = app
        .call(&sarahs, "/api/sign_out_device", &[("handle", &bobs_handle)])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(answer["errors"][0]["field"], "device-list", "{answer}");

    assert!(signed_in(&app, &bobs).await, "Bob is still signed in");
    assert!(signed_in(&app, &sarahs).await);
    assert_eq!(app.count("select count(*) from security_events").await, 0);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_the_account() {
    let app = TestApp::spawn().await;
    let phone = browser(ANDROID_CHROME);
    let laptop = browser(WINDOWS_FIREFOX);
    let tablet = browser(IPHONE_SAFARI);
    let bobs = browser(ANDROID_CHROME);
    for device in [&phone, &laptop, &tablet] {
        app.sign_in_with(device, SARAH).await;
    }
    app.sign_in_with(&bobs, BOB).await;
    assert_eq!(sessions_of(&app, SARAH).await.len(), 3);

    let res = app
        .post_form_with(&laptop, "/api/sign_out_everywhere", &[])
        .await;
    assert_eq!(location(&res), "/signed-out?reason=everywhere");
    assert!(
        header(&res, "set-cookie").contains("Max-Age=0"),
        "this browser's cookie is cleared too: {}",
        header(&res, "set-cookie")
    );
    let explained = page(&app, &laptop, "/signed-out?reason=everywhere").await;
    assert!(explained.contains("on every device, including this one"));

    for device in [&phone, &laptop, &tablet] {
        assert!(!signed_in(&app, device).await);
    }
    assert!(sessions_of(&app, SARAH).await.is_empty());
    assert!(signed_in(&app, &bobs).await, "Bob is still signed in");
    assert_eq!(
        security_events(&app, SARAH, "signed_out_everywhere").await,
        1
    );
    assert_eq!(
        location(&get_with(&app, &laptop, "/account/devices").await),
        "/sign-in"
    );
}

#[tokio::test]
async fn sessions_that_timed_out_or_began_without_a_browser_name_are_shown_rightly() {
    let app = TestApp::spawn().await;
    let current = browser(WINDOWS_FIREFOX);
    let idle = browser(ANDROID_CHROME);
    // reqwest sends no User-Agent unless told to.
    let nameless = client();
    app.sign_in_with(&current, SARAH).await;
    app.sign_in_with(&idle, SARAH).await;
    app.sign_in_with(&nameless, SARAH).await;

    // The phone has done nothing for 16 minutes: it is signed out on its
    // next request, so it is no longer a way in and is not listed.
    let idle_id = session_id_of(&app, SARAH, "Android").await;
    let (_, data) = sessions_of(&app, SARAH)
        .await
        .into_iter()
        .find(|(id, _)| *id == idle_id)
        .expect("idle session");
    let mut data: serde_json::Value = serde_json::from_str(&data).expect("json");
    let last = data["auth"]["last_seen_at"].as_i64().expect("last seen");
    data["auth"]["last_seen_at"] = serde_json::json!(last - 16 * 60);
    sqlx::query("update sessions set data = $1 where id = $2")
        .bind(data.to_string())
        .bind(&idle_id)
        .execute(&app.db.pool)
        .await
        .expect("update");

    let listed = page(&app, &current, "/account/devices").await;
    assert!(!listed.contains("Chrome on Android"), "{listed}");
    assert!(listed.contains("Unknown browser"));
    assert_eq!(handles_on(&listed).len(), 1, "only the nameless one");

    // Its handle is refused like any other that is not live.
    let res = app
        .post_form_with(
            &current,
            "/api/sign_out_device",
            &[("handle", &handle_of(&idle_id))],
        )
        .await;
    assert_eq!(location(&res), "/account/devices");
    let refused = page(&app, &current, "/account/devices").await;
    assert!(refused.contains("That device is not signed in to your account"));
}

#[tokio::test]
async fn a_patient_who_has_not_confirmed_their_email_can_still_see_their_devices() {
    let app = TestApp::spawn().await;
    sqlx::query("update accounts set email_verified_at = null where email = $1")
        .bind(BOB)
        .execute(&app.db.pool)
        .await
        .expect("unconfirm");
    let bobs = browser(IPHONE_SAFARI);
    app.sign_in_with(&bobs, BOB).await;
    let listed = page(&app, &bobs, "/account/devices").await;
    assert!(listed.contains("Safari on iPhone"), "{listed}");
    assert!(listed.contains("This device"));
}

#[tokio::test]
async fn signing_out_this_device_by_its_handle_is_an_ordinary_sign_out() {
    let app = TestApp::spawn().await;
    let laptop = browser(WINDOWS_FIREFOX);
    app.sign_in_with(&laptop, SARAH).await;
    let own = handle_of(&session_id_of(&app, SARAH, "Windows").await);
    let res = app
        .post_form_with(&laptop, "/api/sign_out_device", &[("handle", &own)])
        .await;
    assert_eq!(location(&res), "/signed-out");
    assert!(!signed_in(&app, &laptop).await);
    assert_eq!(app.count("select count(*) from security_events").await, 0);
}
