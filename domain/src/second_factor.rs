//! Staff second factor: a code from an authenticator app (TOTP, RFC 6238:
//! HMAC-SHA-1, 6 digits, 30-second steps), or a single-use recovery code
//! for a lost phone. Every member of staff gives one at each sign-in before
//! they can see patient data (see `Access::decide`).
//!
//! Pure rules here: reading what was typed, which time steps a code may
//! match, the recovery-code format, the messages people read, and the port
//! the server implements. The cryptography and the database are the
//! server's.

use crate::ids::AccountId;
use crate::ports::PortError;
use crate::{Actor, Role};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Seconds per TOTP step.
pub const STEP_SECONDS: i64 = 30;
/// Digits in an authenticator code.
pub const CODE_DIGITS: usize = 6;
/// Recovery codes made at enrolment, each usable once.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of a recovery code, not counting its hyphens.
pub const RECOVERY_CODE_LENGTH: usize = 12;
/// The characters recovery codes are made of: lower-case letters and digits
/// without the ones easily misread for each other (0/o, 1/l/i).
pub const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// What someone typed into a code box, once spaces and hyphens are gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypedCode {
    /// Six digits: a code from the authenticator app.
    Authenticator(String),
    /// Twelve characters from [`RECOVERY_ALPHABET`], without hyphens.
    Recovery(String),
    /// Nothing was typed.
    Empty,
    /// Neither shape.
    Malformed,
}

/// Drops the spaces and hyphens people type or paste (`123 456`,
/// `abcd-efgh-jkmn`) and lower-cases the rest.
pub fn normalise_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Tells an authenticator code from a recovery code.
pub fn read_code(typed: &str) -> TypedCode {
    let code = normalise_code(typed);
    if code.is_empty() {
        TypedCode::Empty
    } else if code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()) {
        TypedCode::Authenticator(code)
    } else if code.len() == RECOVERY_CODE_LENGTH
        && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
    {
        TypedCode::Recovery(code)
    } else {
        TypedCode::Malformed
    }
}

/// A recovery code as it is shown and printed: `abcd-efgh-jkmn`.
pub fn group_recovery_code(code: &str) -> String {
    group(code, 4, "-")
}

/// An authenticator setup key as it is shown for typing: `ABCD EFGH ...`.
pub fn group_setup_key(key: &str) -> String {
    group(key, 4, " ")
}

fn group(text: &str, size: usize, separator: &str) -> String {
    text.chars()
        .collect::<Vec<_>>()
        .chunks(size)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(separator)
}

/// The time step a Unix time falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The steps a code may come from at `now`: the current one, and the one
/// either side for a phone clock a little out (RFC 6238 section 5.2), less
/// any at or below the last step already used (a code works once).
/// Lowest first, so a code that happens to match two steps uses up the
/// earlier one.
pub fn steps_to_try(now_unix: i64, last_used_step: i64) -> Vec<i64> {
    let now = step_at(now_unix);
    (now - 1..=now + 1)
        .filter(|step| *step > last_used_step)
        .collect()
}

/// How a typed authenticator code fits the time steps it may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepMatch {
    /// Right, for a step not used before: use it up.
    Fresh(i64),
    /// Right, but its step has been used: a replay, or a double submit.
    AlreadyUsed,
    NoMatch,
}

/// Finds the step a code comes from. `matches` says whether the code is
/// the one for a step (the server's HMAC); only the window around `now`
/// is asked about.
pub fn match_step(now_unix: i64, last_used_step: i64, matches: impl Fn(i64) -> bool) -> StepMatch {
    if let Some(step) = steps_to_try(now_unix, last_used_step)
        .into_iter()
        .find(|step| matches(*step))
    {
        return StepMatch::Fresh(step);
    }
    let now = step_at(now_unix);
    if (now - 1..=now + 1).any(matches) {
        StepMatch::AlreadyUsed
    } else {
        StepMatch::NoMatch
    }
}

/// Why a code was not accepted, in words for the person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum CodeProblem {
    #[error("Enter the 6-digit code from your authenticator app")]
    MissingCode,
    #[error("The code must be 6 digits, like 123456")]
    MalformedCode,
    #[error("The code is not right. Enter the code your authenticator app shows now")]
    WrongCode,
    #[error(
        "That code has already been used. Wait for your authenticator app to show a new code, then enter it"
    )]
    CodeAlreadyUsed,
    #[error("Enter one of your recovery codes")]
    MissingRecoveryCode,
    #[error("A recovery code is 12 letters and numbers, like abcd-efgh-jkmn")]
    MalformedRecoveryCode,
    #[error(
        "That recovery code is not right, or it has already been used. Check it and try again, or use another"
    )]
    WrongRecoveryCode,
    #[error("You have entered a wrong code too many times. Wait 15 minutes, then try again")]
    TooManyAttempts,
}

/// Which box a code was typed into: they are checked the same way, but
/// told apart in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeBox {
    Authenticator,
    Recovery,
}

/// The problem with what was typed before anything is looked up, or None
/// if it is worth checking. A recovery code typed into the authenticator
/// box is fine (and the reverse): people paste what they have.
pub fn shape_problem(typed: &TypedCode, code_box: CodeBox) -> Option<CodeProblem> {
    match (typed, code_box) {
        (TypedCode::Authenticator(_) | TypedCode::Recovery(_), _) => None,
        (TypedCode::Empty, CodeBox::Authenticator) => Some(CodeProblem::MissingCode),
        (TypedCode::Empty, CodeBox::Recovery) => Some(CodeProblem::MissingRecoveryCode),
        (TypedCode::Malformed, CodeBox::Authenticator) => Some(CodeProblem::MalformedCode),
        (TypedCode::Malformed, CodeBox::Recovery) => Some(CodeProblem::MalformedRecoveryCode),
    }
}

/// Whether a member of staff has an authenticator app set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecondFactorStatus {
    NotEnrolled,
    Enrolled,
}

/// What the set-up page shows: the secret as text (for typing into the
/// app), the same as an `otpauth://` link and as a QR code. This goes to
/// the browser on purpose: the person copies it into their app. It is shown
/// only until they confirm a code from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Base32, as authenticator apps take it.
    pub secret_base32: String,
    pub otpauth_url: String,
    /// An `<svg>` element, ready to put in the page.
    pub qr_svg: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrolmentStart {
    Started(Enrolment),
    AlreadyEnrolled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrolmentOutcome {
    /// The plain recovery codes, grouped for reading: shown once, never
    /// stored.
    Enrolled(Vec<String>),
    Refused(CodeProblem),
    /// Set-up was not started, or has finished already (another tab).
    NotStarted,
    AlreadyEnrolled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    Accepted,
    Refused(CodeProblem),
    NotEnrolled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetOutcome {
    /// The second factor and recovery codes are gone and every session of
    /// that person has ended.
    Done,
    /// Not a colleague at the manager's practice, not a manager, or
    /// themselves. Who exists is not told.
    Forbidden,
}

/// A colleague on the practice manager's team page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub account: AccountId,
    pub display_name: String,
    pub role: Role,
    pub second_factor: SecondFactorStatus,
    /// The manager looking at the page.
    pub is_you: bool,
}

/// May `manager` reset `colleague`'s second factor? Only a practice
/// manager, only for staff of their own practice, never for themselves
/// (they would lock themselves out of undoing it; another manager or an
/// administrator of the service must).
pub fn may_reset(
    manager: &Actor,
    colleague: AccountId,
    colleague_role: Role,
    colleague_practice: Option<crate::PracticeId>,
) -> bool {
    manager.role.has(crate::Permission::ManagePracticeStaff)
        && manager.account != colleague
        && colleague_role.is_staff()
        && manager.practice.is_some()
        && manager.practice == colleague_practice
}

/// Events written to `security_events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityEvent {
    SecondFactorEnrolled,
    RecoveryCodeUsed,
    SecondFactorReset,
}

impl SecurityEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityEvent::SecondFactorEnrolled => "second_factor_enrolled",
            SecurityEvent::RecoveryCodeUsed => "recovery_code_used",
            SecurityEvent::SecondFactorReset => "second_factor_reset",
        }
    }
}

/// Staff authenticator apps and recovery codes. Every wrong code counts
/// towards a limit (5 in 15 minutes) that the person's correct password
/// does not clear. `request_id` ties a security event to its request.
#[async_trait]
pub trait SecondFactor: Send + Sync {
    async fn status(&self, account: AccountId) -> Result<SecondFactorStatus, PortError>;
    /// A new secret, or the unconfirmed one from an earlier visit so that
    /// a reload does not break an app already scanned.
    async fn start_enrolment(&self, account: AccountId) -> Result<EnrolmentStart, PortError>;
    /// Checks a code from the new app; if right, the app is enrolled and
    /// ten new recovery codes are made.
    async fn confirm_enrolment(
        &self,
        account: AccountId,
        code: &str,
        request_id: &str,
    ) -> Result<EnrolmentOutcome, PortError>;
    /// An authenticator code (each time step once) or an unused recovery
    /// code (then used up).
    async fn verify(
        &self,
        account: AccountId,
        code: &str,
        code_box: CodeBox,
        request_id: &str,
    ) -> Result<Verification, PortError>;
    /// See [`may_reset`].
    async fn reset_for_colleague(
        &self,
        manager: &Actor,
        colleague: AccountId,
        request_id: &str,
    ) -> Result<ResetOutcome, PortError>;
    /// Staff of the manager's practice, by name.
    async fn team(&self, manager: &Actor) -> Result<Vec<TeamMember>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IdentityLevel, PracticeId};
    use proptest::prelude::*;

    fn staff(role: Role, account: i64, practice: Option<i64>) -> Actor {
        Actor {
            account: AccountId(account),
            role,
            practice: practice.map(PracticeId),
            display_name: String::new(),
            practice_name: None,
            acting_for: None,
            email_verified: true,
            identity_level: IdentityLevel::P9,
            second_factor_done: true,
        }
    }

    #[test]
    fn codes_are_read_however_they_are_typed() {
        assert_eq!(
            read_code(" 123 456 "),
            TypedCode::Authenticator("123456".into())
        );
        assert_eq!(
            read_code("123-456"),
            TypedCode::Authenticator("123456".into())
        );
        assert_eq!(
            read_code("ABCD-EFGH-JKMN"),
            TypedCode::Recovery("abcdefghjkmn".into())
        );
        assert_eq!(
            read_code("abcd efgh jkmn"),
            TypedCode::Recovery("abcdefghjkmn".into())
        );
        assert_eq!(read_code("  "), TypedCode::Empty);
        assert_eq!(read_code("12345"), TypedCode::Malformed);
        assert_eq!(read_code("1234567"), TypedCode::Malformed);
        // 0, o, 1, l and i are never in a recovery code.
        assert_eq!(read_code("abcd-efgh-jkm0"), TypedCode::Malformed);
        assert_eq!(read_code("abcd-efgh-jkml"), TypedCode::Malformed);
        assert_eq!(read_code("١٢٣٤٥٦"), TypedCode::Malformed);
    }

    #[test]
    fn problems_name_the_box_they_came_from() {
        assert_eq!(
            shape_problem(&TypedCode::Empty, CodeBox::Authenticator),
            Some(CodeProblem::MissingCode)
        );
        assert_eq!(
            shape_problem(&TypedCode::Malformed, CodeBox::Recovery),
            Some(CodeProblem::MalformedRecoveryCode)
        );
        assert_eq!(
            shape_problem(&TypedCode::Recovery("x".into()), CodeBox::Authenticator),
            None
        );
        assert_eq!(
            CodeProblem::TooManyAttempts.to_string(),
            "You have entered a wrong code too many times. Wait 15 minutes, then try again"
        );
    }

    #[test]
    fn grouping_for_reading() {
        assert_eq!(group_recovery_code("abcdefghjkmn"), "abcd-efgh-jkmn");
        assert_eq!(
            group_setup_key("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
            "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"
        );
        assert_eq!(group_setup_key("ABCDEF"), "ABCD EF");
    }

    #[test]
    fn a_step_is_used_once_and_the_window_is_one_step_either_side() {
        // 90 seconds is the start of step 3.
        assert_eq!(steps_to_try(90, 0), vec![2, 3, 4]);
        assert_eq!(steps_to_try(119, 0), vec![2, 3, 4]);
        assert_eq!(steps_to_try(90, 2), vec![3, 4]);
        assert_eq!(steps_to_try(90, 3), vec![4]);
        assert_eq!(steps_to_try(90, 4), Vec::<i64>::new());
    }

    #[test]
    fn a_right_code_for_a_used_step_is_told_apart_from_a_wrong_one() {
        // The code is the one for step 3; now is in step 3.
        let for_step_3 = |step| step == 3;
        assert_eq!(match_step(95, 0, for_step_3), StepMatch::Fresh(3));
        assert_eq!(match_step(95, 3, for_step_3), StepMatch::AlreadyUsed);
        assert_eq!(match_step(95, 7, for_step_3), StepMatch::AlreadyUsed);
        // A phone a step behind or ahead.
        assert_eq!(match_step(125, 0, for_step_3), StepMatch::Fresh(3));
        assert_eq!(match_step(65, 0, for_step_3), StepMatch::Fresh(3));
        // Too far out.
        assert_eq!(match_step(155, 0, for_step_3), StepMatch::NoMatch);
        assert_eq!(match_step(95, 0, |_| false), StepMatch::NoMatch);
    }

    #[test]
    fn only_a_practice_manager_resets_colleagues_at_their_own_practice() {
        let manager = staff(Role::PracticeManager, 1, Some(10));
        assert!(may_reset(
            &manager,
            AccountId(2),
            Role::Receptionist,
            Some(PracticeId(10))
        ));
        assert!(may_reset(
            &manager,
            AccountId(3),
            Role::PracticeManager,
            Some(PracticeId(10))
        ));
        assert!(
            !may_reset(
                &manager,
                AccountId(1),
                Role::PracticeManager,
                Some(PracticeId(10))
            ),
            "not themselves"
        );
        assert!(
            !may_reset(
                &manager,
                AccountId(2),
                Role::Receptionist,
                Some(PracticeId(11))
            ),
            "another practice"
        );
        assert!(
            !may_reset(&manager, AccountId(2), Role::Patient, Some(PracticeId(10))),
            "not a patient"
        );
        assert!(!may_reset(&manager, AccountId(2), Role::SystemAdmin, None));
        let receptionist = staff(Role::Receptionist, 4, Some(10));
        assert!(!may_reset(
            &receptionist,
            AccountId(2),
            Role::Clinician,
            Some(PracticeId(10))
        ));
        let admin = staff(Role::SystemAdmin, 5, None);
        assert!(!may_reset(&admin, AccountId(2), Role::Clinician, None));
    }

    fn recovery_code() -> impl Strategy<Value = String> {
        proptest::collection::vec(0..RECOVERY_ALPHABET.len(), RECOVERY_CODE_LENGTH).prop_map(
            |picks| {
                picks
                    .into_iter()
                    .map(|i| char::from(RECOVERY_ALPHABET[i]))
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn a_printed_recovery_code_reads_back_whatever_the_case(code in recovery_code(), upper in any::<bool>()) {
            let printed = group_recovery_code(&code);
            prop_assert_eq!(printed.len(), RECOVERY_CODE_LENGTH + 2);
            let typed = if upper { printed.to_uppercase() } else { printed };
            prop_assert_eq!(read_code(&typed), TypedCode::Recovery(code));
        }

        #[test]
        fn six_digits_with_any_spacing_are_an_authenticator_code(n in 0u32..1_000_000, spaces in 0usize..4) {
            let digits = format!("{n:06}");
            let typed = format!("{}{}{}", &digits[..3], " ".repeat(spaces), &digits[3..]);
            prop_assert_eq!(read_code(&typed), TypedCode::Authenticator(digits));
        }

        #[test]
        fn normalising_is_idempotent_and_reading_never_panics(s in ".{0,40}") {
            let once = normalise_code(&s);
            prop_assert_eq!(normalise_code(&once), once.clone());
            let _ = read_code(&s);
        }

        #[test]
        fn no_step_is_tried_twice(now in 0i64..10_000_000, last in 0i64..400_000) {
            let steps = steps_to_try(now, last);
            prop_assert!(steps.len() <= 3);
            let current = step_at(now);
            for step in &steps {
                prop_assert!(*step > last);
                prop_assert!((current - 1..=current + 1).contains(step));
            }
            // Once the highest step tried is used, none of these is tried again.
            if let Some(highest) = steps.last() {
                prop_assert!(steps_to_try(now, *highest).is_empty());
            }
        }
    }
}
