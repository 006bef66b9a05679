//! Sessions in the database (so several servers can share one PostgreSQL),
//! the per-request `SessionHandle` the app uses, and the cookie-signing key
//! that is generated once and kept.

use super::db_err;
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use base64::Engine;
use domain::forms::FormFeedback;
use domain::identity::NhsLoginIdentity;
use domain::ports::{PortError, SessionHandle};
use domain::session_rules::SignedInSession;
use domain::{AccountId, IdentityLevel};
use rand::RngCore;
use sqlx::Row;
use tower_sessions::Session;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

pub const AUTH_KEY: &str = "auth";
pub const DEVICE_KEY: &str = "device";
/// An NHS login identity not linked to a record yet.
pub const UNLINKED_NHS_LOGIN_KEY: &str = "nhs_login_unlinked";
const FEEDBACK_KEY: &str = "feedback";

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    pub db: Db,
}

/// The signed-in account a session belongs to, kept in its own column so
/// that every session of an account can be ended at once.
fn account_of(record: &Record) -> Option<i64> {
    record
        .data
        .get(AUTH_KEY)
        .and_then(|auth| auth.get("account"))
        .and_then(serde_json::Value::as_i64)
}

fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    /// A plain insert, so a colliding id is refused by the primary key and a
    /// new id drawn, rather than overwriting someone else's session.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let _turn = self.db.write_turn().await;
        loop {
            let inserted = sqlx::query(
                "insert into sessions (id, data, expires_at, account_id) values ($1, $2, $3, $4)",
            )
            .bind(record.id.to_string())
            .bind(&data)
            .bind(record.expiry_date.unix_timestamp())
            .bind(account_of(record))
            .execute(&self.db.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(()),
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    record.id = Id::default()
                }
                Err(e) => return Err(backend(e)),
            }
        }
    }

    /// Updates only: a session deleted meanwhile (every session of an
    /// account ends when its password changes) must not be brought back by
    /// a request that was already under way.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let _turn = self.db.write_turn().await;
        sqlx::query(
            "update sessions set data = $2, expires_at = $3, account_id = $4 where id = $1",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(record.expiry_date.unix_timestamp())
        .bind(account_of(record))
        .execute(&self.db.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row =
            sqlx::query("select data, expires_at from sessions where id = $1 and expires_at > $2")
                .bind(id.to_string())
                .bind(now_unix())
                .fetch_optional(&self.db.pool)
                .await
                .map_err(backend)?;
        let Some(row) = row else { return Ok(None) };
        let data: String = row.try_get("data").map_err(backend)?;
        let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&data)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            expiry_date: time::OffsetDateTime::from_unix_timestamp(expires_at)
                .map_err(|e| session_store::Error::Decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let _turn = self.db.write_turn().await;
        sqlx::query("delete from sessions where id = $1")
            .bind(id.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

impl SqlSessionStore {
    pub async fn delete_expired(&self) -> Result<u64, sqlx::Error> {
        let _turn = self.db.write_turn().await;
        let done = sqlx::query("delete from sessions where expires_at <= $1")
            .bind(now_unix())
            .execute(&self.db.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The app's view of the current request's tower-sessions `Session`, with
/// the browser's User-Agent (kept with the session for "your devices").
pub struct SessionAdapter(pub Session, pub Option<String>);

/// What "your devices" shows about a session, stored with it at sign-in.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Device {
    pub user_agent: Option<String>,
    pub via_nhs_login: bool,
}

fn session_err(err: tower_sessions::session::Error) -> PortError {
    PortError::new(format!("session: {err}"))
}

#[async_trait]
impl SessionHandle for SessionAdapter {
    async fn begin(
        &self,
        account: AccountId,
        nhs_login_level: Option<IdentityLevel>,
    ) -> Result<(), PortError> {
        // A new id at sign-in, so an id planted before sign-in is worthless.
        self.0.cycle_id().await.map_err(session_err)?;
        let now = now_unix();
        let signed_in = SignedInSession {
            account,
            signed_in_at: now,
            last_seen_at: now,
            nhs_login_level,
            second_factor_at: None,
        };
        self.0
            .insert(AUTH_KEY, signed_in)
            .await
            .map_err(session_err)?;
        let device = Device {
            user_agent: self.1.clone(),
            via_nhs_login: nhs_login_level.is_some(),
        };
        self.0.insert(DEVICE_KEY, device).await.map_err(session_err)
    }

    async fn second_factor_given(&self) -> Result<(), PortError> {
        let Some(signed_in) = self
            .0
            .get::<SignedInSession>(AUTH_KEY)
            .await
            .map_err(session_err)?
        else {
            return Err(PortError::new(
                "second factor given without a signed-in session",
            ));
        };
        // A new id once more: the session now opens patient data.
        self.0.cycle_id().await.map_err(session_err)?;
        let upgraded = SignedInSession {
            second_factor_at: Some(now_unix()),
            ..signed_in
        };
        self.0.insert(AUTH_KEY, upgraded).await.map_err(session_err)
    }

    async fn end(&self) -> Result<(), PortError> {
        self.0.flush().await.map_err(session_err)
    }

    async fn unlinked_nhs_login(&self) -> Result<Option<NhsLoginIdentity>, PortError> {
        self.0
            .get(UNLINKED_NHS_LOGIN_KEY)
            .await
            .map_err(session_err)
    }

    async fn forget_unlinked_nhs_login(&self) -> Result<(), PortError> {
        self.0
            .remove_value(UNLINKED_NHS_LOGIN_KEY)
            .await
            .map_err(session_err)
            .map(|_| ())
    }

    fn device_handle(&self) -> Option<String> {
        self.0
            .id()
            .map(|id| super::devices::handle_of(&id.to_string()))
    }

    async fn put_feedback(&self, feedback: FormFeedback) -> Result<(), PortError> {
        self.0
            .insert(FEEDBACK_KEY, feedback)
            .await
            .map_err(session_err)
    }

    async fn take_feedback(&self, form: &str) -> Result<Option<FormFeedback>, PortError> {
        let stored: Option<FormFeedback> = self.0.get(FEEDBACK_KEY).await.map_err(session_err)?;
        match stored {
            Some(f) if f.form == form => {
                self.0
                    .remove_value(FEEDBACK_KEY)
                    .await
                    .map_err(session_err)?;
                Ok(Some(f))
            }
            _ => Ok(None),
        }
    }
}

/// The key that signs session cookies: from configuration if given, else the
/// one stored in the database, else a new one stored for next time. Racing
/// servers agree because only the first insert wins.
pub async fn cookie_key(
    db: &Db,
    configured: Option<&str>,
) -> anyhow::Result<tower_sessions::cookie::Key> {
    let engine = base64::engine::general_purpose::STANDARD;
    let encoded = match configured {
        Some(k) => k.to_owned(),
        None => {
            let mut fresh = [0u8; 64];
            rand::thread_rng().fill_bytes(&mut fresh);
            sqlx::query("insert into server_secrets (name, value, created_at) values ('cookie_key', $1, $2) on conflict (name) do nothing")
                .bind(engine.encode(fresh))
                .bind(now_unix())
                .execute(&db.pool)
                .await
                .map_err(db_err)?;
            sqlx::query("select value from server_secrets where name = 'cookie_key'")
                .fetch_one(&db.pool)
                .await
                .map_err(db_err)?
                .try_get::<String, _>("value")
                .map_err(db_err)?
        }
    };
    let bytes = engine.decode(encoded.trim()).map_err(|_| {
        anyhow::anyhow!(
            "PORTAL_SESSION_KEY must be base64 (for example from `openssl rand -base64 64`)"
        )
    })?;
    tower_sessions::cookie::Key::try_from(bytes.as_slice()).map_err(|_| {
        anyhow::anyhow!("PORTAL_SESSION_KEY must hold at least 64 bytes once decoded from base64")
    })
}
