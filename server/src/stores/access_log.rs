//! The access log: append-only rows of who read or changed which record.

use super::db_err;
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use domain::Role;
use domain::access::PatientRef;
use domain::access_log::{AccessLogEntry, NewAccessLogEntry, Outcome, RecordAction};
use domain::ports::{AccessLog, PortError};
use sqlx::Row;

/// Who a row with no account was: someone signed in with NHS login whose
/// account was not linked to any record yet.
const UNLINKED_NHS_LOGIN_USER: &str = "Someone signed in with NHS login, not linked to a record";

pub struct SqlAccessLog {
    pub db: Db,
}

#[async_trait]
impl AccessLog for SqlAccessLog {
    async fn record(&self, e: NewAccessLogEntry) -> Result<(), PortError> {
        insert(&self.db.pool, e).await
    }

    async fn for_patient(
        &self,
        patient: PatientRef,
        limit: u32,
    ) -> Result<Vec<AccessLogEntry>, PortError> {
        let rows = sqlx::query(
            "select l.at, a.display_name, l.actor_role, l.action, l.outcome
             from access_log l left join accounts a on a.id = l.actor_account_id
             where l.patient_id = $1 and l.practice_id = $2
             order by l.at desc, l.id desc
             limit $3",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .bind(i64::from(limit))
        .fetch_all(&self.db.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let at: i64 = r.try_get("at").map_err(db_err)?;
                let role: String = r.try_get("actor_role").map_err(db_err)?;
                let action: String = r.try_get("action").map_err(db_err)?;
                let outcome: String = r.try_get("outcome").map_err(db_err)?;
                Ok(AccessLogEntry {
                    at: chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
                    who: r
                        .try_get::<Option<String>, _>("display_name")
                        .map_err(db_err)?
                        .unwrap_or_else(|| UNLINKED_NHS_LOGIN_USER.to_owned()),
                    who_role: Role::parse(&role).ok_or_else(|| PortError::new("stored role"))?,
                    action: RecordAction::parse(&action)
                        .ok_or_else(|| PortError::new("stored action"))?,
                    outcome: Outcome::parse(&outcome)
                        .ok_or_else(|| PortError::new("stored outcome"))?,
                })
            })
            .collect()
    }
}

/// Writes one access-log row with any executor, so a change and its row
/// can share a transaction.
pub(crate) async fn insert<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    e: NewAccessLogEntry,
) -> Result<(), PortError> {
    sqlx::query(
        "insert into access_log
             (practice_id, patient_id, actor_account_id, actor_role, acting_for_patient_id, action, outcome, request_id, at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(e.practice.0)
    .bind(e.patient.0)
    .bind(e.actor.map(|a| a.0))
    .bind(e.actor_role.as_str())
    .bind(e.acting_for.map(|p| p.0))
    .bind(e.action.as_str())
    .bind(e.outcome.as_str())
    .bind(e.request_id)
    .bind(now_unix())
    .execute(executor)
    .await
    .map_err(db_err)?;
    Ok(())
}
