//! The `fhir` GP system: the record read from the practice's FHIR R4 server
//! on each view (`PORTAL_GP_SYSTEM=fhir`).
//!
//! - The patient is found by NHS number (`Patient?identifier=` with the
//!   NHS number system), else by the key an earlier `import-fhir` kept for
//!   them (`Patient/<id>`).
//! - Their AllergyIntolerance, Condition, MedicationRequest,
//!   MedicationStatement, Immunization, Observation, DiagnosticReport,
//!   Encounter and DocumentReference come from `?patient=` searches, every
//!   `Bundle.link` "next" page followed (same origin only: the
//!   Authorization header never goes elsewhere).
//! - The resources are read by the importer's own parser
//!   ([`super::fhir_import::parse_bundle`]), so both adapters show the
//!   same entries for the same resources.
//! - The practice's online-access settings and hidden entries stay in the
//!   portal's database: settings through the local adapter, a hidden
//!   entry as a row of `record_entries` keyed on its `Type/id`.
//! - Reads are idempotent, so a connection error is retried once. The
//!   whole read is bounded by the total timeout; a slow, failing or
//!   garbled server is a [`PortError::not_answering`], which the pages
//!   show as "Your GP practice's system is not answering. Try again later."
//! - Nothing identifying the patient (URLs carry the NHS number) goes into
//!   an error or the log.

use super::fhir_client::{FhirClient, not_answering};
use super::fhir_import::{ParsedEntry, parse_bundle};
use super::local::LocalGpRecord;
use crate::config::GpSystemConfig;
use crate::db::{Db, now_unix};
use crate::stores::db_err;
use async_trait::async_trait;
use domain::AccountId;
use domain::access::PatientRef;
use domain::gp_record::{
    DocumentView, EntryDetails, EntryId, GpRecord, PAGE_SIZE, Provenance, RecordEntry,
    RecordSettings, Section, SectionPage, SectionQuery, Visibility,
};
use domain::ports::PortError;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// The clinical resource types read for a record, in the order searched.
pub const RECORD_RESOURCES: [&str; 9] = [
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "Immunization",
    "Observation",
    "DiagnosticReport",
    "Encounter",
    "DocumentReference",
];

pub struct FhirGpRecord {
    db: Db,
    local: LocalGpRecord,
    client: FhirClient,
}

impl std::fmt::Debug for FhirGpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirGpRecord")
            .field("client", &self.client)
            .finish()
    }
}

/// One entry as read, with the key hidden entries are matched on.
#[derive(Clone, Debug)]
struct Fetched {
    source_key: String,
    group_key: Option<String>,
    body_text: Option<String>,
    parsed: ParsedEntry,
    entry: RecordEntry,
}

/// A stable entry id from the resource's `Type/id`: the same on every
/// read, positive and below 2^53 so it survives JavaScript numbers.
pub fn entry_id_for(source_key: &str) -> EntryId {
    // FNV-1a, 64 bits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in source_key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    EntryId(
        i64::try_from(hash & 0x001f_ffff_ffff_ffff)
            .unwrap_or(1)
            .max(1),
    )
}

impl FhirGpRecord {
    pub fn new(db: Db, config: &GpSystemConfig) -> anyhow::Result<Self> {
        Ok(Self {
            local: LocalGpRecord { db: db.clone() },
            client: FhirClient::new(config)?,
            db,
        })
    }

    /// The patient's whole record as the server holds it, bounded by the
    /// total timeout.
    async fn fetch(&self, patient: PatientRef) -> Result<Vec<Fetched>, PortError> {
        tokio::time::timeout(self.client.total, self.fetch_unbounded(patient))
            .await
            .map_err(|_| {
                not_answering(format!(
                    "no whole record within {} seconds",
                    self.client.total.as_secs()
                ))
            })?
    }

    async fn fetch_unbounded(&self, patient: PatientRef) -> Result<Vec<Fetched>, PortError> {
        let Some(resource) = self.client.find_patient(&self.db, patient).await? else {
            return Ok(Vec::new());
        };
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| not_answering("a Patient without an id"))?
            .to_owned();
        let searches = RECORD_RESOURCES.map(|kind| {
            let id = id.clone();
            async move {
                let reference = format!("Patient/{id}");
                self.client
                    .search(kind, &[("patient", reference.as_str())])
                    .await
            }
        });
        let found = futures_util::future::try_join_all(searches).await?;
        let found: Vec<Value> = found.into_iter().flatten().collect();
        let people = self.who_recorded(&found).await?;
        let mut entries = vec![json!({ "resource": resource })];
        entries.extend(
            found
                .into_iter()
                .chain(people)
                .map(|r| json!({ "resource": r })),
        );
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "meta": { "source": format!("FHIR R4 server ({})", self.client.origin) },
            "entry": entries,
        });
        let parsed = parse_bundle("FHIR server", &bundle, chrono::Utc::now().date_naive())
            .map_err(|e| not_answering(format!("the record could not be read: {e}")))?;
        if !parsed.problems.is_empty() {
            // Types only: the messages can quote patient data.
            tracing::warn!(
                count = parsed.problems.len(),
                types = ?parsed.problem_types,
                "FHIR resources left out of a record"
            );
        }
        let hidden = self.hidden_keys(patient).await?;
        let fetched_at = chrono::DateTime::from_timestamp(now_unix(), 0)
            .ok_or_else(|| PortError::new("clock out of range"))?;
        Ok(parsed
            .entries
            .into_iter()
            .map(|p| to_fetched(p, &hidden, fetched_at))
            .collect())
    }

    /// The practitioners and organisations the entries refer to (who
    /// recorded them), read once each, so names show as the importer
    /// shows them. One that is gone leaves the reference's display.
    async fn who_recorded(&self, resources: &[Value]) -> Result<Vec<Value>, PortError> {
        fn walk(v: &Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("reference")
                        && ["Practitioner/", "PractitionerRole/", "Organization/"]
                            .iter()
                            .any(|p| r.starts_with(p))
                        && !r.contains(['?', '#'])
                    {
                        out.insert(r.clone());
                    }
                    map.values().for_each(|x| walk(x, out));
                }
                Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
                _ => {}
            }
        }
        let mut references = std::collections::BTreeSet::new();
        resources.iter().for_each(|r| walk(r, &mut references));
        let reads = references.iter().take(100).map(|r| async move {
            self.client
                .get_json(
                    &format!("{}/{r}", self.client.base),
                    &[],
                    "Practitioner read",
                )
                .await
        });
        Ok(futures_util::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn hidden_keys(&self, patient: PatientRef) -> Result<HashSet<String>, PortError> {
        let rows = sqlx::query(
            "select source_key from record_entries
             where patient_id = $1 and practice_id = $2 and hidden_reason is not null",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_all(&self.db.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| r.try_get("source_key").map_err(db_err))
            .collect()
    }

    async fn visible(
        &self,
        patient: PatientRef,
        visibility: Visibility,
    ) -> Result<Vec<Fetched>, PortError> {
        Ok(self
            .fetch(patient)
            .await?
            .into_iter()
            .filter(|f| visibility.shows(f.entry.provenance.recorded_on, f.entry.hidden))
            .collect())
    }
}

fn to_fetched(
    parsed: ParsedEntry,
    hidden: &HashSet<String>,
    fetched_at: chrono::DateTime<chrono::Utc>,
) -> Fetched {
    let source_key = parsed.source_key.clone();
    // As the importer stores it: a result outside any report is its own group.
    let group_key = match &parsed.details {
        EntryDetails::TestResult { group_key, .. } if group_key.is_empty() => {
            Some(source_key.clone())
        }
        EntryDetails::TestResult { group_key, .. } => Some(group_key.clone()),
        _ => None,
    };
    let mut details = parsed.details.clone();
    if let (EntryDetails::TestResult { group_key: g, .. }, Some(k)) = (&mut details, &group_key) {
        g.clone_from(k);
    }
    let entry = RecordEntry {
        id: entry_id_for(&source_key),
        section: parsed.section,
        title: parsed.title.clone(),
        date: parsed.date,
        status: parsed.status,
        note: parsed.note.clone(),
        codes: parsed.codes.clone(),
        provenance: Provenance {
            recorded_on: parsed.recorded_on,
            recorded_by: parsed.recorded_by.clone(),
            source_system: parsed.source_system.clone(),
            fetched_at,
        },
        details,
        hidden: hidden.contains(&source_key),
    };
    Fetched {
        body_text: parsed.body_text.clone(),
        group_key,
        source_key,
        parsed,
        entry,
    }
}

/// Newest first, as the local adapter orders a section: active before
/// past, then by date (undated last), then by id.
fn section_order(a: &RecordEntry, b: &RecordEntry) -> std::cmp::Ordering {
    a.status
        .as_str()
        .cmp(b.status.as_str())
        .then_with(|| b.date.cmp(&a.date))
        .then_with(|| b.id.0.cmp(&a.id.0))
}

fn in_dates(entry: &RecordEntry, query: &SectionQuery) -> bool {
    let after = query
        .from
        .is_none_or(|from| entry.date.is_some_and(|d| d >= from));
    let before = query
        .to
        .is_none_or(|to| entry.date.is_some_and(|d| d <= to));
    after && before
}

/// One page of a section from the whole record, as the local adapter
/// pages it (test results by whole reports).
fn page_of(all: Vec<Fetched>, section: Section, query: &SectionQuery) -> SectionPage {
    let page = query.page.max(1);
    let size = PAGE_SIZE as usize;
    let skip = (page as usize - 1) * size;
    let chosen: Vec<Fetched> = all
        .into_iter()
        .filter(|f| f.entry.section == section && in_dates(&f.entry, query))
        .collect();
    if section == Section::TestResults {
        let mut groups: HashMap<String, Vec<RecordEntry>> = HashMap::new();
        for f in chosen {
            groups
                .entry(f.group_key.unwrap_or(f.source_key))
                .or_default()
                .push(f.entry);
        }
        let mut groups: Vec<Vec<RecordEntry>> = groups.into_values().collect();
        for g in &mut groups {
            g.sort_by_key(|e| e.id.0);
        }
        let latest = |g: &Vec<RecordEntry>| g.iter().filter_map(|e| e.date).max();
        let first = |g: &Vec<RecordEntry>| g.first().map(|e| e.id.0).unwrap_or_default();
        groups.sort_by(|a, b| {
            latest(b)
                .cmp(&latest(a))
                .then_with(|| first(b).cmp(&first(a)))
        });
        let has_more = groups.len() > skip + size;
        SectionPage {
            entries: groups.into_iter().skip(skip).take(size).flatten().collect(),
            page,
            has_more,
        }
    } else {
        let mut entries: Vec<RecordEntry> = chosen.into_iter().map(|f| f.entry).collect();
        entries.sort_by(section_order);
        let has_more = entries.len() > skip + size;
        SectionPage {
            entries: entries.into_iter().skip(skip).take(size).collect(),
            page,
            has_more,
        }
    }
}

#[async_trait]
impl GpRecord for FhirGpRecord {
    async fn settings(&self, patient: PatientRef) -> Result<RecordSettings, PortError> {
        self.local.settings(patient).await
    }

    async fn set_settings(
        &self,
        patient: PatientRef,
        settings: &RecordSettings,
        by: AccountId,
    ) -> Result<(), PortError> {
        self.local.set_settings(patient, settings, by).await
    }

    async fn summary(
        &self,
        patient: PatientRef,
        visibility: Visibility,
    ) -> Result<Vec<RecordEntry>, PortError> {
        let mut entries: Vec<RecordEntry> = self
            .visible(patient, visibility)
            .await?
            .into_iter()
            .map(|f| f.entry)
            .filter(|e| {
                matches!(
                    e.section,
                    Section::Allergies | Section::Medicines | Section::Problems
                ) && e.status == domain::gp_record::EntryStatus::Active
            })
            .collect();
        entries.sort_by(|a, b| {
            a.section
                .as_str()
                .cmp(b.section.as_str())
                .then_with(|| b.date.cmp(&a.date))
                .then_with(|| b.id.0.cmp(&a.id.0))
        });
        entries.truncate(500);
        Ok(entries)
    }

    async fn section(
        &self,
        patient: PatientRef,
        section: Section,
        query: &SectionQuery,
    ) -> Result<SectionPage, PortError> {
        let all = self.visible(patient, query.visibility).await?;
        Ok(page_of(all, section, query))
    }

    async fn document(
        &self,
        patient: PatientRef,
        entry: EntryId,
        visibility: Visibility,
    ) -> Result<Option<DocumentView>, PortError> {
        Ok(self
            .visible(patient, visibility)
            .await?
            .into_iter()
            .find(|f| f.entry.id == entry && f.entry.section == Section::Documents)
            .map(|f| DocumentView {
                entry: f.entry,
                text: f.body_text,
            }))
    }

    async fn results_named(
        &self,
        patient: PatientRef,
        name: &str,
        visibility: Visibility,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError> {
        // As the local adapter answers it: one test's results, newest first.
        let mut results: Vec<RecordEntry> = self
            .visible(patient, visibility)
            .await?
            .into_iter()
            .map(|f| f.entry)
            .filter(|e| e.section == Section::TestResults && e.title == name)
            .collect();
        results.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| b.id.0.cmp(&a.id.0)));
        results.truncate(limit as usize);
        Ok(results)
    }

    async fn recent_entries(
        &self,
        patient: PatientRef,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError> {
        let mut entries: Vec<RecordEntry> = self
            .fetch(patient)
            .await?
            .into_iter()
            .map(|f| f.entry)
            .collect();
        entries.sort_by(|a, b| {
            b.provenance
                .recorded_on
                .cmp(&a.provenance.recorded_on)
                .then_with(|| b.id.0.cmp(&a.id.0))
        });
        entries.truncate(limit as usize);
        Ok(entries)
    }

    async fn set_hidden(
        &self,
        patient: PatientRef,
        entry: EntryId,
        hidden_reason: Option<&str>,
        by: AccountId,
    ) -> Result<bool, PortError> {
        let Some(found) = self
            .fetch(patient)
            .await?
            .into_iter()
            .find(|f| f.entry.id == entry)
        else {
            return Ok(false);
        };
        let (by, at) = match hidden_reason {
            Some(_) => (Some(by.0), Some(now_unix())),
            None => (None, None),
        };
        let e = &found.parsed;
        let codes = serde_json::to_string(&found.entry.codes).map_err(PortError::new)?;
        let details = serde_json::to_string(&found.entry.details).map_err(PortError::new)?;
        // The entry's copy keeps the hiding with the resource's key; its
        // other columns satisfy the table's constraints and show staff
        // what was hidden even if the server later drops it.
        sqlx::query(
            "insert into record_entries (practice_id, patient_id, section, source_key, title,
                 event_date, group_key, status, note, codes, details, body_text, recorded_on,
                 recorded_by, source_system, fetched_at, hidden_reason, hidden_by, hidden_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             on conflict (patient_id, source_key) do update set hidden_reason = excluded.hidden_reason,
                 hidden_by = excluded.hidden_by, hidden_at = excluded.hidden_at",
        )
        .bind(patient.practice.0)
        .bind(patient.id.0)
        .bind(e.section.as_str())
        .bind(&found.source_key)
        .bind(&e.title)
        .bind(e.date.map(|d| d.to_string()))
        .bind(found.group_key.as_deref())
        .bind(e.status.as_str())
        .bind(e.note.as_deref())
        .bind(codes)
        .bind(details)
        .bind(found.body_text.as_deref())
        .bind(e.recorded_on.to_string())
        .bind(e.recorded_by.as_deref())
        .bind(&e.source_system)
        .bind(now_unix())
        .bind(hidden_reason)
        .bind(by)
        .bind(at)
        .execute(&self.db.pool)
        .await
        .map_err(db_err)?;
        Ok(true)
    }
}

/// The adapter `portal serve` uses, from its settings.
pub fn choose(db: &Db, config: &GpSystemConfig) -> anyhow::Result<std::sync::Arc<dyn GpRecord>> {
    Ok(match config.gp_system {
        crate::config::GpSystemKind::Local => std::sync::Arc::new(LocalGpRecord { db: db.clone() }),
        crate::config::GpSystemKind::Fhir => {
            std::sync::Arc::new(FhirGpRecord::new(db.clone(), config)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn entry_ids_are_stable_positive_and_fit_javascript() {
        let a = entry_id_for("Observation/1");
        assert_eq!(a, entry_id_for("Observation/1"));
        assert_ne!(a, entry_id_for("Observation/2"));
        for key in [
            "",
            "Condition/x",
            "DocumentReference/very-long-id-0123456789",
        ] {
            let id = entry_id_for(key).0;
            assert!(id > 0 && id < (1_i64 << 53), "{key}: {id}");
        }
    }

    #[test]
    fn settings_are_checked_before_serving() {
        let mut config = GpSystemConfig::local();
        config.gp_system = crate::config::GpSystemKind::Fhir;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let db = rt
            .block_on(crate::db::connect(&crate::config::DatabaseConfig {
                database_url: SecretString::from("sqlite::memory:".to_owned()),
                max_connections: 1,
            }))
            .expect("in-memory database");
        let err = FhirGpRecord::new(db.clone(), &config).expect_err("no base URL");
        assert!(err.to_string().contains("PORTAL_FHIR_BASE_URL"));
        config.fhir_base_url = Some("http://gp.example.com/fhir".into());
        let err = FhirGpRecord::new(db.clone(), &config).expect_err("plain http");
        assert!(err.to_string().contains("https://"));
        config.fhir_base_url = Some("https://gp.example.com/fhir/".into());
        config.fhir_authorization = Some(SecretString::from("Bearer s3cret".to_owned()));
        let record = FhirGpRecord::new(db, &config).expect("valid");
        assert_eq!(record.client.base, "https://gp.example.com/fhir");
        assert!(!format!("{record:?}").contains("s3cret"));
    }
}
