//! The `local` GP system: the record held in the portal's own database
//! (`record_entries`, filled by `portal import-fhir`), for standalone
//! practices, the demo and the tests. Every read is one query, with the
//! patient's visibility (start date, hidden entries) in its `where`
//! clause, so a hidden entry never leaves the database for a patient.

use crate::db::{Db, now_unix};
use crate::stores::db_err;
use async_trait::async_trait;
use chrono::NaiveDate;
use domain::AccountId;
use domain::access::PatientRef;
use domain::gp_record::{
    AccessLevel, Code, DocumentView, EntryDetails, EntryId, EntryStatus, GpRecord, PAGE_SIZE,
    Provenance, RecordEntry, RecordSettings, Section, SectionPage, SectionQuery, Visibility,
};
use domain::ports::PortError;
use sqlx::Row;
use sqlx::any::AnyRow;

pub struct LocalGpRecord {
    pub db: Db,
}

/// The columns every read selects, in one place.
const ENTRY_COLUMNS: &str = "e.id, e.section, e.title, e.event_date, e.status, e.note, e.codes, \
     e.details, e.recorded_on, e.recorded_by, e.source_system, e.fetched_at, e.hidden_reason";

fn date(text: &str) -> Result<NaiveDate, PortError> {
    text.parse()
        .map_err(|e| PortError::new(format!("stored record date: {e}")))
}

fn entry_from_row(row: &AnyRow) -> Result<RecordEntry, PortError> {
    let section: String = row.try_get("section").map_err(db_err)?;
    let status: String = row.try_get("status").map_err(db_err)?;
    let event_date: Option<String> = row.try_get("event_date").map_err(db_err)?;
    let codes: String = row.try_get("codes").map_err(db_err)?;
    let details: String = row.try_get("details").map_err(db_err)?;
    let recorded_on: String = row.try_get("recorded_on").map_err(db_err)?;
    let fetched_at: i64 = row.try_get("fetched_at").map_err(db_err)?;
    let hidden: Option<String> = row.try_get("hidden_reason").map_err(db_err)?;
    Ok(RecordEntry {
        id: EntryId(row.try_get("id").map_err(db_err)?),
        section: Section::parse(&section)
            .ok_or_else(|| PortError::new(format!("stored section {section}")))?,
        title: row.try_get("title").map_err(db_err)?,
        date: event_date.as_deref().map(date).transpose()?,
        status: EntryStatus::parse(&status)
            .ok_or_else(|| PortError::new(format!("stored status {status}")))?,
        note: row.try_get("note").map_err(db_err)?,
        codes: serde_json::from_str::<Vec<Code>>(&codes)
            .map_err(|e| PortError::new(format!("stored codes: {e}")))?,
        details: serde_json::from_str::<EntryDetails>(&details)
            .map_err(|e| PortError::new(format!("stored details: {e}")))?,
        provenance: Provenance {
            recorded_on: date(&recorded_on)?,
            recorded_by: row.try_get("recorded_by").map_err(db_err)?,
            source_system: row.try_get("source_system").map_err(db_err)?,
            fetched_at: chrono::DateTime::from_timestamp(fetched_at, 0)
                .ok_or_else(|| PortError::new("stored fetch time out of range"))?,
        },
        hidden: hidden.is_some(),
    })
}

/// `and ...` clauses for a visibility; binds `$2` (the start date, or an
/// empty string meaning none, so the query text stays the same).
const VISIBLE: &str =
    "and ($2 = '' or e.recorded_on >= $2) and ($3 = 1 or e.hidden_reason is null)";

fn from_bind(visibility: Visibility) -> (String, i64) {
    (
        visibility
            .recorded_from
            .map(|d| d.to_string())
            .unwrap_or_default(),
        i64::from(visibility.include_hidden),
    )
}

fn date_bind(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

#[async_trait]
impl GpRecord for LocalGpRecord {
    async fn settings(&self, patient: PatientRef) -> Result<RecordSettings, PortError> {
        let row = sqlx::query(
            "select access_level, show_from from record_settings where patient_id = $1 and practice_id = $2",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(RecordSettings::default());
        };
        let level: String = row.try_get("access_level").map_err(db_err)?;
        let show_from: Option<String> = row.try_get("show_from").map_err(db_err)?;
        Ok(RecordSettings {
            level: AccessLevel::parse(&level)
                .ok_or_else(|| PortError::new(format!("stored access level {level}")))?,
            show_from: show_from.as_deref().map(date).transpose()?,
        })
    }

    async fn set_settings(
        &self,
        patient: PatientRef,
        settings: &RecordSettings,
        by: AccountId,
    ) -> Result<(), PortError> {
        sqlx::query(
            "insert into record_settings (patient_id, practice_id, access_level, show_from, updated_by, updated_at)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (patient_id) do update set access_level = excluded.access_level,
                 show_from = excluded.show_from, updated_by = excluded.updated_by,
                 updated_at = excluded.updated_at",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .bind(settings.level.as_str())
        .bind(settings.show_from.map(|d| d.to_string()))
        .bind(by.0)
        .bind(now_unix())
        .execute(&self.db.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn summary(
        &self,
        patient: PatientRef,
        visibility: Visibility,
    ) -> Result<Vec<RecordEntry>, PortError> {
        let (from, hidden) = from_bind(visibility);
        let sql = format!(
            "select {ENTRY_COLUMNS} from record_entries e
             where e.patient_id = $1 {VISIBLE} and e.practice_id = $4
               and e.section in ('allergies', 'medicines', 'problems') and e.status = 'active'
             order by e.section, coalesce(e.event_date, '') desc, e.id desc
             limit 500"
        );
        let rows = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(from)
            .bind(hidden)
            .bind(patient.practice.0)
            .fetch_all(&self.db.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn section(
        &self,
        patient: PatientRef,
        section: Section,
        query: &SectionQuery,
    ) -> Result<SectionPage, PortError> {
        let (from, hidden) = from_bind(query.visibility);
        let page = query.page.max(1);
        let offset = i64::from(page - 1) * i64::from(PAGE_SIZE);
        // One more than a page, to know whether there is a next one.
        let take = i64::from(PAGE_SIZE) + 1;
        let dated = "($6 = '' or e.event_date >= $6) and ($7 = '' or e.event_date <= $7)";
        let sql = if section == Section::TestResults {
            // Pages hold whole reports: the page's reports are chosen by
            // their latest date, then all their results come in the same
            // query.
            format!(
                "with groups as (
                     select e.group_key, coalesce(max(e.event_date), '') as latest, min(e.id) as first_id
                     from record_entries e
                     where e.patient_id = $1 {VISIBLE} and e.practice_id = $4 and e.section = $5 and {dated}
                     group by e.group_key
                     order by latest desc, first_id desc
                     limit {take} offset {offset}
                 )
                 select {ENTRY_COLUMNS}, g.latest, g.first_id
                 from record_entries e join groups g on g.group_key = e.group_key
                 where e.patient_id = $1 {VISIBLE} and e.practice_id = $4 and e.section = $5 and {dated}
                 order by g.latest desc, g.first_id desc, e.id"
            )
        } else {
            format!(
                "select {ENTRY_COLUMNS} from record_entries e
                 where e.patient_id = $1 {VISIBLE} and e.practice_id = $4 and e.section = $5 and {dated}
                 order by e.status, coalesce(e.event_date, '') desc, e.id desc
                 limit {take} offset {offset}"
            )
        };
        let rows = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(from)
            .bind(hidden)
            .bind(patient.practice.0)
            .bind(section.as_str())
            .bind(date_bind(query.from))
            .bind(date_bind(query.to))
            .fetch_all(&self.db.pool)
            .await
            .map_err(db_err)?;
        let mut entries = rows
            .iter()
            .map(entry_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let has_more = if section == Section::TestResults {
            let groups = domain::gp_record::group_results(entries.clone());
            if groups.len() > PAGE_SIZE as usize {
                let keep: usize = groups
                    .iter()
                    .take(PAGE_SIZE as usize)
                    .map(|g| g.results.len())
                    .sum();
                entries.truncate(keep);
                true
            } else {
                false
            }
        } else if entries.len() > PAGE_SIZE as usize {
            entries.truncate(PAGE_SIZE as usize);
            true
        } else {
            false
        };
        Ok(SectionPage {
            entries,
            page,
            has_more,
        })
    }

    async fn document(
        &self,
        patient: PatientRef,
        entry: EntryId,
        visibility: Visibility,
    ) -> Result<Option<DocumentView>, PortError> {
        let (from, hidden) = from_bind(visibility);
        let sql = format!(
            "select {ENTRY_COLUMNS}, e.body_text from record_entries e
             where e.patient_id = $1 {VISIBLE} and e.practice_id = $4
               and e.section = 'documents' and e.id = $5"
        );
        let row = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(from)
            .bind(hidden)
            .bind(patient.practice.0)
            .bind(entry.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(DocumentView {
            entry: entry_from_row(&row)?,
            text: row.try_get("body_text").map_err(db_err)?,
        }))
    }

    async fn recent_entries(
        &self,
        patient: PatientRef,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError> {
        let sql = format!(
            "select {ENTRY_COLUMNS} from record_entries e
             where e.patient_id = $1 and e.practice_id = $2
             order by e.recorded_on desc, e.id desc
             limit $3"
        );
        let rows = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(patient.practice.0)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(entry_from_row).collect()
    }

    async fn set_hidden(
        &self,
        patient: PatientRef,
        entry: EntryId,
        hidden_reason: Option<&str>,
        by: AccountId,
    ) -> Result<bool, PortError> {
        let (by, at) = match hidden_reason {
            Some(_) => (Some(by.0), Some(now_unix())),
            None => (None, None),
        };
        let done = sqlx::query(
            "update record_entries set hidden_reason = $1, hidden_by = $2, hidden_at = $3
             where id = $4 and patient_id = $5 and practice_id = $6",
        )
        .bind(hidden_reason)
        .bind(by)
        .bind(at)
        .bind(entry.0)
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .execute(&self.db.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn results_named(
        &self,
        patient: PatientRef,
        name: &str,
        visibility: Visibility,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError> {
        let (from, hidden) = from_bind(visibility);
        let sql = format!(
            "select {ENTRY_COLUMNS} from record_entries e
             where e.patient_id = $1 {VISIBLE} and e.practice_id = $4
               and e.section = 'test-results' and e.title = $5
             order by coalesce(e.event_date, '') desc, e.id desc
             limit $6"
        );
        let rows = sqlx::query(&sql)
            .bind(patient.id.0)
            .bind(from)
            .bind(hidden)
            .bind(patient.practice.0)
            .bind(name)
            .bind(i64::from(limit))
            .fetch_all(&self.db.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(entry_from_row).collect()
    }
}
