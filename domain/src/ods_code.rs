//! ODS code: the Organisation Data Service identifier of a practice (A81001)
//! or a pharmacy (FA123). Letters and digits, 3 to 6 characters for the
//! organisations the portal deals with.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OdsCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OdsCodeError {
    #[error("Enter the practice's ODS code, like A81001")]
    Empty,
    #[error("ODS code must be 3 to 6 letters and numbers, like A81001")]
    Malformed,
}

impl OdsCode {
    pub fn parse(input: &str) -> Result<Self, OdsCodeError> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(OdsCodeError::Empty);
        }
        let shape_ok = (3..=6).contains(&code.len())
            && code.chars().all(|c| c.is_ascii_alphanumeric())
            && code.starts_with(|c: char| c.is_ascii_alphabetic());
        if shape_ok {
            Ok(Self(code))
        } else {
            Err(OdsCodeError::Malformed)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OdsCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OdsCode {
    type Error = OdsCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<OdsCode> for String {
    fn from(value: OdsCode) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_codes_parse_and_normalise() {
        assert_eq!(OdsCode::parse(" a81001 ").map(|c| c.0), Ok("A81001".into()));
        assert!(OdsCode::parse("Y02735").is_ok());
    }

    #[test]
    fn bad_codes_are_rejected() {
        assert_eq!(OdsCode::parse(""), Err(OdsCodeError::Empty));
        assert_eq!(OdsCode::parse("A8"), Err(OdsCodeError::Malformed));
        assert_eq!(OdsCode::parse("A81-01"), Err(OdsCodeError::Malformed));
        assert_eq!(OdsCode::parse("1A8100"), Err(OdsCodeError::Malformed));
        assert_eq!(OdsCode::parse("A8100123"), Err(OdsCodeError::Malformed));
    }
}
