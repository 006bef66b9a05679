//! How sure we are who someone is, in NHS login's terms, and the vectors of
//! trust NHS login speaks: a `vtr` request parameter (a JSON array of
//! vectors such as `"P9.Cp.Cd"`) and the `vot` claim it answers with.
//!
//! A vector is `<identity proofing level>.<credential>`: P0 (nothing
//! checked), P5 (details matched to an NHS record), P9 (photo ID checked);
//! Cp.Cd / Cp.Ck are a password with a second factor, Cm is a phone's
//! biometrics or similar.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IdentityLevel {
    P0,
    P5,
    P9,
}

impl IdentityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityLevel::P0 => "P0",
            IdentityLevel::P5 => "P5",
            IdentityLevel::P9 => "P9",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "P0" => Some(IdentityLevel::P0),
            "P5" => Some(IdentityLevel::P5),
            "P9" => Some(IdentityLevel::P9),
            _ => None,
        }
    }

    /// What the person has proved, in words for the step-up page.
    pub fn describe(self) -> &'static str {
        match self {
            IdentityLevel::P0 => "you have not proved who you are yet",
            IdentityLevel::P5 => {
                "your details matched an NHS record, but your photo ID has not been checked"
            }
            IdentityLevel::P9 => "your identity has been fully checked",
        }
    }
}

/// The credential part of a vector.
const CREDENTIALS: [&str; 3] = ["Cp.Cd", "Cp.Ck", "Cm"];

/// One vector of trust, such as `P9.Cp.Cd`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustVector {
    pub level: IdentityLevel,
    pub credential: &'static str,
}

impl TrustVector {
    pub fn parse(s: &str) -> Option<Self> {
        let (level, credential) = s.split_once('.')?;
        let level = IdentityLevel::parse(level)?;
        let credential = CREDENTIALS.into_iter().find(|c| *c == credential)?;
        Some(TrustVector { level, credential })
    }

    pub fn as_string(&self) -> String {
        format!("{}.{}", self.level.as_str(), self.credential)
    }
}

/// The `vtr` to send for a sign-in that needs at least `level`: every
/// vector at that level or above, lowest first, as NHS login's examples do.
pub fn vtr_for(minimum: IdentityLevel) -> String {
    // Vectors hold only letters, digits and dots, so no JSON escaping is needed.
    let vectors: Vec<String> = [IdentityLevel::P0, IdentityLevel::P5, IdentityLevel::P9]
        .into_iter()
        .filter(|level| *level >= minimum)
        .flat_map(|level| {
            CREDENTIALS
                .into_iter()
                .map(move |credential| TrustVector { level, credential }.as_string())
        })
        .map(|vector| format!("\"{vector}\""))
        .collect();
    format!("[{}]", vectors.join(","))
}

/// Why an answer from the identity provider cannot be believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelProblem {
    /// No `identity_proofing_level`, or one we do not know.
    Missing,
    /// `vot` is not a vector, or names a different level from
    /// `identity_proofing_level`.
    Inconsistent,
}

/// The level a sign-in achieved, from the ID token's `identity_proofing_level`
/// and `vot` claims, which must agree when both are present.
pub fn achieved_level(
    identity_proofing_level: Option<&str>,
    vot: Option<&str>,
) -> Result<IdentityLevel, LevelProblem> {
    let level = identity_proofing_level
        .and_then(IdentityLevel::parse)
        .ok_or(LevelProblem::Missing)?;
    match vot {
        None => Ok(level),
        Some(v) => match TrustVector::parse(v) {
            Some(vector) if vector.level == level => Ok(level),
            _ => Err(LevelProblem::Inconsistent),
        },
    }
}

/// A person NHS login vouched for, as the portal keeps them between the
/// callback and linking: in the server-side session only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NhsLoginIdentity {
    pub issuer: String,
    pub subject: String,
    pub level: IdentityLevel,
    /// As NHS login sent it; checked with `NhsNumber::parse` before use.
    pub nhs_number: Option<String>,
    pub date_of_birth: Option<chrono::NaiveDate>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vtr_lists_vectors_at_or_above_the_minimum() {
        assert_eq!(
            vtr_for(IdentityLevel::P9),
            r#"["P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#
        );
        assert_eq!(
            vtr_for(IdentityLevel::P5),
            r#"["P5.Cp.Cd","P5.Cp.Ck","P5.Cm","P9.Cp.Cd","P9.Cp.Ck","P9.Cm"]"#
        );
        assert!(
            vtr_for(IdentityLevel::P0).starts_with(r#"["P0.Cp.Cd","P0.Cp.Ck","P0.Cm","P5.Cp.Cd""#)
        );
    }

    #[test]
    fn levels_order_by_strength() {
        assert!(IdentityLevel::P9 > IdentityLevel::P5);
        assert!(IdentityLevel::P5 > IdentityLevel::P0);
    }

    #[test]
    fn the_level_claims_must_agree() {
        assert_eq!(
            achieved_level(Some("P9"), Some("P9.Cp.Cd")),
            Ok(IdentityLevel::P9)
        );
        assert_eq!(achieved_level(Some("P5"), None), Ok(IdentityLevel::P5));
        assert_eq!(
            achieved_level(Some("P5"), Some("P9.Cp.Cd")),
            Err(LevelProblem::Inconsistent)
        );
        assert_eq!(
            achieved_level(Some("P9"), Some("P9.Xx")),
            Err(LevelProblem::Inconsistent)
        );
        assert_eq!(
            achieved_level(None, Some("P9.Cm")),
            Err(LevelProblem::Missing)
        );
        assert_eq!(achieved_level(Some("P7"), None), Err(LevelProblem::Missing));
    }

    proptest! {
        #[test]
        fn every_vector_in_a_vtr_parses_and_meets_the_minimum(min in 0usize..3) {
            let minimum = [IdentityLevel::P0, IdentityLevel::P5, IdentityLevel::P9][min];
            let vtr: Vec<String> = serde_json::from_str(&vtr_for(minimum)).expect("json");
            prop_assert!(!vtr.is_empty());
            for v in vtr {
                let vector = TrustVector::parse(&v).expect("vector");
                prop_assert!(vector.level >= minimum);
                prop_assert_eq!(vector.as_string(), v);
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,20}") {
            let _ = TrustVector::parse(&s);
            let _ = achieved_level(Some(&s), Some(&s));
        }
    }
}
