//! Appointments over HTTP, as a browser without JavaScript drives them:
//! staff publish sessions, patients find, book (check your answers, an
//! idempotency key), get the confirmation email with a calendar file at a
//! real SMTP server, and cancel, which calls off the reminder. The race
//! test sends 20 patients at one slot at once: the database lets exactly
//! one in. Runs on SQLite and on PostgreSQL like the rest of the suite.

use crate::common;

use chrono::{Duration, NaiveDate, Utc};
use common::mail::MailSink;
use common::*;
use domain::{Email, OdsCode, PatientId};
use mail_parser::MimeHeaders;
use secrecy::SecretString;
use server::provisioning::{self, NewPatient};
use sqlx::Row;

const WAIT: std::time::Duration = std::time::Duration::from_secs(20);
const BOB: &str = "bob@example.com";

fn uk_today() -> NaiveDate {
    domain::uk_time::uk_local(Utc::now()).date()
}

/// Gets a page in `browser`: (status, body or redirect target).
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

async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let browser = client();
    app.sign_in_with(&browser, email).await;
    browser
}

/// A new patient of Riverside (A81001) with an account, signed in.
async fn new_patient_signed_in(app: &TestApp, given_name: &str) -> (PatientId, reqwest::Client) {
    let address = format!("{}@example.com", given_name.to_lowercase());
    let patient = provisioning::create_patient(
        &app.db,
        NewPatient {
            practice: OdsCode::parse("A81001").expect("ods"),
            given_name: given_name.into(),
            family_name: "Testperson".into(),
            date_of_birth: "1980-01-01".parse().expect("date"),
            nhs_number: None,
            account: Some((
                Email::parse(&address).expect("email"),
                SecretString::from(PASSWORD),
            )),
        },
    )
    .await
    .expect("patient");
    (patient, signed_in(app, &address).await)
}

async fn ids(app: &TestApp, sql: &str) -> Vec<i64> {
    sqlx::query(sql)
        .fetch_all(&app.db.pool)
        .await
        .expect("query")
        .iter()
        .map(|r| r.try_get::<i64, _>(0).expect("id"))
        .collect()
}

struct Session<'a> {
    clinician: &'a str,
    role: &'a str,
    mode: &'a str,
    date: NaiveDate,
    start: &'a str,
    end: &'a str,
    minutes: &'a str,
}

impl Session<'_> {
    fn gp(date: NaiveDate) -> Self {
        Session {
            clinician: "Dr Amir Khan",
            role: "gp",
            mode: "in_person",
            date,
            start: "09:00",
            end: "10:00",
            minutes: "10",
        }
    }
}

/// Staff publish a session through the form; returns where they were sent.
async fn publish(app: &TestApp, staff: &reqwest::Client, s: &Session<'_>) -> String {
    let (day, month, year) = (
        s.date.format("%-d").to_string(),
        s.date.format("%-m").to_string(),
        s.date.format("%Y").to_string(),
    );
    let res = app
        .post_form_with(
            staff,
            "/api/create_session",
            &[
                ("clinician", s.clinician),
                ("role", s.role),
                ("location", "Room 1"),
                ("date_day", &day),
                ("date_month", &month),
                ("date_year", &year),
                ("start_time", s.start),
                ("end_time", s.end),
                ("slot_minutes", s.minutes),
                ("mode", s.mode),
                ("bookable_online", "yes"),
                ("repeat_until_day", ""),
                ("repeat_until_month", ""),
                ("repeat_until_year", ""),
            ],
        )
        .await;
    location(&res)
}

/// The value of the hidden input with this name.
fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let rest = &html[at..];
    let start = rest.find("value=\"")? + 7;
    let end = rest[start..].find('"')?;
    Some(rest[start..start + end].to_owned())
}

/// Reason and note, then the check page (which gives the key).
async fn answers(app: &TestApp, patient: &reqwest::Client, slot: i64, reason: &str) -> String {
    let slot_text = slot.to_string();
    let res = app
        .post_form_with(
            patient,
            "/api/check_booking",
            &[("slot", &slot_text), ("reason", reason), ("note", "")],
        )
        .await;
    assert_eq!(location(&res), format!("/appointments/book/{slot}/check"));
    let (status, html) = page(app, patient, &format!("/appointments/book/{slot}/check")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Check your answers before booking"), "{html}");
    hidden(&html, "idempotency_key").expect("idempotency key on the confirm form")
}

async fn confirm(
    app: &TestApp,
    patient: &reqwest::Client,
    slot: i64,
    reason: &str,
    key: &str,
) -> String {
    let res = app
        .post_form_with(
            patient,
            "/api/book_appointment",
            &[
                ("slot", &slot.to_string()),
                ("reason", reason),
                ("note", ""),
                ("idempotency_key", key),
            ],
        )
        .await;
    location(&res)
}

/// Books through every step; returns the appointment's id.
async fn book(app: &TestApp, patient: &reqwest::Client, slot: i64, reason: &str) -> i64 {
    let key = answers(app, patient, slot, reason).await;
    let went = confirm(app, patient, slot, reason, &key).await;
    let id = went
        .strip_prefix("/appointments/")
        .and_then(|rest| rest.strip_suffix("?booked=1"))
        .unwrap_or_else(|| panic!("not booked: sent to {went}"));
    id.parse().expect("appointment id")
}

async fn slots(app: &TestApp) -> Vec<i64> {
    ids(
        app,
        "select id from appointment_slots order by starts_at, id",
    )
    .await
}

#[tokio::test]
async fn staff_publish_a_patient_books_gets_the_ics_and_cancels_and_no_reminder_is_left() {
    let sink = MailSink::start().await;
    let app = TestApp::spawn_with(|c| sink.configure(&mut c.email)).await;
    let staff = signed_in(&app, RECEPTION_A).await;
    let date = uk_today() + Duration::days(3);
    let went = publish(&app, &staff, &Session::gp(date)).await;
    assert!(went.starts_with("/staff/appointments?date="), "{went}");
    let all = slots(&app).await;
    assert_eq!(all.len(), 6, "09:00 to 10:00 in 10-minute slots");

    let sarah = signed_in(&app, SARAH).await;
    let (status, html) = page(&app, &sarah, "/appointments/find").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Dr Amir Khan"), "{html}");
    assert!(
        html.contains(&format!("/appointments/book/{}", all[0])),
        "soonest first: {html}"
    );

    let id = book(&app, &sarah, all[0], "Sore knee").await;
    let (status, html) = page(&app, &sarah, &format!("/appointments/{id}?booked=1")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Appointment booked"), "{html}");

    // The confirmation, at the real SMTP server, with a calendar file that
    // parses and says when; no reason anywhere in it.
    let email = sink.wait_for_to(SARAH, WAIT).await;
    assert!(
        email.subject.contains("Appointment booked"),
        "{}",
        email.subject
    );
    assert!(
        !email.raw.contains("Sore knee"),
        "no clinical detail in email"
    );
    let message = mail_parser::MessageParser::default()
        .parse(email.raw.as_bytes())
        .expect("mime");
    let ics = message
        .attachments()
        .find(|p| p.attachment_name() == Some("appointment.ics"))
        .map(|p| String::from_utf8_lossy(p.contents()).into_owned())
        .expect("an .ics attachment");
    let calendar: icalendar::Calendar = ics.parse().expect("a valid iCalendar file");
    assert_eq!(calendar.components.len(), 1);
    let start: i64 = ids(
        &app,
        &format!(
            "select starts_at from appointment_slots where id = {}",
            all[0]
        ),
    )
    .await[0];
    let expected = chrono::DateTime::from_timestamp(start, 0)
        .expect("time")
        .format("DTSTART:%Y%m%dT%H%M%SZ")
        .to_string();
    assert!(ics.contains(&expected), "{ics}");

    // The download gives the same file.
    let res = sarah
        .get(app.url(&format!("/appointments/{id}/calendar.ics")))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status().as_u16(), 200);
    assert!(header(&res, "content-type").starts_with("text/calendar"));
    assert!(res.text().await.expect("body").contains(&expected));

    // A reminder waits, due 24 hours before.
    let reminder = ids(
        &app,
        "select due_at from outbox where kind = 'appointment_reminder' and status = 'waiting'",
    )
    .await;
    assert_eq!(reminder, [start - 24 * 3600]);

    let res = app
        .post_form_with(
            &sarah,
            "/api/cancel_appointment",
            &[
                ("appointment", &id.to_string()),
                ("reason", "Feeling better"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/appointments?cancelled=1");
    assert_eq!(
        app.count("select count(*) from outbox where kind = 'appointment_reminder'")
            .await,
        0,
        "the reminder is never sent"
    );
    assert_eq!(
        app.count("select count(*) from appointments where status = 'cancelled'")
            .await,
        1
    );
    let cancelled = sink.wait_for(2, WAIT).await;
    assert!(
        cancelled
            .iter()
            .any(|m| m.subject.contains("Appointment cancelled"))
    );
    // The slot is free again.
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(html.contains(&format!("/appointments/book/{}", all[0])));

    let sarah_id = app.fixtures.sarah.0;
    for action in [
        "book_appointment",
        "cancel_appointment",
        "view_appointments",
    ] {
        let rows = app
            .count(&format!(
                "select count(*) from access_log where patient_id = {sarah_id} and action = '{action}' and outcome = 'allowed'"
            ))
            .await;
        assert!(rows >= 1, "access log has {action}");
    }
}

#[tokio::test]
async fn a_double_submitted_booking_books_once() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    publish(&app, &staff, &Session::gp(uk_today() + Duration::days(2))).await;
    let slot = slots(&app).await[0];
    let sarah = signed_in(&app, SARAH).await;
    let key = answers(&app, &sarah, slot, "").await;
    let (first, second) = tokio::join!(
        confirm(&app, &sarah, slot, "", &key),
        confirm(&app, &sarah, slot, "", &key)
    );
    assert!(first.ends_with("?booked=1"), "{first}");
    assert_eq!(first, second, "both answered with the one booking");
    let third = confirm(&app, &sarah, slot, "", &key).await;
    assert_eq!(first, third, "a retry later too");
    assert_eq!(app.count("select count(*) from appointments").await, 1);
    assert_eq!(
        app.count("select count(*) from outbox where kind = 'appointment_booked'")
            .await,
        1,
        "one confirmation"
    );
}

#[tokio::test]
async fn twenty_patients_racing_for_one_slot_book_it_once() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    publish(&app, &staff, &Session::gp(uk_today() + Duration::days(2))).await;
    let all = slots(&app).await;
    let slot = all[0];
    let mut browsers = Vec::new();
    for i in 0..20 {
        let (_, browser) = new_patient_signed_in(&app, &format!("Racer{i}")).await;
        let key = answers(&app, &browser, slot, "").await;
        browsers.push((browser, key));
    }
    let attempts = browsers
        .iter()
        .map(|(browser, key)| confirm(&app, browser, slot, "", key));
    let outcomes = futures_util::future::join_all(attempts).await;
    let winners: Vec<&String> = outcomes
        .iter()
        .filter(|o| o.ends_with("?booked=1"))
        .collect();
    assert_eq!(winners.len(), 1, "exactly one booked: {outcomes:?}");
    assert_eq!(
        app.count(&format!(
            "select count(*) from appointments where slot_id = {slot} and status = 'booked'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("select count(*) from appointments").await, 1);
    // Each loser is told, with the next free slots from the same request.
    for ((browser, _), outcome) in browsers.iter().zip(&outcomes) {
        if outcome.ends_with("?booked=1") {
            continue;
        }
        assert_eq!(outcome, &format!("/appointments/book/{slot}"));
        let (status, html) = page(&app, browser, outcome).await;
        assert_eq!(status, 200);
        assert!(
            html.contains("this appointment has just been taken"),
            "{html}"
        );
        assert!(
            html.contains(&format!("/appointments/book/{}", all[1])),
            "next free offered: {html}"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_a_message_keeps_what_was_typed_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    let date = uk_today() + Duration::days(2);
    publish(&app, &staff, &Session::gp(date)).await;
    let all = slots(&app).await;
    let sarah = signed_in(&app, SARAH).await;

    // A reason over the limit.
    let long = "x".repeat(101);
    let res = app
        .post_form_with(
            &sarah,
            "/api/check_booking",
            &[
                ("slot", &all[0].to_string()),
                ("reason", &long),
                ("note", "kept note"),
            ],
        )
        .await;
    assert_eq!(location(&res), format!("/appointments/book/{}", all[0]));
    let (_, html) = page(&app, &sarah, &location(&res)).await;
    assert!(
        html.contains("The reason must be 100 characters or fewer"),
        "{html}"
    );
    assert!(html.contains(&long), "what was typed is kept");
    assert!(html.contains("kept note"));
    // Also when posted straight to the confirm step.
    let went = confirm(&app, &sarah, all[0], &long, "0123456789abcdef0123").await;
    assert_eq!(went, format!("/appointments/book/{}", all[0]));
    assert_eq!(app.count("select count(*) from appointments").await, 0);

    // A slot in the past.
    sqlx::query("update appointment_slots set starts_at = $1, ends_at = $2 where id = $3")
        .bind(Utc::now().timestamp() - 3600)
        .bind(Utc::now().timestamp() - 3000)
        .bind(all[5])
        .execute(&app.db.pool)
        .await
        .expect("move slot");
    let went = confirm(&app, &sarah, all[5], "", "past-slot-key-000001").await;
    assert_eq!(went, format!("/appointments/book/{}", all[5]));
    let (_, html) = page(&app, &sarah, &went).await;
    assert!(html.contains("already started or passed"), "{html}");

    // A slot already taken.
    let bob = signed_in(&app, BOB).await;
    book(&app, &bob, all[1], "").await;
    let went = confirm(&app, &sarah, all[1], "", "taken-slot-key-000001").await;
    let (_, html) = page(&app, &sarah, &went).await;
    assert!(
        html.contains("this appointment has just been taken"),
        "{html}"
    );

    // Another practice's slot.
    let other_staff = signed_in(&app, RECEPTION_B).await;
    publish(
        &app,
        &other_staff,
        &Session {
            clinician: "Dr Other",
            ..Session::gp(date)
        },
    )
    .await;
    let theirs = ids(
        &app,
        "select s.id from appointment_slots s join practices p on p.id = s.practice_id where p.ods_code = 'B82002' order by s.id",
    )
    .await;
    let went = confirm(&app, &sarah, theirs[0], "", "other-practice-key-01").await;
    let (_, html) = page(&app, &sarah, &went).await;
    assert!(html.contains("not available to book"), "{html}");
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(
        !html.contains("Dr Other"),
        "another practice's slots are not offered"
    );
    assert_eq!(
        app.count("select count(*) from appointments").await,
        1,
        "only Bob's"
    );

    // A session overlapping the same clinician's.
    let sessions = app.count("select count(*) from appointment_sessions").await;
    let went = publish(
        &app,
        &staff,
        &Session {
            clinician: "dr amir khan",
            start: "09:30",
            end: "11:00",
            ..Session::gp(date)
        },
    )
    .await;
    assert_eq!(went, "/staff/appointments/new");
    let (_, html) = page(&app, &staff, &went).await;
    assert!(
        html.contains("already has a session from 9am to 10am"),
        "{html}"
    );
    assert!(html.contains("value=\"dr amir khan\""), "kept: {html}");
    assert_eq!(
        app.count("select count(*) from appointment_sessions").await,
        sessions
    );
    // Back to back is fine.
    let went = publish(
        &app,
        &staff,
        &Session {
            start: "10:00",
            end: "11:00",
            ..Session::gp(date)
        },
    )
    .await;
    assert!(went.starts_with("/staff/appointments?date="), "{went}");

    // A date out of range in the search.
    let far = uk_today() + Duration::days(20);
    let (status, html) = page(
        &app,
        &sarah,
        &format!(
            "/appointments/find?date_day={}&date_month={}&date_year={}",
            far.format("%-d"),
            far.format("%-m"),
            far.format("%Y")
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        html.contains("appointments can be booked up to 14 days ahead"),
        "{html}"
    );
    assert!(
        html.contains(&format!("value=\"{}\"", far.format("%-d"))),
        "kept"
    );
}

#[tokio::test]
async fn find_filters_narrow_the_slots_and_none_says_what_to_do() {
    let app = TestApp::spawn().await;
    let sarah = signed_in(&app, SARAH).await;
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(
        html.contains(
            "No appointments available: call the practice, or use 111 online if you need help today"
        ),
        "{html}"
    );
    let staff = signed_in(&app, RECEPTION_A).await;
    let date = uk_today() + Duration::days(4);
    publish(&app, &staff, &Session::gp(date)).await;
    publish(
        &app,
        &staff,
        &Session {
            clinician: "Nurse Jo Reed",
            role: "nurse",
            mode: "phone",
            start: "14:00",
            end: "15:00",
            minutes: "15",
            date,
        },
    )
    .await;
    let find = |query: &str| format!("/appointments/find?{query}");
    let (_, html) = page(&app, &sarah, &find("role=nurse")).await;
    assert!(
        html.contains("Nurse Jo Reed") && !html.contains("Dr Amir Khan"),
        "{html}"
    );
    let (_, html) = page(&app, &sarah, &find("mode=in_person")).await;
    assert!(!html.contains("Nurse Jo Reed") && html.contains("Dr Amir Khan"));
    let (_, html) = page(&app, &sarah, &find("time_of_day=afternoon")).await;
    assert!(html.contains("Nurse Jo Reed") && !html.contains("Dr Amir Khan"));
    let (_, html) = page(&app, &sarah, &find("clinician=dr%20amir%20khan")).await;
    assert!(!html.contains("Nurse Jo Reed") && html.contains("Dr Amir Khan"));
    let other_day = date + Duration::days(1);
    let (_, html) = page(
        &app,
        &sarah,
        &find(&format!(
            "date_day={}&date_month={}&date_year={}",
            other_day.format("%-d"),
            other_day.format("%-m"),
            other_day.format("%Y")
        )),
    )
    .await;
    assert!(html.contains("No appointments available"), "{html}");
    // Blocked slots and sessions not bookable online are not offered.
    let nurse_slots = ids(&app, "select s.id from appointment_slots s join appointment_sessions se on se.id = s.session_id where se.role = 'nurse' order by s.starts_at").await;
    for slot in &nurse_slots {
        let res = app
            .post_form_with(
                &staff,
                "/api/set_slot_blocked",
                &[
                    ("slot", &slot.to_string()),
                    ("action", "block"),
                    ("date", ""),
                ],
            )
            .await;
        assert!(location(&res).contains("slot=block"), "{}", location(&res));
    }
    let (_, html) = page(&app, &sarah, &find("role=nurse")).await;
    assert!(html.contains("No appointments available"), "{html}");
}

#[tokio::test]
async fn another_patients_appointment_is_refused_and_the_refusal_logged() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    publish(&app, &staff, &Session::gp(uk_today() + Duration::days(2))).await;
    let slot = slots(&app).await[0];
    let sarah = signed_in(&app, SARAH).await;
    let id = book(&app, &sarah, slot, "Private reason").await;

    let bob = signed_in(&app, BOB).await;
    let (_, html) = page(&app, &bob, &format!("/appointments/{id}")).await;
    assert!(!html.contains("Private reason"), "{html}");
    assert!(html.contains("You do not have permission"), "{html}");
    let res = app
        .post_form_with(
            &bob,
            "/api/cancel_appointment",
            &[("appointment", &id.to_string()), ("reason", "")],
        )
        .await;
    assert_ne!(location(&res), "/appointments?cancelled=1");
    let res = bob
        .get(app.url(&format!("/appointments/{id}/calendar.ics")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(
        app.count(&format!(
            "select count(*) from appointments where id = {id} and status = 'booked'"
        ))
        .await,
        1
    );
    let sarah_id = app.fixtures.sarah.0;
    let bob_account = ids(
        &app,
        "select id from accounts where email = 'bob@example.com'",
    )
    .await[0];
    let refused = app
        .count(&format!(
            "select count(*) from access_log where patient_id = {sarah_id} and actor_account_id = {bob_account} and outcome = 'refused'"
        ))
        .await;
    assert!(
        refused >= 3,
        "view, cancel and download refused and logged: {refused}"
    );
}

#[tokio::test]
async fn staff_see_the_day_book_for_a_patient_mark_attendance_and_cancel_a_session() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    let date = uk_today() + Duration::days(2);
    publish(&app, &staff, &Session::gp(date)).await;
    let all = slots(&app).await;
    let sarah = signed_in(&app, SARAH).await;
    book(&app, &sarah, all[0], "Sore knee").await;

    // On a patient's behalf, by NHS number.
    let (status, html) = page(
        &app,
        &staff,
        &format!("/staff/appointments/book/{}", all[1]),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let key = hidden(&html, "idempotency_key").expect("key");
    let bad = app
        .post_form_with(
            &staff,
            "/api/book_for_patient",
            &[
                ("slot", &all[1].to_string()),
                ("nhs_number", "123"),
                ("reason", ""),
                ("idempotency_key", &key),
            ],
        )
        .await;
    assert_eq!(
        location(&bad),
        format!("/staff/appointments/book/{}", all[1])
    );
    let good = app
        .post_form_with(
            &staff,
            "/api/book_for_patient",
            &[
                ("slot", &all[1].to_string()),
                ("nhs_number", SARAH_NHS),
                ("reason", "Review"),
                ("idempotency_key", &key),
            ],
        )
        .await;
    assert!(location(&good).contains("booked=1"), "{}", location(&good));

    let iso = date.format("%Y-%m-%d").to_string();
    let (status, html) = page(&app, &staff, &format!("/staff/appointments?date={iso}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Sarah Testperson") && html.contains("Sore knee"),
        "{html}"
    );
    let sarah_id = app.fixtures.sarah.0;
    assert!(app.count(&format!("select count(*) from access_log where patient_id = {sarah_id} and action = 'view_day_list'")).await >= 1);
    assert_eq!(app.count(&format!("select count(*) from access_log where patient_id = {sarah_id} and action = 'book_appointment_on_behalf'")).await, 1);

    let appointment = ids(
        &app,
        &format!("select id from appointments where slot_id = {}", all[0]),
    )
    .await[0];
    // Two days ahead, nobody has come or missed it yet: the day view offers
    // neither, and a request made anyway is refused with the reason.
    assert!(
        !html.contains("Did not attend") && !html.contains(">Attended<"),
        "no attendance buttons before the day: {html}"
    );
    let mark = |outcome: &'static str| {
        let (app, staff, iso) = (&app, &staff, &iso);
        async move {
            app.post_form_with(
                staff,
                "/api/mark_attendance",
                &[
                    ("appointment", &appointment.to_string()),
                    ("outcome", outcome),
                    ("date", iso),
                ],
            )
            .await
        }
    };
    for outcome in ["attended", "did_not_attend"] {
        let res = mark(outcome).await;
        assert_eq!(location(&res), format!("/staff/appointments?date={iso}"));
        let (_, html) = page(&app, &staff, &location(&res)).await;
        let expected = if outcome == "attended" {
            "You can record that the patient attended from the day of the appointment"
        } else {
            "You can record that the patient did not attend once the appointment has started"
        };
        assert!(html.contains(expected), "{html}");
        assert!(html.contains("<title>Error: Appointments"), "{html}");
        assert!(
            html.contains(&format!("href=\"#attendance-{appointment}\"")),
            "the error summary points at the row: {html}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "select count(*) from appointments where id = {appointment} and status = 'booked'"
        ))
        .await,
        1
    );
    let attendance_log = |outcome: &str| {
        format!(
            "select count(*) from access_log where action in ('mark_attended', 'mark_did_not_attend') and patient_id = {sarah_id} and outcome = '{outcome}'"
        )
    };
    assert_eq!(
        (
            app.count(&attendance_log("refused")).await,
            app.count(&attendance_log("allowed")).await
        ),
        (2, 0),
        "both refusals are in Sarah's access log, and nothing was recorded"
    );

    // Once the appointment has started (its slot moved to an hour ago, as
    // if the days had passed), both are offered and recorded.
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    sqlx::query("update appointment_slots set starts_at = $1, ends_at = $2 where id = $3")
        .bind(an_hour_ago)
        .bind(an_hour_ago + 600)
        .bind(all[0])
        .execute(&app.db.pool)
        .await
        .expect("move the slot");
    let (_, html) = page(&app, &staff, &format!("/staff/appointments?date={iso}")).await;
    assert!(html.contains("Did not attend"), "{html}");
    let res = mark("did_not_attend").await;
    assert!(location(&res).contains("marked=1"));
    assert_eq!(app.count(&format!("select count(*) from appointments where id = {appointment} and status = 'did_not_attend'")).await, 1);

    // Cancelling the session needs a reason, then emails each patient.
    let session = ids(&app, "select id from appointment_sessions").await[0];
    let res = app
        .post_form_with(
            &staff,
            "/api/cancel_session",
            &[
                ("session", &session.to_string()),
                ("reason", ""),
                ("date", &iso),
            ],
        )
        .await;
    let (_, html) = page(&app, &staff, &location(&res)).await;
    assert!(
        html.contains("Enter the reason for cancelling the session"),
        "{html}"
    );
    assert_eq!(
        app.count("select count(*) from appointment_sessions where status = 'cancelled'")
            .await,
        0
    );
    let res = app
        .post_form_with(
            &staff,
            "/api/cancel_session",
            &[
                ("session", &session.to_string()),
                ("reason", "Dr Khan is unwell"),
                ("date", &iso),
            ],
        )
        .await;
    assert!(
        location(&res).contains("session_cancelled=1"),
        "{}",
        location(&res)
    );
    assert_eq!(
        app.count("select count(*) from appointments where status = 'booked'")
            .await,
        0
    );
    let notes = ids(&app, "select count(*) from outbox where kind = 'appointment_cancelled' and payload like '%Dr Khan is unwell%'").await;
    assert_eq!(notes, [1]);

    // Another practice's staff cannot touch it.
    let other = signed_in(&app, RECEPTION_B).await;
    let res = app
        .post_form_with(
            &other,
            "/api/set_slot_blocked",
            &[
                ("slot", &all[3].to_string()),
                ("action", "block"),
                ("date", ""),
            ],
        )
        .await;
    assert!(
        location(&res).contains("slot=booked"),
        "not changed: {}",
        location(&res)
    );
    assert_eq!(
        app.count("select count(*) from appointment_slots where blocked = 1")
            .await,
        0
    );
}

async fn set_rules(app: &TestApp, staff: &reqwest::Client, rules: [&str; 4]) -> String {
    let res = app
        .post_form_with(
            staff,
            "/api/set_release_rules",
            &[
                ("release_days_ahead", rules[0]),
                ("release_time", rules[1]),
                ("max_future_bookings", rules[2]),
                ("cancel_cutoff_hours", rules[3]),
            ],
        )
        .await;
    location(&res)
}

#[tokio::test]
async fn release_rules_hold_slots_back_limit_bookings_and_cancelling() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    publish(&app, &staff, &Session::gp(uk_today() + Duration::days(3))).await;
    let all = slots(&app).await;

    // Bad rules: a message, what was typed kept, nothing saved.
    let went = set_rules(&app, &staff, ["15", "8:00", "1", "100"]).await;
    assert_eq!(went, "/staff/appointments/rules");
    let (_, html) = page(&app, &staff, &went).await;
    assert!(html.contains("from 0 (on the day) to 14"), "{html}");
    assert!(html.contains("value=\"15\""), "kept: {html}");
    assert_eq!(app.count("select count(*) from appointment_rules").await, 0);

    // Same-day release at 08:00: slots three days ahead are held back.
    assert_eq!(
        set_rules(&app, &staff, ["0", "08:00", "1", "100"]).await,
        "/staff/appointments/rules?saved=1"
    );
    let sarah = signed_in(&app, SARAH).await;
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(
        html.contains("No appointments available"),
        "held back: {html}"
    );
    let went = confirm(&app, &sarah, all[0], "", "held-back-key-0000001").await;
    let (_, html) = page(&app, &sarah, &went).await;
    assert!(html.contains("not available to book"), "{html}");
    assert_eq!(app.count("select count(*) from appointments").await, 0);

    // Released 14 days ahead, one booking each, cancel online until 100
    // hours before: the second booking and the cancel are refused.
    set_rules(&app, &staff, ["14", "08:00", "1", "100"]).await;
    let id = book(&app, &sarah, all[0], "").await;
    let went = confirm(&app, &sarah, all[1], "", "second-booking-key-01").await;
    let (_, html) = page(&app, &sarah, &went).await;
    assert!(html.contains("as many as your practice allows"), "{html}");
    let (_, html) = page(&app, &sarah, &format!("/appointments/{id}/cancel")).await;
    assert!(
        html.contains("too late to cancel this appointment online"),
        "{html}"
    );
    let res = app
        .post_form_with(
            &sarah,
            "/api/cancel_appointment",
            &[("appointment", &id.to_string()), ("reason", "")],
        )
        .await;
    assert_eq!(location(&res), format!("/appointments/{id}/cancel"));
    assert_eq!(
        app.count("select count(*) from appointments where status = 'booked'")
            .await,
        1
    );

    // A patient who turned reminders off gets the confirmation, no reminder.
    sqlx::query("update accounts set wants_appointment_reminders = 0 where email = $1")
        .bind(BOB)
        .execute(&app.db.pool)
        .await
        .expect("preference");
    let bob = signed_in(&app, BOB).await;
    book(&app, &bob, all[2], "").await;
    let bob_account = ids(
        &app,
        "select id from accounts where email = 'bob@example.com'",
    )
    .await[0];
    assert_eq!(
        app.count(&format!("select count(*) from outbox where account_id = {bob_account} and kind = 'appointment_reminder'")).await,
        0
    );
    assert_eq!(
        app.count(&format!("select count(*) from outbox where account_id = {bob_account} and kind = 'appointment_booked'")).await,
        1
    );
}

#[tokio::test]
async fn equally_soon_slots_are_listed_in_each_patients_own_order() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    let date = uk_today() + Duration::days(3);
    let clinicians = [
        "Dr Ana Ames",
        "Dr Ben Bell",
        "Dr Cy Cole",
        "Dr Di Dunn",
        "Dr Ed Eyre",
        "Dr Flo Fry",
    ];
    for clinician in clinicians {
        let to = publish(
            &app,
            &staff,
            &Session {
                clinician,
                start: "09:00",
                end: "09:20",
                ..Session::gp(date)
            },
        )
        .await;
        assert!(to.contains("created=1"), "{to}");
    }
    let mut orders = Vec::new();
    for i in 0..4 {
        let (patient, browser) = new_patient_signed_in(&app, &format!("Crowd{i}")).await;
        let (status, html) = page(&app, &browser, "/appointments/find").await;
        assert_eq!(status, 200);
        let listed: Vec<i64> = html
            .match_indices("href=\"/appointments/book/")
            .filter_map(|(at, link)| {
                let rest = &html[at + link.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect();
        orders.push((patient, listed));
    }
    let nine = ids(
        &app,
        "select id from appointment_slots where local_minute = 540 order by id",
    )
    .await;
    let ten_past_nine = ids(
        &app,
        "select id from appointment_slots where local_minute = 550 order by id",
    )
    .await;
    assert_eq!(nine.len(), 6);
    for (patient, listed) in &orders {
        // Soonest first: the six 9:00 slots, then the six 9:10 ones...
        assert_eq!(listed.len(), 12, "{listed:?}");
        let mut first_six = listed[..6].to_vec();
        first_six.sort_unstable();
        assert_eq!(first_six, nine);
        let mut last_six = listed[6..].to_vec();
        last_six.sort_unstable();
        assert_eq!(last_six, ten_past_nine);
        // ...each group in this patient's own order, the one the domain
        // rule gives (the SQL and the rule agree).
        let seen_by = u64::try_from(patient.0).expect("id");
        let mut expected = nine.clone();
        expected.sort_by_key(|id| {
            domain::appointments::tie_rank(domain::appointments::SlotId(*id), seen_by)
        });
        assert_eq!(listed[..6], expected[..], "patient {patient:?}");
    }
    let firsts: std::collections::HashSet<i64> = orders.iter().map(|(_, l)| l[0]).collect();
    assert!(
        firsts.len() > 1,
        "four patients do not all reach for the same slot: {orders:?}"
    );
}

/// `appointment_slots.booked` (what the free-slot search reads) is kept by
/// the database itself: whatever writes an appointment, the flag follows
/// it, and a slot whose booking is cancelled or removed is offered again.
#[tokio::test]
async fn the_database_keeps_each_slots_booked_flag_in_step_with_its_appointment() {
    let app = TestApp::spawn().await;
    let staff = signed_in(&app, RECEPTION_A).await;
    publish(&app, &staff, &Session::gp(uk_today() + Duration::days(2))).await;
    let all = slots(&app).await;
    let (first, second) = (all[0], all[1]);
    let flag = |slot: i64| format!("select booked from appointment_slots where id = {slot}");
    let sarah = signed_in(&app, SARAH).await;
    let appointment = book(&app, &sarah, first, "").await;
    assert_eq!(app.count(&flag(first)).await, 1, "held once booked");
    assert_eq!(app.count(&flag(second)).await, 0, "its neighbour is not");
    let offered = |html: &str, slot: i64| html.contains(&format!("/appointments/book/{slot}\""));
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(!offered(&html, first) && offered(&html, second));

    let set = |sql: String| {
        let pool = app.db.pool.clone();
        async move { sqlx::query(&sql).execute(&pool).await.expect("update") }
    };
    set(format!(
        "update appointments set status = 'attended' where id = {appointment}"
    ))
    .await;
    assert_eq!(app.count(&flag(first)).await, 1, "still held when attended");
    set(format!(
        "update appointments set status = 'cancelled', cancelled_at = 1 where id = {appointment}"
    ))
    .await;
    assert_eq!(app.count(&flag(first)).await, 0, "free once cancelled");
    set(format!(
        "update appointments set status = 'booked', cancelled_at = null, slot_id = {second} where id = {appointment}"
    ))
    .await;
    assert_eq!(
        (
            app.count(&flag(first)).await,
            app.count(&flag(second)).await
        ),
        (0, 1),
        "a booking moved to another slot holds that one instead"
    );
    set(format!("delete from appointments where id = {appointment}")).await;
    assert_eq!(app.count(&flag(second)).await, 0, "free once removed");
    let (_, html) = page(&app, &sarah, "/appointments/find").await;
    assert!(offered(&html, first) && offered(&html, second));
}
