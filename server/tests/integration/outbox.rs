//! The outbox's promises, with a real SMTP server: an email written with a
//! committed change arrives exactly once, through a mail server that is
//! down for a while, through a server process killed mid-way, and with
//! two servers draining one outbox. Runs on SQLite and on PostgreSQL.

use crate::common;

use common::mail::MailSink;
use common::*;
use server::outbox::store::enqueue;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// Writes `n` emails straight into the outbox in one transaction, as a
/// change would.
async fn write_emails(db: &server::db::Db, n: usize, tag: &str) {
    let mut tx = db.begin_write().await.expect("tx");
    let now = chrono::Utc::now().timestamp();
    for i in 0..n {
        enqueue(
            &mut tx,
            common::mail::notice_to(&format!("{tag}{i}@example.com")),
            "portal.test",
            now,
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");
}

async fn wait_until_all_sent(app_db: &server::db::Db, within: Duration) {
    use sqlx::Row;
    let deadline = Instant::now() + within;
    loop {
        let left: i64 = sqlx::query("select count(*) from outbox where status <> 'sent'")
            .fetch_one(&app_db.pool)
            .await
            .expect("count")
            .try_get(0)
            .expect("i64");
        if left == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{left} emails still not sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assert_each_once(received: &[common::mail::Received], expected: usize) {
    let ids: HashSet<_> = received.iter().map(|m| m.message_id.clone()).collect();
    let recipients: HashSet<_> = received.iter().map(|m| m.envelope_to.join(",")).collect();
    assert_eq!(received.len(), expected, "each email exactly once");
    assert_eq!(ids.len(), expected, "distinct Message-IDs");
    assert_eq!(recipients.len(), expected, "every recipient reached");
}

#[tokio::test]
async fn while_the_mail_server_is_down_emails_wait_and_then_go_once() {
    let mut sink = MailSink::planned();
    let app = TestApp::spawn_with(|c| {
        sink.configure(&mut c.email);
        c.email.outbox_max_attempts = 50;
    })
    .await;
    for email in [SARAH, "bob@example.com"] {
        let res = app
            .post_form("/api/request_password_reset", &[("email", email)])
            .await;
        assert_eq!(location(&res), "/forgot-password/sent", "{email}");
    }
    // Failures are recorded and retried while the server is down.
    let deadline = Instant::now() + WAIT;
    while app
        .count("select coalesce(min(attempts), 0) from outbox")
        .await
        < 2
    {
        assert!(Instant::now() < deadline, "no retries recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.count("select count(*) from outbox where status = 'sent'")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from outbox").await, 2);
    assert_eq!(
        app.count("select count(*) from outbox where last_error is not null")
            .await,
        2
    );
    sink.run(&[]).await;
    wait_until_all_sent(&app.db, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_each_once(&sink.received(), 2);
    // Sent rows no longer hold the link's token.
    assert_eq!(
        app.count("select count(*) from outbox where link_token is not null")
            .await,
        0
    );
}

#[tokio::test]
async fn after_too_many_failures_an_administrator_sees_the_email_and_can_retry_it() {
    let sink = MailSink::start_with(&["--fail-first", "2"]).await;
    let app = TestApp::spawn_with(|c| {
        sink.configure(&mut c.email);
        c.email.outbox_max_attempts = 2;
    })
    .await;
    app.post_form("/api/request_password_reset", &[("email", SARAH)])
        .await;
    let deadline = Instant::now() + WAIT;
    while app
        .count("select count(*) from outbox where status = 'failed'")
        .await
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the email was never marked failed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sink.received().is_empty());
    app.sign_in(ADMIN).await;
    let page = app.get("/admin/emails").await.text().await.expect("body");
    assert!(page.contains(SARAH), "the failed email is listed");
    assert!(page.contains("451"), "with the mail server's answer");
    let id = app
        .count("select id from outbox where status = 'failed'")
        .await;
    let res = app
        .post_form("/api/retry_email", &[("id", &id.to_string())])
        .await;
    assert!(location(&res).starts_with("/admin/emails"));
    let arrived = sink.wait_for(1, WAIT).await;
    assert_eq!(arrived[0].envelope_to, vec![SARAH.to_owned()]);
    wait_until_all_sent(&app.db, WAIT).await;
    // Staff other than system administrators cannot see the list.
    let reception = client();
    app.sign_in_with(&reception, RECEPTION_A).await;
    let res = reception
        .get(app.url("/admin/emails"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(location(&res), "/forbidden");
}

#[tokio::test]
async fn two_servers_draining_one_outbox_send_every_email_exactly_once() {
    let sink = MailSink::start().await;
    let app = TestApp::spawn_with(|c| {
        sink.configure(&mut c.email);
        c.email.outbox_worker = false;
    })
    .await;
    let total = 200;
    write_emails(&app.db, total, "two").await;
    // Two more servers, each with its own pool and worker, on the same database.
    for _ in 0..2 {
        let db = server::db::connect(&database_config(&app.database_url))
            .await
            .expect("connect");
        let mut config = serve_config(&app.database_url);
        sink.configure(&mut config.email);
        config.email.outbox_batch = 7;
        start(&mut config, db).await;
    }
    wait_until_all_sent(&app.db, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_each_once(&sink.received(), total);
    // Both servers took part.
    let workers = app
        .count("select count(distinct claimed_by) from outbox where status = 'sent'")
        .await;
    assert_eq!(workers, 2, "both servers sent some");
}

/// `portal serve` as a real process, so it can be killed.
struct Portal {
    child: std::process::Child,
    base: String,
}

impl Portal {
    fn start(database_url: &str, sink: &MailSink, extra: &[(&str, &str)]) -> Self {
        let port = common::mail::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portal"));
        command
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PORTAL_ADDR", format!("127.0.0.1:{port}"))
            .env("PORTAL_PUBLIC_URL", &base)
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in sink.env() {
            command.env(k, v);
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        Self {
            child: command.spawn().expect("start portal"),
            base,
        }
    }

    async fn ready(&self) {
        let deadline = Instant::now() + WAIT;
        while reqwest::get(format!("{}/readyz", self.base))
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "portal did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown code runs.
        self.child.kill().expect("kill");
        let _ = self.child.wait();
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new server on the same database sends Sarah's email, exactly once.
async fn restart_and_expect_one_email(app: &TestApp, sink: &MailSink) {
    let restarted = Portal::start(&app.database_url, sink, &[]);
    restarted.ready().await;
    let arrived = sink.wait_for(1, WAIT).await;
    assert_eq!(arrived[0].envelope_to, vec![SARAH.to_owned()]);
    wait_until_all_sent(&app.db, WAIT).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.received().len(), 1, "exactly once");
}

async fn ask_for_reset(portal: &Portal, email: &str) {
    let res = client()
        .post(format!("{}/api/request_password_reset", portal.base))
        .header("origin", &portal.base)
        .header("accept", "text/html")
        .form(&[("email", email)])
        .send()
        .await
        .expect("post");
    assert_eq!(location(&res), "/forgot-password/sent");
}

#[tokio::test]
async fn a_server_killed_after_the_change_commits_sends_the_email_once_after_restart() {
    let app = TestApp::spawn_with(|c| c.email.outbox_worker = false).await;
    let sink = MailSink::start().await;
    // Killed before its worker could send: the worker is off in this process.
    let portal = Portal::start(
        &app.database_url,
        &sink,
        &[("PORTAL_OUTBOX_WORKER", "false")],
    );
    portal.ready().await;
    ask_for_reset(&portal, SARAH).await;
    assert_eq!(
        app.count("select count(*) from outbox where status = 'waiting'")
            .await,
        1
    );
    portal.kill();
    assert!(sink.received().is_empty());
    restart_and_expect_one_email(&app, &sink).await;
}

#[tokio::test]
async fn a_server_killed_in_the_middle_of_sending_is_covered_by_its_lease() {
    let app = TestApp::spawn_with(|c| c.email.outbox_worker = false).await;
    // The mail server hangs on the first message, so the kill lands mid-send.
    let sink = MailSink::start_with(&["--stall-first", "1"]).await;
    let portal = Portal::start(&app.database_url, &sink, &[]);
    portal.ready().await;
    ask_for_reset(&portal, SARAH).await;
    let deadline = Instant::now() + WAIT;
    while app
        .count("select count(*) from outbox where status = 'sending'")
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "the email was never claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    portal.kill();
    assert!(sink.received().is_empty());
    // The dead worker's lease runs out; a new server sends the email.
    restart_and_expect_one_email(&app, &sink).await;
}
