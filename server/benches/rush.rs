//! The 8am rush: many patients try to book the same few same-day slots the
//! moment they are released, over HTTP against the real release server.
//! Run with `scripts/bench --rush` (add `--postgres`, `--servers 2`,
//! `--patients N`, `--slots M`). Steps:
//!   1. a fresh database with the demo practice (`portal seed-demo`), then N
//!      patient accounts (one argon2 hash shared by all, to save setup time)
//!   2. one or more `portal serve` processes on that database
//!   3. every patient signs in over HTTP (the real argon2 check; timed on
//!      its own, not part of the rush figures)
//!   4. M slots are released at once (one transaction)
//!   5. every patient, at once (a bounded number of connections), opens the
//!      find page, tries the soonest slot, and on "this appointment has just
//!      been taken" follows the page that offers the next free ones, until
//!      they book or none are left
//!
//! Prints throughput, p50/p95/p99 latency of every request and of the
//! booking posts alone, slots filled, patients booked, and double bookings
//! counted in the database (the unique index makes 0 the only possible
//! answer; the query checks it rather than trusting it).

// A benchmark's report is its standard output.
#![allow(clippy::print_stdout)]

use chrono::{Duration as Days, NaiveTime, Utc};
use domain::appointments::{Edge, uk_date, uk_to_utc};
use server::config::DatabaseConfig;
use server::db::Db;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Semaphore};

const PASSWORD: &str = "rush-password-2026";
const SLOT_MINUTES: i64 = 10;
const SLOTS_PER_SESSION: usize = 24;
const FIRST_PORT: u16 = 3700;
/// A patient who has tried this many slots gives up (never reached when
/// the server answers as it should).
const MAX_ATTEMPTS: usize = 200;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Options {
    patients: usize,
    slots: usize,
    servers: usize,
    connections: usize,
    database_url: String,
    portal: String,
}

impl Options {
    fn from_env() -> Self {
        let database_url = std::env::var("PORTAL_BENCH_DATABASE_URL").unwrap_or_else(|_| {
            format!(
                "sqlite://{}",
                std::env::temp_dir()
                    .join(format!("portal-bench-rush-{}.db", std::process::id()))
                    .display()
            )
        });
        Self {
            patients: env_number("RUSH_PATIENTS", 10_000),
            slots: env_number("RUSH_SLOTS", 500),
            servers: env_number("RUSH_SERVERS", 1).max(1),
            connections: env_number("RUSH_CONNECTIONS", 256).max(1),
            database_url,
            portal: std::env::var("PORTAL_BIN").unwrap_or_else(|_| "target/release/portal".into()),
        }
    }
}

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn base_url(server: usize) -> String {
    format!("http://127.0.0.1:{}", FIRST_PORT + server as u16)
}

async fn start_servers(options: &Options) -> Servers {
    let mut children = Vec::new();
    for server in 0..options.servers {
        let base = base_url(server);
        let child = Command::new(&options.portal)
            .arg("serve")
            .env("DATABASE_URL", &options.database_url)
            .env("PORTAL_ADDR", base.trim_start_matches("http://"))
            .env("PORTAL_PUBLIC_URL", &base)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start portal serve (build it with cargo build --release -p server)");
        children.push(child);
    }
    let servers = Servers(children);
    let client = reqwest::Client::new();
    for server in 0..options.servers {
        let ready = format!("{}/readyz", base_url(server));
        let mut up = false;
        for _ in 0..200 {
            if client
                .get(&ready)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(up, "server {server} did not become ready");
    }
    servers
}

/// The demo practice, its first member of staff, and N patients who may
/// book online. Earlier demo sessions are removed so that the released
/// slots are the only ones.
async fn prepare(db: &Db, patients: usize) -> (i64, i64) {
    let pool = &db.pool;
    let (practice,): (i64,) = sqlx::query_as("select id from practices order by id limit 1")
        .fetch_one(pool)
        .await
        .expect("a practice (seed-demo)");
    let (staff,): (i64,) = sqlx::query_as(
        "select id from accounts where practice_id = $1 and role <> 'patient' order by id limit 1",
    )
    .bind(practice)
    .fetch_one(pool)
    .await
    .expect("a member of staff (seed-demo)");
    let mut tx = db.begin_write().await.expect("tx");
    for table in ["appointments", "appointment_slots", "appointment_sessions"] {
        sqlx::query(&format!("delete from {table} where practice_id = $1"))
            .bind(practice)
            .execute(&mut *tx)
            .await
            .expect("clear demo appointments");
    }
    sqlx::query("delete from appointment_rules where practice_id = $1")
        .bind(practice)
        .execute(&mut *tx)
        .await
        .expect("clear rules");
    // Slots open 14 days ahead at midnight (so the released slots are
    // visible at once), one future booking per patient, as many practices
    // limit it on the day.
    sqlx::query(
        "insert into appointment_rules (practice_id, release_days_ahead, release_minute, max_future_bookings, cancel_cutoff_hours, updated_at)
         values ($1, 14, 0, 1, 2, $2)",
    )
    .bind(practice)
    .bind(Utc::now().timestamp())
    .execute(&mut *tx)
    .await
    .expect("rules");
    let phc = server::passwords::hash(PASSWORD).expect("hash");
    let now = Utc::now().timestamp();
    for i in 0..patients {
        let (patient,): (i64,) = sqlx::query_as(
            "insert into patients (practice_id, nhs_number, given_name, family_name, date_of_birth, created_at)
             values ($1, null, 'Rush', $2, '1980-01-01', $3) returning id",
        )
        .bind(practice)
        .bind(format!("Patient {i}"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .expect("patient");
        sqlx::query(
            "insert into accounts (practice_id, email, display_name, password_hash, role, patient_id, created_at, email_verified_at)
             values ($1, $2, $3, $4, 'patient', $5, $6, $6)",
        )
        .bind(practice)
        .bind(format!("rush.{i}@bench.example.com"))
        .bind(format!("Rush Patient {i}"))
        .bind(&phc)
        .bind(patient)
        .bind(now)
        .execute(&mut *tx)
        .await
        .expect("account");
    }
    tx.commit().await.expect("commit");
    (practice, staff)
}

/// Tomorrow from 08:00 UK time, 24 ten-minute slots per clinician, as many
/// clinicians as M slots need; all in one transaction, so every slot
/// appears at the same instant.
async fn release_slots(db: &Db, practice: i64, staff: i64, slots: usize) {
    let tomorrow = uk_date(Utc::now()) + Days::days(1);
    let eight = NaiveTime::from_hms_opt(8, 0, 0).expect("08:00");
    let start = uk_to_utc(tomorrow, eight, Edge::Start).expect("08:00 exists");
    let date = tomorrow.format("%Y-%m-%d").to_string();
    let mut tx = db.begin_write().await.expect("tx");
    let mut made = 0;
    let mut clinician = 0;
    while made < slots {
        clinician += 1;
        let count = SLOTS_PER_SESSION.min(slots - made);
        let ends = start + Days::minutes(SLOT_MINUTES * count as i64);
        let name = format!("Dr Rush {clinician}");
        let (session,): (i64,) = sqlx::query_as(
            "insert into appointment_sessions (practice_id, clinician, clinician_key, role, location, mode, bookable_online, local_date, starts_at, ends_at, slot_minutes, created_by, created_at)
             values ($1, $2, $3, 'gp', 'Main surgery', 'in_person', 1, $4, $5, $6, $7, $8, $9) returning id",
        )
        .bind(practice)
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(&date)
        .bind(start.timestamp())
        .bind(ends.timestamp())
        .bind(SLOT_MINUTES)
        .bind(staff)
        .bind(Utc::now().timestamp())
        .fetch_one(&mut *tx)
        .await
        .expect("session");
        for n in 0..count {
            let at = start + Days::minutes(SLOT_MINUTES * n as i64);
            sqlx::query(
                "insert into appointment_slots (session_id, practice_id, starts_at, ends_at, local_date, local_minute)
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(session)
            .bind(practice)
            .bind(at.timestamp())
            .bind((at + Days::minutes(SLOT_MINUTES)).timestamp())
            .bind(&date)
            .bind(480 + SLOT_MINUTES * n as i64)
            .execute(&mut *tx)
            .await
            .expect("slot");
        }
        made += count;
    }
    tx.commit().await.expect("commit");
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn sign_in(client: &reqwest::Client, base: &str, i: usize) -> Option<String> {
    let response = client
        .post(format!("{base}/api/sign_in"))
        .header("Origin", base)
        .header("Accept", "text/html")
        .form(&[
            ("email", format!("rush.{i}@bench.example.com")),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .ok()?;
    let signed_in = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .is_some_and(|l| !l.starts_with("/sign-in"));
    if !signed_in {
        return None;
    }
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.starts_with("portal_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// Slot ids linked from a page, in page order (soonest first).
fn slot_links(html: &str) -> Vec<i64> {
    const LINK: &str = "href=\"/appointments/book/";
    html.match_indices(LINK)
        .filter_map(|(at, _)| {
            let rest = &html[at + LINK.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    all: Vec<Duration>,
    bookings: Vec<Duration>,
    booked: usize,
    none_left: usize,
    taken_answers: usize,
    unexpected: usize,
    gave_up: usize,
}

enum Step {
    Find,
    Offer(String),
    Book(i64),
}

async fn one_patient(
    client: reqwest::Client,
    base: String,
    cookie: String,
    key_seed: usize,
    tally: Arc<Mutex<Tally>>,
) {
    let mut all = Vec::new();
    let mut bookings = Vec::new();
    let mut step = Step::Find;
    let mut taken = 0;
    let mut outcome = None;
    for attempt in 0..MAX_ATTEMPTS {
        match step {
            Step::Find | Step::Offer(_) => {
                let path = match &step {
                    Step::Offer(path) => path.clone(),
                    _ => "/appointments/find".to_owned(),
                };
                let started = Instant::now();
                let page = match client
                    .get(format!("{base}{path}"))
                    .header("Cookie", &cookie)
                    .header("Accept", "text/html")
                    .send()
                    .await
                {
                    Ok(r) if r.status().is_success() => r.text().await.ok(),
                    _ => None,
                };
                all.push(started.elapsed());
                let Some(page) = page else {
                    outcome = Some("unexpected");
                    break;
                };
                match (slot_links(&page).first(), &step) {
                    (Some(slot), _) => step = Step::Book(*slot),
                    (None, Step::Offer(_)) => step = Step::Find,
                    (None, _) => {
                        outcome = Some("none_left");
                        break;
                    }
                }
            }
            Step::Book(slot) => {
                let key = format!("rush{key_seed:08}x{attempt:04}{:012}", slot);
                let started = Instant::now();
                let response = client
                    .post(format!("{base}/api/book_appointment"))
                    .header("Cookie", &cookie)
                    .header("Origin", &base)
                    .header("Accept", "text/html")
                    .form(&[
                        ("slot", slot.to_string()),
                        ("reason", String::new()),
                        ("note", String::new()),
                        ("idempotency_key", key),
                    ])
                    .send()
                    .await;
                let elapsed = started.elapsed();
                all.push(elapsed);
                bookings.push(elapsed);
                let location = response.ok().and_then(|r| {
                    r.headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .map(str::to_owned)
                });
                match location {
                    Some(l) if l.contains("booked=1") => {
                        outcome = Some("booked");
                        break;
                    }
                    Some(l) if l.starts_with("/appointments/book/") => {
                        taken += 1;
                        step = Step::Offer(l);
                    }
                    _ => {
                        outcome = Some("unexpected");
                        break;
                    }
                }
            }
        }
    }
    let mut t = tally.lock().await;
    t.all.extend(all);
    t.bookings.extend(bookings);
    t.taken_answers += taken;
    match outcome {
        Some("booked") => t.booked += 1,
        Some("none_left") => t.none_left += 1,
        Some(_) => t.unexpected += 1,
        None => t.gave_up += 1,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn latency_line(label: &str, samples: &mut [Duration]) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {} requests, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        ms(percentile(samples, 50.0)),
        ms(percentile(samples, 95.0)),
        ms(percentile(samples, 99.0)),
        ms(samples.last().copied().unwrap_or_default()),
    );
}

async fn count(db: &Db, sql: &str, practice: i64) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(practice)
        .fetch_one(&db.pool)
        .await
        .expect("count");
    n
}

#[tokio::main]
async fn main() {
    let options = Options::from_env();
    let backend = options.database_url.split(':').next().unwrap_or("?");
    println!(
        "8am rush: {} patients, {} slots, {} server(s) on {backend}, {} client connections",
        options.patients, options.slots, options.servers, options.connections
    );
    let seeded = Command::new(&options.portal)
        .arg("seed-demo")
        .env("DATABASE_URL", &options.database_url)
        .stdout(Stdio::null())
        .status()
        .expect("portal seed-demo");
    assert!(seeded.success(), "seed-demo failed");
    let db = server::db::connect(&DatabaseConfig {
        database_url: options.database_url.clone().into(),
        max_connections: 5,
    })
    .await
    .expect("connect");
    let setup = Instant::now();
    let (practice, staff) = prepare(&db, options.patients).await;
    println!(
        "setup: {} patient accounts in {:.1} s",
        options.patients,
        setup.elapsed().as_secs_f64()
    );
    let _servers = start_servers(&options).await;
    let clients: Vec<reqwest::Client> = (0..options.servers).map(|_| client()).collect();

    // Sign-ins are argon2-bound: a few at a time per core is all the CPU takes.
    let signing_in = Instant::now();
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = Vec::new();
    for i in 0..options.patients {
        let server = i % options.servers;
        let client = clients[server].clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            sign_in(&client, &base_url(server), i).await
        }));
    }
    let mut cookies = Vec::new();
    for task in tasks {
        cookies.push(task.await.expect("sign-in task"));
    }
    let signed_in = cookies.iter().filter(|c| c.is_some()).count();
    let sign_in_seconds = signing_in.elapsed().as_secs_f64();
    println!(
        "signed in: {signed_in} of {} in {sign_in_seconds:.1} s ({:.0} sign-ins/s)",
        options.patients,
        signed_in as f64 / sign_in_seconds
    );

    release_slots(&db, practice, staff, options.slots).await;
    let rush = Instant::now();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let gate = Arc::new(Semaphore::new(options.connections));
    let mut tasks = Vec::new();
    for (i, cookie) in cookies.into_iter().enumerate() {
        let Some(cookie) = cookie else { continue };
        let server = i % options.servers;
        let client = clients[server].clone();
        let gate = gate.clone();
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate");
            one_patient(client, base_url(server), cookie, i, tally).await;
        }));
    }
    for task in tasks {
        task.await.expect("patient task");
    }
    let seconds = rush.elapsed().as_secs_f64();
    let mut tally = Arc::try_unwrap(tally)
        .ok()
        .expect("all patients done")
        .into_inner();

    let filled = count(
        &db,
        "select count(distinct slot_id) from appointments where practice_id = $1 and status <> 'cancelled'",
        practice,
    )
    .await;
    let released = count(
        &db,
        "select count(*) from appointment_slots where practice_id = $1",
        practice,
    )
    .await;
    let double = count(
        &db,
        "select count(*) from (select slot_id from appointments where practice_id = $1 and status <> 'cancelled' group by slot_id having count(*) > 1) as twice",
        practice,
    )
    .await;
    let holding_two = count(
        &db,
        "select count(*) from (select patient_id from appointments where practice_id = $1 and status <> 'cancelled' group by patient_id having count(*) > 1) as twice",
        practice,
    )
    .await;
    println!(
        "rush: {:.1} s, {} requests, {:.0} requests/s",
        seconds,
        tally.all.len(),
        tally.all.len() as f64 / seconds
    );
    latency_line("  every request", &mut tally.all);
    latency_line("  booking posts", &mut tally.bookings);
    println!(
        "  patients booked: {}, found none left: {}, unexpected answers: {}, gave up: {}",
        tally.booked, tally.none_left, tally.unexpected, tally.gave_up
    );
    println!("  \"just been taken\" answers: {}", tally.taken_answers);
    println!("slots filled: {filled} of {released}");
    println!("double bookings (slots booked more than once): {double}");
    println!("patients holding more than one booking: {holding_two}");
    if let Some(path) = options.database_url.strip_prefix("sqlite://") {
        let _ = std::fs::remove_file(path);
    }
}
