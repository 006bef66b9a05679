//! Accounts: password sign-in with throttling, and turning a session's
//! account id into an `Actor` on every request.

use super::db_err;
use crate::db::{Db, now_unix};
use crate::passwords;
use async_trait::async_trait;
use domain::ports::{Authenticator, ClientAddress, PortError, SignInOutcome};
use domain::throttle::{self, ThrottleDecision};
use domain::{AccountId, Actor, Email, IdentityLevel, PatientId, PracticeId, Role};
use sqlx::Row;

pub struct PasswordAuthenticator {
    db: Db,
    /// Verified against when the email is unknown, so that a wrong email
    /// costs the same time as a wrong password.
    dummy_hash: String,
}

impl PasswordAuthenticator {
    pub fn new(db: Db) -> Self {
        let dummy_hash =
            passwords::hash("not a real password; used for timing only").unwrap_or_default();
        Self { db, dummy_hash }
    }

    async fn recent_failures(
        &self,
        email: &Email,
        client: &ClientAddress,
    ) -> Result<(u32, u32), PortError> {
        let since = now_unix() - throttle::WINDOW.as_secs() as i64;
        let row = sqlx::query(
            "select
                 coalesce(sum(case when scope = 'account' and key = $1 then 1 else 0 end), 0) as by_account,
                 coalesce(sum(case when scope = 'address' and key = $2 then 1 else 0 end), 0) as by_address
             from sign_in_failures
             where at >= $3 and ((scope = 'account' and key = $1) or (scope = 'address' and key = $2))",
        )
        .bind(email.as_str())
        .bind(client.0.as_str())
        .bind(since)
        .fetch_one(&self.db.pool)
        .await
        .map_err(db_err)?;
        let count = |name: &str| -> Result<u32, PortError> {
            let n: i64 = row.try_get(name).map_err(db_err)?;
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        };
        Ok((count("by_account")?, count("by_address")?))
    }

    async fn record_failure(&self, email: &Email, client: &ClientAddress) -> Result<(), PortError> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query("insert into sign_in_failures (scope, key, at) values ('account', $1, $3), ('address', $2, $3)")
            .bind(email.as_str())
            .bind(client.0.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Old rows are useless; trimming here keeps the table small without a job.
        sqlx::query("delete from sign_in_failures where at < $1")
            .bind(now - throttle::WINDOW.as_secs() as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl Authenticator for PasswordAuthenticator {
    async fn sign_in(
        &self,
        email: &Email,
        password: &str,
        client: &ClientAddress,
    ) -> Result<SignInOutcome, PortError> {
        let (by_account, by_address) = self.recent_failures(email, client).await?;
        if throttle::decide(by_account, by_address) == ThrottleDecision::TooManyAttempts {
            return Ok(SignInOutcome::TooManyAttempts);
        }
        let row = sqlx::query("select id, password_hash from accounts where email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?;
        let (account, phc) = match &row {
            Some(r) => (
                Some(AccountId(r.try_get("id").map_err(db_err)?)),
                r.try_get::<String, _>("password_hash").map_err(db_err)?,
            ),
            None => (None, self.dummy_hash.clone()),
        };
        // An account that signs in only through NHS login has no password:
        // it must cost the same time as an unknown email, and never match.
        let (account, phc) = if phc == super::nhs_login_links::NO_PASSWORD {
            (None, self.dummy_hash.clone())
        } else {
            (account, phc)
        };
        let matches = passwords::verify_off_runtime(password.to_owned(), phc).await;
        match account {
            Some(account) if matches => {
                sqlx::query("delete from sign_in_failures where scope = 'account' and key = $1")
                    .bind(email.as_str())
                    .execute(&self.db.pool)
                    .await
                    .map_err(db_err)?;
                Ok(SignInOutcome::SignedIn(account))
            }
            _ => {
                self.record_failure(email, client).await?;
                Ok(SignInOutcome::Rejected)
            }
        }
    }
}

/// The Actor for a signed-in account, or None if the account is gone.
pub async fn actor_for(db: &Db, account: AccountId) -> Result<Option<Actor>, PortError> {
    let row = sqlx::query(
        "select a.role, a.practice_id, a.display_name, a.patient_id, a.email_verified_at, a.identity_level, p.name as practice_name
         from accounts a left join practices p on p.id = a.practice_id
         where a.id = $1",
    )
    .bind(account.0)
    .fetch_optional(&db.pool)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let role_text: String = row.try_get("role").map_err(db_err)?;
    let role = Role::parse(&role_text)
        .ok_or_else(|| PortError::new(format!("unknown role {role_text}")))?;
    Ok(Some(Actor {
        account,
        role,
        practice: row
            .try_get::<Option<i64>, _>("practice_id")
            .map_err(db_err)?
            .map(PracticeId),
        display_name: row.try_get("display_name").map_err(db_err)?,
        practice_name: row.try_get("practice_name").map_err(db_err)?,
        acting_for: row
            .try_get::<Option<i64>, _>("patient_id")
            .map_err(db_err)?
            .map(PatientId),
        email_verified: row
            .try_get::<Option<i64>, _>("email_verified_at")
            .map_err(db_err)?
            .is_some(),
        identity_level: IdentityLevel::parse(
            &row.try_get::<String, _>("identity_level").map_err(db_err)?,
        )
        .ok_or_else(|| PortError::new("stored identity level"))?,
        // The session says whether this sign-in gave one; see the middleware.
        second_factor_done: false,
    }))
}
