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
