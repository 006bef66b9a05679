//! People looking after their own accounts: sign-up with email
//! confirmation, password reset, changing password or email address, and
//! email preferences. Each change and the email it causes are written in
//! one transaction (see `crate::outbox`).

use super::db_err;
use crate::db::{Db, now_unix};
use crate::outbox::Outbox;
use crate::outbox::store::{EmailPayload, Enqueued, NewEmail, enqueue};
use crate::passwords;
use async_trait::async_trait;
use base64::Engine;
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::account_tokens::{
    TokenProblem, TokenPurpose, TokenState, check_token, looks_like_token,
};
use domain::forms::CheckedSignUp;
use domain::notifications::{EmailKind, EmailPreferences};
use domain::ports::{
    AccountService, EmailChangeProblem, EmailChangeRequest, PasswordChange, PortError,
};
use domain::throttle::{self, ThrottleDecision};
use domain::views::AccountSettings;
use domain::{AccountId, Email, PatientId, PracticeId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row};

pub struct SqlAccountService {
    pub db: Db,
    pub outbox: Outbox,
}

/// A fresh one-time token: 32 random bytes as URL-safe base64 (43
/// characters), and the hash that is all the database keeps.
fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

type Tx = crate::db::WriteTx;

enum PasswordCheck {
    Matches(Email),
    Wrong,
    TooManyAttempts,
}

/// The account's address, greeting name and practice, for an email.
struct Addressee {
    email: Email,
    payload: EmailPayload,
}

async fn addressee(tx: &mut Tx, account: AccountId) -> Result<Option<Addressee>, PortError> {
    let row = sqlx::query(
        "select a.email, coalesce(pt.given_name, a.display_name) as greeting, p.name as practice_name
         from accounts a
         left join practices p on p.id = a.practice_id
         left join patients pt on pt.id = a.patient_id
         where a.id = $1",
    )
    .bind(account.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let email: String = row.try_get("email").map_err(db_err)?;
    Ok(Some(Addressee {
        email: Email::parse(&email).map_err(|e| PortError::new(format!("stored email: {e}")))?,
        payload: EmailPayload {
            // A patient's first name only: as little as possible in an inbox.
            name: Some(row.try_get("greeting").map_err(db_err)?),
            practice_name: row.try_get("practice_name").map_err(db_err)?,
            ..Default::default()
        },
    }))
}

impl SqlAccountService {
    async fn write_email(&self, tx: &mut Tx, email: NewEmail) -> Result<Enqueued, PortError> {
        let kind = email.kind;
        let result = enqueue(tx, email, self.outbox.message_domain(), now_unix())
            .await
            .map_err(db_err)?;
        if result == Enqueued::TooMany {
            tracing::warn!(
                kind = kind.as_str(),
                "email not written: too many asked for to one address this hour"
            );
        }
        Ok(result)
    }

    /// A new link for the account (earlier unused links of the same purpose
    /// stop working) and its email.
    async fn send_link(
        &self,
        tx: &mut Tx,
        account: AccountId,
        purpose: TokenPurpose,
        to: &Email,
        payload: EmailPayload,
        new_email: Option<&Email>,
    ) -> Result<(), PortError> {
        let kind = match purpose {
            TokenPurpose::VerifyEmail => EmailKind::VerifyEmail,
            TokenPurpose::ResetPassword => EmailKind::PasswordReset,
            TokenPurpose::ChangeEmail => EmailKind::ConfirmEmailChange,
        };
        let now = now_unix();
        sqlx::query("update account_tokens set used_at = $3 where account_id = $1 and purpose = $2 and used_at is null")
            .bind(account.0)
            .bind(purpose.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        let (token, hash) = new_token();
        sqlx::query(
            "insert into account_tokens (account_id, purpose, token_hash, new_email, expires_at, created_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account.0)
        .bind(purpose.as_str())
        .bind(hash)
        .bind(new_email.map(|e| e.as_str().to_owned()))
        .bind(now + purpose.lifetime_seconds())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        self.write_email(
            tx,
            NewEmail {
                kind,
                recipient: to.clone(),
                account: Some(account),
                payload,
                link_token: Some(token),
            },
        )
        .await?;
        Ok(())
    }

    /// A new link sent to the account's own address.
    async fn send_link_to_account(
        &self,
        tx: &mut Tx,
        account: AccountId,
        purpose: TokenPurpose,
    ) -> Result<(), PortError> {
        if let Some(who) = addressee(tx, account).await? {
            self.send_link(tx, account, purpose, &who.email, who.payload, None)
                .await?;
        }
        Ok(())
    }

    /// Uses up a token if it is good for this purpose: the update succeeds
    /// for exactly one caller, however many try at once.
    async fn use_token(
        &self,
        tx: &mut Tx,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Result<(AccountId, Option<String>), TokenProblem>, PortError> {
        if !looks_like_token(token) {
            return Ok(Err(TokenProblem::Unknown));
        }
        let hash = token_hash(token);
        let now = now_unix();
        let used = sqlx::query(
            "update account_tokens set used_at = $3
             where token_hash = $1 and purpose = $2 and used_at is null and expires_at > $3
             returning account_id, new_email",
        )
        .bind(&hash)
        .bind(purpose.as_str())
        .bind(now)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
        match used {
            Some(row) => Ok(Ok((
                AccountId(row.try_get("account_id").map_err(db_err)?),
                row.try_get("new_email").map_err(db_err)?,
            ))),
            None => {
                let state = token_state(&mut **tx, &hash).await?;
                Ok(Err(check_token(state, purpose, now)
                    .err()
                    .unwrap_or(TokenProblem::AlreadyUsed)))
            }
        }
    }

    /// Checks a signed-in person's password before a change. Wrong
    /// answers count as failed sign-ins for the account, under the same
    /// limit.
    async fn check_password(
        &self,
        account: AccountId,
        password: &str,
    ) -> Result<PasswordCheck, PortError> {
        let row = sqlx::query("select email, password_hash from accounts where id = $1")
            .bind(account.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(PasswordCheck::Wrong);
        };
        let email: String = row.try_get("email").map_err(db_err)?;
        let phc: String = row.try_get("password_hash").map_err(db_err)?;
        let since = now_unix() - throttle::WINDOW.as_secs() as i64;
        let failures: i64 = sqlx::query("select count(*) from sign_in_failures where scope = 'account' and key = $1 and at >= $2")
            .bind(&email)
            .bind(since)
            .fetch_one(&self.db.pool)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(db_err)?;
        if throttle::decide(u32::try_from(failures).unwrap_or(u32::MAX), 0)
            == ThrottleDecision::TooManyAttempts
        {
            return Ok(PasswordCheck::TooManyAttempts);
        }
        if !passwords::verify_off_runtime(password.to_owned(), phc).await {
            sqlx::query("insert into sign_in_failures (scope, key, at) values ('account', $1, $2)")
                .bind(&email)
                .bind(now_unix())
                .execute(&self.db.pool)
                .await
                .map_err(db_err)?;
            return Ok(PasswordCheck::Wrong);
        }
        let email =
            Email::parse(&email).map_err(|e| PortError::new(format!("stored email: {e}")))?;
        Ok(PasswordCheck::Matches(email))
    }

    async fn hash(&self, password: &str) -> Result<String, PortError> {
        passwords::hash_off_runtime(password.to_owned())
            .await
            .map_err(|e| PortError::new(format!("hashing: {e}")))
    }

    async fn commit(&self, tx: Tx) -> Result<(), PortError> {
        tx.commit().await.map_err(db_err)?;
        self.outbox.wake();
        Ok(())
    }
}

async fn token_state<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    hash: &str,
) -> Result<Option<TokenState>, PortError> {
    let row = sqlx::query(
        "select purpose, expires_at, used_at from account_tokens where token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(executor)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let purpose: String = row.try_get("purpose").map_err(db_err)?;
    let Some(purpose) = TokenPurpose::parse(&purpose) else {
        return Ok(None);
    };
    Ok(Some(TokenState {
        purpose,
        expires_at: row.try_get("expires_at").map_err(db_err)?,
        used: row
            .try_get::<Option<i64>, _>("used_at")
            .map_err(db_err)?
            .is_some(),
    }))
}

/// Ends every session of the account after a change to how it signs in,
/// and records the change (and that every device was signed out).
async fn end_sessions(
    tx: &mut Tx,
    account: AccountId,
    event: &str,
    request_id: &str,
) -> Result<(), PortError> {
    sqlx::query("delete from sessions where account_id = $1")
        .bind(account.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    super::nhs_login_links::security_event(&mut **tx, account, Some(account), event, request_id)
        .await
}

async fn notice(
    service: &SqlAccountService,
    tx: &mut Tx,
    account: AccountId,
    kind: EmailKind,
    to: Option<Email>,
) -> Result<(), PortError> {
    if let Some(who) = addressee(tx, account).await? {
        service
            .write_email(
                tx,
                NewEmail {
                    kind,
                    recipient: to.unwrap_or(who.email),
                    account: Some(account),
                    payload: who.payload,
                    link_token: None,
                },
            )
            .await?;
    }
    Ok(())
}

#[async_trait]
impl AccountService for SqlAccountService {
    async fn sign_up(
        &self,
        details: CheckedSignUp,
        password: &str,
        request_id: &str,
    ) -> Result<(), PortError> {
        // Hashed whatever happens next, so that the answer takes as long
        // whether or not the details match.
        let phc = self.hash(password).await?;
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let existing = sqlx::query("select id from accounts where email = $1")
            .bind(details.email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        if existing.is_some() {
            self.write_email(
                &mut tx,
                NewEmail {
                    kind: EmailKind::AlreadyRegistered,
                    recipient: details.email.clone(),
                    account: None,
                    payload: EmailPayload::default(),
                    link_token: None,
                },
            )
            .await?;
            return self.commit(tx).await;
        }
        let patient = sqlx::query(
            "select p.id, p.practice_id, p.given_name, p.family_name, pr.name as practice_name
             from patients p join practices pr on pr.id = p.practice_id
             where p.nhs_number = $1 and p.date_of_birth = $2 and lower(p.family_name) = lower($3)
               and not exists (select 1 from accounts a where a.patient_id = p.id)",
        )
        .bind(details.nhs_number.as_str())
        .bind(details.date_of_birth.format("%Y-%m-%d").to_string())
        .bind(&details.family_name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        // Exactly one match, or nothing is created.
        let [patient] = patient.as_slice() else {
            self.write_email(
                &mut tx,
                NewEmail {
                    kind: EmailKind::SignUpNotMatched,
                    recipient: details.email.clone(),
                    account: None,
                    payload: EmailPayload {
                        name: Some(details.given_name.clone()),
                        practice_name: None,
                        ..Default::default()
                    },
                    link_token: None,
                },
            )
            .await?;
            return self.commit(tx).await;
        };
        let patient_id = PatientId(patient.try_get("id").map_err(db_err)?);
        let practice_id = PracticeId(patient.try_get("practice_id").map_err(db_err)?);
        let given: String = patient.try_get("given_name").map_err(db_err)?;
        let family: String = patient.try_get("family_name").map_err(db_err)?;
        let practice_name: String = patient.try_get("practice_name").map_err(db_err)?;
        let created = sqlx::query(
            // Knowing someone's NHS number, birthday and name is not proof
            // of being them: P5 until they prove more (see /prove-identity).
            "insert into accounts (practice_id, email, display_name, password_hash, role, patient_id, created_at, email_verified_at, identity_level)
             values ($1, $2, $3, $4, $5, $6, $7, null, 'P5') returning id",
        )
        .bind(practice_id.0)
        .bind(details.email.as_str())
        .bind(format!("{given} {family}"))
        .bind(phc)
        .bind(Role::Patient.as_str())
        .bind(patient_id.0)
        .bind(now_unix())
        .fetch_one(&mut *tx)
        .await;
        let account = match created {
            Ok(row) => AccountId(row.try_get("id").map_err(db_err)?),
            // Someone signed up with this address a moment ago.
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(db_err(e)),
        };
        // The patient sees, in "Who has accessed your record", that an
        // online account was linked to it.
        super::access_log::insert(
            &mut *tx,
            NewAccessLogEntry {
                practice: practice_id,
                patient: patient_id,
                actor: Some(account),
                actor_role: Role::Patient,
                acting_for: Some(patient_id),
                action: RecordAction::LinkOnlineAccount,
                outcome: Outcome::Allowed,
                request_id: request_id.to_owned(),
            },
        )
        .await?;
        self.send_link(
            &mut tx,
            account,
            TokenPurpose::VerifyEmail,
            &details.email,
            EmailPayload {
                name: Some(given),
                practice_name: Some(practice_name),
                ..Default::default()
            },
            None,
        )
        .await?;
        self.commit(tx).await
    }

    async fn resend_confirmation(&self, account: AccountId) -> Result<(), PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let unconfirmed =
            sqlx::query("select 1 from accounts where id = $1 and email_verified_at is null")
                .bind(account.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?
                .is_some();
        if unconfirmed {
            self.send_link_to_account(&mut tx, account, TokenPurpose::VerifyEmail)
                .await?;
        }
        self.commit(tx).await
    }

    async fn check_link(
        &self,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Result<(), TokenProblem>, PortError> {
        if !looks_like_token(token) {
            return Ok(Err(TokenProblem::Unknown));
        }
        let state = token_state(&self.db.pool, &token_hash(token)).await?;
        Ok(check_token(state, purpose, now_unix()))
    }

    async fn confirm_email(&self, token: &str) -> Result<Result<(), TokenProblem>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let (account, _) = match self
            .use_token(&mut tx, TokenPurpose::VerifyEmail, token)
            .await?
        {
            Ok(used) => used,
            Err(problem) => return Ok(Err(problem)),
        };
        sqlx::query(
            "update accounts set email_verified_at = coalesce(email_verified_at, $2) where id = $1",
        )
        .bind(account.0)
        .bind(now_unix())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Ok(()))
    }

    async fn request_password_reset(&self, email: &Email) -> Result<(), PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let account = sqlx::query("select id from accounts where email = $1")
            .bind(email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        // Nothing to do, and nothing said, when no account uses the address.
        let Some(row) = account else { return Ok(()) };
        let account = AccountId(row.try_get("id").map_err(db_err)?);
        self.send_link_to_account(&mut tx, account, TokenPurpose::ResetPassword)
            .await?;
        self.commit(tx).await
    }

    async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        request_id: &str,
    ) -> Result<Result<(), TokenProblem>, PortError> {
        // A cheap check first, so that junk links cost no hashing.
        if let Err(problem) = self.check_link(TokenPurpose::ResetPassword, token).await? {
            return Ok(Err(problem));
        }
        let phc = self.hash(new_password).await?;
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let (account, _) = match self
            .use_token(&mut tx, TokenPurpose::ResetPassword, token)
            .await?
        {
            Ok(used) => used,
            Err(problem) => return Ok(Err(problem)),
        };
        // Following the link proves the address, too.
        sqlx::query("update accounts set password_hash = $2, email_verified_at = coalesce(email_verified_at, $3) where id = $1")
            .bind(account.0)
            .bind(phc)
            .bind(now_unix())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        end_sessions(&mut tx, account, "password_reset", request_id).await?;
        notice(self, &mut tx, account, EmailKind::PasswordChanged, None).await?;
        self.commit(tx).await?;
        Ok(Ok(()))
    }

    async fn change_password(
        &self,
        account: AccountId,
        current_password: &str,
        new_password: &str,
        request_id: &str,
    ) -> Result<PasswordChange, PortError> {
        match self.check_password(account, current_password).await? {
            PasswordCheck::Matches(_) => {}
            PasswordCheck::Wrong => return Ok(PasswordChange::WrongCurrentPassword),
            PasswordCheck::TooManyAttempts => return Ok(PasswordChange::TooManyAttempts),
        }
        let phc = self.hash(new_password).await?;
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query("update accounts set password_hash = $2 where id = $1")
            .bind(account.0)
            .bind(phc)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Reset links sent before the change must not undo it.
        sqlx::query("update account_tokens set used_at = $2 where account_id = $1 and purpose = 'reset_password' and used_at is null")
            .bind(account.0)
            .bind(now_unix())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        end_sessions(&mut tx, account, "password_changed", request_id).await?;
        notice(self, &mut tx, account, EmailKind::PasswordChanged, None).await?;
        self.commit(tx).await?;
        Ok(PasswordChange::Changed)
    }

    async fn request_email_change(
        &self,
        account: AccountId,
        password: &str,
        new_email: &Email,
    ) -> Result<EmailChangeRequest, PortError> {
        let current = match self.check_password(account, password).await? {
            PasswordCheck::Matches(email) => email,
            PasswordCheck::Wrong => return Ok(EmailChangeRequest::WrongPassword),
            PasswordCheck::TooManyAttempts => return Ok(EmailChangeRequest::TooManyAttempts),
        };
        if &current == new_email {
            return Ok(EmailChangeRequest::SameAsCurrent);
        }
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let taken = sqlx::query("select 1 from accounts where email = $1")
            .bind(new_email.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .is_some();
        if taken {
            // Told only to whoever reads that mailbox.
            self.write_email(
                &mut tx,
                NewEmail {
                    kind: EmailKind::AlreadyRegistered,
                    recipient: new_email.clone(),
                    account: None,
                    payload: EmailPayload::default(),
                    link_token: None,
                },
            )
            .await?;
        } else if let Some(who) = addressee(&mut tx, account).await? {
            self.send_link(
                &mut tx,
                account,
                TokenPurpose::ChangeEmail,
                new_email,
                who.payload,
                Some(new_email),
            )
            .await?;
        }
        self.commit(tx).await?;
        Ok(EmailChangeRequest::LinkSent)
    }

    async fn confirm_email_change(
        &self,
        token: &str,
        request_id: &str,
    ) -> Result<Result<(), EmailChangeProblem>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let (account, new_email) = match self
            .use_token(&mut tx, TokenPurpose::ChangeEmail, token)
            .await?
        {
            Ok(used) => used,
            Err(problem) => return Ok(Err(problem.into())),
        };
        let Some(old) = addressee(&mut tx, account).await? else {
            return Ok(Err(TokenProblem::Unknown.into()));
        };
        let Some(new_email) = new_email.and_then(|e| Email::parse(&e).ok()) else {
            return Err(PortError::new(
                "change_email token without a valid new address",
            ));
        };
        let changed =
            sqlx::query("update accounts set email = $2, email_verified_at = $3 where id = $1")
                .bind(account.0)
                .bind(new_email.as_str())
                .bind(now_unix())
                .execute(&mut *tx)
                .await;
        match changed {
            Ok(_) => {}
            Err(e)
                if e.as_database_error()
                    .is_some_and(|d| d.is_unique_violation()) =>
            {
                return Ok(Err(EmailChangeProblem::AddressTaken));
            }
            Err(e) => return Err(db_err(e)),
        }
        super::nhs_login_links::security_event(
            &mut *tx,
            account,
            Some(account),
            "email_changed",
            request_id,
        )
        .await?;
        // The notice goes to the old address: if this was not its owner, they hear of it.
        notice(
            self,
            &mut tx,
            account,
            EmailKind::EmailChanged,
            Some(old.email),
        )
        .await?;
        self.commit(tx).await?;
        Ok(Ok(()))
    }

    async fn settings(&self, account: AccountId) -> Result<Option<AccountSettings>, PortError> {
        let row = sqlx::query(
            "select a.email, a.email_verified_at, a.wants_appointment_reminders, a.wants_new_message_emails, a.role, a.password_hash,
                    (select t.new_email from account_tokens t
                      where t.account_id = a.id and t.purpose = 'change_email' and t.used_at is null and t.expires_at > $2
                      order by t.created_at desc limit 1) as pending_email
             from accounts a where a.id = $1",
        )
        .bind(account.0)
        .bind(now_unix())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(AccountSettings {
            email: row.try_get("email").map_err(db_err)?,
            email_verified: row
                .try_get::<Option<i64>, _>("email_verified_at")
                .map_err(db_err)?
                .is_some(),
            pending_email: row.try_get("pending_email").map_err(db_err)?,
            preferences: EmailPreferences {
                appointment_reminders: row
                    .try_get::<i64, _>("wants_appointment_reminders")
                    .map_err(db_err)?
                    == 1,
                new_messages: row
                    .try_get::<i64, _>("wants_new_message_emails")
                    .map_err(db_err)?
                    == 1,
            },
            is_patient: row.try_get::<String, _>("role").map_err(db_err)? == Role::Patient.as_str(),
            nhs_login_only: row.try_get::<String, _>("password_hash").map_err(db_err)?
                == super::nhs_login_links::NO_PASSWORD,
        }))
    }

    async fn set_preferences(
        &self,
        account: AccountId,
        preferences: EmailPreferences,
    ) -> Result<(), PortError> {
        sqlx::query("update accounts set wants_appointment_reminders = $2, wants_new_message_emails = $3 where id = $1")
            .bind(account.0)
            .bind(i64::from(preferences.appointment_reminders))
            .bind(i64::from(preferences.new_messages))
            .execute(&self.db.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
