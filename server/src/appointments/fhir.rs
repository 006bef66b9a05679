//! The `fhir` GP system's appointment book (`PORTAL_GP_SYSTEM=fhir`): the
//! practice's Slots, Schedules and Appointments on its FHIR R4 server.
//! See docs/adr/0007-fhir-appointments.md.
//!
//! - Free slots: `Slot?status=free&start=ge..&start=lt..&_include=Slot:schedule`,
//!   every page followed. The Schedule gives the clinician (its
//!   Practitioner/PractitionerRole actor's display), the location (its
//!   Location actor's display) and the role (its serviceType or specialty
//!   coding: a code equal to one of ours, e.g. `nurse`, or a display/text
//!   naming it; else GP). The mode comes from the Slot's appointmentType or
//!   serviceType (a code `in_person`/`phone`/`video`, or a display/text
//!   naming phone/telephone or video; else in person). The search's other
//!   filters and the practice's release rules are applied here.
//! - Booking guards the slot with its version: the Slot is read (ETag),
//!   put back as `busy` with `If-Match`; a 412 means someone else took it.
//!   Only then is the Appointment posted; if that fails the Slot is freed.
//! - Cancelling reads the Appointment (ETag) and puts it back `cancelled`
//!   with `If-Match`; on 412 it is read again and tried once more. Its
//!   Slot is then freed.
//! - Ids: the domain's SlotId/AppointmentId are given out by the table
//!   `fhir_ids` (migration 0006), not hashed from FHIR ids as record
//!   entries are: booking and cancelling must get back from the portal id
//!   to the FHIR id, and a table never collides.
//! - The idempotency key, reminder and access log stay in the portal's
//!   database (`fhir_bookings`); emails go through the outbox, in the
//!   transaction that records the change once the FHIR server has made it.
//! - Sessions (create, day view, block, cancel session, attendance) are
//!   the practice's clinical system's business under `fhir`: they answer
//!   [`PortError::managed_in_clinical_system`], which pages show as a
//!   plain message.
//! - One FHIR server serves one practice: the `practice` arguments choose
//!   the release rules and the practice name, not what is searched.

use super::{SqlAppointments, log_entry, rules_in};
use crate::db::Db;
use crate::gp_system::fhir_client::{FhirClient, Versioned, Written, not_answering};
use crate::stores::{access_log, db_err};
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use domain::access::PatientRef;
use domain::access_log::RecordAction;
use domain::appointments::{
    AppointmentId, AppointmentMode, AppointmentStatus, Appointments, Attendance, AttendanceError,
    BookingError, CancelError, CheckedSession, ClinicianRole, DaySession, FreeSlot,
    NEXT_FREE_OFFERED, NewBooking, PatientAppointment, ReleaseRules, SEARCH_WINDOW_DAYS, SessionId,
    SessionRefusal, SlotId, SlotSearch, tie_rank, valid_idempotency_key,
};
use domain::ports::PortError;
use domain::{AccountId, Actor, PatientId, PracticeId, Role};
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::HashMap;

pub struct FhirAppointments {
    db: Db,
    client: FhirClient,
    /// For the release rules, the emails and the reminder.
    local: SqlAppointments,
}

const SLOT: &str = "Slot";
const APPOINTMENT: &str = "Appointment";

fn sessions_elsewhere() -> PortError {
    PortError::managed_in_clinical_system("sessions under PORTAL_GP_SYSTEM=fhir")
}

fn instant(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn fhir_instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The codings and texts of CodeableConcepts, lower case.
fn words(concepts: &[&Value]) -> Vec<String> {
    let mut out = Vec::new();
    for concept in concepts {
        let list: Vec<&Value> = match concept {
            Value::Array(items) => items.iter().collect(),
            other => vec![*other],
        };
        for c in list {
            if let Some(t) = c.get("text").and_then(Value::as_str) {
                out.push(t.to_lowercase());
            }
            for coding in c
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for key in ["code", "display"] {
                    if let Some(t) = coding.get(key).and_then(Value::as_str) {
                        out.push(t.to_lowercase());
                    }
                }
            }
        }
    }
    out
}

/// The clinician's role from a Schedule's (or Appointment's) serviceType
/// and specialty: our own code, else a word naming it, else GP.
pub fn role_of(concepts: &[&Value]) -> ClinicianRole {
    let words = words(concepts);
    if let Some(role) = words.iter().find_map(|w| ClinicianRole::parse(w)) {
        return role;
    }
    let has = |needle: &str| words.iter().any(|w| w.contains(needle));
    if has("healthcare assistant") || has("health care assistant") {
        ClinicianRole::HealthcareAssistant
    } else if has("nurse") || has("nursing") {
        ClinicianRole::Nurse
    } else if has("pharmac") {
        ClinicianRole::Pharmacist
    } else {
        ClinicianRole::Gp
    }
}

/// How the appointment happens, from a Slot's (or Appointment's)
/// appointmentType and serviceType: our own code, else a word, else in
/// person.
pub fn mode_of(concepts: &[&Value]) -> AppointmentMode {
    let words = words(concepts);
    if let Some(mode) = words.iter().find_map(|w| AppointmentMode::parse(w)) {
        return mode;
    }
    let has = |needle: &str| words.iter().any(|w| w.contains(needle));
    if has("video") {
        AppointmentMode::Video
    } else if has("phone") || has("telephone") {
        AppointmentMode::Phone
    } else {
        AppointmentMode::InPerson
    }
}

/// The display of the first reference (in `actors`, a list of
/// `{reference, display}` or of participants' `actor`s) to one of `kinds`.
fn actor_display(actors: &[&Value], kinds: &[&str]) -> Option<String> {
    actors.iter().find_map(|a| {
        let reference = a.get("reference").and_then(Value::as_str).unwrap_or("");
        kinds
            .iter()
            .any(|k| reference.starts_with(&format!("{k}/")))
            .then(|| a.get("display").and_then(Value::as_str).map(str::to_owned))
            .flatten()
    })
}

fn reference_id<'a>(reference: Option<&'a Value>, kind: &str) -> Option<&'a str> {
    reference
        .and_then(|r| r.get("reference"))
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit_once(&format!("{kind}/")).map(|(_, id)| id))
        .map(|id| id.split("/_history/").next().unwrap_or(id))
}

/// A slot as the portal shows it, from the Slot and its Schedule, without
/// its portal id (given later, for a whole page at once).
struct SlotView {
    fhir_id: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    clinician: String,
    role: ClinicianRole,
    location: String,
    mode: AppointmentMode,
}

fn slot_view(slot: &Value, schedule: Option<&Value>) -> Option<SlotView> {
    let fhir_id = slot.get("id").and_then(Value::as_str)?.to_owned();
    let start = instant(slot.get("start"))?;
    let end = instant(slot.get("end"))?;
    let empty = Value::Null;
    let schedule = schedule.unwrap_or(&empty);
    let actors: Vec<&Value> = schedule
        .get("actor")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    Some(SlotView {
        fhir_id,
        start,
        end,
        clinician: actor_display(&actors, &["Practitioner", "PractitionerRole"])
            .unwrap_or_else(|| "Clinician".to_owned()),
        role: role_of(&[
            schedule.get("serviceType").unwrap_or(&empty),
            schedule.get("specialty").unwrap_or(&empty),
            slot.get("serviceType").unwrap_or(&empty),
            slot.get("specialty").unwrap_or(&empty),
        ]),
        location: actor_display(&actors, &["Location"])
            .unwrap_or_else(|| "Your GP practice".to_owned()),
        mode: mode_of(&[
            slot.get("appointmentType").unwrap_or(&empty),
            slot.get("serviceType").unwrap_or(&empty),
        ]),
    })
}

/// Whether a Schedule is open for booking (absent `active` means yes).
fn schedule_active(schedule: Option<&Value>) -> bool {
    schedule
        .and_then(|s| s.get("active"))
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

fn appointment_status(fhir: &str) -> AppointmentStatus {
    match fhir {
        "cancelled" | "entered-in-error" => AppointmentStatus::Cancelled,
        "noshow" => AppointmentStatus::DidNotAttend,
        "fulfilled" | "arrived" | "checked-in" => AppointmentStatus::Attended,
        _ => AppointmentStatus::Booked,
    }
}

impl FhirAppointments {
    pub fn new(
        db: Db,
        outbox: crate::outbox::Outbox,
        reminder_hours: i64,
        config: &crate::config::GpSystemConfig,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: FhirClient::new(config)?,
            local: SqlAppointments::new(db.clone(), outbox, reminder_hours),
            db,
        })
    }

    /// Portal ids for FHIR ids of one type, given out on first sight. Two
    /// statements for any number of ids.
    async fn portal_ids(
        &self,
        resource_type: &str,
        fhir_ids: &[&str],
    ) -> Result<HashMap<String, i64>, PortError> {
        let mut unique: Vec<&str> = fhir_ids.to_vec();
        unique.sort_unstable();
        unique.dedup();
        if unique.is_empty() {
            return Ok(HashMap::new());
        }
        let mut out = HashMap::new();
        for chunk in unique.chunks(200) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("($1, ${})", i + 2))
                .collect();
            let sql = format!(
                "insert into fhir_ids (resource_type, fhir_id) values {} on conflict (resource_type, fhir_id) do nothing",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(resource_type);
            for id in chunk {
                query = query.bind(*id);
            }
            query.execute(&self.db.pool).await.map_err(db_err)?;
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "select id, fhir_id from fhir_ids where resource_type = $1 and fhir_id in ({})",
                marks.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(resource_type);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&self.db.pool).await.map_err(db_err)? {
                out.insert(
                    row.try_get::<String, _>(1).map_err(db_err)?,
                    row.try_get::<i64, _>(0).map_err(db_err)?,
                );
            }
        }
        Ok(out)
    }

    async fn portal_id(&self, resource_type: &str, fhir_id: &str) -> Result<i64, PortError> {
        self.portal_ids(resource_type, &[fhir_id])
            .await?
            .remove(fhir_id)
            .ok_or_else(|| PortError::new("fhir id not recorded"))
    }

    async fn fhir_id(&self, resource_type: &str, id: i64) -> Result<Option<String>, PortError> {
        sqlx::query("select fhir_id from fhir_ids where id = $1 and resource_type = $2")
            .bind(id)
            .bind(resource_type)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?
            .map(|row| row.try_get(0).map_err(db_err))
            .transpose()
    }

    /// Bounds one whole operation by the configured total timeout.
    async fn bounded<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T, PortError>>,
    ) -> Result<T, PortError> {
        tokio::time::timeout(self.client.total, work)
            .await
            .map_err(|_| {
                not_answering(format!(
                    "{what} not done within {} seconds",
                    self.client.total.as_secs()
                ))
            })?
    }

    async fn search_slots(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        now: DateTime<Utc>,
        limit: u32,
        online: bool,
    ) -> Result<Vec<FreeSlot>, PortError> {
        let from = fhir_instant(search.from.max(now));
        let to = fhir_instant(search.to);
        let (from, to) = (format!("ge{from}"), format!("lt{to}"));
        let found = self
            .client
            .search_with_included(
                SLOT,
                &[
                    ("status", "free"),
                    ("start", from.as_str()),
                    ("start", to.as_str()),
                    ("_include", "Slot:schedule"),
                    ("_sort", "start"),
                ],
            )
            .await?;
        let schedules: HashMap<String, &Value> = found
            .included
            .iter()
            .filter(|r| r.get("resourceType").and_then(Value::as_str) == Some("Schedule"))
            .filter_map(|r| Some((r.get("id")?.as_str()?.to_owned(), r)))
            .collect();
        let rules = rules_in(&self.db.pool, practice).await?;
        let views: Vec<SlotView> = found
            .matches
            .iter()
            .filter_map(|slot| {
                let schedule = reference_id(slot.get("schedule"), "Schedule")
                    .and_then(|id| schedules.get(id).copied());
                if !schedule_active(schedule)
                    || slot.get("status").and_then(Value::as_str) != Some("free")
                {
                    return None;
                }
                slot_view(slot, schedule)
            })
            .filter(|v| v.start > now && (!online || rules.is_released(v.start, now)))
            .collect();
        let ids = self
            .portal_ids(
                SLOT,
                &views.iter().map(|v| v.fhir_id.as_str()).collect::<Vec<_>>(),
            )
            .await?;
        let mut slots: Vec<FreeSlot> = views
            .into_iter()
            .filter_map(|v| {
                Some(FreeSlot {
                    id: SlotId(*ids.get(&v.fhir_id)?),
                    start: v.start,
                    end: v.end,
                    clinician: v.clinician,
                    role: v.role,
                    location: v.location,
                    mode: v.mode,
                })
            })
            .filter(|s| search.matches(s))
            .collect();
        // Soonest first; equal times in this viewer's own order (tie_rank).
        slots.sort_by_key(|s| (s.start, tie_rank(s.id, search.seen_by), s.id));
        slots.truncate(limit as usize);
        Ok(slots)
    }

    async fn next_free(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
        online: bool,
    ) -> Result<Vec<FreeSlot>, PortError> {
        self.search_slots(
            patient.practice,
            &SlotSearch::default_window(now).seen_by(patient.id),
            now,
            NEXT_FREE_OFFERED,
            online,
        )
        .await
    }

    /// The Slot, its Schedule and how the portal shows it.
    async fn read_slot(
        &self,
        fhir_id: &str,
    ) -> Result<Option<(Versioned, Option<Value>, Option<SlotView>)>, PortError> {
        let Some(slot) = self.client.read(SLOT, fhir_id).await? else {
            return Ok(None);
        };
        let schedule = match reference_id(slot.resource.get("schedule"), "Schedule") {
            Some(id) => self.client.read("Schedule", id).await?.map(|s| s.resource),
            None => None,
        };
        let view = slot_view(&slot.resource, schedule.as_ref());
        Ok(Some((slot, schedule, view)))
    }

    /// Puts a Slot's status, guarded by the version it was read at.
    async fn set_slot_status(&self, slot: &Versioned, status: &str) -> Result<Written, PortError> {
        let mut resource = slot.resource.clone();
        resource["status"] = json!(status);
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| not_answering("a Slot without an id"))?
            .to_owned();
        self.client
            .update(SLOT, &id, &resource, slot.etag.as_deref())
            .await
    }

    /// Frees a slot again (after a failed booking or a cancellation),
    /// rereading it once if it changed meanwhile. Failures are logged, not
    /// returned: the appointment's own change has already been made.
    async fn free_slot_again(&self, fhir_id: &str) {
        for _ in 0..2 {
            match self.client.read(SLOT, fhir_id).await {
                Ok(Some(slot)) => match self.set_slot_status(&slot, "free").await {
                    Ok(Written::Done(_)) => return,
                    Ok(Written::Stale) => continue,
                    Err(e) => {
                        tracing::warn!(cause = %e, "a FHIR slot could not be freed");
                        return;
                    }
                },
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(cause = %e, "a FHIR slot could not be read to free it");
                    return;
                }
            }
        }
        tracing::warn!("a FHIR slot kept changing and was not freed");
    }

    async fn practice_name(&self, practice: PracticeId) -> Result<String, PortError> {
        Ok(sqlx::query("select name from practices where id = $1")
            .bind(practice.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?
            .map(|row| row.try_get::<String, _>(0).unwrap_or_default())
            .unwrap_or_default())
    }

    /// The patient's appointments as the FHIR server holds them, newest
    /// first.
    async fn list(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError> {
        let Some(patient_id) = self.client.patient_id(&self.db, patient).await? else {
            return Ok(Vec::new());
        };
        let reference = format!("Patient/{patient_id}");
        let found = self
            .client
            .search(APPOINTMENT, &[("patient", reference.as_str())])
            .await?;
        let found: Vec<Value> = found
            .into_iter()
            .filter(|a| has_participant(a, &reference))
            .collect();
        self.to_patient_appointments(patient, &found, now).await
    }

    async fn to_patient_appointments(
        &self,
        patient: PatientRef,
        found: &[Value],
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError> {
        let rules = rules_in(&self.db.pool, patient.practice).await?;
        let practice_name = self.practice_name(patient.practice).await?;
        let appointment_ids: Vec<&str> = found
            .iter()
            .filter_map(|a| a.get("id").and_then(Value::as_str))
            .collect();
        let slot_ids: Vec<&str> = found
            .iter()
            .filter_map(|a| reference_id(a.pointer("/slot/0"), SLOT))
            .collect();
        let appointment_ids = self.portal_ids(APPOINTMENT, &appointment_ids).await?;
        let slot_ids = self.portal_ids(SLOT, &slot_ids).await?;
        let mut out: Vec<PatientAppointment> = found
            .iter()
            .filter_map(|a| {
                let id = *appointment_ids.get(a.get("id")?.as_str()?)?;
                let start = instant(a.get("start"))?;
                let end = instant(a.get("end")).unwrap_or(start);
                let status =
                    appointment_status(a.get("status").and_then(Value::as_str).unwrap_or(""));
                let slot_id = reference_id(a.pointer("/slot/0"), SLOT)
                    .and_then(|s| slot_ids.get(s).copied())
                    .unwrap_or(0);
                let actors: Vec<&Value> = a
                    .get("participant")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("actor"))
                    .collect();
                let empty = Value::Null;
                Some(PatientAppointment {
                    id: AppointmentId(id),
                    slot: FreeSlot {
                        id: SlotId(slot_id),
                        start,
                        end,
                        clinician: actor_display(&actors, &["Practitioner", "PractitionerRole"])
                            .unwrap_or_else(|| "Clinician".to_owned()),
                        role: role_of(&[
                            a.get("serviceType").unwrap_or(&empty),
                            a.get("specialty").unwrap_or(&empty),
                        ]),
                        location: actor_display(&actors, &["Location"])
                            .unwrap_or_else(|| "Your GP practice".to_owned()),
                        mode: mode_of(&[
                            a.get("appointmentType").unwrap_or(&empty),
                            a.get("serviceType").unwrap_or(&empty),
                        ]),
                    },
                    can_cancel_online: status == AppointmentStatus::Booked
                        && start > now
                        && rules.may_cancel_online(start, now),
                    status,
                    reason: a
                        .pointer("/reasonCode/0/text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    note: a
                        .get("comment")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    practice_name: practice_name.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.slot
                .start
                .cmp(&a.slot.start)
                .then_with(|| b.id.0.cmp(&a.id.0))
        });
        Ok(out)
    }

    /// One of the patient's appointments, read from the server; None if it
    /// is not theirs.
    async fn one(
        &self,
        patient: PatientRef,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Option<(PatientAppointment, Versioned, String)>, PortError> {
        let Some(fhir_id) = self.fhir_id(APPOINTMENT, id.0).await? else {
            return Ok(None);
        };
        let Some(read) = self.client.read(APPOINTMENT, &fhir_id).await? else {
            return Ok(None);
        };
        let Some(patient_id) = self.client.patient_id(&self.db, patient).await? else {
            return Ok(None);
        };
        if !has_participant(&read.resource, &format!("Patient/{patient_id}")) {
            return Ok(None);
        }
        Ok(self
            .to_patient_appointments(patient, std::slice::from_ref(&read.resource), now)
            .await?
            .into_iter()
            .next()
            .map(|a| (a, read, fhir_id)))
    }

    /// The booking this form already made (or is making), waiting a little
    /// for one under way to finish.
    async fn earlier_booking(
        &self,
        patient: PatientRef,
        key: &str,
    ) -> Result<Option<Option<AppointmentId>>, PortError> {
        for _ in 0..40 {
            let row = sqlx::query(
                "select appointment_id from fhir_bookings where patient_id = $1 and idempotency_key = $2",
            )
            .bind(patient.id.0)
            .bind(key)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?;
            let Some(row) = row else { return Ok(None) };
            if let Some(id) = row.try_get::<Option<i64>, _>(0).map_err(db_err)? {
                return Ok(Some(Some(AppointmentId(id))));
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Ok(Some(None))
    }

    async fn book_unbounded(
        &self,
        booking: NewBooking,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        let patient = booking.patient;
        let online = booking.by.role == Role::Patient;
        let key = booking.idempotency_key.as_str();
        // The same form submitted again: the first booking is the answer.
        match self.earlier_booking(patient, key).await? {
            Some(Some(id)) => return self.answer_with(patient, id, now).await,
            Some(None) => {
                return Err(not_answering(
                    "an earlier submit of this form is still booking",
                ));
            }
            None => {}
        }
        let Some(slot_fhir_id) = self.fhir_id(SLOT, booking.slot.0).await? else {
            return Ok(Err(BookingError::NotAvailable));
        };
        // Claim the form's key before any FHIR call, so a second submit
        // waits for this one instead of booking another slot.
        let claimed = sqlx::query(
            "insert into fhir_bookings (practice_id, patient_id, idempotency_key, slot_id, booked_online, claimed_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(patient.practice.0)
        .bind(patient.id.0)
        .bind(key)
        .bind(booking.slot.0)
        .bind(i64::from(online))
        .bind(now.timestamp())
        .execute(&self.db.pool)
        .await;
        match claimed {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return match self.earlier_booking(patient, key).await? {
                    Some(Some(id)) => self.answer_with(patient, id, now).await,
                    _ => Err(not_answering(
                        "an earlier submit of this form is still booking",
                    )),
                };
            }
            Err(e) => return Err(db_err(e)),
        }
        let result = self
            .book_claimed(&booking, &slot_fhir_id, online, now)
            .await;
        if !matches!(result, Ok(Ok(_))) {
            // Nothing was booked: the form may be sent again.
            sqlx::query(
                "delete from fhir_bookings where patient_id = $1 and idempotency_key = $2 and appointment_id is null",
            )
            .bind(patient.id.0)
            .bind(key)
            .execute(&self.db.pool)
            .await
            .map_err(db_err)?;
        }
        result
    }

    async fn answer_with(
        &self,
        patient: PatientRef,
        id: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        self.one(patient, id, now)
            .await?
            .map(|(a, _, _)| Ok(a))
            .ok_or_else(|| not_answering("a booked appointment is not on the server"))
    }

    async fn book_claimed(
        &self,
        booking: &NewBooking,
        slot_fhir_id: &str,
        online: bool,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        let patient = booking.patient;
        let taken = || async {
            let next_free = self.next_free(patient, now, online).await?;
            Ok::<_, PortError>(Err(BookingError::SlotTaken { next_free }))
        };
        let Some((slot, schedule, Some(view))) = self.read_slot(slot_fhir_id).await? else {
            return Ok(Err(BookingError::NotAvailable));
        };
        if view.start <= now {
            return Ok(Err(BookingError::SlotInPast));
        }
        match slot.resource.get("status").and_then(Value::as_str) {
            Some("free") => {}
            Some("busy") => return taken().await,
            _ => return Ok(Err(BookingError::NotAvailable)),
        }
        if !schedule_active(schedule.as_ref()) {
            return Ok(Err(BookingError::NotAvailable));
        }
        if online {
            let rules = rules_in(&self.db.pool, patient.practice).await?;
            if !rules.is_released(view.start, now)
                || view.start >= now + Duration::days(SEARCH_WINDOW_DAYS)
            {
                return Ok(Err(BookingError::NotAvailable));
            }
            let held: i64 = sqlx::query(
                "select count(*) from fhir_bookings
                 where patient_id = $1 and booked_online = 1 and appointment_id is not null
                   and cancelled_at is null and starts_at > $2",
            )
            .bind(patient.id.0)
            .bind(now.timestamp())
            .fetch_one(&self.db.pool)
            .await
            .map_err(db_err)?
            .try_get(0)
            .map_err(db_err)?;
            if held >= i64::from(rules.max_future_bookings) {
                return Ok(Err(BookingError::TooManyBookings {
                    limit: rules.max_future_bookings,
                }));
            }
        }
        let Some(patient_fhir_id) = self.client.patient_id(&self.db, patient).await? else {
            return Err(not_answering(
                "the patient has no record on the FHIR server",
            ));
        };
        // THE guard: only the booking that read the slot's current version
        // can mark it busy.
        match self.set_slot_status(&slot, "busy").await? {
            Written::Done(_) => {}
            Written::Stale => return taken().await,
        }
        let empty = Value::Null;
        let schedule_ref = schedule.as_ref().unwrap_or(&empty);
        let mut participants = vec![json!({
            "actor": { "reference": format!("Patient/{patient_fhir_id}") },
            "required": "required",
            "status": "accepted",
        })];
        for actor in schedule_ref
            .get("actor")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            participants
                .push(json!({ "actor": actor, "required": "required", "status": "accepted" }));
        }
        let mut appointment = json!({
            "resourceType": "Appointment",
            "status": "booked",
            "slot": [{ "reference": format!("Slot/{slot_fhir_id}") }],
            "start": fhir_instant(view.start),
            "end": fhir_instant(view.end),
            "created": fhir_instant(now),
            "participant": participants,
        });
        for (key, value) in [
            ("serviceType", schedule_ref.get("serviceType")),
            ("specialty", schedule_ref.get("specialty")),
            ("appointmentType", slot.resource.get("appointmentType")),
        ] {
            if let Some(v) = value {
                appointment[key] = v.clone();
            }
        }
        if !booking.text.reason.is_empty() {
            appointment["reasonCode"] = json!([{ "text": booking.text.reason }]);
        }
        if !booking.text.note.is_empty() {
            appointment["comment"] = json!(booking.text.note);
        }
        let created = match self.client.create(APPOINTMENT, &appointment).await {
            Ok(created) => created,
            Err(e) => {
                self.free_slot_again(slot_fhir_id).await;
                return Err(e);
            }
        };
        let Some(appointment_fhir_id) = created
            .resource
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            self.free_slot_again(slot_fhir_id).await;
            return Err(not_answering("Appointment create answered no id"));
        };
        let id = AppointmentId(self.portal_id(APPOINTMENT, &appointment_fhir_id).await?);
        let free_slot = FreeSlot {
            id: booking.slot,
            start: view.start,
            end: view.end,
            clinician: view.clinician,
            role: view.role,
            location: view.location,
            mode: view.mode,
        };
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query(
            "update fhir_bookings set appointment_id = $3, starts_at = $4
             where patient_id = $1 and idempotency_key = $2",
        )
        .bind(patient.id.0)
        .bind(&booking.idempotency_key)
        .bind(id.0)
        .bind(view.start.timestamp())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
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
            .local
            .booking_emails(&mut tx, patient.id, id, &free_slot, now)
            .await?;
        if let Some(reminder) = reminder {
            sqlx::query(
                "update fhir_bookings set reminder_outbox_id = $1 where appointment_id = $2",
            )
            .bind(reminder)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        self.local.outbox.wake();
        let practice_name = self.practice_name(patient.practice).await?;
        Ok(Ok(PatientAppointment {
            id,
            can_cancel_online: rules_in(&self.db.pool, patient.practice)
                .await?
                .may_cancel_online(free_slot.start, now),
            slot: free_slot,
            status: AppointmentStatus::Booked,
            reason: booking.text.reason.clone(),
            note: booking.text.note.clone(),
            practice_name,
        }))
    }

    async fn cancel_unbounded(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        reason: &str,
        by: &Actor,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<(), CancelError>, PortError> {
        let mut attempt = 0;
        let slot_fhir_id = loop {
            attempt += 1;
            let Some((shown, read, fhir_id)) = self.one(patient, appointment, now).await? else {
                return Ok(Err(CancelError::NotFound));
            };
            if shown.status != AppointmentStatus::Booked || shown.slot.start <= now {
                return Ok(Err(CancelError::NotBooked));
            }
            if by.role == Role::Patient {
                let rules = rules_in(&self.db.pool, patient.practice).await?;
                if !rules.may_cancel_online(shown.slot.start, now) {
                    return Ok(Err(CancelError::TooLate));
                }
            }
            let mut resource = read.resource.clone();
            resource["status"] = json!("cancelled");
            resource["cancelationReason"] = json!({
                "text": if reason.is_empty() { "Cancelled through the patient portal" } else { reason }
            });
            match self
                .client
                .update(APPOINTMENT, &fhir_id, &resource, read.etag.as_deref())
                .await?
            {
                Written::Done(_) => {
                    break reference_id(read.resource.pointer("/slot/0"), SLOT).map(str::to_owned);
                }
                // Changed at the practice meanwhile: read it again and
                // decide again, once.
                Written::Stale if attempt < 2 => continue,
                Written::Stale => {
                    return Err(not_answering(
                        "the appointment kept changing on the server while being cancelled",
                    ));
                }
            }
        };
        if let Some(slot) = &slot_fhir_id {
            self.free_slot_again(slot).await;
        }
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let reminder: Option<i64> = sqlx::query(
            "update fhir_bookings set cancelled_at = $2 where appointment_id = $1 and cancelled_at is null
             returning reminder_outbox_id",
        )
        .bind(appointment.0)
        .bind(now.timestamp())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .map(|row| row.try_get::<Option<i64>, _>(0).map_err(db_err))
        .transpose()?
        .flatten();
        self.local
            .finish_cancel(tx, reminder, patient, by, request_id, now)
            .await?;
        Ok(Ok(()))
    }
}

fn has_participant(appointment: &Value, reference: &str) -> bool {
    appointment
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|p| {
            p.pointer("/actor/reference")
                .and_then(Value::as_str)
                .is_some_and(|r| r == reference || r.ends_with(&format!("/{reference}")))
        })
}

#[async_trait]
impl Appointments for FhirAppointments {
    async fn free_slots(
        &self,
        practice: PracticeId,
        search: &SlotSearch,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<FreeSlot>, PortError> {
        self.bounded(
            "the free-slot search",
            self.search_slots(practice, search, now, limit, true),
        )
        .await
    }

    async fn slot(
        &self,
        practice: PracticeId,
        slot: SlotId,
        online: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<FreeSlot>, PortError> {
        self.bounded("the slot read", async {
            let Some(fhir_id) = self.fhir_id(SLOT, slot.0).await? else {
                return Ok(None);
            };
            let Some((read, schedule, Some(view))) = self.read_slot(&fhir_id).await? else {
                return Ok(None);
            };
            let free = read.resource.get("status").and_then(Value::as_str) == Some("free")
                && schedule_active(schedule.as_ref())
                && view.start > now;
            if online {
                let rules = rules_in(&self.db.pool, practice).await?;
                if !free
                    || !rules.is_released(view.start, now)
                    || view.start >= now + Duration::days(SEARCH_WINDOW_DAYS)
                {
                    return Ok(None);
                }
            } else if !free {
                return Ok(None);
            }
            Ok(Some(FreeSlot {
                id: slot,
                start: view.start,
                end: view.end,
                clinician: view.clinician,
                role: view.role,
                location: view.location,
                mode: view.mode,
            }))
        })
        .await
    }

    async fn book(
        &self,
        booking: NewBooking,
        now: DateTime<Utc>,
    ) -> Result<Result<PatientAppointment, BookingError>, PortError> {
        if !valid_idempotency_key(&booking.idempotency_key) {
            return Ok(Err(BookingError::BadKey));
        }
        self.bounded("the booking", self.book_unbounded(booking, now))
            .await
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
        self.bounded(
            "the cancellation",
            self.cancel_unbounded(patient, appointment, reason, by, request_id, now),
        )
        .await
    }

    async fn for_patient(
        &self,
        patient: PatientRef,
        now: DateTime<Utc>,
    ) -> Result<Vec<PatientAppointment>, PortError> {
        self.bounded("the appointment list", self.list(patient, now))
            .await
    }

    async fn appointment(
        &self,
        patient: PatientRef,
        appointment: AppointmentId,
        now: DateTime<Utc>,
    ) -> Result<Option<PatientAppointment>, PortError> {
        self.bounded("the appointment read", async {
            Ok(self
                .one(patient, appointment, now)
                .await?
                .map(|(a, _, _)| a))
        })
        .await
    }

    async fn appointment_patient(
        &self,
        appointment: AppointmentId,
    ) -> Result<Option<PatientRef>, PortError> {
        // Booked through the portal: the portal knows whose it is.
        let row = sqlx::query(
            "select patient_id, practice_id from fhir_bookings where appointment_id = $1",
        )
        .bind(appointment.0)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        if let Some(row) = row {
            return Ok(Some(PatientRef {
                id: PatientId(row.try_get(0).map_err(db_err)?),
                practice: PracticeId(row.try_get(1).map_err(db_err)?),
            }));
        }
        // Booked at the practice: its Patient's NHS number says whose.
        self.bounded("the appointment's patient", async {
            let Some(fhir_id) = self.fhir_id(APPOINTMENT, appointment.0).await? else {
                return Ok(None);
            };
            let Some(read) = self.client.read(APPOINTMENT, &fhir_id).await? else {
                return Ok(None);
            };
            let patient_ref = read
                .resource
                .get("participant")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|p| reference_id(p.get("actor"), "Patient").map(str::to_owned));
            let Some(patient_fhir_id) = patient_ref else {
                return Ok(None);
            };
            let Some(found) = self.client.read("Patient", &patient_fhir_id).await? else {
                return Ok(None);
            };
            let nhs = found
                .resource
                .get("identifier")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|i| {
                    i.get("system").and_then(Value::as_str)
                        == Some(crate::gp_system::fhir_import::NHS_NUMBER_SYSTEM)
                })
                .and_then(|i| i.get("value").and_then(Value::as_str))
                .map(str::to_owned);
            let Some(nhs) = nhs else { return Ok(None) };
            let row = sqlx::query("select id, practice_id from patients where nhs_number = $1")
                .bind(nhs)
                .fetch_optional(&self.db.pool)
                .await
                .map_err(db_err)?;
            row.map(|row| {
                Ok(PatientRef {
                    id: PatientId(row.try_get(0).map_err(db_err)?),
                    practice: PracticeId(row.try_get(1).map_err(db_err)?),
                })
            })
            .transpose()
        })
        .await
    }

    async fn release_rules(&self, practice: PracticeId) -> Result<ReleaseRules, PortError> {
        self.local.release_rules(practice).await
    }

    async fn set_release_rules(
        &self,
        practice: PracticeId,
        rules: ReleaseRules,
    ) -> Result<(), PortError> {
        self.local.set_release_rules(practice, rules).await
    }

    async fn create_sessions(
        &self,
        _practice: PracticeId,
        _by: AccountId,
        _session: &CheckedSession,
    ) -> Result<Result<Vec<SessionId>, SessionRefusal>, PortError> {
        Err(sessions_elsewhere())
    }

    async fn day_view(
        &self,
        _practice: PracticeId,
        _date: NaiveDate,
        _by: &Actor,
        _request_id: &str,
    ) -> Result<Vec<DaySession>, PortError> {
        Err(sessions_elsewhere())
    }

    async fn set_slot_blocked(
        &self,
        _practice: PracticeId,
        _slot: SlotId,
        _blocked: bool,
    ) -> Result<bool, PortError> {
        Err(sessions_elsewhere())
    }

    async fn cancel_session(
        &self,
        _practice: PracticeId,
        _session: SessionId,
        _reason: &str,
        _by: &Actor,
        _request_id: &str,
    ) -> Result<Option<u32>, PortError> {
        Err(sessions_elsewhere())
    }

    async fn mark_attendance(
        &self,
        _practice: PracticeId,
        _appointment: AppointmentId,
        _attendance: Attendance,
        _now: DateTime<Utc>,
        _by: &Actor,
        _request_id: &str,
    ) -> Result<Result<(), AttendanceError>, PortError> {
        Err(sessions_elsewhere())
    }
}

/// The appointment book `portal serve` uses, from its settings.
pub fn choose(
    db: &Db,
    outbox: &crate::outbox::Outbox,
    reminder_hours: i64,
    config: &crate::config::GpSystemConfig,
) -> anyhow::Result<std::sync::Arc<dyn Appointments>> {
    Ok(match config.gp_system {
        crate::config::GpSystemKind::Local => std::sync::Arc::new(SqlAppointments::new(
            db.clone(),
            outbox.clone(),
            reminder_hours,
        )),
        crate::config::GpSystemKind::Fhir => std::sync::Arc::new(FhirAppointments::new(
            db.clone(),
            outbox.clone(),
            reminder_hours,
            config,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_modes_come_from_codes_or_words() {
        let nurse = json!([{ "coding": [{ "code": "nurse" }] }]);
        let hca = json!({ "text": "Healthcare assistant clinic" });
        let none = json!([]);
        assert_eq!(role_of(&[&nurse]), ClinicianRole::Nurse);
        assert_eq!(role_of(&[&hca]), ClinicianRole::HealthcareAssistant);
        assert_eq!(role_of(&[&none]), ClinicianRole::Gp);
        let phone = json!({ "coding": [{ "display": "Telephone consultation" }] });
        let video = json!({ "coding": [{ "code": "video" }] });
        assert_eq!(mode_of(&[&phone]), AppointmentMode::Phone);
        assert_eq!(mode_of(&[&video]), AppointmentMode::Video);
        assert_eq!(mode_of(&[&none]), AppointmentMode::InPerson);
    }

    #[test]
    fn fhir_statuses_map_to_the_portals() {
        assert_eq!(appointment_status("booked"), AppointmentStatus::Booked);
        assert_eq!(
            appointment_status("cancelled"),
            AppointmentStatus::Cancelled
        );
        assert_eq!(
            appointment_status("noshow"),
            AppointmentStatus::DidNotAttend
        );
        assert_eq!(appointment_status("fulfilled"), AppointmentStatus::Attended);
    }
}
