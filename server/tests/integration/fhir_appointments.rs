//! The `fhir` appointment book against helios-hfs, a real FHIR R4 server
//! (skipped loudly when it is not installed, as the record suite is): a
//! Schedule and Slots loaded by a transaction, the free slots found (pages
//! followed), a booking guarded by the Slot's version, a second booking of
//! the same slot refused as taken, a race of ten booking one, a stale
//! If-Match refused by the server with 412 while the adapter's own cancel
//! rereads and succeeds, the slot freed, the patient's list only theirs,
//! and the access log and outbox written; an Appointment the server
//! refuses releases the Slot it had marked busy. Plus a server that never
//! answers, bounded by the timeout. Runs on SQLite and PostgreSQL.

use crate::common::{CAROL_NHS, RECEPTION_A, SARAH, SARAH_NHS, TestApp};
use crate::fhir_record::{
    SKIPPED, fhir_config, hfs_binary, post_transaction, sarah_ref, start_hfs,
};
use chrono::{DateTime, Duration, DurationRound, NaiveTime, SecondsFormat, Utc};
use domain::access::{Actor, PatientRef};
use domain::appointments::{
    AppointmentMode, AppointmentStatus, Appointments, BookingError, BookingText, NewBooking,
    ReleaseRules, SlotSearch,
};
use domain::identity::IdentityLevel;
use domain::{AccountId, PatientId, PracticeId, Role};
use serde_json::{Value, json};
use server::appointments::fhir::FhirAppointments;
use std::time::Instant;

const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Two patients, a GP's Schedule in Room 1 and four 15-minute Slots two
/// days from now (the last a phone appointment).
fn book_bundle(first: DateTime<Utc>) -> Value {
    let put = |resource: Value| {
        let url = format!(
            "{}/{}",
            resource["resourceType"].as_str().expect("type"),
            resource["id"].as_str().expect("id")
        );
        json!({ "resource": resource, "request": { "method": "PUT", "url": url } })
    };
    let mut entries = vec![
        put(json!({
            "resourceType": "Patient", "id": "pt-sarah",
            "identifier": [{ "system": NHS_SYSTEM, "value": SARAH_NHS }],
            "name": [{ "family": "Testperson", "given": ["Sarah"] }]
        })),
        put(json!({
            "resourceType": "Patient", "id": "pt-carol",
            "identifier": [{ "system": NHS_SYSTEM, "value": CAROL_NHS }],
            "name": [{ "family": "Testperson", "given": ["Carol"] }]
        })),
        put(json!({
            "resourceType": "Practitioner", "id": "dr-khan",
            "name": [{ "family": "Khan", "given": ["Amir"], "prefix": ["Dr"] }]
        })),
        put(json!({ "resourceType": "Location", "id": "room-1", "name": "Room 1" })),
        put(json!({
            "resourceType": "Schedule", "id": "khan-morning", "active": true,
            "serviceType": [{ "text": "General practice" }],
            "actor": [
                { "reference": "Practitioner/dr-khan", "display": "Dr Amir Khan" },
                { "reference": "Location/room-1", "display": "Room 1" }
            ]
        })),
    ];
    for i in 0..4 {
        let start = first + Duration::minutes(15 * i);
        let mut slot = json!({
            "resourceType": "Slot", "id": format!("slot-{i}"),
            "schedule": { "reference": "Schedule/khan-morning" },
            "status": "free",
            "start": iso(start),
            "end": iso(start + Duration::minutes(15)),
        });
        if i == 3 {
            slot["appointmentType"] =
                json!({ "coding": [{ "code": "phone", "display": "Telephone" }] });
        }
        entries.push(put(slot));
    }
    json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries })
}

async fn actor(app: &TestApp, email: &str, role: Role, acting_for: Option<PatientId>) -> Actor {
    let account = app
        .count(&format!("select id from accounts where email = '{email}'"))
        .await;
    Actor {
        account: AccountId(account),
        role,
        practice: None,
        display_name: email.into(),
        practice_name: None,
        acting_for,
        email_verified: true,
        identity_level: IdentityLevel::P9,
        second_factor_done: true,
    }
}

fn booking(
    patient: PatientRef,
    slot: domain::appointments::SlotId,
    key: &str,
    by: &Actor,
) -> NewBooking {
    NewBooking {
        patient,
        slot,
        text: BookingText {
            reason: "Sore knee".into(),
            note: "Worse on stairs".into(),
        },
        idempotency_key: key.into(),
        by: by.clone(),
        request_id: "test-request".into(),
    }
}

fn adapter(app: &TestApp, base: &str, timeout_seconds: u64) -> FhirAppointments {
    let outbox = server::outbox::Outbox::new(
        app.db.clone(),
        &app.config.email,
        &app.config.public_url,
        true,
    )
    .expect("outbox");
    FhirAppointments::new(
        app.db.clone(),
        outbox,
        24,
        &fhir_config(base, timeout_seconds, 2),
    )
    .expect("adapter")
}

/// helios-hfs loaded with [`book_bundle`] two days ahead, a portal whose
/// practice opens slots 14 days ahead, and Sarah acting for herself; None
/// (said loudly) when helios-hfs is not installed.
struct Loaded {
    hfs: crate::fhir_record::Hfs,
    app: TestApp,
    now: DateTime<Utc>,
    first: DateTime<Utc>,
    sarah: PatientRef,
    sarah_self: Actor,
}

async fn loaded_helios() -> Option<Loaded> {
    let Some(binary) = hfs_binary() else {
        eprintln!("\n********\n{SKIPPED}\n********\n");
        return None;
    };
    let hfs = start_hfs(&binary).await;
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let first = (now + Duration::days(2))
        .duration_trunc(Duration::hours(1))
        .expect("hour");
    post_transaction(&hfs, &book_bundle(first)).await;
    let sarah = sarah_ref(&app).await;
    adapter(&app, &hfs.base, 30)
        .set_release_rules(
            sarah.practice,
            ReleaseRules {
                release_days_ahead: 14,
                release_time: NaiveTime::MIN,
                max_future_bookings: 5,
                cancel_cutoff_hours: 0,
            },
        )
        .await
        .expect("rules");
    let sarah_self = actor(&app, SARAH, Role::Patient, Some(sarah.id)).await;
    Some(Loaded {
        hfs,
        app,
        now,
        first,
        sarah,
        sarah_self,
    })
}

#[tokio::test]
async fn against_helios_hfs_a_slot_is_booked_once_and_cancelling_frees_it() {
    let Some(Loaded {
        hfs,
        app,
        now,
        first,
        sarah,
        sarah_self,
    }) = loaded_helios().await
    else {
        return;
    };
    let book = adapter(&app, &hfs.base, 30);
    let carol = PatientRef {
        id: PatientId(app.fixtures.carol.0),
        practice: sarah.practice,
    };
    let reception = actor(&app, RECEPTION_A, Role::Receptionist, None).await;

    // Found, four slots over two pages, with the Schedule's names.
    let window = SlotSearch::default_window(now);
    let free = book
        .free_slots(sarah.practice, &window, now, 20)
        .await
        .expect("free slots");
    assert_eq!(free.len(), 4, "{free:?}");
    assert!(free.windows(2).all(|w| w[0].start < w[1].start));
    assert_eq!(free[0].start, first);
    assert_eq!(free[0].clinician, "Dr Amir Khan");
    assert_eq!(free[0].location, "Room 1");
    assert_eq!(free[0].mode, AppointmentMode::InPerson);
    assert_eq!(free[3].mode, AppointmentMode::Phone);
    let phone = book
        .free_slots(
            sarah.practice,
            &SlotSearch {
                mode: Some(AppointmentMode::Phone),
                ..window.clone()
            },
            now,
            20,
        )
        .await
        .expect("phone slots");
    assert_eq!(phone.iter().map(|s| s.id).collect::<Vec<_>>(), [free[3].id]);

    // Booked; the same form again answers the same appointment.
    let key = "sarah-form-0001-aaaa";
    let booked = book
        .book(booking(sarah, free[0].id, key, &sarah_self), now)
        .await
        .expect("port")
        .expect("booked");
    assert_eq!(booked.status, AppointmentStatus::Booked);
    assert_eq!(booked.slot.start, first);
    let again = book
        .book(booking(sarah, free[0].id, key, &sarah_self), now)
        .await
        .expect("port")
        .expect("same booking");
    assert_eq!(again.id, booked.id);
    let on_server = reqwest::get(format!("{}/Appointment?patient=Patient/pt-sarah", hfs.base))
        .await
        .expect("search")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        on_server["entry"].as_array().map(Vec::len),
        Some(1),
        "one Appointment on the server: {on_server}"
    );
    let slot0 = reqwest::get(format!("{}/Slot/slot-0", hfs.base))
        .await
        .expect("slot")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(slot0["status"], "busy");

    // A second booking of the same slot is refused, with other slots.
    let taken = book
        .book(
            booking(carol, free[0].id, "carol-form-0001-aaaa", &reception),
            now,
        )
        .await
        .expect("port");
    match taken {
        Err(BookingError::SlotTaken { next_free }) => {
            assert!(!next_free.is_empty());
            assert!(next_free.iter().all(|s| s.id != free[0].id));
        }
        other => panic!("expected taken, got {other:?}"),
    }

    // Ten at once at one slot: one booking.
    let racers = (0..10).map(|i| {
        let who = if i % 2 == 0 { sarah } else { carol };
        let key = format!("race-form-{i:04}-bbbbbb");
        let b = booking(who, free[1].id, &key, &reception);
        let book = &book;
        async move { book.book(b, now).await }
    });
    let results = futures_util::future::join_all(racers).await;
    let won = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    let lost = results
        .iter()
        .filter(|r| matches!(r, Ok(Err(BookingError::SlotTaken { .. }))))
        .count();
    assert_eq!((won, lost), (1, 9), "{results:?}");
    let winner = results
        .iter()
        .find_map(|r| r.as_ref().ok().and_then(|r| r.as_ref().ok()))
        .expect("winner")
        .clone();
    let slot1_appointments = reqwest::get(format!("{}/Appointment?slot=Slot/slot-1", hfs.base))
        .await
        .expect("search")
        .json::<Value>()
        .await
        .expect("json");
    let on_slot1 = slot1_appointments["entry"].as_array().map(|e| {
        e.iter()
            .filter(|x| x["resource"]["resourceType"] == "Appointment")
            .count()
    });
    assert_eq!(on_slot1, Some(1), "{slot1_appointments}");

    // One form sent twice at once: one booking, the same answer to both.
    let twice = (0..2).map(|_| {
        let b = booking(carol, free[2].id, "carol-double-0002-cccc", &reception);
        let book = &book;
        async move { book.book(b, now).await }
    });
    let twice = futures_util::future::join_all(twice).await;
    let ids: Vec<_> = twice
        .iter()
        .map(|r| r.as_ref().expect("port").as_ref().expect("booked").id)
        .collect();
    assert_eq!(ids[0], ids[1], "{twice:?}");
    let on_slot2 = reqwest::get(format!("{}/Appointment?slot=Slot/slot-2", hfs.base))
        .await
        .expect("search")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        on_slot2["entry"].as_array().map(Vec::len),
        Some(1),
        "{on_slot2}"
    );

    // Each patient sees only their own.
    let sarahs = book.for_patient(sarah, now).await.expect("sarah's list");
    let carols = book.for_patient(carol, now).await.expect("carol's list");
    assert!(sarahs.iter().any(|a| a.id == booked.id));
    assert!(carols.iter().all(|a| a.id != booked.id));
    assert!(
        book.appointment(carol, booked.id, now)
            .await
            .expect("read")
            .is_none(),
        "Carol cannot read Sarah's appointment"
    );
    assert_eq!(
        book.appointment_patient(booked.id).await.expect("whose"),
        Some(sarah)
    );
    assert_eq!(sarahs.len() + carols.len(), 3, "{sarahs:?} {carols:?}");
    assert!(sarahs.iter().chain(&carols).any(|a| a.id == winner.id));
    let mine = sarahs.iter().find(|a| a.id == booked.id).expect("mine");
    assert_eq!(
        (mine.reason.as_str(), mine.note.as_str()),
        ("Sore knee", "Worse on stairs")
    );

    // A stale If-Match: the server refuses it with 412...
    let http = reqwest::Client::new();
    let appointment_id = on_server["entry"][0]["resource"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let url = format!("{}/Appointment/{appointment_id}", hfs.base);
    let read = http.get(&url).send().await.expect("read");
    let old_etag = read.headers()["etag"].to_str().expect("etag").to_owned();
    eprintln!("helios-hfs ETag on an Appointment: {old_etag}");
    let mut changed: Value = read.json().await.expect("json");
    changed["comment"] = json!("Worse on stairs (practice note)");
    let first_write = http
        .put(&url)
        .header("content-type", "application/fhir+json")
        .header("if-match", &old_etag)
        .json(&changed)
        .send()
        .await
        .expect("put");
    assert!(
        first_write.status().is_success(),
        "{}",
        first_write.status()
    );
    let stale = http
        .put(&url)
        .header("content-type", "application/fhir+json")
        .header("if-match", &old_etag)
        .json(&changed)
        .send()
        .await
        .expect("stale put");
    assert_eq!(stale.status().as_u16(), 412, "a stale If-Match is refused");

    // ...and the adapter's cancel, reading the current version, succeeds.
    let cancelled = book
        .cancel(
            sarah,
            booked.id,
            "Feeling better",
            &sarah_self,
            "test-request",
            now,
        )
        .await
        .expect("port");
    assert_eq!(cancelled, Ok(()));
    let after: Value = http
        .get(&url)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["cancelationReason"]["text"], "Feeling better");
    let again = book
        .cancel(sarah, booked.id, "Twice", &sarah_self, "test-request", now)
        .await
        .expect("port");
    assert_eq!(again, Err(domain::appointments::CancelError::NotBooked));

    // The slot is free again, and the list says cancelled.
    let free_again = book
        .free_slots(sarah.practice, &window, now, 20)
        .await
        .expect("free slots");
    assert!(free_again.iter().any(|s| s.id == free[0].id));
    assert!(
        free_again
            .iter()
            .all(|s| s.id != free[1].id && s.id != free[2].id)
    );
    let listed = book
        .appointment(sarah, booked.id, now)
        .await
        .expect("read")
        .expect("still listed");
    assert_eq!(listed.status, AppointmentStatus::Cancelled);

    // Every change is in the access log; the emails are in the outbox.
    let sarah_id = sarah.id.0;
    assert_eq!(
        app.count(&format!(
            "select count(*) from access_log where patient_id = {sarah_id} and action = 'book_appointment' and outcome = 'allowed'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from access_log where patient_id = {sarah_id} and action = 'cancel_appointment' and outcome = 'allowed'"
        ))
        .await,
        1
    );
    assert!(
        app.count("select count(*) from outbox where kind = 'appointment_booked'")
            .await
            >= 1
    );
    assert_eq!(
        app.count("select count(*) from outbox where kind = 'appointment_cancelled'")
            .await,
        1
    );

    // Sessions belong to the clinical system: a plain refusal, no panic.
    let day = book
        .day_view(
            sarah.practice,
            domain::appointments::uk_date(first),
            &reception,
            "test-request",
        )
        .await
        .expect_err("managed elsewhere");
    assert!(day.is_managed_in_clinical_system());
}

/// A pass-through to `upstream` (helios-hfs) that answers every
/// `POST Appointment` with a server error, as a clinical system that fails
/// between the two writes of a booking would. Links in answers (a search's
/// next page) are rewritten to the pass-through, which the client insists
/// on: it follows no link to another server.
async fn refusing_appointment_creates(upstream: String) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let own_base = format!("http://{}", listener.local_addr().expect("address"));
    let client = reqwest::Client::new();
    let base = own_base.clone();
    let router = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let client = client.clone();
            let (upstream, base) = (upstream.clone(), base.clone());
            async move {
                if method == Method::POST && uri.path().ends_with("/Appointment") {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "refused by the test")
                        .into_response();
                }
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let mut request = client
                    .request(method, format!("{upstream}{path}"))
                    .body(body);
                for (name, value) in &headers {
                    if name != "host" && name != "content-length" {
                        request = request.header(name, value);
                    }
                }
                let answer = request.send().await.expect("helios answers");
                let status = answer.status();
                let answer_headers = answer.headers().clone();
                let text = answer.text().await.expect("helios body");
                let mut response = (status, text.replace(&upstream, &base)).into_response();
                for (name, value) in &answer_headers {
                    if name != "content-length" && name != "transfer-encoding" {
                        response.headers_mut().insert(name, value.clone());
                    }
                }
                response
            }
        },
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    own_base
}

#[tokio::test]
async fn when_the_appointment_is_refused_the_slot_is_freed_and_the_form_can_be_sent_again() {
    let Some(Loaded {
        hfs,
        app,
        now,
        first,
        sarah,
        sarah_self,
    }) = loaded_helios().await
    else {
        return;
    };
    let failing = adapter(
        &app,
        &refusing_appointment_creates(hfs.base.clone()).await,
        30,
    );
    let free = failing
        .free_slots(sarah.practice, &SlotSearch::default_window(now), now, 20)
        .await
        .expect("free slots through the pass-through");
    assert_eq!(free.len(), 4, "{free:?}");

    // The Slot is marked busy, the Appointment refused: a port error, and
    // the Slot on helios is free again.
    let key = "sarah-refused-0001-dddd";
    let refused = failing
        .book(booking(sarah, free[0].id, key, &sarah_self), now)
        .await;
    assert!(
        refused.is_err(),
        "a refused create is an error: {refused:?}"
    );
    let slot0 = reqwest::get(format!("{}/Slot/slot-0", hfs.base))
        .await
        .expect("slot")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(slot0["status"], "free", "released after the failed create");
    let appointments = reqwest::get(format!("{}/Appointment?slot=Slot/slot-0", hfs.base))
        .await
        .expect("search")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        appointments["entry"].as_array().map_or(0, Vec::len),
        0,
        "{appointments}"
    );
    let sarah_id = sarah.id.0;
    assert_eq!(
        app.count(&format!(
            "select count(*) from fhir_bookings where patient_id = {sarah_id}"
        ))
        .await,
        0,
        "the form's claim is withdrawn"
    );
    assert_eq!(
        app.count("select count(*) from outbox where kind = 'appointment_booked'")
            .await,
        0,
        "no confirmation for a booking that did not happen"
    );

    // The slot is offered again, and the same form books it once the
    // clinical system answers.
    let offered = failing
        .free_slots(sarah.practice, &SlotSearch::default_window(now), now, 20)
        .await
        .expect("free slots");
    assert!(offered.iter().any(|s| s.id == free[0].id));
    let working = adapter(&app, &hfs.base, 30);
    let booked = working
        .book(booking(sarah, free[0].id, key, &sarah_self), now)
        .await
        .expect("port")
        .expect("booked on the second send");
    assert_eq!(booked.slot.start, first);
}

#[tokio::test]
async fn a_fhir_server_that_never_answers_is_bounded_by_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    // Accepts connections and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::spawn().await;
    let book = adapter(&app, &base, 2);
    let now = Utc::now();
    let started = Instant::now();
    let err = book
        .free_slots(PracticeId(1), &SlotSearch::default_window(now), now, 10)
        .await
        .expect_err("no answer");
    assert!(err.is_not_answering(), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let sarah = sarah_ref(&app).await;
    let err = book.for_patient(sarah, now).await.expect_err("no answer");
    assert!(err.is_not_answering(), "{err}");
}

/// Gets a page as a browser without JavaScript: (status, body).
async fn page(app: &TestApp, browser: &reqwest::Client, path: &str) -> (u16, String) {
    let res = browser
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    (res.status().as_u16(), res.text().await.expect("body"))
}

#[tokio::test]
async fn under_fhir_the_pages_say_plainly_where_sessions_are_and_that_the_system_is_silent() {
    // Nothing listens on port 9: every FHIR call fails at once.
    let app = TestApp::spawn_with(|config| {
        config.gp_system = fhir_config("http://127.0.0.1:9/fhir", 2, 10);
    })
    .await;
    let staff = crate::common::client();
    app.sign_in_with(&staff, RECEPTION_A).await;
    let date = domain::appointments::uk_date(Utc::now());
    let (status, body) = page(
        &app,
        &staff,
        &format!("/staff/appointments?date={}", date.format("%Y-%m-%d")),
    )
    .await;
    assert_ne!(status, 500);
    assert!(
        body.contains("Sessions are managed in your practice"),
        "{status}: {body}"
    );
    let patient = crate::common::client();
    app.sign_in_with(&patient, SARAH).await;
    let (status, body) = page(&app, &patient, "/appointments/find").await;
    assert_ne!(status, 500);
    assert!(body.contains("system is not answering"), "{status}: {body}");
}

/// A FHIR server holding one booked Appointment of Sarah's, whose first
/// `stale` PUTs of it answer 412 as if the practice had just changed it.
struct Changing {
    stale: std::sync::atomic::AtomicUsize,
    reads: std::sync::atomic::AtomicUsize,
    puts: std::sync::atomic::AtomicUsize,
    start: DateTime<Utc>,
}

async fn start_changing(stale: usize) -> (String, std::sync::Arc<Changing>) {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use std::sync::atomic::Ordering;
    let state = std::sync::Arc::new(Changing {
        stale: stale.into(),
        reads: 0.into(),
        puts: 0.into(),
        start: Utc::now() + Duration::days(3),
    });
    let appointment = |s: &Changing| {
        json!({
            "resourceType": "Appointment", "id": "a1", "status": "booked",
            "start": iso(s.start), "end": iso(s.start + Duration::minutes(15)),
            "slot": [{ "reference": "Slot/s1" }],
            "participant": [{ "actor": { "reference": "Patient/p1" } }]
        })
    };
    let router = axum::Router::new()
        .route(
            "/fhir/Patient",
            get(|| async {
                axum::Json(json!({
                    "resourceType": "Bundle", "type": "searchset",
                    "entry": [{ "resource": { "resourceType": "Patient", "id": "p1" } }]
                }))
            }),
        )
        .route(
            "/fhir/Appointment/a1",
            get(
                move |State(s): State<std::sync::Arc<Changing>>| async move {
                    s.reads.fetch_add(1, Ordering::SeqCst);
                    ([("etag", "W/\"1\"")], axum::Json(appointment(&s))).into_response()
                },
            )
            .put(
                |State(s): State<std::sync::Arc<Changing>>, body: String| async move {
                    s.puts.fetch_add(1, Ordering::SeqCst);
                    if s.stale
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        return StatusCode::PRECONDITION_FAILED.into_response();
                    }
                    ([("etag", "W/\"2\"")], body).into_response()
                },
            ),
        )
        .route(
            "/fhir/Slot/s1",
            get(|| async {
                axum::Json(json!({ "resourceType": "Slot", "id": "s1", "status": "busy" }))
            })
            .put(|body: String| async move { body }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, state)
}

#[tokio::test]
async fn a_cancel_refused_as_stale_is_read_again_and_tried_once_more() {
    use std::sync::atomic::Ordering;
    let app = TestApp::spawn().await;
    let sarah = sarah_ref(&app).await;
    let sarah_self = actor(&app, SARAH, Role::Patient, Some(sarah.id)).await;
    let now = Utc::now();
    let id = app
        .count("insert into fhir_ids (resource_type, fhir_id) values ('Appointment', 'a1') returning id")
        .await;
    let appointment = domain::appointments::AppointmentId(id);

    // One 412: read again, put again, done.
    let (base, server) = start_changing(1).await;
    let book = adapter(&app, &base, 5);
    let done = book
        .cancel(sarah, appointment, "Better", &sarah_self, "r1", now)
        .await
        .expect("port");
    assert_eq!(done, Ok(()));
    assert_eq!(server.puts.load(Ordering::SeqCst), 2);
    assert_eq!(server.reads.load(Ordering::SeqCst), 2);

    // Two 412s: reported plainly, and nothing logged as cancelled.
    let (base, server) = start_changing(2).await;
    let book = adapter(&app, &base, 5);
    let err = book
        .cancel(sarah, appointment, "Better", &sarah_self, "r2", now)
        .await
        .expect_err("kept changing");
    assert!(err.is_not_answering(), "{err}");
    assert_eq!(server.puts.load(Ordering::SeqCst), 2);
    assert_eq!(
        app.count("select count(*) from access_log where request_id = 'r2'")
            .await,
        0
    );
}
