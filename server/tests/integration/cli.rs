//! The `portal` binary as an operator meets it: bad input gets a clear
//! message and leaves nothing half written; logs carry no patient data.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn portal(database_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("PORTAL_NEW_PASSWORD", common::PASSWORD)
        .env_remove("PORTAL_CONFIG_FILE")
        .output()
        .expect("run portal");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Row;
    let db = server::db::connect(&common::database_config(url))
        .await
        .expect("connect");
    sqlx::query(sql)
        .fetch_one(&db.pool)
        .await
        .expect("count")
        .try_get::<i64, _>(0)
        .expect("i64")
}

/// `portal create-patient` for Ann Lee at the demo practice; `rest` starts
/// with her date of birth.
fn create_ann(url: &str, rest: &[&str]) -> (bool, String) {
    let mut args = vec![
        "create-patient",
        "--practice",
        "Y90001",
        "--given-name",
        "Ann",
        "--family-name",
        "Lee",
        "--date-of-birth",
    ];
    args.extend_from_slice(rest);
    portal(url, &args)
}

/// `portal create-staff` for new@example.com.
fn create_new_staff(url: &str, name: &str, role: &str, practice: &str) -> (bool, String) {
    portal(
        url,
        &[
            "create-staff",
            "--email",
            "new@example.com",
            "--name",
            name,
            "--role",
            role,
            "--practice",
            practice,
        ],
    )
}

#[tokio::test]
async fn malformed_input_is_explained_and_nothing_is_written() {
    let url = common::fresh_database_url().await;
    let (ok, _) = portal(&url, &["seed-demo"]);
    assert!(ok);
    let patients_before = count(&url, "select count(*) from patients").await;

    let (ok, err) = create_ann(&url, &["1990-01-01", "--nhs-number", "1234567890"]);
    assert!(!ok);
    assert!(err.contains("NHS number is not valid"), "{err}");

    let (ok, err) = create_ann(&url, &["1990-02-30"]);
    assert!(!ok);
    assert!(err.contains("Date of birth must be a real date"), "{err}");

    // The patient insert succeeds but the account's email is taken: the
    // whole registration is rolled back.
    let (ok, err) = create_ann(
        &url,
        &[
            "1990-01-01",
            "--nhs-number",
            "943 476 5919",
            "--email",
            "sarah.jones@example.com",
        ],
    );
    assert!(!ok);
    assert!(
        err.contains("An account with that email address already exists"),
        "{err}"
    );
    assert_eq!(
        count(&url, "select count(*) from patients").await,
        patients_before,
        "nothing half written"
    );

    let (ok, err) = create_new_staff(&url, "New", "receptionist", "Z99999");
    assert!(!ok);
    assert!(err.contains("No practice with ODS code Z99999"), "{err}");
    let (ok, err) = create_new_staff(&url, "New", "doctor", "Y90001");
    assert!(!ok);
    assert!(err.contains("Role must be one of"), "{err}");
    assert_eq!(
        count(
            &url,
            "select count(*) from accounts where email = 'new@example.com'"
        )
        .await,
        0
    );

    let (ok, err) = create_new_staff(&url, "New Person", "clinician", "Y90001");
    assert!(ok, "{err}");
    assert_eq!(
        count(
            &url,
            "select count(*) from accounts where email = 'new@example.com'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let url = common::fresh_database_url().await;
    let (ok, first) = portal(&url, &["seed-demo"]);
    assert!(ok, "{first}");
    assert!(first.contains("sarah.jones@example.com / demo-password-2026"));
    // Every demo member of staff has the printed authenticator key set up.
    assert!(
        first.contains("GPON LINE SERV ICES DEMO STAF FSEC RET2"),
        "{first}"
    );
    assert_eq!(
        count(
            &url,
            "select count(*) from staff_mfa where enrolled_at is not null"
        )
        .await,
        count(
            &url,
            "select count(*) from accounts where role <> 'patient'"
        )
        .await
    );
    let (ok, second) = portal(&url, &["seed-demo"]);
    assert!(ok);
    assert!(second.contains("already there"));
    assert_eq!(count(&url, "select count(*) from practices").await, 2);
    // Yesterday's finished clinic, with its two bookings, once.
    assert_eq!(
        count(
            &url,
            "select count(*) from appointments a join appointment_slots s on s.id = a.slot_id
             join appointment_sessions se on se.id = s.session_id
             where se.clinician = 'Dr Ruth Ellis' and a.status = 'booked'"
        )
        .await,
        2
    );
    assert!(count(&url, "select count(*) from patients").await >= 20);
    assert!(
        count(
            &url,
            "select count(*) from patients where nhs_number is null"
        )
        .await
            >= 2
    );
    for role in [
        "receptionist",
        "clinician",
        "practice_manager",
        "system_admin",
    ] {
        assert!(
            count(
                &url,
                &format!("select count(*) from accounts where role = '{role}'")
            )
            .await
                >= 1,
            "{role}"
        );
    }
}

#[test]
fn database_urls_that_cannot_work_say_what_to_do() {
    let (ok, err) = portal("mysql://root@localhost/portal", &["migrate"]);
    assert!(!ok);
    assert!(
        err.contains("DATABASE_URL is not one the portal understands"),
        "{err}"
    );
    let (ok, err) = portal("postgres://portal:hunter2@127.0.0.1:1/portal", &["migrate"]);
    assert!(!ok);
    assert!(err.contains("Could not connect to the database"), "{err}");
    assert!(
        err.contains("check that the database server is running")
            || err.contains("Check that the database server is running"),
        "{err}"
    );
    assert!(
        !err.contains("hunter2"),
        "the password is never printed: {err}"
    );
}

#[test]
fn help_documents_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["serve", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "DATABASE_URL",
        "PORTAL_ADDR",
        "PORTAL_PUBLIC_URL",
        "PORTAL_SESSION_KEY",
        "PORTAL_IDLE_TIMEOUT_MINUTES",
        "PORTAL_LOG_FORMAT",
    ] {
        assert!(help.contains(var), "{var} missing from serve --help");
    }
}

/// Runs the real server, walks a patient and a receptionist through the
/// portal, and reads every log line: none may carry patient data.
#[tokio::test]
async fn logs_carry_request_ids_and_no_patient_data() {
    let url = common::fresh_database_url().await;
    assert!(portal(&url, &["seed-demo"]).0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("PORTAL_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTAL_PUBLIC_URL", &base)
        .env("PORTAL_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,hyper=info,h2=info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    // Drain the log as it is written, so a full pipe never stalls the server.
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    let client = common::client();
    let mut ready = false;
    for _ in 0..100 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "server did not start");
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        client
            .post(format!("{base}{path}"))
            .header("origin", &base)
            .header("accept", "text/html")
            .form(&form)
            .send()
    };
    post(
        "/api/sign_in",
        vec![
            ("email", "sarah.jones@example.com".into()),
            ("password", "wrong-password-1".into()),
        ],
    )
    .await
    .expect("post");
    post(
        "/api/sign_in",
        vec![
            ("email", "sarah.jones@example.com".into()),
            ("password", "demo-password-2026".into()),
        ],
    )
    .await
    .expect("post");
    for page in ["/home", "/access-log"] {
        let body = client
            .get(format!("{base}{page}"))
            .header("accept", "text/html")
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        assert!(
            body.contains("Sarah"),
            "{page} shows the patient's own data"
        );
    }
    post("/api/sign_out", vec![]).await.expect("post");
    post(
        "/api/sign_in",
        vec![
            ("email", "priya.shah@riverside.example.com".into()),
            ("password", "demo-password-2026".into()),
        ],
    )
    .await
    .expect("post");
    // Staff give a code from their authenticator app before any patient data.
    let code = common::code_after_step(server::provisioning::DEMO_TOTP_SECRET, 0).await;
    let given = post("/api/verify_second_factor", vec![("code", code.clone())])
        .await
        .expect("post");
    assert_eq!(common::location(&given), "/staff");
    post(
        "/api/find_patient",
        vec![("nhs_number", "999 100 0003".into())],
    )
    .await
    .expect("post");
    let _ = child.kill();
    let _ = child.wait();
    let lines = reader.join().expect("log reader");
    assert!(lines.len() > 10, "the server logged its requests");
    let mut with_request_id = 0;
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if line.contains("request_id") {
            with_request_id += 1;
        }
        let lower = line.to_lowercase();
        for secret in [
            "sarah",
            "jones",
            "9991000003",
            "999 100 0003",
            "1984-03-27",
            "demo-password",
            "wrong-password",
            "priya.shah@",
            &server::provisioning::DEMO_TOTP_SECRET.to_lowercase(),
        ] {
            assert!(
                !lower.contains(secret),
                "log line carries {secret}: {value}"
            );
        }
    }
    assert!(with_request_id > 5);
}
