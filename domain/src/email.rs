//! Email address, validated only as far as is useful: one `@`, something
//! either side, a dot in the domain, no spaces, a sane length. Delivery is
//! the real test.

use serde::{Deserialize, Serialize};

pub const MAX_EMAIL_LEN: usize = 254;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address")]
    Empty,
    #[error("Email address must be 254 characters or fewer")]
    TooLong,
    #[error("Enter an email address in the correct format, like name@example.com")]
    Malformed,
}

impl Email {
    /// Normalises case so that sign-in does not depend on how it was typed.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let email = input.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.chars().count() > MAX_EMAIL_LEN {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(EmailError::Malformed);
        };
        let well_formed = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed {
            Ok(Self(email.to_lowercase()))
        } else {
            Err(EmailError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_addresses_parse_lowercased() {
        assert_eq!(
            Email::parse(" Ann.Smith@Example.org ").map(|e| e.0),
            Ok("ann.smith@example.org".into())
        );
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!(Email::parse("  "), Err(EmailError::Empty));
        assert_eq!(Email::parse("ann"), Err(EmailError::Malformed));
        assert_eq!(Email::parse("ann@localhost"), Err(EmailError::Malformed));
        assert_eq!(Email::parse("a@b@c.org"), Err(EmailError::Malformed));
        assert_eq!(Email::parse("an n@b.org"), Err(EmailError::Malformed));
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,300}") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn simple_addresses_round_trip(local in "[a-z0-9.]{1,20}", domain in "[a-z0-9]{1,20}\\.[a-z]{2,6}") {
            let text = format!("{local}@{domain}");
            prop_assert_eq!(Email::parse(&text).map(|e| e.0), Ok(text));
        }
    }
}
