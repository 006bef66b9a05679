//! Registration letters (linkage keys): how a practice vouches for a person
//! it has checked in person, so that they can link an online account to
//! their GP record.
//!
//! Staff create a letter holding an account ID (a public reference, 10
//! digits), a linkage key (a secret, 15 characters) and the practice's ODS
//! code. The person types those in, with their last name and date of birth.
//! A letter works once, until it expires, and stops working after
//! [`MAX_WRONG_ATTEMPTS`] wrong tries. The server keeps only a hash of the
//! key. These are the rules: formats, the form's checks, and what an
//! attempt comes to; the adapter in `server` does the storing.

use crate::OdsCode;
use crate::access::{Actor, PatientRef};
use crate::forms::{FormFeedback, parse_date_of_birth};
use crate::identity::NhsLoginIdentity;
use crate::ids::{AccountId, PatientId};
use crate::ports::{ClientAddress, PortError};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Digits in an account ID, shown 3-3-4 like an NHS number.
pub const ACCOUNT_REFERENCE_DIGITS: usize = 10;

/// Characters in a linkage key, shown in groups of 5.
pub const LINKAGE_KEY_LENGTH: usize = 15;
const KEY_GROUP: usize = 5;

/// Capital letters and digits that cannot be mistaken for one another when
/// read off paper: no 0/O, 1/I/L. 31 symbols, so a key holds about 74 bits.
pub const KEY_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Wrong tries after which a letter stops working: the practice must make
/// a new one. Low, because the letter is the only proof needed.
pub const MAX_WRONG_ATTEMPTS: u32 = 3;

/// How long a letter works unless the deployment says otherwise.
pub const DEFAULT_LIFETIME_DAYS: u32 = 28;

/// The form's name in [`FormFeedback`].
pub const LINK_FORM: &str = "link-record";

/// Spaces and hyphens people type between groups.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '-'
}

/// An account ID as stored: 10 digits. Accepts `1234567890`,
/// `123 456 7890`, `123-456-7890`. None for anything else.
pub fn normalise_account_reference(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !is_separator(*c)).collect();
    (digits.len() == ACCOUNT_REFERENCE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// "123 456 7890", as printed on the letter. Anything not a stored
/// reference is returned as it was.
pub fn format_account_reference(reference: &str) -> String {
    match normalise_account_reference(reference) {
        Some(d) => format!("{} {} {}", &d[..3], &d[3..6], &d[6..]),
        None => reference.to_owned(),
    }
}

/// A linkage key as stored and hashed: 15 characters of [`KEY_ALPHABET`],
/// upper case. Accepts any case, with spaces or hyphens anywhere.
pub fn normalise_linkage_key(input: &str) -> Option<String> {
    let key: String = input
        .chars()
        .filter(|c| !is_separator(*c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (key.len() == LINKAGE_KEY_LENGTH && key.bytes().all(|b| KEY_ALPHABET.contains(&b)))
        .then_some(key)
}

/// "ABCDE FGHJK MNPQR", as printed on the letter.
pub fn format_linkage_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars
        .chunks(KEY_GROUP)
        .map(|group| group.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turns random bytes into a linkage key. Each byte below the largest
/// multiple of the alphabet's size picks one symbol (others are skipped),
/// so every symbol is equally likely. None if the bytes ran out first; the
/// caller draws more. The server passes 32 bytes (256 bits) from the
/// operating system's generator, enough for a key nearly every time.
pub fn linkage_key_from_random(bytes: &[u8]) -> Option<String> {
    let symbols = KEY_ALPHABET.len();
    let usable = 256 - 256 % symbols;
    let key: String = bytes
        .iter()
        .map(|b| usize::from(*b))
        .filter(|b| *b < usable)
        .take(LINKAGE_KEY_LENGTH)
        .map(|b| char::from(KEY_ALPHABET[b % symbols]))
        .collect();
    (key.len() == LINKAGE_KEY_LENGTH).then_some(key)
}

/// Turns random bytes into an account ID: 10 digits, the same way. None if
/// the bytes ran out.
pub fn account_reference_from_random(bytes: &[u8]) -> Option<String> {
    let digits: String = bytes
        .iter()
        .map(|b| usize::from(*b))
        .filter(|b| *b < 250)
        .take(ACCOUNT_REFERENCE_DIGITS)
        .map(|b| char::from(b'0' + (b % 10) as u8))
        .collect();
    (digits.len() == ACCOUNT_REFERENCE_DIGITS).then_some(digits)
}

/// A last name as compared with the practice's record: case does not
/// matter, nor spaces around it, and curly and straight apostrophes, and
/// hyphens and spaces, count as the same. "O’Neill-Smith" is
/// "o'neill smith".
pub fn comparable_surname(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_space = false;
    for c in name.trim().chars() {
        match c {
            '-' | '\u{2010}' | '\u{2011}' | '\u{2013}' => pending_space = true,
            c if c.is_whitespace() => pending_space = true,
            '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}' | '\u{02BC}' => {
                flush_space(&mut out, &mut pending_space);
                out.push('\'');
            }
            c => {
                flush_space(&mut out, &mut pending_space);
                out.extend(c.to_lowercase());
            }
        }
    }
    out
}

fn flush_space(out: &mut String, pending: &mut bool) {
    if *pending && !out.is_empty() {
        out.push(' ');
    }
    *pending = false;
}

pub fn same_surname(typed: &str, on_record: &str) -> bool {
    let typed = comparable_surname(typed);
    !typed.is_empty() && typed == comparable_surname(on_record)
}

/// The form a person fills in from their letter, as typed. The field
/// names are the inputs' names; a missing field is an empty one, so it
/// gets the field's own message rather than a failed request.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinkageForm {
    pub account_id: String,
    pub linkage_key: String,
    pub ods_code: String,
    pub family_name: String,
    pub dob_day: String,
    pub dob_month: String,
    pub dob_year: String,
}

/// Written by hand so that the key never reaches a log.
impl std::fmt::Debug for LinkageForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkageForm")
            .field("account_id", &self.account_id)
            .field("linkage_key", &"[hidden]")
            .field("ods_code", &self.ods_code)
            .finish_non_exhaustive()
    }
}

/// A letter's details that passed every check of their shape.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckedLinkage {
    /// 10 digits.
    pub account_reference: String,
    /// 15 characters, upper case.
    pub linkage_key: String,
    pub ods_code: OdsCode,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
}

impl std::fmt::Debug for CheckedLinkage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedLinkage")
            .field("account_reference", &self.account_reference)
            .field("linkage_key", &"[hidden]")
            .field("ods_code", &self.ods_code)
            .finish_non_exhaustive()
    }
}

/// The feedback for this form: everything typed except the linkage key,
/// which is a one-time secret and is not written into a page again.
pub fn linkage_feedback(form: &LinkageForm) -> FormFeedback {
    FormFeedback::new(LINK_FORM)
        .keep("account_id", &form.account_id)
        .keep("ods_code", &form.ods_code)
        .keep("family_name", &form.family_name)
        .keep("dob_day", &form.dob_day)
        .keep("dob_month", &form.dob_month)
        .keep("dob_year", &form.dob_year)
}

/// Checks the shape of what was typed, field by field, before anything is
/// looked up. Shared by the browser (before sending) and the server.
pub fn check_linkage_form(
    form: &LinkageForm,
    today: NaiveDate,
) -> Result<CheckedLinkage, FormFeedback> {
    let mut feedback = linkage_feedback(form);
    let reference = normalise_account_reference(&form.account_id);
    if form.account_id.trim().is_empty() {
        feedback = feedback.error("account_id", "Enter the account ID from your letter");
    } else if reference.is_none() {
        feedback = feedback.error(
            "account_id",
            "Account ID must be 10 numbers, like 123 456 7890. Check it against your letter",
        );
    }
    let key = normalise_linkage_key(&form.linkage_key);
    if form.linkage_key.trim().is_empty() {
        feedback = feedback.error("linkage_key", "Enter the linkage key from your letter");
    } else if key.is_none() {
        feedback = feedback.error(
            "linkage_key",
            "Linkage key must be 15 letters and numbers, like ABCDE FGHJK MNPQR. Check it against your letter",
        );
    }
    let ods = OdsCode::parse(&form.ods_code);
    if let Err(e) = &ods {
        feedback = feedback.error("ods_code", e.to_string());
    }
    if let Some(problem) = crate::forms::name_problem(&form.family_name, "last name") {
        feedback = feedback.error("family_name", problem);
    }
    let dob = parse_date_of_birth(&form.dob_day, &form.dob_month, &form.dob_year, today);
    if let Err(problem) = &dob {
        feedback = feedback.error("dob_day", problem.clone());
    }
    match (reference, key, ods, dob) {
        (Some(account_reference), Some(linkage_key), Ok(ods_code), Ok(date_of_birth))
            if !feedback.has_errors() =>
        {
            Ok(CheckedLinkage {
                account_reference,
                linkage_key,
                ods_code,
                family_name: form.family_name.trim().to_owned(),
                date_of_birth,
            })
        }
        _ => Err(feedback),
    }
}

/// Where a letter is in its life. Stored as `as_str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Used,
    /// Cancelled by staff, or replaced by a newer letter.
    Revoked,
    /// Too many wrong tries.
    Locked,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 4] = [
        KeyStatus::Active,
        KeyStatus::Used,
        KeyStatus::Revoked,
        KeyStatus::Locked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Used => "used",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Locked => "locked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What the rules need to know about a stored letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyState {
    pub status: KeyStatus,
    /// Unix seconds.
    pub expires_at: i64,
    pub failed_attempts: u32,
}

/// What one attempt to use a letter comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptDecision {
    /// Everything matched: link the account and use the letter up.
    Linked,
    /// Something did not match; the letter still works this many more times.
    Wrong {
        attempts_left: u32,
    },
    /// Too many wrong tries (perhaps this one).
    Locked,
    Expired,
    AlreadyUsed,
    Revoked,
    /// No letter has this account ID.
    Unknown,
}

impl AttemptDecision {
    /// Does this attempt add to the letter's wrong tries? Only while it
    /// still works: a dead letter has nothing left to lock.
    pub fn counts_as_wrong(self, before: KeyState) -> bool {
        before.status == KeyStatus::Active
            && matches!(
                self,
                AttemptDecision::Wrong { .. } | AttemptDecision::Locked
            )
    }
}

/// Decides an attempt. `key_matches`: the key's hash is the stored one.
/// `person_matches`: the last name, date of birth and ODS code are the
/// record's. Which of them was wrong is never said, so the letter's
/// holder learns nothing from a wrong try but that it was wrong.
pub fn decide_attempt(
    letter: Option<KeyState>,
    now: i64,
    key_matches: bool,
    person_matches: bool,
) -> AttemptDecision {
    let Some(letter) = letter else {
        return AttemptDecision::Unknown;
    };
    match letter.status {
        KeyStatus::Used => AttemptDecision::AlreadyUsed,
        KeyStatus::Revoked => AttemptDecision::Revoked,
        KeyStatus::Locked => AttemptDecision::Locked,
        KeyStatus::Active if now >= letter.expires_at => AttemptDecision::Expired,
        KeyStatus::Active if key_matches && person_matches => AttemptDecision::Linked,
        KeyStatus::Active => after_wrong_attempts(letter.failed_attempts.saturating_add(1)),
    }
}

/// The answer once a letter has had this many wrong tries in all (the
/// count as the database left it, which settles two tries at once).
pub fn after_wrong_attempts(failed_attempts: u32) -> AttemptDecision {
    if failed_attempts >= MAX_WRONG_ATTEMPTS {
        AttemptDecision::Locked
    } else {
        AttemptDecision::Wrong {
            attempts_left: MAX_WRONG_ATTEMPTS - failed_attempts,
        }
    }
}

/// A letter just created, shown once to the member of staff who made it
/// (to print) and never again: only the key's hash is kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedLetter {
    pub patient: PatientId,
    /// "123 456 7890".
    pub account_reference: String,
    /// "ABCDE FGHJK MNPQR".
    pub linkage_key: String,
    pub practice_ods: String,
    pub practice_name: String,
    pub patient_name: String,
    pub expires_at: DateTime<Utc>,
    /// Where the patient goes to use it.
    pub portal_address: String,
}

impl std::fmt::Debug for IssuedLetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedLetter")
            .field("patient", &self.patient)
            .field("account_reference", &self.account_reference)
            .field("linkage_key", &"[hidden]")
            .finish_non_exhaustive()
    }
}

/// A patient's latest letter as staff see it: never the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterStatus {
    /// "123 456 7890".
    pub account_reference: String,
    pub state: LetterState,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was used, cancelled or locked.
    pub ended_at: Option<DateTime<Utc>>,
    pub failed_attempts: u32,
}

/// A letter's state as staff read it: an active letter past its expiry
/// is expired, though nothing has changed in the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LetterState {
    Active,
    Expired,
    Used,
    Revoked,
    Locked,
}

impl LetterState {
    pub fn of(status: KeyStatus, expires_at: i64, now: i64) -> Self {
        match status {
            KeyStatus::Active if now >= expires_at => LetterState::Expired,
            KeyStatus::Active => LetterState::Active,
            KeyStatus::Used => LetterState::Used,
            KeyStatus::Revoked => LetterState::Revoked,
            KeyStatus::Locked => LetterState::Locked,
        }
    }

    /// Staff's words, for a tag.
    pub fn label(self) -> &'static str {
        match self {
            LetterState::Active => "Waiting to be used",
            LetterState::Expired => "Expired",
            LetterState::Used => "Used",
            LetterState::Revoked => "Cancelled",
            LetterState::Locked => "Locked after wrong details",
        }
    }

    /// Can the patient still use it?
    pub fn is_live(self) -> bool {
        self == LetterState::Active
    }
}

/// Who is using a letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemer {
    /// Someone NHS login vouched for, whose NHS login matched no record.
    /// Their NHS login is linked to the letter's record (to its patient's
    /// existing account, or a new one).
    NhsLogin(NhsLoginIdentity),
    /// A signed-in patient whose own identity is not fully proved (an
    /// online sign-up, P5). The letter must be for their own record; it
    /// raises their account to P9.
    Account {
        account: AccountId,
        patient: PatientId,
    },
}

impl Redeemer {
    /// The account to name in the access log, if there is one yet.
    pub fn account(&self) -> Option<AccountId> {
        match self {
            Redeemer::NhsLogin(_) => None,
            Redeemer::Account { account, .. } => Some(*account),
        }
    }
}

/// What using a letter came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Redemption {
    /// Linked; the account to sign in to.
    Linked(AccountId),
    /// The letter did not work (the decision says why).
    Refused(AttemptDecision),
    /// Too many tries from this address lately, of any letter.
    TooManyAttempts,
    /// Every detail matched, but the letter is for a different record from
    /// the signed-in account's.
    NotYourRecord,
    /// No account could be made: NHS login's email address belongs to
    /// another account here (or NHS login gave none).
    EmailInUse,
    /// The record's account is already linked to another NHS login.
    AccountLinkedElsewhere,
}

impl Redemption {
    /// What to tell the person, in words they can act on. None when linked.
    pub fn problem(self) -> Option<String> {
        let text = match self {
            Redemption::Linked(_) | Redemption::Refused(AttemptDecision::Linked) => return None,
            Redemption::Refused(AttemptDecision::Unknown) => {
                "We could not find a registration letter with that account ID. Check the account ID on your letter and try again".to_owned()
            }
            Redemption::Refused(AttemptDecision::Wrong { attempts_left }) => {
                let tries = if attempts_left == 1 {
                    "1 more time".to_owned()
                } else {
                    format!("{attempts_left} more times")
                };
                format!(
                    "The details you entered do not match your registration letter and GP record. Check each one against your letter and try again. You can try {tries} before the letter stops working"
                )
            }
            Redemption::Refused(AttemptDecision::Locked) => {
                "This registration letter has stopped working because wrong details were entered too many times. Ask your GP practice for a new letter".to_owned()
            }
            Redemption::Refused(AttemptDecision::Expired) => {
                "This registration letter has expired. Ask your GP practice for a new letter".to_owned()
            }
            Redemption::Refused(AttemptDecision::AlreadyUsed) => {
                "This registration letter has already been used. If you did not use it, contact your GP practice".to_owned()
            }
            Redemption::Refused(AttemptDecision::Revoked) => {
                "This registration letter has been cancelled, or replaced by a newer one. Use your most recent letter, or ask your GP practice for a new one".to_owned()
            }
            Redemption::TooManyAttempts => {
                "You have tried too many times. Wait 15 minutes, then try again".to_owned()
            }
            Redemption::NotYourRecord => {
                "This registration letter is for a different GP record from the one your account belongs to. Contact your GP practice".to_owned()
            }
            Redemption::EmailInUse => {
                "We could not link your NHS login: its email address is already used by another account here, or NHS login did not share one. Sign in with that account instead, or contact your GP practice".to_owned()
            }
            Redemption::AccountLinkedElsewhere => {
                "This GP record's online account is already linked to a different NHS login. Sign in with that NHS login, or contact your GP practice".to_owned()
            }
        };
        Some(text)
    }
}

/// Registration letters. Callers authorize staff against the patient
/// first; the adapter writes the access-log row for each change in the
/// same transaction as the change.
#[async_trait]
pub trait RegistrationLetters: Send + Sync {
    /// Creates a letter for the patient, cancelling any that still works,
    /// in one transaction. The only time the plain key exists.
    async fn issue(
        &self,
        staff: &Actor,
        patient: PatientRef,
        request_id: &str,
    ) -> Result<IssuedLetter, PortError>;
    /// The patient's most recent letter, in any state.
    async fn current(
        &self,
        staff: &Actor,
        patient: PatientRef,
    ) -> Result<Option<LetterStatus>, PortError>;
    /// Cancels the letter that still works. False if there was none.
    async fn revoke(
        &self,
        staff: &Actor,
        patient: PatientRef,
        request_id: &str,
    ) -> Result<bool, PortError>;
    /// One attempt to use a letter. Every attempt naming a letter that
    /// exists leaves an access-log row on its record; every refusal counts
    /// against the client address's tries.
    async fn redeem(
        &self,
        redeemer: Redeemer,
        details: &CheckedLinkage,
        client: &ClientAddress,
        request_id: &str,
    ) -> Result<Redemption, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn good() -> LinkageForm {
        LinkageForm {
            account_id: "123 456 7890".into(),
            linkage_key: "abcde-fghjk-mnpqr".into(),
            ods_code: " a81001 ".into(),
            family_name: "O’Neill-Smith".into(),
            dob_day: "27".into(),
            dob_month: "3".into(),
            dob_year: "1984".into(),
        }
    }

    fn active(failed_attempts: u32) -> Option<KeyState> {
        Some(KeyState {
            status: KeyStatus::Active,
            expires_at: 1_000,
            failed_attempts,
        })
    }

    #[test]
    fn account_ids_accept_the_ways_people_type_them() {
        for typed in [
            "1234567890",
            "123 456 7890",
            "123-456-7890",
            " 12345 67890 ",
        ] {
            assert_eq!(
                normalise_account_reference(typed).as_deref(),
                Some("1234567890")
            );
        }
        for bad in ["", "123456789", "12345678901", "12345678O0", "123.456.7890"] {
            assert_eq!(normalise_account_reference(bad), None, "{bad}");
        }
        assert_eq!(format_account_reference("1234567890"), "123 456 7890");
    }

    #[test]
    fn linkage_keys_ignore_case_spaces_and_hyphens() {
        assert_eq!(
            normalise_linkage_key("abcde fghjk-mnpqr").as_deref(),
            Some("ABCDEFGHJKMNPQR")
        );
        assert_eq!(format_linkage_key("ABCDEFGHJKMNPQR"), "ABCDE FGHJK MNPQR");
        // Ambiguous characters are never in a key.
        for bad in [
            "ABCDEFGHJKMNPQ0",
            "ABCDEFGHJKMNPQI",
            "ABCDEFGHJKMNPQ",
            "ABCDEFGHJKMNPQRS",
        ] {
            assert_eq!(normalise_linkage_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_alphabet_has_no_look_alikes() {
        for c in b"01OIL" {
            assert!(!KEY_ALPHABET.contains(c));
        }
        assert_eq!(KEY_ALPHABET.len(), 31);
    }

    #[test]
    fn surnames_compare_as_people_write_them() {
        assert!(same_surname(" o'neill smith ", "O’Neill-Smith"));
        assert!(same_surname("ÉMILE", "émile"));
        assert!(same_surname("Testperson", "TESTPERSON"));
        assert!(same_surname("van  der-Berg", "Van der Berg"));
        assert!(!same_surname("Testpersen", "Testperson"));
        assert!(!same_surname("", ""));
        assert!(!same_surname("   ", "Testperson"));
    }

    #[test]
    fn a_good_form_passes_and_is_normalised() {
        let checked = check_linkage_form(&good(), today()).expect("valid");
        assert_eq!(checked.account_reference, "1234567890");
        assert_eq!(checked.linkage_key, "ABCDEFGHJKMNPQR");
        assert_eq!(checked.ods_code.as_str(), "A81001");
        assert_eq!(checked.family_name, "O’Neill-Smith");
        assert_eq!(
            checked.date_of_birth,
            NaiveDate::from_ymd_opt(1984, 3, 27).expect("date")
        );
        assert!(!format!("{checked:?}").contains("ABCDEFGHJKMNPQR"));
        assert!(!format!("{:?}", good()).contains("fghjk"));
    }

    #[test]
    fn an_empty_form_explains_every_field_and_never_keeps_the_key() {
        let feedback = check_linkage_form(&LinkageForm::default(), today()).expect_err("empty");
        assert_eq!(
            feedback.error_for("account_id").as_deref(),
            Some("Enter the account ID from your letter")
        );
        assert_eq!(
            feedback.error_for("linkage_key").as_deref(),
            Some("Enter the linkage key from your letter")
        );
        assert_eq!(
            feedback.error_for("ods_code").as_deref(),
            Some("Enter the practice's ODS code, like A81001")
        );
        assert_eq!(
            feedback.error_for("family_name").as_deref(),
            Some("Enter your last name")
        );
        assert_eq!(
            feedback.error_for("dob_day").as_deref(),
            Some("Enter your date of birth")
        );

        let form = LinkageForm {
            account_id: "12345".into(),
            linkage_key: "not a key".into(),
            ..good()
        };
        let feedback = check_linkage_form(&form, today()).expect_err("bad");
        assert!(feedback.error_for("account_id").is_some());
        assert!(feedback.error_for("linkage_key").is_some());
        assert_eq!(feedback.value("account_id"), "12345");
        assert_eq!(feedback.value("family_name"), "O’Neill-Smith");
        assert!(feedback.values.iter().all(|(k, _)| k != "linkage_key"));
    }

    #[test]
    fn three_wrong_tries_lock_a_letter() {
        assert_eq!(
            decide_attempt(active(0), 10, false, true),
            AttemptDecision::Wrong { attempts_left: 2 }
        );
        assert_eq!(
            decide_attempt(active(1), 10, true, false),
            AttemptDecision::Wrong { attempts_left: 1 }
        );
        assert_eq!(
            decide_attempt(active(2), 10, false, false),
            AttemptDecision::Locked
        );
        let locked = KeyState {
            status: KeyStatus::Locked,
            ..active(3).expect("state")
        };
        // Once locked, even the right details do not work.
        assert_eq!(
            decide_attempt(Some(locked), 10, true, true),
            AttemptDecision::Locked
        );
        assert!(AttemptDecision::Locked.counts_as_wrong(active(2).expect("state")));
        assert!(!AttemptDecision::Locked.counts_as_wrong(locked));
    }

    #[test]
    fn only_a_live_letter_with_every_detail_right_links() {
        assert_eq!(
            decide_attempt(active(2), 999, true, true),
            AttemptDecision::Linked
        );
        assert_eq!(
            decide_attempt(active(0), 1_000, true, true),
            AttemptDecision::Expired
        );
        assert_eq!(
            decide_attempt(None, 0, true, true),
            AttemptDecision::Unknown
        );
        for (status, answer) in [
            (KeyStatus::Used, AttemptDecision::AlreadyUsed),
            (KeyStatus::Revoked, AttemptDecision::Revoked),
        ] {
            let state = Some(KeyState {
                status,
                ..active(0).expect("state")
            });
            assert_eq!(decide_attempt(state, 0, true, true), answer);
        }
    }

    #[test]
    fn every_refusal_says_what_to_do() {
        let wrong = Redemption::Refused(AttemptDecision::Wrong { attempts_left: 1 });
        assert!(
            wrong
                .problem()
                .expect("text")
                .contains("1 more time before")
        );
        let expired = Redemption::Refused(AttemptDecision::Expired)
            .problem()
            .expect("text");
        assert!(expired.contains("Ask your GP practice for a new letter"));
        assert_eq!(Redemption::Linked(AccountId(1)).problem(), None);
    }

    #[test]
    fn staff_see_an_unused_letter_past_its_expiry_as_expired() {
        assert_eq!(
            LetterState::of(KeyStatus::Active, 100, 99),
            LetterState::Active
        );
        assert_eq!(
            LetterState::of(KeyStatus::Active, 100, 100),
            LetterState::Expired
        );
        assert_eq!(
            LetterState::of(KeyStatus::Used, 100, 200),
            LetterState::Used
        );
    }

    proptest! {
        #[test]
        fn keys_from_random_bytes_are_always_valid(bytes in proptest::collection::vec(any::<u8>(), 32)) {
            if let Some(key) = linkage_key_from_random(&bytes) {
                prop_assert_eq!(normalise_linkage_key(&key), Some(key.clone()));
                let shown = format_linkage_key(&key);
                prop_assert_eq!(normalise_linkage_key(&shown.to_lowercase()), Some(key));
            }
            if let Some(reference) = account_reference_from_random(&bytes) {
                let shown = format_account_reference(&reference);
                prop_assert_eq!(normalise_account_reference(&shown), Some(reference));
            }
        }

        #[test]
        fn a_used_revoked_or_locked_letter_never_links(
            status in 1usize..4, expires in 0i64..100, now in 0i64..100, failed in 0u32..5,
            key in any::<bool>(), person in any::<bool>(),
        ) {
            let state = KeyState { status: KeyStatus::ALL[status], expires_at: expires, failed_attempts: failed };
            prop_assert_ne!(decide_attempt(Some(state), now, key, person), AttemptDecision::Linked);
        }

        #[test]
        fn an_attempt_links_only_with_the_key_and_the_person(
            expires in 0i64..100, now in 0i64..100, failed in 0u32..3,
            key in any::<bool>(), person in any::<bool>(),
        ) {
            let state = KeyState { status: KeyStatus::Active, expires_at: expires, failed_attempts: failed };
            let decision = decide_attempt(Some(state), now, key, person);
            prop_assert_eq!(decision == AttemptDecision::Linked, key && person && now < expires);
            if let AttemptDecision::Wrong { attempts_left } = decision {
                prop_assert!((1..MAX_WRONG_ATTEMPTS).contains(&attempts_left));
            }
        }

        #[test]
        fn surname_comparison_ignores_case_and_separators(name in "[A-Za-z]{1,12}( [A-Za-z]{1,12})?") {
            let hyphenated = name.replace(' ', "-").to_uppercase();
            let typed = format!("  {hyphenated} ");
            prop_assert!(same_surname(&typed, &name));
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,40}") {
            let _ = normalise_account_reference(&s);
            let _ = normalise_linkage_key(&s);
            let _ = format_account_reference(&s);
            let _ = format_linkage_key(&s);
            let _ = comparable_surname(&s);
        }
    }
}
