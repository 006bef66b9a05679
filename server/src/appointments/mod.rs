//! The `local` GP system's appointment book, in the portal's database.
//!
//! A slot is booked at most once because the database says so: the partial
//! unique index `appointments_one_per_slot` (see migrations 0005). Booking
//! is one transaction (the appointment, its access-log row, the
//! confirmation email and the reminder); a unique violation means someone
//! else won the race, and the answer carries the next free slots. Each
//! change writes its access-log row in its own transaction, so a change is
//! never left unrecorded.

pub mod fhir;
pub mod ics;
pub mod routes;

use crate::db::{Db, Dialect};
use crate::outbox::Outbox;
use crate::outbox::store::{self, EmailPayload, NewEmail};
use crate::stores::{access_log, db_err};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Timelike, Utc};
use domain::access::PatientRef;
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::appointments::{
    AppointmentId, AppointmentMode, AppointmentStatus, Appointments, Attendance, AttendanceError,
    BookingError, CancelError, CheckedSession, ClinicianRole, DayBooking, DaySession, DaySlot,
    FreeSlot, NEXT_FREE_OFFERED, NewBooking, PatientAppointment, ReleaseRules, SEARCH_WINDOW_DAYS,
    SessionId, SessionRefusal, SlotId, SlotSearch, TIE_MODULUS, TimeOfDay, TimeSpan, first_overlap,
    tie_multiplier, uk_date, uk_day_label, uk_time_label, valid_idempotency_key,
};
use domain::notifications::EmailKind;
use domain::ports::PortError;
use domain::{AccountId, Actor, Email, PatientId, PracticeId, Role};
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use std::collections::HashMap;

pub(crate) type Tx = crate::db::WriteTx;

/// What [`SqlAppointments::bookable`] found.
enum Bookable {
    Free(FreeSlot),
    Taken,
    Refused(BookingError),
}

pub struct SqlAppointments {
    pub db: Db,
    pub outbox: Outbox,
    /// How long before the start the reminder is due.
    pub reminder_hours: i64,
    rules: RulesCache,
}

impl SqlAppointments {
    pub fn new(db: Db, outbox: Outbox, reminder_hours: i64) -> Self {
        Self {
            db,
            outbox,
            reminder_hours,
            rules: RulesCache::default(),
        }
    }
}

/// Each practice's release rules as last read, for at most a second. At
/// the 8am rush every find page and booking reads them; they change a few
/// times a year. A change made through this process is seen at once
/// (`forget`); one made through another server process within a second.
/// Bookings still read them afresh inside their transaction.
#[derive(Clone, Default)]
struct RulesCache(std::sync::Arc<std::sync::Mutex<HashMap<PracticeId, RulesRead>>>);

/// When the rules were read, and what they were.
type RulesRead = (std::time::Instant, ReleaseRules);

impl RulesCache {
    const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(1);

    async fn get(&self, db: &Db, practice: PracticeId) -> Result<ReleaseRules, PortError> {
        let cached = self
            .0
            .lock()
            .ok()
            .and_then(|map| map.get(&practice).copied())
            .filter(|(read_at, _)| read_at.elapsed() < Self::FRESH_FOR);
        if let Some((_, rules)) = cached {
            return Ok(rules);
        }
        let rules = rules_in(&db.pool, practice).await?;
        if let Ok(mut map) = self.0.lock() {
            map.insert(practice, (std::time::Instant::now(), rules));
        }
        Ok(rules)
    }

    fn forget(&self, practice: PracticeId) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&practice);
        }
    }
}

/// The columns [`free_slot`] reads, from `appointment_slots s` joined to
/// `appointment_sessions se`.
const SLOT_COLUMNS: &str =
    "s.id as slot_id, s.starts_at, s.ends_at, se.clinician, se.role, se.location, se.mode";

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn free_slot(row: &AnyRow) -> Result<FreeSlot, PortError> {
    let role: String = row.try_get("role").map_err(db_err)?;
    let mode: String = row.try_get("mode").map_err(db_err)?;
    Ok(FreeSlot {
        id: SlotId(row.try_get("slot_id").map_err(db_err)?),
        start: at(row.try_get("starts_at").map_err(db_err)?),
        end: at(row.try_get("ends_at").map_err(db_err)?),
        clinician: row.try_get("clinician").map_err(db_err)?,
        role: ClinicianRole::parse(&role).ok_or_else(|| PortError::new("stored role"))?,
        location: row.try_get("location").map_err(db_err)?,
        mode: AppointmentMode::parse(&mode).ok_or_else(|| PortError::new("stored mode"))?,
    })
}

/// A value bound to a query built from optional filters.
enum Arg {
    Int(i64),
    Text(String),
}

/// Minutes after UK midnight that each part of the day covers.
fn minutes(part: TimeOfDay) -> (i64, i64) {
    match part {
        TimeOfDay::Morning => (0, 720),
        TimeOfDay::Afternoon => (720, 1020),
        TimeOfDay::Evening => (1020, 1440),
    }
}

pub(crate) async fn rules_in<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    practice: PracticeId,
) -> Result<ReleaseRules, PortError> {
    let row = sqlx::query(
        "select release_days_ahead, release_minute, max_future_bookings, cancel_cutoff_hours
         from appointment_rules where practice_id = $1",
    )
    .bind(practice.0)
    .fetch_optional(executor)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(ReleaseRules::default());
    };
    let minute: i64 = row.try_get(1).map_err(db_err)?;
    let number = |i: usize| -> Result<u32, PortError> {
        let n: i64 = row.try_get(i).map_err(db_err)?;
        u32::try_from(n).map_err(PortError::new)
    };
    Ok(ReleaseRules {
        release_days_ahead: number(0)?,
        release_time: NaiveTime::from_hms_opt(
            u32::try_from(minute / 60).unwrap_or(8),
            u32::try_from(minute % 60).unwrap_or(0),
            0,
        )
        .unwrap_or_default(),
        max_future_bookings: number(2)?,
        cancel_cutoff_hours: number(3)?,
    })
}

/// Who an email about a patient's appointment goes to: the patient's own
/// account, if they have one.
struct Addressee {
    account: AccountId,
    email: Email,
    given_name: String,
    practice_name: String,
}

async fn addressee(tx: &mut Tx, patient: PatientId) -> Result<Option<Addressee>, PortError> {
    let row = sqlx::query(
        "select a.id, a.email, p.given_name, pr.name as practice_name
         from accounts a
         join patients p on p.id = a.patient_id
         join practices pr on pr.id = p.practice_id
         where a.patient_id = $1 and a.role = 'patient'
         order by a.id limit 1",
    )
    .bind(patient.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let email: String = row.try_get("email").map_err(db_err)?;
    Ok(Email::parse(&email).ok().map(|email| Addressee {
        account: AccountId(row.try_get("id").unwrap_or_default()),
        email,
        given_name: row.try_get("given_name").unwrap_or_default(),
        practice_name: row.try_get("practice_name").unwrap_or_default(),
    }))
}

pub(crate) fn log_entry(
    patient: PatientRef,
    by: &Actor,
    action: RecordAction,
    request_id: &str,
) -> NewAccessLogEntry {
    NewAccessLogEntry {
        practice: patient.practice,
        patient: patient.id,
        actor: Some(by.account),
        actor_role: by.role,
        acting_for: by.acting_for,
        action,
        outcome: Outcome::Allowed,
        request_id: request_id.to_owned(),
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Creates every day of a (repeating) session and its slots in the
/// caller's transaction, or nothing if any day overlaps one of the
/// clinician's sessions. The demo seed uses it too.
pub async fn create_sessions_in(
    tx: &mut Tx,
    dialect: Dialect,
    practice: PracticeId,
    by: AccountId,
    session: &CheckedSession,
) -> Result<Result<Vec<SessionId>, SessionRefusal>, PortError> {
    let days = session.days().map_err(PortError::new)?;
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(Ok(Vec::new()));
    };
    let (from, to) = (first.1.start, last.1.end);
    let key = session.plan.clinician.trim().to_lowercase();
    if dialect == Dialect::Postgres {
        // One practice's sessions are created one at a time, so two
        // overlapping ones cannot both pass the check below.
        sqlx::query("select id from practices where id = $1 for update")
            .bind(practice.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
    }
    let existing = sqlx::query(
        "select starts_at, ends_at from appointment_sessions
         where practice_id = $1 and clinician_key = $2 and status = 'active'
           and starts_at < $4 and ends_at > $3",
    )
    .bind(practice.0)
    .bind(&key)
    .bind(from.timestamp())
    .bind(to.timestamp())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|row| {
        Ok(TimeSpan {
            start: at(row.try_get(0).map_err(db_err)?),
            end: at(row.try_get(1).map_err(db_err)?),
        })
    })
    .collect::<Result<Vec<_>, PortError>>()?;
    let spans: Vec<TimeSpan> = days.iter().map(|(_, span, _)| *span).collect();
    if let Some((_, clash)) = first_overlap(&spans, &existing) {
        return Ok(Err(SessionRefusal::Overlaps {
            clinician: session.plan.clinician.clone(),
            day: uk_day_label(clash.start),
            existing_start: uk_time_label(clash.start),
            existing_end: uk_time_label(clash.end),
        }));
    }
    let now = Utc::now().timestamp();
    let mut ids = Vec::with_capacity(days.len());
    for (plan, span, slots) in &days {
        let id: i64 = sqlx::query(
            "insert into appointment_sessions
                 (practice_id, clinician, clinician_key, role, location, mode, bookable_online,
                  local_date, starts_at, ends_at, slot_minutes, status, created_by, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12, $13)
             returning id",
        )
        .bind(practice.0)
        .bind(&plan.clinician)
        .bind(&key)
        .bind(plan.role.as_str())
        .bind(&plan.location)
        .bind(plan.mode.as_str())
        .bind(i64::from(plan.bookable_online))
        .bind(plan.date.format("%Y-%m-%d").to_string())
        .bind(span.start.timestamp())
        .bind(span.end.timestamp())
        .bind(i64::from(plan.slot_minutes))
        .bind(by.0)
        .bind(now)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
        // All of a day's slots in one statement.
        let values: Vec<String> = (0..slots.len())
            .map(|i| {
                let b = i * 5;
                format!(
                    "($1, $2, ${}, ${}, ${}, ${}, ${})",
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                )
            })
            .collect();
        let sql = format!(
            "insert into appointment_slots (session_id, practice_id, starts_at, ends_at, local_date, local_minute, blocked)
             values {}",
            values.join(", ")
        );
        // The last column of each row is `blocked`, always 0 for a new slot.
        let mut query = sqlx::query(&sql).bind(id).bind(practice.0);
        for slot in slots {
            let local = slot.start.with_timezone(&chrono_tz::Europe::London);
            query = query
                .bind(slot.start.timestamp())
                .bind(slot.end.timestamp())
                .bind(uk_date(slot.start).format("%Y-%m-%d").to_string())
                .bind(i64::from(local.hour() * 60 + local.minute()))
                .bind(0_i64);
        }
        query.execute(&mut **tx).await.map_err(db_err)?;
        ids.push(SessionId(id));
    }
    Ok(Ok(ids))
}

impl SqlAppointments {
    /// Free slots matching a search. `online`: only those offered to
    /// patients now (bookable online, released). `only`: one slot.
    async fn search(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        now: DateTime<Utc>,
        limit: u32,
        online: bool,
        only: Option<SlotId>,
    ) -> Result<Vec<FreeSlot>, PortError> {
        let mut sql = format!(
            "select {SLOT_COLUMNS}
             from appointment_slots s join appointment_sessions se on se.id = s.session_id
             where s.practice_id = $1 and s.starts_at > $2 and s.starts_at >= $3 and s.starts_at < $4
               and s.booked = 0 and s.blocked = 0 and se.status = 'active'"
        );
        let mut args = vec![
            Arg::Int(practice.0),
            Arg::Int(now.timestamp()),
            Arg::Int(search.from.timestamp()),
            Arg::Int(search.to.timestamp()),
        ];
        let mut push = |sql: &mut String, condition: &str, arg: Arg| {
            args.push(arg);
            sql.push_str(&condition.replace('?', &format!("${}", args.len())));
        };
        if online {
            let rules = self.rules.get(&self.db, practice).await?;
            let last = rules.last_released_date(now).format("%Y-%m-%d").to_string();
            sql.push_str(" and se.bookable_online = 1");
            push(&mut sql, " and s.local_date <= ?", Arg::Text(last));
        }
        if let Some(role) = search.role {
            push(
                &mut sql,
                " and se.role = ?",
                Arg::Text(role.as_str().to_owned()),
            );
        }
        if let Some(mode) = search.mode {
            push(
                &mut sql,
                " and se.mode = ?",
                Arg::Text(mode.as_str().to_owned()),
            );
        }
        if let Some(clinician) = &search.clinician {
            push(
                &mut sql,
                " and se.clinician_key = ?",
                Arg::Text(clinician.trim().to_lowercase()),
            );
        }
        if let Some(part) = search.time_of_day {
            let (from, to) = minutes(part);
            push(&mut sql, " and s.local_minute >= ?", Arg::Int(from));
            push(&mut sql, " and s.local_minute < ?", Arg::Int(to));
        }
        if let Some(slot) = only {
            push(&mut sql, " and s.id = ?", Arg::Int(slot.0));
        }
        // Equal times in this viewer's own order: see `tie_rank`.
        push(
            &mut sql,
            &format!(" order by s.starts_at, (s.id * ?) % {TIE_MODULUS}, s.id"),
            Arg::Int(tie_multiplier(search.seen_by)),
        );
        push(&mut sql, " limit ?", Arg::Int(i64::from(limit)));
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = match arg {
                Arg::Int(n) => query.bind(n),
                Arg::Text(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.db.pool).await.map_err(db_err)?;
        rows.iter().map(free_slot).collect()
    }

    async fn next_free(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
        online: bool,
    ) -> Result<Vec<FreeSlot>, PortError> {
        self.search(
            patient.practice,
            &SlotSearch::default_window(now).seen_by(patient.id),
            now,
            NEXT_FREE_OFFERED,
            online,
            None,
        )
        .await
    }

    /// The patient's appointments (one, with `only`), newest first.
    async fn list(
        &self,
        patient: PatientRef,
        only: Option<AppointmentId>,
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError> {
        let rules = self.rules.get(&self.db, patient.practice).await?;
        let filter = if only.is_some() { " and a.id = $3" } else { "" };
        let sql = format!(
            "select a.id, a.status, a.reason, a.note, pr.name as practice_name, {SLOT_COLUMNS}
             from appointments a
             join appointment_slots s on s.id = a.slot_id
             join appointment_sessions se on se.id = s.session_id
             join practices pr on pr.id = a.practice_id
             where a.patient_id = $1 and a.practice_id = $2{filter}
             order by s.starts_at desc, a.id desc"
        );
        let mut query = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(patient.practice.0);
        if let Some(id) = only {
            query = query.bind(id.0);
        }
        let rows = query.fetch_all(&self.db.pool).await.map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let slot = free_slot(row)?;
                let status: String = row.try_get("status").map_err(db_err)?;
                let status = AppointmentStatus::parse(&status)
                    .ok_or_else(|| PortError::new("stored appointment status"))?;
                Ok(PatientAppointment {
                    id: AppointmentId(row.try_get("id").map_err(db_err)?),
                    can_cancel_online: status == AppointmentStatus::Booked
                        && slot.start > now
                        && rules.may_cancel_online(slot.start, now),
                    slot,
                    status,
                    reason: row.try_get("reason").map_err(db_err)?,
                    note: row.try_get("note").map_err(db_err)?,
                    practice_name: row.try_get("practice_name").map_err(db_err)?,
                })
            })
            .collect()
    }

    /// The confirmation email (with the .ics) and the reminder, in the
    /// booking's transaction. Returns the reminder's outbox row.
    pub(crate) async fn booking_emails(
        &self,
        tx: &mut Tx,
        patient: PatientId,
        appointment: AppointmentId,
        slot: &FreeSlot,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, PortError> {
        let Some(to) = addressee(tx, patient).await? else {
            return Ok(None);
        };
        let domain = self.outbox.message_domain().to_owned();
        let calendar = ics::appointment_ics(appointment, slot, &to.practice_name, &domain);
        let payload = EmailPayload {
            name: Some(to.given_name.clone()),
            practice_name: Some(to.practice_name.clone()),
            ..Default::default()
        };
        let email = |kind, payload| NewEmail {
            kind,
            recipient: to.email.clone(),
            account: Some(to.account),
            payload,
            link_token: None,
        };
        store::enqueue(
            tx,
            email(
                EmailKind::AppointmentBooked,
                EmailPayload {
                    calendar: Some(calendar),
                    ..payload.clone()
                },
            ),
            &domain,
            now.timestamp(),
        )
        .await
        .map_err(db_err)?;
        let due = slot.start - Duration::hours(self.reminder_hours);
        if due <= now {
            return Ok(None);
        }
        // Not written at all when the patient has turned reminders off.
        let (_, reminder) = store::enqueue_due(
            tx,
            email(EmailKind::AppointmentReminder, payload),
            &domain,
            now.timestamp(),
            due.timestamp(),
        )
        .await
        .map_err(db_err)?;
        Ok(reminder)
    }

    /// The portal's side of a patient's cancelled appointment, whichever
    /// adapter cancelled it: the waiting reminder never goes, the access-log
    /// row and the cancellation email are written, and the transaction ends.
    pub(crate) async fn finish_cancel(
        &self,
        mut tx: Tx,
        reminder: Option<i64>,
        patient: PatientRef,
        by: &Actor,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        if let Some(reminder) = reminder {
            // A reminder already being sent cannot be called back; one
            // still waiting never goes.
            sqlx::query("delete from outbox where id = $1 and status = 'waiting'")
                .bind(reminder)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        access_log::insert(
            &mut *tx,
            log_entry(patient, by, RecordAction::CancelAppointment, request_id),
        )
        .await?;
        self.cancellation_email(&mut tx, patient.id, None, now)
            .await?;
        tx.commit().await.map_err(db_err)?;
        self.outbox.wake();
        Ok(())
    }

    pub(crate) async fn cancellation_email(
        &self,
        tx: &mut Tx,
        patient: PatientId,
        practice_note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        let Some(to) = addressee(tx, patient).await? else {
            return Ok(false);
        };
        let domain = self.outbox.message_domain().to_owned();
        store::enqueue(
            tx,
            NewEmail {
                kind: EmailKind::AppointmentCancelled,
                recipient: to.email,
                account: Some(to.account),
                payload: EmailPayload {
                    name: Some(to.given_name),
                    practice_name: Some(to.practice_name),
                    practice_note: practice_note.filter(|n| !n.is_empty()).map(str::to_owned),
                    ..Default::default()
                },
                link_token: None,
            },
            &domain,
            now.timestamp(),
        )
        .await
        .map_err(db_err)?;
        Ok(true)
    }

    /// Whether the slot may be booked in this booking, read through `conn`
    /// (the pool's, or the booking transaction's).
    async fn bookable(
        &self,
        conn: &mut sqlx::AnyConnection,
        booking: &NewBooking,
        online: bool,
        now: DateTime<Utc>,
    ) -> Result<Bookable, PortError> {
        let patient = booking.patient;
        let sql = format!(
            "select {SLOT_COLUMNS}, s.blocked, s.local_date, se.status as session_status, se.bookable_online,
                    exists (select 1 from appointments a where a.slot_id = s.id and a.status <> 'cancelled') as booked
             from appointment_slots s join appointment_sessions se on se.id = s.session_id
             where s.id = $1 and s.practice_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(booking.slot.0)
            .bind(patient.practice.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        // Another practice's slot looks the same as no slot.
        let Some(row) = row else {
            return Ok(Bookable::Refused(BookingError::NotAvailable));
        };
        let slot = free_slot(&row)?;
        let blocked: i64 = row.try_get("blocked").map_err(db_err)?;
        let session_status: String = row.try_get("session_status").map_err(db_err)?;
        let bookable_online: i64 = row.try_get("bookable_online").map_err(db_err)?;
        let booked = row
            .try_get::<bool, _>("booked")
            .or_else(|_| row.try_get::<i64, _>("booked").map(|n| n != 0))
            .map_err(db_err)?;
        if slot.start <= now {
            return Ok(Bookable::Refused(BookingError::SlotInPast));
        }
        if blocked == 1 || session_status != "active" {
            return Ok(Bookable::Refused(BookingError::NotAvailable));
        }
        if online {
            let rules = rules_in(&mut *conn, patient.practice).await?;
            if bookable_online != 1
                || !rules.is_released(slot.start, now)
                || slot.start >= now + Duration::days(SEARCH_WINDOW_DAYS)
            {
                return Ok(Bookable::Refused(BookingError::NotAvailable));
            }
            let held: i64 = sqlx::query(
                "select count(*) from appointments a join appointment_slots s on s.id = a.slot_id
                 where a.patient_id = $1 and a.status = 'booked' and a.booked_online = 1 and s.starts_at > $2",
            )
            .bind(patient.id.0)
            .bind(now.timestamp())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(db_err)?;
            if held >= i64::from(rules.max_future_bookings) {
                return Ok(Bookable::Refused(BookingError::TooManyBookings {
                    limit: rules.max_future_bookings,
                }));
            }
        }
        Ok(if booked {
            Bookable::Taken
        } else {
            Bookable::Free(slot)
        })
    }

    /// The answer when the slot turned out booked: this form's own booking
    /// if another submit of it won (it committed before the slot was seen
    /// booked, so it is visible now), else "this appointment has just been
    /// taken" with the next free ones.
    async fn taken(
        &self,
        booking: &NewBooking,
        now: DateTime<Utc>,
        online: bool,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        let patient = booking.patient;
        if let Some(id) = self
            .existing_booking(&self.db.pool, patient, &booking.idempotency_key)
            .await?
        {
            return Ok(Ok(self.one(patient, id, now).await?));
        }
        let next_free = self.next_free(patient, now, online).await?;
        Ok(Err(BookingError::SlotTaken { next_free }))
    }

    async fn existing_booking(
        &self,
        executor: impl sqlx::Executor<'_, Database = Any>,
        patient: PatientRef,
        key: &str,
    ) -> Result<Option<AppointmentId>, PortError> {
        sqlx::query("select id from appointments where patient_id = $1 and idempotency_key = $2")
            .bind(patient.id.0)
            .bind(key)
            .fetch_optional(executor)
            .await
            .map_err(db_err)?
            .map(|row| row.try_get(0).map(AppointmentId).map_err(db_err))
            .transpose()
    }

    async fn one(
        &self,
        patient: PatientRef,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<PatientAppointment, PortError> {
        self.list(patient, Some(id), now)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| PortError::new("booked appointment not found"))
    }
}

#[async_trait]
impl Appointments for SqlAppointments {
    async fn free_slots(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FreeSlot>, PortError> {
        self.search(practice, search, now, limit, true, None).await
    }

    async fn slot(
        &self,
        practice: PracticeId,
        slot: SlotId,
        online: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<FreeSlot>, PortError> {
        let search = if online {
            SlotSearch::default_window(now)
        } else {
            SlotSearch {
                to: now + Duration::days(400),
                ..SlotSearch::default_window(now)
            }
        };
        Ok(self
            .search(practice, &search, now, 1, online, Some(slot))
            .await?
            .into_iter()
            .next())
    }

    async fn book(
        &self,
        booking: NewBooking,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        if !valid_idempotency_key(&booking.idempotency_key) {
            return Ok(Err(BookingError::BadKey));
        }
        let patient = booking.patient;
        let online = booking.by.role == Role::Patient;
        // At the 8am rush most tries are for a slot someone has just booked:
        // answer those from plain reads first, without queueing for the
        // write lock (SQLite has one writer) or holding a transaction. The
        // same checks run again inside the transaction, and the unique
        // index decides the races no read can see.
        {
            let mut conn = self.db.pool.acquire().await.map_err(db_err)?;
            if let Some(id) = self
                .existing_booking(&mut *conn, patient, &booking.idempotency_key)
                .await?
            {
                drop(conn);
                return Ok(Ok(self.one(patient, id, now).await?));
            }
            match self.bookable(&mut conn, &booking, online, now).await? {
                Bookable::Free(_) => {}
                Bookable::Taken => {
                    drop(conn);
                    return self.taken(&booking, now, online).await;
                }
                Bookable::Refused(refusal) => return Ok(Err(refusal)),
            }
        }
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        // The same form submitted again: the first booking is the answer.
        if let Some(id) = self
            .existing_booking(&mut *tx, patient, &booking.idempotency_key)
            .await?
        {
            tx.rollback().await.map_err(db_err)?;
            return Ok(Ok(self.one(patient, id, now).await?));
        }
        if online && self.db.dialect == Dialect::Postgres {
            // One patient's bookings one at a time, so two at once cannot
            // both pass the limit (SQLite has one writer).
            sqlx::query("select id from patients where id = $1 for update")
                .bind(patient.id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let slot = match self.bookable(&mut tx, &booking, online, now).await? {
            Bookable::Free(slot) => slot,
            Bookable::Taken => {
                tx.rollback().await.map_err(db_err)?;
                return self.taken(&booking, now, online).await;
            }
            Bookable::Refused(refusal) => return Ok(Err(refusal)),
        };
        let inserted = sqlx::query(
            "insert into appointments
                 (slot_id, practice_id, patient_id, status, reason, note, booked_online, booked_by, idempotency_key, booked_at)
             values ($1, $2, $3, 'booked', $4, $5, $6, $7, $8, $9)
             returning id",
        )
        .bind(slot.id.0)
        .bind(patient.practice.0)
        .bind(patient.id.0)
        .bind(&booking.text.reason)
        .bind(&booking.text.note)
        .bind(i64::from(online))
        .bind(booking.by.account.0)
        .bind(&booking.idempotency_key)
        .bind(now.timestamp())
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(row) => AppointmentId(row.try_get(0).map_err(db_err)?),
            Err(err) if is_unique_violation(&err) => {
                // PostgreSQL has aborted the transaction; end it and answer
                // from outside it (two submits of one form at once: the
                // other one may have booked).
                tx.rollback().await.map_err(db_err)?;
                return self.taken(&booking, now, online).await;
            }
            Err(err) => return Err(db_err(err)),
        };
        let action = if online {
            RecordAction::BookAppointment
        } else {
            RecordAction::BookAppointmentOnBehalf
        };
        access_log::insert(
            &mut *tx,
            log_entry(patient, &booking.by, action, &booking.request_id),
        )
        .await?;
        let reminder = self
            .booking_emails(&mut tx, patient.id, id, &slot, now)
            .await?;
        if let Some(reminder) = reminder {
            sqlx::query("update appointments set reminder_outbox_id = $1 where id = $2")
                .bind(reminder)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        self.outbox.wake();
        Ok(Ok(self.one(patient, id, now).await?))
    }

    async fn cancel(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        reason: &str,
        by: &Actor,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), CancelError>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let row = sqlx::query(
            "select a.status, s.starts_at, a.reminder_outbox_id
             from appointments a join appointment_slots s on s.id = a.slot_id
             where a.id = $1 and a.patient_id = $2 and a.practice_id = $3",
        )
        .bind(appointment.0)
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(Err(CancelError::NotFound));
        };
        let status: String = row.try_get("status").map_err(db_err)?;
        let start = at(row.try_get("starts_at").map_err(db_err)?);
        let reminder: Option<i64> = row.try_get("reminder_outbox_id").map_err(db_err)?;
        if status != AppointmentStatus::Booked.as_str() || start <= now {
            return Ok(Err(CancelError::NotBooked));
        }
        if by.role == Role::Patient {
            let rules = rules_in(&mut *tx, patient.practice).await?;
            if !rules.may_cancel_online(start, now) {
                return Ok(Err(CancelError::TooLate));
            }
        }
        let done = sqlx::query(
            "update appointments set status = 'cancelled', cancelled_at = $2, cancelled_by = $3, cancel_reason = $4
             where id = $1 and status = 'booked'",
        )
        .bind(appointment.0)
        .bind(now.timestamp())
        .bind(by.account.0)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Ok(Err(CancelError::NotBooked));
        }
        self.finish_cancel(tx, reminder, patient, by, request_id, now)
            .await?;
        Ok(Ok(()))
    }

    async fn for_patient(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError> {
        self.list(patient, None, now).await
    }

    async fn appointment(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Option<PatientAppointment>, PortError> {
        Ok(self
            .list(patient, Some(appointment), now)
            .await?
            .into_iter()
            .next())
    }

    async fn appointment_patient(
        &self,
        appointment: AppointmentId,
    ) -> Result<Option<PatientRef>, PortError> {
        sqlx::query("select patient_id, practice_id from appointments where id = $1")
            .bind(appointment.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?
            .map(|row| {
                Ok(PatientRef {
                    id: PatientId(row.try_get(0).map_err(db_err)?),
                    practice: PracticeId(row.try_get(1).map_err(db_err)?),
                })
            })
            .transpose()
    }

    async fn release_rules(&self, practice: PracticeId) -> Result<ReleaseRules, PortError> {
        self.rules.get(&self.db, practice).await
    }

    async fn set_release_rules(
        &self,
        practice: PracticeId,
        rules: ReleaseRules,
    ) -> Result<(), PortError> {
        let minute = i64::from(rules.release_time.hour() * 60 + rules.release_time.minute());
        sqlx::query(
            "insert into appointment_rules
                 (practice_id, release_days_ahead, release_minute, max_future_bookings, cancel_cutoff_hours, updated_at)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (practice_id) do update set
                 release_days_ahead = excluded.release_days_ahead,
                 release_minute = excluded.release_minute,
                 max_future_bookings = excluded.max_future_bookings,
                 cancel_cutoff_hours = excluded.cancel_cutoff_hours,
                 updated_at = excluded.updated_at",
        )
        .bind(practice.0)
        .bind(i64::from(rules.release_days_ahead))
        .bind(minute)
        .bind(i64::from(rules.max_future_bookings))
        .bind(i64::from(rules.cancel_cutoff_hours))
        .bind(Utc::now().timestamp())
        .execute(&self.db.pool)
        .await
        .map_err(db_err)?;
        self.rules.forget(practice);
        Ok(())
    }

    async fn create_sessions(
        &self,
        practice: PracticeId,
        by: AccountId,
        session: &CheckedSession,
    ) -> Result<Result<Vec<SessionId>, SessionRefusal>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let created = create_sessions_in(&mut tx, self.db.dialect, practice, by, session).await?;
        match created {
            Ok(ids) => {
                tx.commit().await.map_err(db_err)?;
                Ok(Ok(ids))
            }
            Err(refusal) => {
                tx.rollback().await.map_err(db_err)?;
                Ok(Err(refusal))
            }
        }
    }

    async fn day_view(
        &self,
        practice: PracticeId,
        date: NaiveDate,
        by: &Actor,
        request_id: &str,
    ) -> Result<Vec<DaySession>, PortError> {
        let rows = sqlx::query(
            "select se.id as session_id, se.clinician, se.role, se.location, se.mode, se.bookable_online,
                    se.status as session_status, s.id as slot_id, s.starts_at, s.ends_at, s.blocked,
                    a.id as appointment_id, a.patient_id, a.reason, a.status,
                    p.given_name || ' ' || p.family_name as patient_name
             from appointment_sessions se
             join appointment_slots s on s.session_id = se.id
             left join appointments a on a.slot_id = s.id and a.status <> 'cancelled'
             left join patients p on p.id = a.patient_id
             where se.practice_id = $1 and se.local_date = $2
             order by se.clinician_key, se.starts_at, se.id, s.starts_at",
        )
        .bind(practice.0)
        .bind(date.format("%Y-%m-%d").to_string())
        .fetch_all(&self.db.pool)
        .await
        .map_err(db_err)?;
        let mut sessions: Vec<DaySession> = Vec::new();
        for row in &rows {
            let id = SessionId(row.try_get("session_id").map_err(db_err)?);
            if sessions.last().is_none_or(|s| s.id != id) {
                let role: String = row.try_get("role").map_err(db_err)?;
                let mode: String = row.try_get("mode").map_err(db_err)?;
                let status: String = row.try_get("session_status").map_err(db_err)?;
                sessions.push(DaySession {
                    id,
                    clinician: row.try_get("clinician").map_err(db_err)?,
                    role: ClinicianRole::parse(&role).ok_or_else(|| PortError::new("role"))?,
                    location: row.try_get("location").map_err(db_err)?,
                    mode: AppointmentMode::parse(&mode).ok_or_else(|| PortError::new("mode"))?,
                    bookable_online: row.try_get::<i64, _>("bookable_online").map_err(db_err)? == 1,
                    cancelled: status == "cancelled",
                    slots: Vec::new(),
                });
            }
            let booking = match row
                .try_get::<Option<i64>, _>("appointment_id")
                .map_err(db_err)?
            {
                Some(appointment) => {
                    let status: String = row.try_get("status").map_err(db_err)?;
                    Some(DayBooking {
                        appointment: AppointmentId(appointment),
                        patient: PatientId(row.try_get("patient_id").map_err(db_err)?),
                        patient_name: row.try_get("patient_name").map_err(db_err)?,
                        reason: row.try_get("reason").map_err(db_err)?,
                        status: AppointmentStatus::parse(&status)
                            .ok_or_else(|| PortError::new("status"))?,
                    })
                }
                None => None,
            };
            if let Some(session) = sessions.last_mut() {
                session.slots.push(DaySlot {
                    id: SlotId(row.try_get("slot_id").map_err(db_err)?),
                    start: at(row.try_get("starts_at").map_err(db_err)?),
                    end: at(row.try_get("ends_at").map_err(db_err)?),
                    blocked: row.try_get::<i64, _>("blocked").map_err(db_err)? == 1,
                    booking,
                });
            }
        }
        // Each booked patient's record shows that staff saw their booking;
        // if those rows cannot be written the list is not shown.
        let mut patients: Vec<PatientId> = sessions
            .iter()
            .flat_map(|s| {
                s.slots
                    .iter()
                    .filter_map(|slot| slot.booking.as_ref().map(|b| b.patient))
            })
            .collect();
        patients.sort();
        patients.dedup();
        if !patients.is_empty() {
            let mut tx = self.db.begin_write().await.map_err(db_err)?;
            for patient in patients {
                access_log::insert(
                    &mut *tx,
                    log_entry(
                        PatientRef {
                            id: patient,
                            practice,
                        },
                        by,
                        RecordAction::ViewDayList,
                        request_id,
                    ),
                )
                .await?;
            }
            tx.commit().await.map_err(db_err)?;
        }
        Ok(sessions)
    }

    async fn set_slot_blocked(
        &self,
        practice: PracticeId,
        slot: SlotId,
        blocked: bool,
    ) -> Result<bool, PortError> {
        let done = sqlx::query(
            "update appointment_slots set blocked = $3
             where id = $1 and practice_id = $2
               and not exists (select 1 from appointments a where a.slot_id = appointment_slots.id and a.status <> 'cancelled')",
        )
        .bind(slot.0)
        .bind(practice.0)
        .bind(i64::from(blocked))
        .execute(&self.db.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn cancel_session(
        &self,
        practice: PracticeId,
        session: SessionId,
        reason: &str,
        by: &Actor,
        request_id: &str,
    ) -> Result<Option<u32>, PortError> {
        let now = Utc::now();
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let done = sqlx::query(
            "update appointment_sessions set status = 'cancelled', cancel_reason = $3
             where id = $1 and practice_id = $2 and status = 'active'",
        )
        .bind(session.0)
        .bind(practice.0)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        let booked: Vec<(i64, Option<i64>)> = sqlx::query(
            "select a.patient_id, a.reminder_outbox_id from appointments a
             join appointment_slots s on s.id = a.slot_id
             where s.session_id = $1 and a.status = 'booked'",
        )
        .bind(session.0)
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?
        .iter()
        .map(|row| {
            Ok((
                row.try_get(0).map_err(db_err)?,
                row.try_get(1).map_err(db_err)?,
            ))
        })
        .collect::<Result<_, PortError>>()?;
        sqlx::query(
            "update appointments set status = 'cancelled', cancelled_at = $2, cancelled_by = $3, cancel_reason = $4
             where status = 'booked' and slot_id in (select id from appointment_slots where session_id = $1)",
        )
        .bind(session.0)
        .bind(now.timestamp())
        .bind(by.account.0)
        .bind(reason)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let mut emailed = 0;
        for (patient, reminder) in booked {
            if let Some(reminder) = reminder {
                sqlx::query("delete from outbox where id = $1 and status = 'waiting'")
                    .bind(reminder)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            let patient = PatientRef {
                id: PatientId(patient),
                practice,
            };
            access_log::insert(
                &mut *tx,
                log_entry(patient, by, RecordAction::CancelAppointment, request_id),
            )
            .await?;
            if self
                .cancellation_email(&mut tx, patient.id, Some(reason), now)
                .await?
            {
                emailed += 1;
            }
        }
        tx.commit().await.map_err(db_err)?;
        self.outbox.wake();
        Ok(Some(emailed))
    }

    async fn mark_attendance(
        &self,
        practice: PracticeId,
        appointment: AppointmentId,
        attendance: Attendance,
        now: DateTime<Utc>,
        by: &Actor,
        request_id: &str,
    ) -> Result<Result<(), AttendanceError>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let found = sqlx::query(
            "select a.patient_id, s.starts_at from appointments a
             join appointment_slots s on s.id = a.slot_id
             where a.id = $1 and a.practice_id = $2 and a.status in ('booked', 'attended', 'did_not_attend')",
        )
        .bind(appointment.0)
        .bind(practice.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some(row) = found else {
            return Ok(Err(AttendanceError::NotFound));
        };
        let starts_at: i64 = row.try_get(1).map_err(db_err)?;
        let patient = PatientRef {
            id: PatientId(row.try_get(0).map_err(db_err)?),
            practice,
        };
        let action = match attendance {
            Attendance::Attended => RecordAction::MarkAttended,
            Attendance::DidNotAttend => RecordAction::MarkDidNotAttend,
        };
        // A refusal is in the patient's access log too, as other refusals are.
        if let Err(too_soon) = attendance.may_record(at(starts_at), now) {
            let refused = NewAccessLogEntry {
                outcome: Outcome::Refused,
                ..log_entry(patient, by, action, request_id)
            };
            access_log::insert(&mut *tx, refused).await?;
            tx.commit().await.map_err(db_err)?;
            return Ok(Err(too_soon));
        }
        sqlx::query("update appointments set status = $3 where id = $1 and practice_id = $2")
            .bind(appointment.0)
            .bind(practice.0)
            .bind(attendance.status().as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        access_log::insert(&mut *tx, log_entry(patient, by, action, request_id)).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Ok(()))
    }
}
