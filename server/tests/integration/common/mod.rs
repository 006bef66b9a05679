//! Test harness: each test gets a fresh database (SQLite file, or a new
//! PostgreSQL database when PORTAL_TEST_DATABASE_URL is set), a server on
//! port 0 and an HTTP client that keeps cookies and does not follow
//! redirects, so each step of a journey can be checked.
#![allow(dead_code)]

pub mod mail;
pub mod oidc;

use domain::{Email, NhsNumber, OdsCode, PatientId, Role};
use secrecy::SecretString;
use server::config::{DatabaseConfig, ServeConfig};
use server::db::Db;
use server::provisioning::{self, NewPatient, NewStaff};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const PASSWORD: &str = "correct-horse-battery";
pub const SARAH: &str = "sarah@example.com";
pub const SARAH_NHS: &str = "9434765919";
pub const RECEPTION_A: &str = "reception@a.example.com";
pub const RECEPTION_B: &str = "reception@b.example.com";
pub const MANAGER_A: &str = "manager@a.example.com";
pub const ADMIN: &str = "admin@example.com";
/// The authenticator secret every seeded member of staff has set up.
pub const TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
/// A registered patient with no online account yet: signs up in the tests.
pub const CAROL_NHS: &str = "9990001014";
pub const CAROL_DOB: (&str, &str, &str) = ("14", "7", "1990");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct Fixtures {
    pub sarah: PatientId,
    pub bob: PatientId,
    pub other_practice_patient: PatientId,
    pub carol: PatientId,
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub database_url: String,
    pub config: ServeConfig,
    pub client: reqwest::Client,
    pub fixtures: Fixtures,
}

/// Which backend this run uses, for messages.
pub fn backend() -> &'static str {
    if std::env::var("PORTAL_TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A URL for a brand-new, empty database.
pub async fn fresh_database_url() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let unique = format!(
        "{}_{}_{}",
        std::process::id(),
        n,
        chrono::Utc::now().timestamp_micros()
    );
    match std::env::var("PORTAL_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let name = format!("portal_test_{unique}");
            let mut conn = sqlx::AnyConnection::connect(&admin)
                .await
                .expect("connect to PostgreSQL for tests");
            sqlx::query(&format!("create database {name}"))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin.clone());
            format!("{base}/{name}")
        }
        _ => {
            let path = std::env::temp_dir().join(format!("portal-test-{unique}.db"));
            format!("sqlite://{}", path.display())
        }
    }
}

pub fn database_config(url: &str) -> DatabaseConfig {
    DatabaseConfig {
        database_url: SecretString::from(url.to_owned()),
        max_connections: 5,
    }
}

pub fn serve_config(url: &str) -> ServeConfig {
    ServeConfig {
        database: database_config(url),
        addr: "127.0.0.1:0".parse().expect("addr"),
        public_url: "http://127.0.0.1:0".to_owned(),
        site_root: "target/site".into(),
        session_key: None,
        idle_timeout_minutes: 15,
        session_lifetime_hours: 12,
        trust_forwarded_for: false,
        linkage_key_days: domain::linkage::DEFAULT_LIFETIME_DAYS,
        appointment_reminder_hours: 24,
        email: server::config::EmailConfig::development(),
        nhs_login: server::nhs_login::NhsLoginConfig::disabled(),
        gp_system: server::config::GpSystemConfig::local(),
    }
}

async fn seed(db: &Db) -> Fixtures {
    let a = OdsCode::parse("A81001").expect("ods");
    let b = OdsCode::parse("B82002").expect("ods");
    provisioning::create_practice(db, &a, "Riverside Surgery")
        .await
        .expect("practice a");
    provisioning::create_practice(db, &b, "Hillside Medical Centre")
        .await
        .expect("practice b");
    let pw = || SecretString::from(PASSWORD);
    let email = |e: &str| Email::parse(e).expect("email");
    let patient =
        |practice: &OdsCode, given: &str, nhs: Option<&str>, account: Option<&str>| NewPatient {
            practice: practice.clone(),
            given_name: given.into(),
            family_name: "Testperson".into(),
            date_of_birth: "1984-03-27".parse().expect("date"),
            nhs_number: nhs.map(|n| NhsNumber::parse(n).expect("nhs")),
            account: account.map(|e| (email(e), pw())),
        };
    let sarah =
        provisioning::create_patient(db, patient(&a, "Sarah", Some(SARAH_NHS), Some(SARAH)))
            .await
            .expect("sarah");
    let bob = provisioning::create_patient(db, patient(&a, "Bob", None, Some("bob@example.com")))
        .await
        .expect("bob");
    let other = provisioning::create_patient(db, patient(&b, "Hana", Some("9912003888"), None))
        .await
        .expect("hana");
    let carol = provisioning::create_patient(
        db,
        NewPatient {
            date_of_birth: "1990-07-14".parse().expect("date"),
            ..patient(&a, "Carol", Some(CAROL_NHS), None)
        },
    )
    .await
    .expect("carol");
    for (address, role, practice) in [
        (RECEPTION_A, Role::Receptionist, Some(&a)),
        (RECEPTION_B, Role::Receptionist, Some(&b)),
        (MANAGER_A, Role::PracticeManager, Some(&a)),
        (ADMIN, Role::SystemAdmin, None),
    ] {
        provisioning::create_staff(
            db,
            NewStaff {
                email: email(address),
                display_name: format!("Staff {address}"),
                role,
                practice: practice.cloned(),
                password: pw(),
            },
        )
        .await
        .expect("staff");
        provisioning::enrol_second_factor(db, &email(address), TOTP_SECRET)
            .await
            .expect("second factor");
    }
    Fixtures {
        sarah,
        bob,
        other_practice_patient: other,
        carol,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        // A hung request fails the test instead of hanging the suite.
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let url = fresh_database_url().await;
        let db = server::db::connect(&database_config(&url))
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let fixtures = seed(&db).await;
        let mut config = serve_config(&url);
        adjust(&mut config);
        let base = start(&mut config, db.clone()).await;
        TestApp {
            base,
            db,
            database_url: url,
            config,
            client: client(),
            fixtures,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A form post as a browser without JavaScript sends it.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post_form_with(&self.client, path, form).await
    }

    pub async fn post_form_with(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post(client, path, form, "text/html,application/xhtml+xml")
            .await
    }

    /// A server-function call as the hydrated app makes it.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post(client, path, form, "application/json").await
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
        accept: &str,
    ) -> reqwest::Response {
        client
            .post(self.url(path))
            .header("origin", &self.base)
            .header("accept", accept)
            .form(form)
            .send()
            .await
            .expect("post")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .expect("get")
    }

    pub async fn sign_in(&self, email: &str) -> reqwest::Response {
        self.sign_in_with(&self.client, email).await
    }

    pub async fn sign_in_with(&self, client: &reqwest::Client, email: &str) -> reqwest::Response {
        let res = self
            .post_form_with(
                client,
                "/api/sign_in",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(location(&res), "/", "{email} should be signed in");
        if let Some(code) = self.next_totp_code(email).await {
            let given = self
                .post_form_with(client, "/api/verify_second_factor", &[("code", &code)])
                .await;
            let home = location(&given);
            assert!(
                home.starts_with('/') && !home.starts_with("/mfa"),
                "{email} should have given their second factor, went to {home:?}"
            );
        }
        res
    }

    /// Signs in with the password only: a member of staff is left at the
    /// second-factor step.
    pub async fn sign_in_password_only(
        &self,
        client: &reqwest::Client,
        email: &str,
    ) -> reqwest::Response {
        let res = self
            .post_form_with(
                client,
                "/api/sign_in",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(location(&res), "/", "{email} should be signed in");
        res
    }

    /// The code a member of staff's authenticator app would give for the
    /// next step the server will take (each step works once), waiting for
    /// a new step if this person has just used both it would take. None
    /// for someone without an authenticator app set up.
    pub async fn next_totp_code(&self, email: &str) -> Option<String> {
        use sqlx::Row;
        let row = sqlx::query(
            "select m.secret, m.last_used_step from staff_mfa m join accounts a on a.id = m.account_id
             where a.email = $1 and m.enrolled_at is not null",
        )
        .bind(email)
        .fetch_optional(&self.db.pool)
        .await
        .expect("second factor")?;
        let secret: String = row.try_get("secret").expect("secret");
        let last_used: i64 = row.try_get("last_used_step").expect("step");
        Some(code_after_step(&secret, last_used).await)
    }

    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Row;
        sqlx::query(sql)
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
            .try_get::<i64, _>(0)
            .expect("i64")
    }
}

/// An authenticator code for a step after `last_used`, that the server
/// will still take when the request arrives: the current step or the next
/// (not the one before, which may leave the window on the way). Waits for
/// a new step when both are used up.
pub async fn code_after_step(secret: &str, last_used: i64) -> String {
    use domain::second_factor::{STEP_SECONDS, step_at};
    loop {
        let now = chrono::Utc::now().timestamp();
        let step = step_at(now).max(last_used + 1);
        if step <= step_at(now) + 1 {
            return server::stores::second_factor::code_for_step(secret, step).expect("code");
        }
        let next_step_starts = (step_at(now) + 1) * STEP_SECONDS;
        tokio::time::sleep(std::time::Duration::from_secs(
            u64::try_from(next_step_starts - now).unwrap_or(1).max(1),
        ))
        .await;
    }
}

/// Binds port 0, points the public URL at it, and serves in the background.
pub async fn start(config: &mut ServeConfig, db: Db) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    if config.public_url == "http://127.0.0.1:0" {
        config.public_url = base.clone();
    }
    config.addr = addr;
    let app = server::web::build(config.clone(), db)
        .await
        .expect("build app");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    base
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

pub fn header(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}
