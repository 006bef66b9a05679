//! A real OpenID provider for the tests: npm `oidc-provider`, configured
//! like NHS login by testing/oidc-provider.mjs, started per test on its own
//! port, and a portal pointed at it with a freshly generated RSA key.

use super::{TestApp, location};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CLIENT_ID: &str = "portal-test";
pub const NHS_LOGIN_PASSWORD: &str = "nhs-login-test-password";

pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Provider {
    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A new 2048-bit RSA key in PKCS#1 PEM, made by openssl (as the README
/// tells deployers to), in a fresh temporary folder.
pub fn portal_key() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portal-oidc-{}-{}",
        std::process::id(),
        super::mail::free_port()
    ));
    std::fs::create_dir_all(&dir).expect("key folder");
    let key = dir.join("nhs-login-key.pem");
    let made = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success(), "openssl genrsa failed");
    key
}

/// Starts the provider for a portal at `portal_base`, on `port`, with the
/// test users in `users` (default: testing/oidc-users.json).
pub async fn start_provider(port: u16, portal_base: &str, users: Option<&Path>) -> Provider {
    let users = users
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo_root().join("testing/oidc-users.json"));
    let mut child = Command::new("node")
        .arg(repo_root().join("testing/oidc-provider.mjs"))
        .arg("--users")
        .arg(users)
        .args(["--port", &port.to_string(), "--client-id", CLIENT_ID])
        .args([
            "--redirect-uri",
            &format!("{portal_base}/auth/nhs-login/callback"),
        ])
        .args([
            "--jwks-uri",
            &format!("{portal_base}/.well-known/jwks.json"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts the provider (run scripts/setup)");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("oidc-provider ready on") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(ready, "the OpenID provider did not start");
    Provider {
        child,
        issuer: format!("http://127.0.0.1:{port}"),
    }
}

/// A portal configured for NHS login, and the provider it trusts.
pub async fn spawn_with_nhs_login() -> (TestApp, Provider) {
    spawn_with_nhs_login_users(None).await
}

pub async fn spawn_with_nhs_login_users(users: Option<&Path>) -> (TestApp, Provider) {
    let port = super::mail::free_port();
    let key = portal_key();
    let app = TestApp::spawn_with(|config| {
        config.nhs_login = server::nhs_login::NhsLoginConfig {
            issuer: Some(format!("http://127.0.0.1:{port}")),
            client_id: Some(CLIENT_ID.into()),
            private_key_file: Some(key),
            key_id: "portal-test-1".into(),
            timeout_seconds: 5,
        };
    })
    .await;
    let provider = start_provider(port, &app.base, users).await;
    (app, provider)
}

/// The value of `name="…" value="…"`-free forms: the `action` of the first
/// form whose action contains `contains`.
fn form_action(html: &str, contains: &str) -> Option<String> {
    html.match_indices("action=\"").find_map(|(i, _)| {
        let rest = &html[i + 8..];
        let end = rest.find('"')?;
        let action = rest[..end].replace("&amp;", "&");
        action.contains(contains).then_some(action)
    })
}

/// Follows redirects by hand until one points back at the portal, and
/// returns that URL (the portal is never fetched here).
async fn follow_until_portal(
    client: &reqwest::Client,
    provider: &Provider,
    mut url: String,
    portal_base: &str,
) -> Result<String, String> {
    for _ in 0..10 {
        if url.starts_with(portal_base) {
            return Ok(url);
        }
        if url.starts_with('/') {
            url = format!("{}{url}", provider.issuer);
        }
        let res = client.get(&url).send().await.expect("provider answers");
        if res.status().is_redirection() {
            url = location(&res);
        } else {
            return Err(res.text().await.unwrap_or_default());
        }
    }
    panic!("too many redirects at the provider");
}

/// Where a browser ends up at NHS login: the page it shows (Err with its
/// HTML) or, once it sends the person back, the portal URL (Ok).
pub async fn at_provider(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &Provider,
    url: String,
) -> Result<String, String> {
    follow_until_portal(client, provider, url, &app.base).await
}

/// Posts a provider page's form (`action` containing `which`) and follows on.
pub async fn submit_provider_form(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &Provider,
    page: &str,
    which: &str,
    fields: &[(&str, &str)],
) -> Result<String, String> {
    let action = form_action(page, which).unwrap_or_else(|| panic!("no {which} form in {page}"));
    let res = client
        .post(format!("{}{action}", provider.issuer))
        .form(fields)
        .send()
        .await
        .expect("provider answers");
    if !res.status().is_redirection() {
        return Err(res.text().await.unwrap_or_default());
    }
    follow_until_portal(client, provider, location(&res), &app.base).await
}

/// At NHS login's authorization URL: its login page must show; signs in
/// there as `email`. Ok(the portal URL it sends the browser back to), or
/// Err(the next page it shows, such as "Prove who you are").
pub async fn log_in_at_provider(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &Provider,
    authorize_url: String,
    email: &str,
) -> Result<String, String> {
    assert!(
        authorize_url.starts_with(&provider.issuer),
        "expected a redirect to the provider, got {authorize_url:?}"
    );
    let login_page = at_provider(app, client, provider, authorize_url)
        .await
        .expect_err("the provider shows its login page");
    assert!(login_page.contains("Sign in to NHS login"), "{login_page}");
    submit_provider_form(
        app,
        client,
        provider,
        &login_page,
        "/login",
        &[("email", email), ("password", NHS_LOGIN_PASSWORD)],
    )
    .await
}

/// From the portal's start URL to the callback URL the provider sends the
/// browser back to, signing in as `email` on the provider's login page.
pub async fn callback_for(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &Provider,
    start_path: &str,
    email: &str,
) -> String {
    let start = client.get(app.url(start_path)).send().await.expect("start");
    log_in_at_provider(app, client, provider, location(&start), email)
        .await
        .expect("the provider sends the person back")
}

/// Runs a whole sign-in and returns where the portal's callback sends the
/// browser ("/" when signed in).
pub async fn sign_in_with_nhs_login(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &Provider,
    email: &str,
) -> String {
    let callback = callback_for(app, client, provider, "/auth/nhs-login", email).await;
    let done = client.get(&callback).send().await.expect("callback");
    location(&done)
}
