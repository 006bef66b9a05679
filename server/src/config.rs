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

fn is_loopback_url(url: &str) -> bool {
    let host = origin_of(url);
    let host = host.split("://").nth(1).unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
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
