//! A real SMTP server for the tests: `testing/mailsink.py` (aiosmtpd) in
//! a child process, keeping each accepted message as a file. Tests read
//! what arrived with a real MIME parser.

use server::config::{EmailConfig, SmtpTls};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MailSink {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

/// One message as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Received {
    /// RCPT TO, from the SMTP envelope: who it was really sent to.
    pub envelope_to: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    pub raw: String,
}

impl Received {
    /// The first link in the text part that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with(prefix))
            .map(str::to_owned)
    }
}

/// A security notice to `address`: the simplest email a change writes,
/// for tests and the bench that fill the outbox directly.
pub fn notice_to(address: &str) -> server::outbox::store::NewEmail {
    server::outbox::store::NewEmail {
        kind: domain::notifications::EmailKind::PasswordChanged,
        recipient: domain::Email::parse(address).expect("email"),
        account: None,
        payload: server::outbox::store::EmailPayload::default(),
        link_token: None,
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testing/mailsink.py")
}

impl MailSink {
    /// A sink on a free port, not yet started (for "the mail server is down").
    pub fn planned() -> Self {
        let n = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portal-mail-{}-{}-{}",
            std::process::id(),
            n.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("mail dir");
        Self {
            port: free_port(),
            dir,
            child: None,
        }
    }

    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(args: &[&str]) -> Self {
        let mut sink = Self::planned();
        sink.run(args).await;
        sink
    }

    /// Starts (or restarts) the server on this sink's port and folder.
    pub async fn run(&mut self, args: &[&str]) {
        self.stop();
        let child = Command::new("python3")
            .arg(script())
            .args(["--port", &self.port.to_string(), "--dir"])
            .arg(&self.dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start testing/mailsink.py (is aiosmtpd installed? scripts/setup installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mail sink did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Points a portal at this sink, with quick retries for tests.
    pub fn configure(&self, email: &mut EmailConfig) {
        email.smtp_host = Some("127.0.0.1".into());
        email.smtp_port = Some(self.port);
        email.smtp_tls = SmtpTls::None;
        email.smtp_timeout_seconds = 5;
        email.email_from = "GP online services <no-reply@portal.test>".into();
        email.outbox_retry_base_seconds = 1;
        email.outbox_retry_max_seconds = 2;
        email.outbox_poll_seconds = 1;
        email.outbox_lease_seconds = 4;
    }

    /// Environment variables that point a `portal serve` process here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PORTAL_SMTP_HOST", "127.0.0.1".into()),
            ("PORTAL_SMTP_PORT", self.port.to_string()),
            ("PORTAL_SMTP_TLS", "none".into()),
            (
                "PORTAL_EMAIL_FROM",
                "GP online services <no-reply@portal.test>".into(),
            ),
            ("PORTAL_OUTBOX_RETRY_BASE_SECONDS", "1".into()),
            ("PORTAL_OUTBOX_RETRY_MAX_SECONDS", "2".into()),
            ("PORTAL_OUTBOX_POLL_SECONDS", "1".into()),
            ("PORTAL_OUTBOX_LEASE_SECONDS", "4".into()),
        ]
    }

    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.iter().map(|p| parse(p)).collect()
    }

    /// How many messages have arrived, without reading them.
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Waits until at least `n` messages have arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} emails within {within:?}, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the first message to `address` (ignoring earlier ones
    /// counted in `after`).
    pub async fn wait_for_to(&self, address: &str, within: Duration) -> Received {
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = self
                .received()
                .into_iter()
                .rev()
                .find(|m| m.envelope_to.iter().any(|t| t == address))
            {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no email to {address} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|m| m.envelope_to.iter().any(|t| t == address))
            .collect()
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parse(path: &Path) -> Received {
    let raw = std::fs::read(path).expect("read eml");
    let envelope: serde_json::Value = std::fs::read_to_string(path.with_extension("json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let message = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("a parseable email");
    let address = |a: Option<&mail_parser::Address>| {
        a.and_then(|a| a.first())
            .map(|a| {
                let email = a.address().unwrap_or_default();
                match a.name() {
                    Some(name) => format!("{name} <{email}>"),
                    None => email.to_owned(),
                }
            })
            .unwrap_or_default()
    };
    Received {
        envelope_to: envelope["rcpt_tos"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        from: address(message.from()),
        to: address(message.to()),
        subject: message.subject().unwrap_or_default().to_owned(),
        message_id: message.message_id().unwrap_or_default().to_owned(),
        text: message
            .body_text(0)
            .map(|t| t.into_owned())
            .unwrap_or_default(),
        html: message
            .body_html(0)
            .map(|t| t.into_owned())
            .unwrap_or_default(),
        raw: String::from_utf8_lossy(&raw).into_owned(),
    }
}
