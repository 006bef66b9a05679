//! "Your devices": an account's signed-in sessions, read from and ended in
//! the sessions table the session store writes (see `sessions.rs` for the
//! `auth` and `device` keys of each session's JSON).

use super::db_err;
use super::sessions::{AUTH_KEY, DEVICE_KEY, Device};
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::AccountId;
use domain::devices::{DeviceSession, Devices, DevicesEvent, HANDLE_HEX_LEN, describe_user_agent};
use domain::ports::PortError;
use domain::session_rules::{SessionLimits, SessionState, SignedInSession};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The handle "your devices" shows for a session id: the start of a
/// SHA-256 digest, so it names the session without letting anyone who
/// sees it use the session. The prefix keeps this digest apart from any
/// other the portal might one day take of the same id.
pub fn handle_of(session_id: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"portal device handle\0")
        .chain_update(session_id.as_bytes())
        .finalize();
    let mut hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(HANDLE_HEX_LEN);
    hex
}

#[derive(Clone, Debug)]
pub struct SqlDevices {
    pub db: Db,
    /// A session idle or old beyond these ends on its next request, so it is
    /// not listed: it is not a way in any more.
    pub limits: SessionLimits,
}

/// One of the account's sessions, with its id (which stays on the server).
struct Stored {
    id: String,
    view: DeviceSession,
}

fn at(unix: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(unix, 0).unwrap_or_default()
}

/// A session row as "your devices" shows it; None for a session that is
/// not a live sign-in of the account (signed out by inactivity, say).
fn read_row(
    row: &sqlx::any::AnyRow,
    account: AccountId,
    now: i64,
    limits: SessionLimits,
) -> Result<Option<Stored>, PortError> {
    let id: String = row.try_get("id").map_err(db_err)?;
    let data: String = row.try_get("data").map_err(db_err)?;
    let Ok(data) = serde_json::from_str::<serde_json::Value>(&data) else {
        // The session store will refuse this one on load too.
        return Ok(None);
    };
    let Some(auth) = data
        .get(AUTH_KEY)
        .and_then(|auth| serde_json::from_value::<SignedInSession>(auth.clone()).ok())
        .filter(|auth| auth.account == account)
        .filter(|auth| auth.state(now, limits) == SessionState::Active)
    else {
        return Ok(None);
    };
    // Sessions begun before devices were recorded have no "device" key.
    let device = data
        .get(DEVICE_KEY)
        .and_then(|device| serde_json::from_value::<Device>(device.clone()).ok());
    let view = DeviceSession {
        handle: handle_of(&id),
        description: describe_user_agent(device.as_ref().and_then(|d| d.user_agent.as_deref())),
        signed_in_at: at(auth.signed_in_at),
        last_active_at: at(auth.last_seen_at),
        via_nhs_login: device.is_some_and(|d| d.via_nhs_login),
        this_device: false,
    };
    Ok(Some(Stored { id, view }))
}

impl SqlDevices {
    /// The account's live sessions, read through `executor` (the pool, or
    /// a transaction that is about to end one of them).
    async fn live_sessions<'e, E>(
        &self,
        executor: E,
        account: AccountId,
    ) -> Result<Vec<Stored>, PortError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
    {
        let now = now_unix();
        let rows =
            sqlx::query("select id, data from sessions where account_id = $1 and expires_at > $2")
                .bind(account.0)
                .bind(now)
                .fetch_all(executor)
                .await
                .map_err(db_err)?;
        let mut live = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(stored) = read_row(row, account, now, self.limits)? {
                live.push(stored);
            }
        }
        Ok(live)
    }
}

async fn record_event(
    tx: &mut crate::db::WriteTx,
    account: AccountId,
    event: DevicesEvent,
    request_id: &str,
) -> Result<(), PortError> {
    sqlx::query(
        "insert into security_events (account_id, actor_account_id, event, request_id, at) \
         values ($1, $2, $3, $4, $5)",
    )
    .bind(account.0)
    // The person ends their own sessions; no one else can.
    .bind(account.0)
    .bind(event.as_str())
    .bind(request_id)
    .bind(now_unix())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Devices for SqlDevices {
    async fn list(
        &self,
        account: AccountId,
        current_handle: Option<&str>,
    ) -> Result<Vec<DeviceSession>, PortError> {
        let mut sessions: Vec<DeviceSession> = self
            .live_sessions(&self.db.pool, account)
            .await?
            .into_iter()
            .map(|stored| DeviceSession {
                this_device: current_handle == Some(stored.view.handle.as_str()),
                ..stored.view
            })
            .collect();
        // This device first, then the most recently used.
        sessions.sort_by(|a, b| {
            b.this_device
                .cmp(&a.this_device)
                .then(b.last_active_at.cmp(&a.last_active_at))
                .then(b.signed_in_at.cmp(&a.signed_in_at))
        });
        Ok(sessions)
    }

    async fn end_one(
        &self,
        account: AccountId,
        handle: &str,
        request_id: &str,
    ) -> Result<Option<String>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let found = self
            .live_sessions(&mut *tx, account)
            .await?
            .into_iter()
            .find(|stored| stored.view.handle == handle);
        let Some(found) = found else {
            return Ok(None);
        };
        // The account is in the condition as well as the id: this deletes
        // nothing unless the session is the asker's own.
        let deleted = sqlx::query("delete from sessions where id = $1 and account_id = $2")
            .bind(&found.id)
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if deleted.rows_affected() != 1 {
            return Ok(None);
        }
        record_event(
            &mut tx,
            account,
            DevicesEvent::SignedOutOtherDevice,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(found.view.description))
    }

    async fn end_all(&self, account: AccountId, request_id: &str) -> Result<u64, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let deleted = sqlx::query("delete from sessions where account_id = $1")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        record_event(
            &mut tx,
            account,
            DevicesEvent::SignedOutEverywhere,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_is_a_short_digest_that_does_not_contain_the_id() {
        let id = "u4x0YyZ8c2V4dC1zZXNzaW9uLWlk";
        let handle = handle_of(id);
        assert!(domain::devices::looks_like_handle(&handle), "{handle}");
        assert_eq!(handle, handle_of(id), "the same id gives the same handle");
        assert_ne!(handle, handle_of("another-session-id"));
        assert!(!handle.contains(id));
    }
}
