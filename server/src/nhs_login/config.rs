//! NHS login settings. All of issuer, client id and private key, or none
//! (then NHS login is switched off and only practice accounts sign in).

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Clone, Debug, Default)]
pub struct NhsLoginConfig {
    /// NHS login's issuer URL, e.g. https://auth.sandpit.signin.nhs.uk
    /// (its discovery document is read from here).
    #[arg(long = "nhs-login-issuer", env = "PORTAL_NHS_LOGIN_ISSUER")]
    pub issuer: Option<String>,

    /// The client id NHS login gave this portal.
    #[arg(long = "nhs-login-client-id", env = "PORTAL_NHS_LOGIN_CLIENT_ID")]
    pub client_id: Option<String>,

    /// The portal's RSA private key (PKCS#1 PEM) that signs its client
    /// assertions; its public half is served at /.well-known/jwks.json.
    #[arg(
        long = "nhs-login-private-key-file",
        env = "PORTAL_NHS_LOGIN_PRIVATE_KEY_FILE"
    )]
    pub private_key_file: Option<PathBuf>,

    /// The key id (`kid`) the public key is published under.
    #[arg(
        long = "nhs-login-key-id",
        env = "PORTAL_NHS_LOGIN_KEY_ID",
        default_value = "portal-1"
    )]
    pub key_id: String,

    /// Seconds to wait for NHS login before telling the person it is not
    /// available.
    #[arg(
        long = "nhs-login-timeout-seconds",
        env = "PORTAL_NHS_LOGIN_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub timeout_seconds: u64,
}

pub struct NhsLoginSettings {
    pub issuer: String,
    pub client_id: String,
    pub private_key_file: PathBuf,
}

impl NhsLoginConfig {
    /// NHS login switched off.
    pub fn disabled() -> Self {
        Self {
            key_id: "portal-1".into(),
            timeout_seconds: 10,
            ..Self::default()
        }
    }

    /// The settings when NHS login is on; an error naming what is missing
    /// when only some are given, or when the issuer is plain http anywhere
    /// but this machine.
    pub fn settings(&self) -> anyhow::Result<Option<NhsLoginSettings>> {
        match (&self.issuer, &self.client_id, &self.private_key_file) {
            (None, None, None) => Ok(None),
            (Some(issuer), Some(client_id), Some(key)) => {
                if !issuer.starts_with("https://") && !crate::config::is_loopback_url(issuer) {
                    anyhow::bail!(
                        "PORTAL_NHS_LOGIN_ISSUER must be an https:// URL (plain http is allowed only for a provider on this machine)"
                    );
                }
                Ok(Some(NhsLoginSettings {
                    // Exactly as given: it must equal the ID token's `iss`.
                    issuer: issuer.clone(),
                    client_id: client_id.clone(),
                    private_key_file: key.clone(),
                }))
            }
            _ => anyhow::bail!(
                "NHS login needs all three of PORTAL_NHS_LOGIN_ISSUER, PORTAL_NHS_LOGIN_CLIENT_ID and PORTAL_NHS_LOGIN_PRIVATE_KEY_FILE, or none of them"
            ),
        }
    }
}
