//! How fast the outbox sends, to a real SMTP server on loopback
//! (testing/mailsink.py, aiosmtpd). Run with `scripts/bench --email`
//! (add `--postgres` for PostgreSQL). Prints:
//!   - throughput: one worker draining a backlog of emails, emails/second
//!   - waiting time under normal load: emails written at a steady rate,
//!     one per transaction as real changes write them, and the time from
//!     commit to arrival at the mail server (p50, p95, max)

// A benchmark's report is its standard output.
#![allow(clippy::print_stdout)]

#[path = "../tests/integration/common/mail.rs"]
#[allow(dead_code)]
mod mail;

use server::config::{DatabaseConfig, EmailConfig};
use server::outbox::Outbox;
use server::outbox::store::enqueue;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const BACKLOG: usize = 2000;
const STEADY_RATE_PER_SECOND: u64 = 20;
const STEADY_SECONDS: u64 = 15;

async fn database() -> (server::db::Db, String) {
    let url = match std::env::var("PORTAL_BENCH_DATABASE_URL") {
        Ok(url) => url,
        Err(_) => format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(format!("portal-bench-outbox-{}.db", std::process::id()))
                .display()
        ),
    };
    let db = server::db::connect(&DatabaseConfig {
        database_url: url.clone().into(),
        max_connections: 10,
    })
    .await
    .expect("connect");
    db.migrate().await.expect("migrate");
    (db, url)
}

async fn write(db: &server::db::Db, outbox: &Outbox, recipient: &str) {
    let mut tx = db.begin_write().await.expect("tx");
    enqueue(
        &mut tx,
        mail::notice_to(recipient),
        outbox.message_domain(),
        chrono::Utc::now().timestamp(),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    outbox.wake();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let sink = mail::MailSink::start().await;
    let (db, url) = database().await;
    let mut config = EmailConfig::development();
    sink.configure(&mut config);
    let outbox = Outbox::new(db.clone(), &config, "http://localhost:3000", true).expect("outbox");
    println!("backend: {}", url.split(':').next().unwrap_or("?"));

    // 1. A backlog drained by one worker.
    let mut tx = db.begin_write().await.expect("tx");
    for i in 0..BACKLOG {
        enqueue(
            &mut tx,
            mail::notice_to(&format!("backlog{i}@example.com")),
            outbox.message_domain(),
            chrono::Utc::now().timestamp(),
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");
    let started = Instant::now();
    let worker = outbox.spawn_worker();
    // Counting files, not parsing them: the bench must not compete with
    // the worker for the CPU.
    let deadline = Instant::now() + Duration::from_secs(600);
    while sink.count() < BACKLOG {
        assert!(
            Instant::now() < deadline,
            "the backlog was not sent in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    worker.abort();
    println!(
        "throughput: {BACKLOG} emails in {:.2}s = {:.0} emails/s (one worker, batch {})",
        took.as_secs_f64(),
        BACKLOG as f64 / took.as_secs_f64(),
        config.outbox_batch
    );

    // 2. Steady load: how long an email waits between commit and arrival,
    // with a fresh mail server (an empty folder to watch) and worker.
    drop(sink);
    let sink = mail::MailSink::start().await;
    sink.configure(&mut config);
    let outbox = Outbox::new(db.clone(), &config, "http://localhost:3000", true).expect("outbox");
    let worker = outbox.spawn_worker();
    let already = 0;
    let total = (STEADY_RATE_PER_SECOND * STEADY_SECONDS) as usize;
    let mut written_at = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / STEADY_RATE_PER_SECOND));
    let arrivals = tokio::spawn({
        let dir = sink.dir.clone();
        async move {
            let mut seen = HashMap::new();
            while seen.len() < already + total {
                if let Ok(entries) = std::fs::read_dir(&dir) {
                    for entry in entries.filter_map(Result::ok) {
                        let path = entry.path();
                        if path.extension().is_some_and(|x| x == "json")
                            && !seen.contains_key(&path)
                        {
                            let envelope = std::fs::read_to_string(&path).unwrap_or_default();
                            seen.insert(path, (Instant::now(), envelope));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            seen.into_values().collect::<Vec<_>>()
        }
    });
    for i in 0..total {
        tick.tick().await;
        let to = format!("steady{i}@example.com");
        write(&db, &outbox, &to).await;
        written_at.insert(to, Instant::now());
    }
    let arrived = tokio::time::timeout(Duration::from_secs(120), arrivals)
        .await
        .expect("every email arrives")
        .expect("watcher");
    let mut waits: Vec<Duration> = arrived
        .iter()
        .filter_map(|(at, envelope)| {
            written_at
                .iter()
                .find(|(to, _)| envelope.contains(&format!("\"{to}\"")))
                .map(|(_, written)| at.saturating_duration_since(*written))
        })
        .collect();
    waits.sort();
    println!(
        "waiting time at {STEADY_RATE_PER_SECOND} emails/s for {STEADY_SECONDS}s ({} emails): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        waits.len(),
        percentile(&waits, 0.5).as_secs_f64() * 1000.0,
        percentile(&waits, 0.95).as_secs_f64() * 1000.0,
        waits.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    worker.abort();
    if url.starts_with("sqlite://") {
        let _ = std::fs::remove_file(url.trim_start_matches("sqlite://"));
    }
}
