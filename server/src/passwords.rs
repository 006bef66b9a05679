//! Password hashing: argon2id with the OWASP-recommended parameters
//! (19 MiB memory, 2 iterations, 1 lane). Always called off the async
//! runtime: a hash takes tens of milliseconds of CPU.

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub const MIN_PASSWORD_LEN: usize = domain::forms::MIN_PASSWORD_LEN;

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub async fn hash_off_runtime(password: String) -> anyhow::Result<String> {
    let phc = tokio::task::spawn_blocking(move || hash(&password)).await??;
    Ok(phc)
}

pub async fn verify_off_runtime(password: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_use_owasp_parameters() {
        let phc = hash("correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("wrong", &phc));
        assert!(!verify("anything", "not a hash"));
    }
}
