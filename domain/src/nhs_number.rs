//! NHS number: ten digits, the last a modulus-11 check digit
//! (NHS Data Model and Dictionary, "NHS Number").

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NhsNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NhsNumberError {
    #[error("Enter an NHS number")]
    Empty,
    #[error("NHS number must be 10 digits, like 943 476 5919")]
    WrongLength,
    #[error("NHS number must contain only numbers, spaces or hyphens")]
    NotDigits,
    #[error("NHS number is not valid. Check it and try again")]
    BadCheckDigit,
}

impl NhsNumber {
    /// Accepts the forms people type: `9434765919`, `943 476 5919`, `943-476-5919`.
    pub fn parse(input: &str) -> Result<Self, NhsNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NhsNumberError::Empty);
        }
        let mut digits = String::with_capacity(10);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(NhsNumberError::NotDigits),
            }
        }
        if digits.len() != 10 {
            return Err(NhsNumberError::WrongLength);
        }
        let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        match check_digit(&values[..9]) {
            Some(check) if check == values[9] => Ok(Self(digits)),
            _ => Err(NhsNumberError::BadCheckDigit),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 3-3-4 grouping the NHS uses when showing a number to people.
    pub fn formatted(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

/// Modulus 11: weights 10 down to 2; 11 becomes 0; 10 means the number is invalid.
fn check_digit(first_nine: &[u32]) -> Option<u32> {
    let sum: u32 = first_nine
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    match 11 - (sum % 11) {
        11 => Some(0),
        10 => None,
        n => Some(n),
    }
}

impl fmt::Display for NhsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formatted())
    }
}

impl TryFrom<String> for NhsNumber {
    type Error = NhsNumberError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<NhsNumber> for String {
    fn from(value: NhsNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixtures() -> serde_json::Value {
        let text = include_str!("../../../shared/fixtures/nhs-numbers.json");
        serde_json::from_str(text).expect("fixture is JSON")
    }

    fn list(v: &serde_json::Value, key: &str) -> Vec<String> {
        v[key]
            .as_array()
            .expect("fixture list")
            .iter()
            .map(|s| s.as_str().expect("string").to_owned())
            .collect()
    }

    #[test]
    fn published_valid_numbers_parse() {
        let f = fixtures();
        for n in list(&f, "valid") {
            assert_eq!(NhsNumber::parse(&n).map(|x| x.0), Ok(n.clone()), "{n}");
        }
    }

    #[test]
    fn wrong_check_digits_are_rejected() {
        let f = fixtures();
        for n in list(&f, "invalid_check_digit") {
            assert_eq!(
                NhsNumber::parse(&n),
                Err(NhsNumberError::BadCheckDigit),
                "{n}"
            );
        }
    }

    #[test]
    fn malformed_input_is_rejected_with_a_reason() {
        let f = fixtures();
        for n in list(&f, "malformed") {
            assert!(NhsNumber::parse(&n).is_err(), "{n}");
        }
        assert_eq!(NhsNumber::parse(""), Err(NhsNumberError::Empty));
        assert_eq!(
            NhsNumber::parse("943476591X"),
            Err(NhsNumberError::NotDigits)
        );
        assert_eq!(
            NhsNumber::parse("943476591"),
            Err(NhsNumberError::WrongLength)
        );
    }

    #[test]
    fn spaces_and_hyphens_are_allowed() {
        let f = fixtures();
        for n in list(&f, "valid_when_spaces_removed") {
            assert_eq!(
                NhsNumber::parse(&n).map(|x| x.formatted()),
                Ok("943 476 5919".into())
            );
        }
    }

    proptest! {
        /// Any nine digits whose check digit is not 10 yield exactly one valid number.
        #[test]
        fn exactly_one_check_digit_is_valid(first in proptest::collection::vec(0u32..10, 9)) {
            let stem: String = first.iter().map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
            let valid: Vec<u32> = (0..10)
                .filter(|d| NhsNumber::parse(&format!("{stem}{d}")).is_ok())
                .collect();
            match check_digit(&first) {
                Some(c) => prop_assert_eq!(valid, vec![c]),
                None => prop_assert!(valid.is_empty()),
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = NhsNumber::parse(&s);
        }

        #[test]
        fn formatted_round_trips(first in proptest::collection::vec(0u32..10, 9)) {
            if let Some(c) = check_digit(&first) {
                let digits: String = first.iter().chain([c].iter()).map(|d| char::from_digit(*d, 10).unwrap_or('0')).collect();
                let n = NhsNumber::parse(&digits).expect("valid by construction");
                prop_assert_eq!(NhsNumber::parse(&n.formatted()), Ok(n));
            }
        }
    }
}
