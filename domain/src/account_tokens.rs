//! One-time links sent by email (confirm an address, reset a password).
//! The server keeps only a hash of each token; these are the rules for
//! how long one lasts and what a person is told when one does not work.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl TokenPurpose {
    pub const ALL: [TokenPurpose; 3] = [
        TokenPurpose::VerifyEmail,
        TokenPurpose::ResetPassword,
        TokenPurpose::ChangeEmail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
            TokenPurpose::ChangeEmail => "change_email",
        }
    }

    pub fn parse(s: &str) -> Option<TokenPurpose> {
        TokenPurpose::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How long a link works. A reset link is short-lived because it is
    /// as good as the password.
    pub fn lifetime_seconds(self) -> i64 {
        match self {
            TokenPurpose::VerifyEmail => 48 * 3600,
            TokenPurpose::ResetPassword => 30 * 60,
            TokenPurpose::ChangeEmail => 24 * 3600,
        }
    }

    pub fn lifetime_words(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "48 hours",
            TokenPurpose::ResetPassword => "30 minutes",
            TokenPurpose::ChangeEmail => "24 hours",
        }
    }
}

/// Why a link did not work, in words a person can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TokenProblem {
    #[error(
        "This link is not valid. It may not have been copied in full. Use the link in your most recent email, or ask for a new one"
    )]
    Unknown,
    #[error("This link has expired. Ask for a new one")]
    Expired,
    #[error(
        "This link has already been used, or a newer one has been sent since. Use the link in your most recent email, or ask for a new one"
    )]
    AlreadyUsed,
}

/// The stored state of a token, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenState {
    pub purpose: TokenPurpose,
    pub expires_at: i64,
    pub used: bool,
}

/// Can this token be used now for this purpose? A token for another
/// purpose is treated as unknown, so a verification link cannot reset a
/// password.
pub fn check_token(
    state: Option<TokenState>,
    purpose: TokenPurpose,
    now: i64,
) -> Result<(), TokenProblem> {
    match state {
        None => Err(TokenProblem::Unknown),
        Some(s) if s.purpose != purpose => Err(TokenProblem::Unknown),
        Some(s) if s.used => Err(TokenProblem::AlreadyUsed),
        Some(s) if now >= s.expires_at => Err(TokenProblem::Expired),
        Some(_) => Ok(()),
    }
}

/// A token as it appears in a link: 43 characters of URL-safe base64.
/// Anything else is refused before any database lookup.
pub fn looks_like_token(text: &str) -> bool {
    text.len() == 43
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn state(purpose: TokenPurpose, expires_at: i64, used: bool) -> Option<TokenState> {
        Some(TokenState {
            purpose,
            expires_at,
            used,
        })
    }

    #[test]
    fn a_reset_link_lasts_thirty_minutes() {
        assert_eq!(TokenPurpose::ResetPassword.lifetime_seconds(), 1800);
        let issued = 1_000;
        let expires = issued + TokenPurpose::ResetPassword.lifetime_seconds();
        let reset = TokenPurpose::ResetPassword;
        assert_eq!(
            check_token(state(reset, expires, false), reset, issued + 1799),
            Ok(())
        );
        assert_eq!(
            check_token(state(reset, expires, false), reset, issued + 1800),
            Err(TokenProblem::Expired)
        );
    }

    #[test]
    fn used_unknown_and_wrong_purpose_are_refused() {
        let reset = TokenPurpose::ResetPassword;
        assert_eq!(check_token(None, reset, 0), Err(TokenProblem::Unknown));
        assert_eq!(
            check_token(state(reset, 10, true), reset, 0),
            Err(TokenProblem::AlreadyUsed)
        );
        assert_eq!(
            check_token(state(TokenPurpose::VerifyEmail, 10, false), reset, 0),
            Err(TokenProblem::Unknown)
        );
    }

    #[test]
    fn token_shape() {
        assert!(looks_like_token(&"a".repeat(43)));
        assert!(!looks_like_token(&"a".repeat(42)));
        assert!(!looks_like_token(&format!("{}=", "a".repeat(42))));
    }

    proptest! {
        #[test]
        fn a_used_token_never_works(expires in 0i64..10_000, now in 0i64..10_000) {
            let p = TokenPurpose::ResetPassword;
            prop_assert!(check_token(state(p, expires, true), p, now).is_err());
        }
    }
}
