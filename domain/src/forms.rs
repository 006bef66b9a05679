//! What a form submission that failed validation sends back: the errors to
//! show (in an error summary and beside each field) and what the person
//! typed, so they need not type it again. Passwords are never kept.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormFeedback {
    /// Which form this is for, so feedback never shows on another page.
    pub form: String,
    pub errors: Vec<FieldError>,
    /// (field name, value typed). Never includes a password field.
    pub values: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The `id` of the input, so the error summary can link to it. Empty for
    /// an error about the whole form.
    pub field: String,
    pub message: String,
}

impl FormFeedback {
    pub fn new(form: &str) -> Self {
        Self {
            form: form.to_owned(),
            ..Self::default()
        }
    }

    pub fn keep(mut self, field: &str, value: &str) -> Self {
        self.values.push((field.to_owned(), value.to_owned()));
        self
    }

    pub fn error(mut self, field: &str, message: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
        self
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn value(&self, field: &str) -> String {
        self.values
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn error_for(&self, field: &str) -> Option<String> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    }
}

/// Limits that stop a megabyte of text reaching the database or argon2.
pub const MAX_PASSWORD_LEN: usize = 128;
pub const MIN_PASSWORD_LEN: usize = 12;
pub const MAX_NAME_LEN: usize = 100;

/// The sign-in form's own checks, shared by the browser (before sending)
/// and the server (which never trusts the browser).
pub fn check_sign_in(email: &str, password: &str) -> FormFeedback {
    let mut feedback = FormFeedback::new("sign-in").keep("email", email);
    if let Err(e) = crate::Email::parse(email) {
        feedback = feedback.error("email", e.to_string());
    }
    if password.is_empty() {
        feedback = feedback.error("password", "Enter your password");
    } else if password.chars().count() > MAX_PASSWORD_LEN {
        feedback = feedback.error("password", "Password must be 128 characters or fewer");
    }
    feedback
}

/// A new password's rules: long enough to resist guessing, short enough
/// for argon2. Length is what matters most (NCSC guidance), so there are no
/// rules about symbols.
pub fn new_password_problem(password: &str, email: &str) -> Option<String> {
    let length = password.chars().count();
    if password.is_empty() {
        Some("Enter a password".to_owned())
    } else if length < MIN_PASSWORD_LEN {
        Some(format!(
            "Password must be at least {MIN_PASSWORD_LEN} characters. Try three random words"
        ))
    } else if length > MAX_PASSWORD_LEN {
        Some(format!(
            "Password must be {MAX_PASSWORD_LEN} characters or fewer"
        ))
    } else if !email.is_empty() && password.trim().eq_ignore_ascii_case(email.trim()) {
        Some("Password must not be your email address".to_owned())
    } else {
        None
    }
}

/// A name that will appear in emails and the access log: letters and
/// punctuation on one line. A line break could start a new email header.
pub fn name_problem(name: &str, which: &str) -> Option<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        Some(format!("Enter your {which}"))
    } else if trimmed.chars().count() > MAX_NAME_LEN {
        Some(format!(
            "{} must be {MAX_NAME_LEN} characters or fewer",
            capitalise(which)
        ))
    } else if trimmed
        .chars()
        .any(|c| c.is_control() || c == '<' || c == '>')
    {
        Some(format!(
            "{} must only include letters, spaces, hyphens and apostrophes",
            capitalise(which)
        ))
    } else {
        None
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A date typed into the three boxes of an NHS date input. Says which part
/// is wrong, and refuses dates in the future or implausibly long ago.
pub fn parse_date_of_birth(
    day: &str,
    month: &str,
    year: &str,
    today: chrono::NaiveDate,
) -> Result<chrono::NaiveDate, String> {
    use chrono::Datelike;
    let (day, month, year) = (day.trim(), month.trim(), year.trim());
    if day.is_empty() && month.is_empty() && year.is_empty() {
        return Err("Enter your date of birth".to_owned());
    }
    let number = |s: &str| s.parse::<u32>().ok();
    let (Some(d), Some(m), Some(y)) = (number(day), number(month), number(year)) else {
        return Err(
            "Date of birth must be a real date, with the day, month and year as numbers, like 27 3 1984"
                .to_owned(),
        );
    };
    if year.len() != 4 {
        return Err("Year must include 4 numbers, like 1984".to_owned());
    }
    let Some(date) = i32::try_from(y)
        .ok()
        .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, m, d))
    else {
        return Err("Date of birth must be a real date, like 27 3 1984".to_owned());
    };
    if date > today {
        return Err("Date of birth must be in the past".to_owned());
    }
    if today.year() - date.year() > 130 {
        return Err("Date of birth must be after 1 January 1900. Check the year".to_owned());
    }
    Ok(date)
}

/// The sign-up form's fields, as typed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUpForm {
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub dob_day: String,
    pub dob_month: String,
    pub dob_year: String,
    pub nhs_number: String,
    pub password: String,
}

/// Written out by hand so that the password never reaches a log.
impl std::fmt::Debug for SignUpForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpForm")
            .field("email", &self.email)
            .field("given_name", &self.given_name)
            .field("family_name", &self.family_name)
            .field("nhs_number", &self.nhs_number)
            .field("password", &"[hidden]")
            .finish_non_exhaustive()
    }
}

/// A sign-up that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedSignUp {
    pub email: crate::Email,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: chrono::NaiveDate,
    pub nhs_number: crate::NhsNumber,
}

/// Checks a sign-up. On failure, the feedback keeps everything typed but
/// the password.
pub fn check_sign_up(
    form: &SignUpForm,
    today: chrono::NaiveDate,
) -> Result<CheckedSignUp, FormFeedback> {
    let mut feedback = FormFeedback::new("sign-up")
        .keep("email", &form.email)
        .keep("given_name", &form.given_name)
        .keep("family_name", &form.family_name)
        .keep("dob_day", &form.dob_day)
        .keep("dob_month", &form.dob_month)
        .keep("dob_year", &form.dob_year)
        .keep("nhs_number", &form.nhs_number);
    let email = crate::Email::parse(&form.email);
    if let Err(e) = &email {
        feedback = feedback.error("email", e.to_string());
    }
    if let Some(problem) = name_problem(&form.given_name, "first name") {
        feedback = feedback.error("given_name", problem);
    }
    if let Some(problem) = name_problem(&form.family_name, "last name") {
        feedback = feedback.error("family_name", problem);
    }
    let dob = parse_date_of_birth(&form.dob_day, &form.dob_month, &form.dob_year, today);
    if let Err(problem) = &dob {
        feedback = feedback.error("dob_day", problem.clone());
    }
    let nhs = crate::NhsNumber::parse(&form.nhs_number);
    if let Err(e) = &nhs {
        feedback = feedback.error("nhs_number", e.to_string());
    }
    if let Some(problem) = new_password_problem(&form.password, &form.email) {
        feedback = feedback.error("password", problem);
    }
    match (email, dob, nhs) {
        (Ok(email), Ok(date_of_birth), Ok(nhs_number)) if !feedback.has_errors() => {
            Ok(CheckedSignUp {
                email,
                given_name: form.given_name.trim().to_owned(),
                family_name: form.family_name.trim().to_owned(),
                date_of_birth,
                nhs_number,
            })
        }
        _ => Err(feedback),
    }
}

/// The form that asks for a password-reset link, or for the confirmation
/// link to be sent again.
pub fn check_email_only(form: &str, email: &str) -> Result<crate::Email, FormFeedback> {
    crate::Email::parse(email).map_err(|e| {
        FormFeedback::new(form)
            .keep("email", email)
            .error("email", e.to_string())
    })
}

/// Choosing a new password (after a reset link, or in account settings).
pub fn check_new_password(form: &str, password: &str, email: &str) -> Result<(), FormFeedback> {
    match new_password_problem(password, email) {
        Some(problem) => Err(FormFeedback::new(form).error("password", problem)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sign_in_explains_both_fields_and_keeps_nothing_secret() {
        let f = check_sign_in("", "");
        assert_eq!(f.errors.len(), 2);
        assert_eq!(
            f.error_for("email").as_deref(),
            Some("Enter your email address")
        );
        assert_eq!(
            f.error_for("password").as_deref(),
            Some("Enter your password")
        );
        assert!(f.values.iter().all(|(k, _)| k != "password"));
    }

    #[test]
    fn over_long_password_is_refused_before_hashing() {
        let f = check_sign_in("a@b.org", &"x".repeat(129));
        assert!(f.error_for("password").is_some());
        assert_eq!(f.value("email"), "a@b.org");
    }
}

#[cfg(test)]
mod account_form_tests {
    use super::*;

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    fn good() -> SignUpForm {
        SignUpForm {
            email: "ann@example.com".into(),
            given_name: "Ann".into(),
            family_name: "O'Neill-Smith".into(),
            dob_day: "27".into(),
            dob_month: "3".into(),
            dob_year: "1984".into(),
            nhs_number: "943 476 5919".into(),
            password: "three random words".into(),
        }
    }

    #[test]
    fn debug_output_hides_the_password() {
        assert!(!format!("{:?}", good()).contains("three random words"));
    }

    #[test]
    fn a_good_sign_up_passes() {
        let checked = check_sign_up(&good(), today()).expect("valid");
        assert_eq!(checked.family_name, "O'Neill-Smith");
        assert_eq!(checked.nhs_number.as_str(), "9434765919");
    }

    #[test]
    fn a_bad_sign_up_keeps_what_was_typed_but_the_password() {
        let form = SignUpForm {
            email: "ann@".into(),
            given_name: "Ann\r\nBcc: evil@example.com".into(),
            dob_month: "13".into(),
            password: "short".into(),
            ..good()
        };
        let feedback = check_sign_up(&form, today()).expect_err("invalid");
        for field in ["email", "given_name", "dob_day", "password"] {
            assert!(feedback.error_for(field).is_some(), "{field}");
        }
        assert_eq!(feedback.value("email"), "ann@");
        assert_eq!(feedback.value("nhs_number"), "943 476 5919");
        assert!(feedback.values.iter().all(|(k, _)| k != "password"));
    }

    #[test]
    fn dates_of_birth_say_what_is_wrong() {
        assert!(parse_date_of_birth("", "", "", today()).is_err());
        assert_eq!(
            parse_date_of_birth("30", "2", "1990", today()),
            Err("Date of birth must be a real date, like 27 3 1984".into())
        );
        assert_eq!(
            parse_date_of_birth("1", "1", "84", today()),
            Err("Year must include 4 numbers, like 1984".into())
        );
        assert_eq!(
            parse_date_of_birth("1", "1", "2027", today()),
            Err("Date of birth must be in the past".into())
        );
        assert!(parse_date_of_birth("27", "03", "1984", today()).is_ok());
    }

    #[test]
    fn passwords_need_length_and_must_not_be_the_email() {
        assert!(new_password_problem("", "").is_some());
        assert!(new_password_problem("elevenchars", "").is_some());
        assert!(new_password_problem("ann@example.com", "ann@example.com").is_some());
        assert!(new_password_problem(&"x".repeat(129), "").is_some());
        assert!(new_password_problem("correct horse battery", "ann@example.com").is_none());
    }
}
