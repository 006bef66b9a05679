//! Signing in with NHS login: OpenID Connect's authorization code flow as
//! NHS login runs it.
//!
//! - `state`, `nonce` and PKCE (S256) on every request, kept in the
//!   server-side session until the provider sends the person back;
//! - the portal is a confidential client that proves itself with
//!   `private_key_jwt` (RFC 7523): a short-lived JWT signed with the
//!   portal's RSA key (RS512), whose public half is served at
//!   `/.well-known/jwks.json` for the provider to fetch;
//! - `vtr` asks for an identity level; the ID token's
//!   `identity_proofing_level` and `vot` say what was achieved;
//! - the ID token's signature, issuer, audience, expiry and nonce are
//!   checked by `openidconnect` against the provider's published keys;
//! - NHS number, date of birth, names and email come from the UserInfo
//!   endpoint, whose subject must be the ID token's.

pub mod config;
pub mod routes;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::IdentityLevel;
use domain::identity::{NhsLoginIdentity, achieved_level, vtr_for};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreRsaPrivateSigningKey, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, Client, ClientId,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, JsonWebKeyId, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PrivateSigningKey, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims, reqwest,
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

pub use config::NhsLoginConfig;

/// The claims NHS login adds to OpenID Connect's standard ones.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct NhsLoginClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_proofing_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nhs_number: Option<String>,
}
impl AdditionalClaims for NhsLoginClaims {}

type IdFields = IdTokenFields<
    NhsLoginClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type NhsTokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type NhsClient = Client<
    NhsLoginClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    NhsTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// How long the provider's discovery document and keys are trusted before
/// they are fetched again (keys rotate; a restart is not needed).
const METADATA_LIFETIME: Duration = Duration::from_secs(3600);
/// The lifetime of a client assertion: NHS login wants it short.
const ASSERTION_SECONDS: i64 = 60;
/// A sign-in left at the provider for longer than this is started again.
pub const PENDING_SECONDS: i64 = 15 * 60;
const SIGNING_ALG: CoreJwsSigningAlgorithm = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512;

/// Kept in the session between sending someone to NHS login and their return.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub minimum: IdentityLevel,
    pub started_at: i64,
}

/// Why a sign-in did not complete. Each becomes a plain page; the detail
/// is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum SignInProblem {
    /// The provider could not be reached, or answered with a server error.
    #[error("NHS login unavailable: {0}")]
    Unavailable(String),
    /// The provider refused to exchange the code (used twice, expired,
    /// or our client assertion was not accepted).
    #[error("the token request was refused: {0}")]
    Refused(String),
    /// The ID token or UserInfo answer failed a check.
    #[error("the ID token was not valid: {0}")]
    InvalidToken(String),
    /// NHS login proved less than this sign-in asked for.
    #[error("identity level {got:?} is below the {wanted:?} asked for")]
    LevelTooLow {
        got: IdentityLevel,
        wanted: IdentityLevel,
    },
}

pub struct NhsLogin {
    issuer: IssuerUrl,
    client_id: ClientId,
    redirect: RedirectUrl,
    signing_key: CoreRsaPrivateSigningKey,
    key_id: String,
    jwks: String,
    http: reqwest::Client,
    provider: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl NhsLogin {
    /// None when NHS login is not configured: the sign-in page then offers
    /// only the practice's own accounts.
    pub fn from_config(config: &NhsLoginConfig, public_url: &str) -> anyhow::Result<Option<Self>> {
        let Some(settings) = config.settings()? else {
            return Ok(None);
        };
        let pem = std::fs::read_to_string(&settings.private_key_file).map_err(|e| {
            anyhow::anyhow!(
                "could not read PORTAL_NHS_LOGIN_PRIVATE_KEY_FILE {}: {e}",
                settings.private_key_file.display()
            )
        })?;
        let signing_key =
            CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(config.key_id.clone())))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "PORTAL_NHS_LOGIN_PRIVATE_KEY_FILE must be an RSA private key in PKCS#1 PEM \
                         (-----BEGIN RSA PRIVATE KEY-----). Make one with \
                         `openssl genrsa -traditional -out nhs-login-key.pem 4096`, or convert a \
                         PKCS#8 key with `openssl rsa -in key.pem -traditional -out nhs-login-key.pem`"
                    )
                })?;
        let jwks = serde_json::to_string(&CoreJsonWebKeySet::new(vec![
            signing_key.as_verification_key(),
        ]))?;
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let a provider send our requests anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(config.timeout_seconds.min(5)))
            .timeout(Duration::from_secs(config.timeout_seconds))
            .build()?;
        Ok(Some(Self {
            issuer: IssuerUrl::new(settings.issuer)?,
            client_id: ClientId::new(settings.client_id),
            redirect: RedirectUrl::new(format!(
                "{}{}",
                public_url.trim_end_matches('/'),
                routes::CALLBACK_PATH
            ))?,
            signing_key,
            key_id: config.key_id.clone(),
            jwks,
            http,
            provider: Mutex::new(None),
        }))
    }

    /// The portal's public key set, for the provider to check assertions.
    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    async fn client(&self) -> Result<NhsClient, SignInProblem> {
        let metadata = {
            let mut cached = self.provider.lock().await;
            match cached.as_ref() {
                Some((fetched, metadata)) if fetched.elapsed() < METADATA_LIFETIME => {
                    metadata.clone()
                }
                _ => {
                    let metadata =
                        CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
                            .await
                            .map_err(|e| SignInProblem::Unavailable(format!("discovery: {e}")))?;
                    *cached = Some((Instant::now(), metadata.clone()));
                    metadata
                }
            }
        };
        Ok(
            NhsClient::from_provider_metadata(metadata, self.client_id.clone(), None)
                .set_redirect_uri(self.redirect.clone())
                // No client secret: only client_id goes in the body, beside the assertion.
                .set_auth_type(AuthType::RequestBody),
        )
    }

    /// Where to send the person, and what to remember until they return.
    /// `force_login` asks NHS login to sign them in again (a step-up, or
    /// when the portal needs a fresh sign-in).
    pub async fn start(
        &self,
        minimum: IdentityLevel,
        force_login: bool,
        now: i64,
    ) -> Result<(String, PendingSignIn), SignInProblem> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("phone".into()))
            .set_pkce_challenge(challenge)
            .add_extra_param("vtr", vtr_for(minimum));
        if force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            PendingSignIn {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                minimum,
                started_at: now,
            },
        ))
    }

    /// Exchanges the code, checks the ID token, and reads who this is.
    pub async fn finish(
        &self,
        pending: &PendingSignIn,
        code: &str,
        now: i64,
    ) -> Result<NhsLoginIdentity, SignInProblem> {
        let client = self.client().await?;
        let token_url = client
            .token_uri()
            .ok_or_else(|| SignInProblem::Unavailable("no token endpoint in discovery".into()))?
            .to_string();
        let assertion = self.client_assertion(&token_url, now)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInProblem::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", assertion)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(r) => SignInProblem::Refused(r.to_string()),
                RequestTokenError::Request(r) => SignInProblem::Unavailable(r.to_string()),
                RequestTokenError::Parse(p, _) => SignInProblem::InvalidToken(p.to_string()),
                RequestTokenError::Other(o) => SignInProblem::Unavailable(o),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| SignInProblem::InvalidToken("no ID token in the answer".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let checked = id_token
            .claims(
                &client
                    .id_token_verifier()
                    .set_allowed_algs(vec![SIGNING_ALG]),
                &nonce,
            )
            .cloned();
        let claims = match checked {
            Ok(claims) => claims,
            // A key we have not seen: the provider may have rotated its keys
            // since we cached them. Fetch them once more, then decide.
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                *self.provider.lock().await = None;
                let fresh = self.client().await?;
                id_token
                    .claims(
                        &fresh
                            .id_token_verifier()
                            .set_allowed_algs(vec![SIGNING_ALG]),
                        &nonce,
                    )
                    .cloned()
                    .map_err(|e| SignInProblem::InvalidToken(e.to_string()))?
            }
            Err(e) => return Err(SignInProblem::InvalidToken(e.to_string())),
        };
        let extra = claims.additional_claims();
        let level = achieved_level(
            extra.identity_proofing_level.as_deref(),
            extra.vot.as_deref(),
        )
        .map_err(|e| SignInProblem::InvalidToken(format!("identity level claims: {e:?}")))?;
        if level < pending.minimum {
            return Err(SignInProblem::LevelTooLow {
                got: level,
                wanted: pending.minimum,
            });
        }
        let subject = claims.subject().clone();
        let user_info: UserInfoClaims<NhsLoginClaims, CoreGenderClaim> = client
            .user_info(response.access_token().clone(), Some(subject.clone()))
            .map_err(|e| SignInProblem::Unavailable(format!("no userinfo endpoint: {e}")))?
            .request_async(&self.http)
            .await
            .map_err(|e| SignInProblem::InvalidToken(format!("userinfo: {e}")))?;
        let standard = user_info.standard_claims();
        Ok(NhsLoginIdentity {
            issuer: self.issuer.as_str().to_owned(),
            subject: subject.as_str().to_owned(),
            level,
            nhs_number: user_info
                .additional_claims()
                .nhs_number
                .clone()
                .or_else(|| extra.nhs_number.clone()),
            date_of_birth: standard
                .birthdate()
                .and_then(|b| chrono::NaiveDate::parse_from_str(b.as_str(), "%Y-%m-%d").ok()),
            given_name: standard
                .given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            family_name: standard
                .family_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            email: standard.email().map(|e| e.as_str().to_owned()),
            email_verified: standard.email_verified().unwrap_or(false),
        })
    }

    /// The RFC 7523 client assertion: iss = sub = our client id, aud = the
    /// token endpoint, a unique jti, expiring within a minute.
    fn client_assertion(&self, token_url: &str, now: i64) -> Result<String, SignInProblem> {
        let header = serde_json::json!({ "alg": "RS512", "typ": "JWT", "kid": self.key_id });
        let claims = serde_json::json!({
            "iss": self.client_id.as_str(),
            "sub": self.client_id.as_str(),
            "aud": token_url,
            "jti": CsrfToken::new_random().secret(),
            "iat": now,
            "exp": now + ASSERTION_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .signing_key
            .sign(&SIGNING_ALG, signing_input.as_bytes())
            .map_err(|e| {
                SignInProblem::Unavailable(format!("signing the client assertion: {e}"))
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}
