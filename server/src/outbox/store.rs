//! The outbox table: writing an email in the caller's transaction, and the
//! worker's claim / sent / failed steps. Claims use `FOR UPDATE SKIP LOCKED`
//! on PostgreSQL, so several servers draining one outbox never take the
//! same row; SQLite has one writer at a time, so the same update is atomic
//! there without it.

use crate::db::{Db, Dialect};
use domain::notifications::{AfterFailure, EmailKind, EmailPreferences, should_send};
use domain::views::{FailedEmail, OutboxSummary};
use domain::{AccountId, Email};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The values a template shows. Names and the practice only: never a
/// message, a medicine, a result or an appointment's details.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    /// Who the email greets, as their account names them.
    pub name: Option<String>,
    pub practice_name: Option<String>,
    /// An iCalendar file (.ics) to attach: an appointment's time and place,
    /// never its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// What the practice wrote when it cancelled appointments (a session
    /// cancelled: "the GP is unwell"). Staff text, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice_note: Option<String>,
}

pub struct NewEmail {
    pub kind: EmailKind,
    pub recipient: Email,
    pub account: Option<AccountId>,
    pub payload: EmailPayload,
    /// A one-time link's token, kept only until the email is sent.
    pub link_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    Written,
    /// The person turned this kind of email off.
    NotWanted,
    /// Too many emails of this kind asked for to this address lately: a
    /// guard against using the portal to flood someone's inbox.
    TooMany,
}

/// Emails anyone can ask the portal to send to an address (sign-up,
/// reset). At most this many of one kind to one address per hour.
pub const REQUESTED_PER_HOUR: i64 = 5;

fn requestable(kind: EmailKind) -> bool {
    matches!(
        kind,
        EmailKind::VerifyEmail
            | EmailKind::AlreadyRegistered
            | EmailKind::SignUpNotMatched
            | EmailKind::PasswordReset
            | EmailKind::ConfirmEmailChange
    )
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes an email in the caller's transaction: it is sent if and only if
/// the transaction commits. `message_domain` is the sender's domain, for a
/// Message-ID that stays the same however many times the row is sent.
pub async fn enqueue(
    tx: &mut crate::db::WriteTx,
    email: NewEmail,
    message_domain: &str,
    now: i64,
) -> Result<Enqueued, sqlx::Error> {
    enqueue_due(tx, email, message_domain, now, now)
        .await
        .map(|(enqueued, _)| enqueued)
}

/// As [`enqueue`], for an email due later (an appointment reminder).
/// Returns the row's id when written, so the caller can delete it if what
/// it reminds of is cancelled first.
pub async fn enqueue_due(
    tx: &mut crate::db::WriteTx,
    email: NewEmail,
    message_domain: &str,
    now: i64,
    due_at: i64,
) -> Result<(Enqueued, Option<i64>), sqlx::Error> {
    if let (Some(account), Some(_)) = (email.account, email.kind.optional()) {
        let row = sqlx::query(
            "select wants_appointment_reminders, wants_new_message_emails from accounts where id = $1",
        )
        .bind(account.0)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            let preferences = EmailPreferences {
                appointment_reminders: row.try_get::<i64, _>(0)? == 1,
                new_messages: row.try_get::<i64, _>(1)? == 1,
            };
            if !should_send(email.kind, &preferences) {
                return Ok((Enqueued::NotWanted, None));
            }
        }
    }
    if requestable(email.kind) {
        let recent: i64 = sqlx::query(
            "select count(*) from outbox where recipient = $1 and kind = $2 and created_at > $3",
        )
        .bind(email.recipient.as_str())
        .bind(email.kind.as_str())
        .bind(now - 3600)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        if recent >= REQUESTED_PER_HOUR {
            return Ok((Enqueued::TooMany, None));
        }
    }
    let payload =
        serde_json::to_string(&email.payload).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let id: i64 = sqlx::query(
        "insert into outbox (kind, recipient, account_id, payload, link_token, status, attempts, due_at, message_id, created_at)
         values ($1, $2, $3, $4, $5, 'waiting', 0, $6, $7, $8)
         returning id",
    )
    .bind(email.kind.as_str())
    .bind(email.recipient.as_str())
    .bind(email.account.map(|a| a.0))
    .bind(payload)
    .bind(email.link_token)
    .bind(due_at)
    .bind(format!("<{}.{now}@{message_domain}>", random_hex(16)))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    Ok((Enqueued::Written, Some(id)))
}

/// A row a worker has claimed and must now send.
#[derive(Clone, Debug)]
pub struct ClaimedEmail {
    pub id: i64,
    pub kind: EmailKind,
    pub recipient: String,
    pub payload: EmailPayload,
    pub link_token: Option<String>,
    pub attempts: u32,
    pub message_id: String,
    pub created_at: i64,
}

/// Takes up to `batch` rows that are due (or whose previous worker's lease
/// ran out), marking them as this worker's until `now + lease_seconds`.
pub async fn claim(
    db: &Db,
    worker: &str,
    now: i64,
    lease_seconds: i64,
    batch: i64,
) -> Result<Vec<ClaimedEmail>, sqlx::Error> {
    let lock = match db.dialect {
        Dialect::Postgres => "for update skip locked",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "update outbox
         set status = 'sending', claimed_by = $1, lease_expires_at = $2, attempts = attempts + 1
         where id in (
             select id from outbox
             where (status = 'waiting' and due_at <= $3)
                or (status = 'sending' and lease_expires_at <= $3)
             order by due_at, id
             limit $4
             {lock})
         returning id, kind, recipient, payload, link_token, attempts, message_id, created_at"
    );
    let rows = sqlx::query(&sql)
        .bind(worker)
        .bind(now + lease_seconds)
        .bind(now)
        .bind(batch)
        .fetch_all(&db.pool)
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let kind_text: String = row.try_get("kind")?;
        let payload_text: String = row.try_get("payload")?;
        let Some(kind) = EmailKind::parse(&kind_text) else {
            tracing::error!(kind = %kind_text, "outbox row of an unknown kind; leaving it");
            continue;
        };
        claimed.push(ClaimedEmail {
            id: row.try_get("id")?,
            kind,
            recipient: row.try_get("recipient")?,
            payload: serde_json::from_str(&payload_text).unwrap_or_default(),
            link_token: row.try_get("link_token")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            message_id: row.try_get("message_id")?,
            created_at: row.try_get("created_at")?,
        });
    }
    Ok(claimed)
}

/// Records a send. Only the worker still holding the row may; the link
/// token is dropped, leaving only its hash in account_tokens. claimed_by
/// stays, recording which worker sent it.
pub async fn mark_sent(db: &Db, id: i64, worker: &str, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update outbox set status = 'sent', sent_at = $3, link_token = null,
             lease_expires_at = null, last_error = null
         where id = $1 and claimed_by = $2 and status = 'sending'",
    )
    .bind(id)
    .bind(worker)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt: back to waiting until the retry time, or
/// failed for good.
pub async fn mark_failed_attempt(
    db: &Db,
    id: i64,
    worker: &str,
    now: i64,
    error: &str,
    after: AfterFailure,
) -> Result<(), sqlx::Error> {
    let (status, due_at) = match after {
        AfterFailure::RetryIn { seconds } => (
            "waiting",
            now + i64::try_from(seconds).unwrap_or(i64::MAX / 2),
        ),
        AfterFailure::GiveUp => ("failed", now),
    };
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "update outbox set status = $3, due_at = $4, last_error = $5, claimed_by = null,
             lease_expires_at = null
         where id = $1 and claimed_by = $2 and status = 'sending'",
    )
    .bind(id)
    .bind(worker)
    .bind(status)
    .bind(due_at)
    .bind(error)
    .execute(&db.pool)
    .await?;
    Ok(())
}

pub async fn summary(db: &Db, now: i64) -> Result<OutboxSummary, sqlx::Error> {
    let row = sqlx::query(
        "select
             coalesce(sum(case when status in ('waiting','sending') then 1 else 0 end), 0),
             coalesce(sum(case when status = 'failed' then 1 else 0 end), 0),
             coalesce(sum(case when status = 'sent' and sent_at > $1 then 1 else 0 end), 0)
         from outbox",
    )
    .bind(now - 24 * 3600)
    .fetch_one(&db.pool)
    .await?;
    Ok(OutboxSummary {
        waiting: row.try_get(0)?,
        failed: row.try_get(1)?,
        sent_last_24_hours: row.try_get(2)?,
    })
}

pub async fn failed(db: &Db, limit: u32) -> Result<Vec<FailedEmail>, sqlx::Error> {
    let rows = sqlx::query(
        "select id, kind, recipient, attempts, coalesce(last_error, '') as last_error, created_at
         from outbox where status = 'failed' order by created_at desc, id desc limit $1",
    )
    .bind(i64::from(limit))
    .fetch_all(&db.pool)
    .await?;
    let mut list = Vec::with_capacity(rows.len());
    for row in rows {
        let kind_text: String = row.try_get("kind")?;
        let Some(kind) = EmailKind::parse(&kind_text) else {
            continue;
        };
        list.push(FailedEmail {
            id: row.try_get("id")?,
            kind,
            recipient: row.try_get("recipient")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
            last_error: row.try_get("last_error")?,
            created_at: chrono::DateTime::from_timestamp(row.try_get("created_at")?, 0)
                .unwrap_or_default(),
        });
    }
    Ok(list)
}

/// Puts a failed email back in the queue with a fresh count of attempts.
pub async fn retry(db: &Db, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update outbox set status = 'waiting', attempts = 0, due_at = $2, last_error = null
         where id = $1 and status = 'failed'",
    )
    .bind(id)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
