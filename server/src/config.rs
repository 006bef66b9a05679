//! Every setting the portal reads, in one place. Each comes from a command
//! line flag or an environment variable (listed in `portal serve --help` and
//! in the README); an optional env file (`--config-file`) is read first.
//! Secrets are wrapped so that they are never printed.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the data lives. Shared by every command.
#[derive(Args, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://data/portal.db` (the default; the file and folder are
    /// created if missing) or `postgres://user:password@host:5432/name`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/portal.db",
        hide_env_values = true
    )]
    pub database_url: SecretString,

    /// Most connections the server opens to the database.
    #[arg(long, env = "PORTAL_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
}

impl DatabaseConfig {
    pub fn url(&self) -> &str {
        self.database_url.expose_secret()
    }

    /// The URL with any password removed, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url())
    }
}

pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("database_url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Settings of `portal serve`.
#[derive(Args, Clone)]
pub struct ServeConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    /// Address and port to listen on.
    #[arg(long, env = "PORTAL_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// The address people use to reach the portal. Form posts must come from
    /// this origin (the CSRF defence), and cookies are marked Secure unless it
    /// is plain http on localhost.
    #[arg(
        long,
        env = "PORTAL_PUBLIC_URL",
        default_value = "http://localhost:3000"
    )]
    pub public_url: String,

    /// Folder holding the built site: pkg/ (the browser bundle) and assets/.
    #[arg(long, env = "PORTAL_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Key that signs the session cookie: 64 bytes, base64. If unset, one is
    /// generated on first start and kept in the database, so it survives
    /// restarts and is shared by every server on the same database.
    #[arg(long, env = "PORTAL_SESSION_KEY", hide_env_values = true)]
    pub session_key: Option<SecretString>,

    /// Minutes without activity before someone is signed out.
    #[arg(long, env = "PORTAL_IDLE_TIMEOUT_MINUTES", default_value_t = 15)]
    pub idle_timeout_minutes: u32,

    /// Hours after signing in when a session ends regardless of activity.
    #[arg(long, env = "PORTAL_SESSION_LIFETIME_HOURS", default_value_t = 12)]
    pub session_lifetime_hours: u32,

    /// Trust the first address in X-Forwarded-For (only behind a proxy you run).
    #[arg(long, env = "PORTAL_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// Days a registration letter (linkage key) works for after staff
    /// create it. Keep it short: the letter alone proves who someone is.
    #[arg(
        long,
        env = "PORTAL_LINKAGE_KEY_DAYS",
        default_value_t = domain::linkage::DEFAULT_LIFETIME_DAYS,
        value_parser = clap::value_parser!(u32).range(1..=365)
    )]
    pub linkage_key_days: u32,

    /// How long before an appointment its reminder email goes, in hours.
    #[arg(
        long,
        env = "PORTAL_APPOINTMENT_REMINDER_HOURS",
        default_value_t = 24,
        value_parser = clap::value_parser!(u32).range(1..=168)
    )]
    pub appointment_reminder_hours: u32,

    #[command(flatten)]
    pub email: EmailConfig,

    #[command(flatten)]
    pub nhs_login: crate::nhs_login::NhsLoginConfig,

    #[command(flatten)]
    pub gp_system: GpSystemConfig,
}

/// Where the GP record comes from.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpSystemKind {
    /// The portal's own database (filled by `portal import-fhir`).
    Local,
    /// The practice's FHIR R4 server, read on each view.
    Fhir,
}

/// The practice's clinical system. With `fhir`, the record is read from
/// the FHIR R4 server at PORTAL_FHIR_BASE_URL; the practice's online-access
/// settings and hidden entries stay in the portal's database.
#[derive(Args, Clone)]
pub struct GpSystemConfig {
    #[arg(long, env = "PORTAL_GP_SYSTEM", value_enum, default_value = "local")]
    pub gp_system: GpSystemKind,

    /// Base URL of the FHIR R4 server, e.g. https://gp.example.nhs.uk/fhir.
    #[arg(long, env = "PORTAL_FHIR_BASE_URL")]
    pub fhir_base_url: Option<String>,

    /// Value of the Authorization header sent to the FHIR server, e.g.
    /// "Bearer <token>". Never logged.
    #[arg(long, env = "PORTAL_FHIR_AUTHORIZATION", hide_env_values = true)]
    pub fhir_authorization: Option<SecretString>,

    /// Seconds to wait for the FHIR server to accept a connection.
    #[arg(long, env = "PORTAL_FHIR_CONNECT_TIMEOUT_SECONDS", default_value_t = 3)]
    pub fhir_connect_timeout_seconds: u64,

    /// Seconds a whole record read may take (every search and page of it)
    /// before the patient is told the practice's system is not answering.
    #[arg(long, env = "PORTAL_FHIR_TIMEOUT_SECONDS", default_value_t = 10)]
    pub fhir_timeout_seconds: u64,

    /// Resources asked for per page of a search (the server may send fewer).
    #[arg(long, env = "PORTAL_FHIR_PAGE_SIZE", default_value_t = 200)]
    pub fhir_page_size: u32,
}

impl GpSystemConfig {
    /// The record in the portal's own database.
    pub fn local() -> Self {
        Self {
            gp_system: GpSystemKind::Local,
            fhir_base_url: None,
            fhir_authorization: None,
            fhir_connect_timeout_seconds: 3,
            fhir_timeout_seconds: 10,
            fhir_page_size: 200,
        }
    }
}

impl fmt::Debug for GpSystemConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpSystemConfig")
            .field("gp_system", &self.gp_system)
            .field("fhir_base_url", &self.fhir_base_url)
            .field(
                "fhir_authorization",
                &self.fhir_authorization.as_ref().map(|_| "[set]"),
            )
            .field(
                "fhir_connect_timeout_seconds",
                &self.fhir_connect_timeout_seconds,
            )
            .field("fhir_timeout_seconds", &self.fhir_timeout_seconds)
            .field("fhir_page_size", &self.fhir_page_size)
            .finish()
    }
}

/// How the mail server is reached: STARTTLS upgrades a plain connection
/// (usually port 587), implicit TLS starts encrypted (usually 465), none
/// sends in the clear and is allowed only to this machine.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    Starttls,
    Implicit,
    None,
}

/// Sending email. With no SMTP host, emails are written to the log and
/// shown at /dev/emails, which is allowed only when the portal's public
/// URL is on this machine.
#[derive(Args, Clone)]
pub struct EmailConfig {
    /// The mail server's host name. Leave unset in development.
    #[arg(long, env = "PORTAL_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// The mail server's port (default: 587 with STARTTLS, 465 with
    /// implicit TLS, 25 with none).
    #[arg(long, env = "PORTAL_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// starttls, implicit or none (none only for a server on this machine).
    #[arg(long, env = "PORTAL_SMTP_TLS", value_enum, default_value = "starttls")]
    pub smtp_tls: SmtpTls,

    /// User name for the mail server, if it needs one.
    #[arg(long, env = "PORTAL_SMTP_USERNAME")]
    pub smtp_username: Option<String>,

    /// Password for the mail server.
    #[arg(long, env = "PORTAL_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<SecretString>,

    /// Seconds to wait for the mail server before counting a send as failed.
    #[arg(long, env = "PORTAL_SMTP_TIMEOUT_SECONDS", default_value_t = 20)]
    pub smtp_timeout_seconds: u64,

    /// The sender, like "GP online services <no-reply@portal.example.nhs.uk>".
    #[arg(
        long,
        env = "PORTAL_EMAIL_FROM",
        default_value = "GP online services <no-reply@localhost>"
    )]
    pub email_from: String,

    /// Run the worker that sends emails from the outbox in this server. Turn
    /// off to run servers that only serve pages; at least one must send.
    #[arg(long, env = "PORTAL_OUTBOX_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub outbox_worker: bool,

    /// Failed attempts after which an email is marked failed and shown to
    /// system administrators.
    #[arg(long, env = "PORTAL_OUTBOX_MAX_ATTEMPTS", default_value_t = 8)]
    pub outbox_max_attempts: u32,

    /// Seconds to wait after a first failure; doubled after each further one.
    #[arg(long, env = "PORTAL_OUTBOX_RETRY_BASE_SECONDS", default_value_t = 30)]
    pub outbox_retry_base_seconds: u64,

    /// Longest wait between attempts, in seconds.
    #[arg(long, env = "PORTAL_OUTBOX_RETRY_MAX_SECONDS", default_value_t = 3600)]
    pub outbox_retry_max_seconds: u64,

    /// Seconds a worker holds an email it is sending. If the worker dies,
    /// another sends the email once this has passed.
    #[arg(long, env = "PORTAL_OUTBOX_LEASE_SECONDS", default_value_t = 120)]
    pub outbox_lease_seconds: u64,

    /// Seconds between looks at the outbox when nothing wakes the worker
    /// (emails written by this server wake it at once).
    #[arg(long, env = "PORTAL_OUTBOX_POLL_SECONDS", default_value_t = 5)]
    pub outbox_poll_seconds: u64,

    /// Emails a worker claims and sends at once.
    #[arg(long, env = "PORTAL_OUTBOX_BATCH", default_value_t = 20)]
    pub outbox_batch: u32,
}

impl EmailConfig {
    /// No mail server, defaults for everything else: the development setup.
    pub fn development() -> Self {
        Self {
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_seconds: 20,
            email_from: "GP online services <no-reply@localhost>".to_owned(),
            outbox_worker: true,
            outbox_max_attempts: 8,
            outbox_retry_base_seconds: 30,
            outbox_retry_max_seconds: 3600,
            outbox_lease_seconds: 120,
            outbox_poll_seconds: 5,
            outbox_batch: 20,
        }
    }

    pub fn smtp_port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        })
    }
}

impl fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port())
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field(
                "smtp_password",
                &self.smtp_password.as_ref().map(|_| "[set]"),
            )
            .field("email_from", &self.email_from)
            .field("outbox_worker", &self.outbox_worker)
            .finish_non_exhaustive()
    }
}

impl ServeConfig {
    /// Cookies must be Secure everywhere except plain-http localhost.
    pub fn cookie_secure(&self) -> bool {
        !(self.public_url.starts_with("http://") && is_loopback_url(&self.public_url))
    }

    /// Origins a state-changing request may come from.
    pub fn allowed_origins(&self) -> Vec<String> {
        let origin = origin_of(&self.public_url);
        let mut origins = vec![origin.clone()];
        // localhost and 127.0.0.1 are the same machine; accept both in development.
        for (a, b) in [
            ("//localhost", "//127.0.0.1"),
            ("//127.0.0.1", "//localhost"),
        ] {
            if origin.contains(a) {
                origins.push(origin.replacen(a, b, 1));
            }
        }
        origins
    }
}

/// Is the portal only reachable from this machine? Development conveniences
/// (the log mailbox) are allowed only then.
pub fn is_loopback_url(url: &str) -> bool {
    let host = origin_of(url);
    let host = host.split("://").nth(1).unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    is_loopback_host(host)
}

pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// `scheme://host[:port]` of a URL, without path or trailing slash.
pub fn origin_of(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    match trimmed.find("://") {
        Some(i) => match trimmed[i + 3..].find('/') {
            Some(j) => trimmed[..i + 3 + j].to_owned(),
            None => trimmed.to_owned(),
        },
        None => trimmed.to_owned(),
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("database", &self.database)
            .field("addr", &self.addr)
            .field("public_url", &self.public_url)
            .field("site_root", &self.site_root)
            .field("session_key", &self.session_key.as_ref().map(|_| "[set]"))
            .field("idle_timeout_minutes", &self.idle_timeout_minutes)
            .field("session_lifetime_hours", &self.session_lifetime_hours)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("linkage_key_days", &self.linkage_key_days)
            .field(
                "appointment_reminder_hours",
                &self.appointment_reminder_hours,
            )
            .field("email", &self.email)
            .field("gp_system", &self.gp_system)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/portal"),
            "postgres://app:***@db:5432/portal"
        );
        assert_eq!(
            redact_url("sqlite://data/portal.db"),
            "sqlite://data/portal.db"
        );
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://portal.example.nhs.uk/"),
            "https://portal.example.nhs.uk"
        );
        assert_eq!(
            origin_of("http://localhost:3000/x/y"),
            "http://localhost:3000"
        );
        assert!(is_loopback_url("http://127.0.0.1:3000"));
        assert!(!is_loopback_url("http://portal.example"));
    }
}
