//! `portal import-fhir`: loads FHIR R4 Bundles (transaction, batch,
//! collection or searchset) into the portal's own copy of the record.
//!
//! - Patients are matched by NHS number (identifier system
//!   `https://fhir.nhs.uk/Id/nhs-number`, check digit checked), else by the
//!   bundle's own key for them from an earlier import, else created
//!   without one.
//! - Idempotent: every entry is keyed on its resource's fullUrl (or
//!   type/id), so a second run adds nothing.
//! - A bad resource is reported with its file and position, and the rest
//!   imports; each patient's entries go in one transaction.
//! - Files larger than [`MAX_FILE_BYTES`] are refused before being read.
//!
//! Parsed with serde_json into narrow views of the resources: the FHIR
//! model crates available have no R4 (fhir-model offers STU3, R4B and R5)
//! and generate every resource type, a long build on two cores for the
//! dozen fields of nine resources the record needs.

use crate::db::{Db, now_unix};
use base64::Engine;
use chrono::NaiveDate;
use domain::gp_record::{
    Code, EntryDetails, EntryStatus, MedicineKind, ReferenceRange, ResultAmount, ResultValue,
    Section,
};
use domain::{NhsNumber, PatientId, PracticeId};
use serde_json::Value;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest bundle read (a Synthea patient with decades of results is
/// under 2 MB). Larger files are refused before anything is read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

/// A resource (or file) that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportProblem {
    pub file: String,
    /// "entry 12 (Observation)", or None for the file as a whole.
    pub position: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.position {
            Some(p) => write!(f, "{}, {p}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Per resource type: added now, already there from an earlier import,
/// refused with a problem, and read but not shown as entries (reports,
/// which group their results; claims, care plans...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TypeCount {
    pub added: u64,
    pub unchanged: u64,
    pub problems: u64,
    pub not_in_record: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: u64,
    pub counts: BTreeMap<String, TypeCount>,
    pub patients_created: u64,
    pub patients_matched: u64,
    pub problems: Vec<ImportProblem>,
}

impl ImportReport {
    pub fn added(&self) -> u64 {
        self.counts.values().map(|c| c.added).sum()
    }

    /// The closing summary, one line per resource type.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "Read {} file(s): {} patient(s) created, {} matched to records already here.\n",
            self.files, self.patients_created, self.patients_matched
        );
        for (kind, c) in &self.counts {
            let rest = if kind == "DiagnosticReport" {
                "read to group their results"
            } else {
                "not part of the online record"
            };
            out.push_str(&format!(
                "  {kind}: {} added, {} already there, {} with problems, {} {rest}\n",
                c.added, c.unchanged, c.problems, c.not_in_record
            ));
        }
        if self.problems.is_empty() {
            out.push_str("No problems.\n");
        } else {
            out.push_str(&format!(
                "{} problem(s); the rest was imported:\n",
                self.problems.len()
            ));
            for p in &self.problems {
                out.push_str(&format!("  {p}\n"));
            }
        }
        out
    }

    fn count(&mut self, kind: &str) -> &mut TypeCount {
        self.counts.entry(kind.to_owned()).or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "No practice with ODS code {0} exists. Check the code, or run `portal seed-demo` to create the demo practices"
    )]
    UnknownPractice(String),
    #[error("Could not read {path}: {cause}. Check the path and that the portal may read it")]
    Unreadable { path: String, cause: std::io::Error },
    #[error("Could not save to the database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where an import puts the patients it finds.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// Match or create each Patient of the bundle.
    ByPatient,
    /// Everything in the bundle belongs to this patient (the demo seed,
    /// which gives a demo patient a Synthea record).
    Into(PatientId),
}

/// Imports a file, or every `.json` file of a directory (sorted by name).
pub async fn import_path(
    db: &Db,
    practice_ods: &str,
    path: &Path,
) -> Result<ImportReport, ImportError> {
    let practice = practice_id(db, practice_ods).await?;
    let mut report = ImportReport::default();
    for file in files_of(path)? {
        import_file(db, practice, &file, Target::ByPatient, &mut report).await?;
    }
    Ok(report)
}

fn files_of(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let unreadable = |cause| ImportError::Unreadable {
        path: path.display().to_string(),
        cause,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = std::fs::read_dir(path)
        .map_err(unreadable)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("json"))
        })
        .collect::<Vec<_>>();
    files.sort();
    Ok(files)
}

pub async fn practice_id(db: &Db, ods: &str) -> Result<PracticeId, ImportError> {
    let ods = ods.trim().to_ascii_uppercase();
    let row = sqlx::query("select id from practices where ods_code = $1")
        .bind(&ods)
        .fetch_optional(&db.pool)
        .await?;
    match row {
        Some(r) => Ok(PracticeId(r.try_get("id")?)),
        None => Err(ImportError::UnknownPractice(ods)),
    }
}

/// Reads at most [`MAX_FILE_BYTES`]: a file that grows while being read,
/// or a pipe, cannot make the portal hold more.
fn read_bounded(path: &Path) -> Result<Result<Vec<u8>, String>, std::io::Error> {
    let too_big = |size: u64| {
        format!(
            "the file is {} MB; the largest bundle import-fhir reads is {} MB. Export the record as one bundle per patient, then import the folder",
            size / (1024 * 1024),
            MAX_FILE_BYTES / (1024 * 1024)
        )
    };
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Ok(Err(too_big(size)));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Ok(Err(too_big(bytes.len() as u64)));
    }
    Ok(Ok(bytes))
}

/// Imports one bundle file into the report. File-level problems (not JSON,
/// not a Bundle, too big) are reported, not returned: the next file goes on.
pub async fn import_file(
    db: &Db,
    practice: PracticeId,
    path: &Path,
    target: Target,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    report.files += 1;
    let problem = |message: String| ImportProblem {
        file: file.clone(),
        position: None,
        message,
    };
    let bytes = match read_bounded(path).map_err(|cause| ImportError::Unreadable {
        path: path.display().to_string(),
        cause,
    })? {
        Ok(b) => b,
        Err(message) => {
            report.problems.push(problem(message));
            return Ok(());
        }
    };
    report.files -= 1;
    import_bytes(db, practice, &file, bytes, target, report).await
}

/// Imports one bundle already in memory (at most [`MAX_FILE_BYTES`]).
pub async fn import_bytes(
    db: &Db,
    practice: PracticeId,
    file: &str,
    bytes: Vec<u8>,
    target: Target,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    report.files += 1;
    let problem = |message: String| ImportProblem {
        file: file.to_owned(),
        position: None,
        message,
    };
    let bundle: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            report.problems.push(problem(format!(
                "this is not JSON (line {}, column {}: {}). Check that the file is a FHIR bundle exported as JSON",
                e.line(),
                e.column(),
                e
            )));
            return Ok(());
        }
    };
    drop(bytes);
    let parsed = match parse_bundle(file, &bundle, chrono::Utc::now().date_naive()) {
        Ok(p) => p,
        Err(message) => {
            report.problems.push(problem(message));
            return Ok(());
        }
    };
    store(db, practice, parsed, target, report).await
}

/// A patient found in a bundle.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedPatient {
    pub key: String,
    pub nhs_number: Option<NhsNumber>,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
}

/// An entry ready to store.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedEntry {
    pub resource_type: String,
    pub patient_key: String,
    pub source_key: String,
    pub section: Section,
    pub title: String,
    pub date: Option<NaiveDate>,
    pub status: EntryStatus,
    pub note: Option<String>,
    pub codes: Vec<Code>,
    pub details: EntryDetails,
    pub body_text: Option<String>,
    pub recorded_on: NaiveDate,
    pub recorded_by: Option<String>,
    pub source_system: String,
}

#[derive(Debug, Default)]
pub struct ParsedBundle {
    pub patients: Vec<ParsedPatient>,
    pub entries: Vec<ParsedEntry>,
    /// Resources read but not shown in the record (practitioners, claims...).
    pub other: Vec<String>,
    pub problems: Vec<ImportProblem>,
    /// Resource types of the problems, for the counts.
    pub problem_types: Vec<String>,
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// A FHIR date or dateTime as a day: "2019", "2019-03" and "2019-03-27T..."
/// all work; anything else is None.
pub fn fhir_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    match s.len() {
        4 => NaiveDate::from_ymd_opt(s.parse().ok()?, 1, 1),
        7 => NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d").ok(),
        n if n >= 10 => NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn codes_of(concept: Option<&Value>) -> Vec<Code> {
    concept
        .and_then(|c| c.get("coding"))
        .and_then(Value::as_array)
        .map(|codings| {
            codings
                .iter()
                .filter_map(|c| {
                    Some(Code {
                        system: text(c, "system")?.to_owned(),
                        code: text(c, "code")?.to_owned(),
                        display: text(c, "display").map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The words for a CodeableConcept: its text, else its first display.
fn concept_text(concept: Option<&Value>) -> Option<String> {
    let concept = concept?;
    if let Some(t) = text(concept, "text") {
        return Some(t.to_owned());
    }
    concept
        .get("coding")?
        .as_array()?
        .iter()
        .find_map(|c| text(c, "display"))
        .map(str::to_owned)
}

fn first<'a>(v: &'a Value, field: &str) -> Option<&'a Value> {
    v.get(field)
        .and_then(Value::as_array)
        .and_then(|a| a.first())
}

fn reference(v: Option<&Value>) -> Option<&str> {
    v.and_then(|r| text(r, "reference"))
}

fn status_code(v: &Value, field: &str) -> Option<String> {
    v.get(field)
        .and_then(|c| first(c, "coding"))
        .and_then(|c| text(c, "code"))
        .map(str::to_owned)
}

fn note_of(v: &Value) -> Option<String> {
    let notes: Vec<&str> = v
        .get("note")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|n| text(n, "text"))
        .collect();
    (!notes.is_empty()).then(|| notes.join("\n"))
}

fn quantity(v: &Value) -> Option<(f64, Option<String>)> {
    let value = v.get("value")?.as_f64()?;
    let unit = text(v, "unit")
        .or_else(|| text(v, "code"))
        .map(str::to_owned);
    Some((value, unit))
}

fn reference_range(v: &Value) -> Option<ReferenceRange> {
    let r = first(v, "referenceRange")?;
    let bound = |f: &str| {
        r.get(f)
            .and_then(|q| q.get("value"))
            .and_then(Value::as_f64)
    };
    let range = ReferenceRange {
        low: bound("low"),
        high: bound("high"),
        text: text(r, "text").map(str::to_owned),
    };
    (range.low.is_some() || range.high.is_some() || range.text.is_some()).then_some(range)
}

fn result_value(name: String, v: &Value) -> Option<ResultValue> {
    let (amount, unit) = if let Some(q) = v.get("valueQuantity") {
        let (n, unit) = quantity(q)?;
        (ResultAmount::Number(n), unit)
    } else if let Some(c) = v.get("valueCodeableConcept") {
        (ResultAmount::Text(concept_text(Some(c))?), None)
    } else if let Some(s) = text(v, "valueString") {
        (ResultAmount::Text(s.to_owned()), None)
    } else if let Some(b) = v.get("valueBoolean").and_then(Value::as_bool) {
        (
            ResultAmount::Text(if b { "Yes" } else { "No" }.to_owned()),
            None,
        )
    } else if let Some(i) = v.get("valueInteger").and_then(Value::as_f64) {
        (ResultAmount::Number(i), None)
    } else {
        return None;
    };
    Some(ResultValue {
        name,
        amount,
        unit,
        range: reference_range(v),
    })
}

/// How to take a medicine, in words, from a FHIR Dosage.
pub fn describe_dose(dosage: &Value) -> Option<String> {
    if let Some(t) = text(dosage, "text") {
        return Some(t.to_owned());
    }
    let mut parts = Vec::new();
    if let Some((value, unit)) = first(dosage, "doseAndRate")
        .and_then(|d| d.get("doseQuantity"))
        .and_then(quantity)
    {
        parts.push(format!(
            "{}{}",
            domain::gp_record::number(value),
            unit.map(|u| format!(" {u}")).unwrap_or_default()
        ));
    }
    if let Some(repeat) = dosage.get("timing").and_then(|t| t.get("repeat")) {
        let frequency = repeat.get("frequency").and_then(Value::as_u64);
        let period = repeat.get("period").and_then(Value::as_f64);
        let unit = match text(repeat, "periodUnit") {
            Some("h") => Some("hour"),
            Some("d") => Some("day"),
            Some("wk") => Some("week"),
            Some("mo") => Some("month"),
            _ => None,
        };
        if let (Some(f), Some(p), Some(u)) = (frequency, period, unit) {
            let times = if f == 1 {
                "once".to_owned()
            } else if f == 2 {
                "twice".to_owned()
            } else {
                format!("{f} times")
            };
            let every = if (p - 1.0).abs() < f64::EPSILON {
                format!("a {u}")
            } else {
                format!("every {} {u}s", domain::gp_record::number(p))
            };
            parts.push(format!("{times} {every}"));
        }
    }
    if dosage.get("asNeededBoolean").and_then(Value::as_bool) == Some(true) {
        parts.push("when needed".to_owned());
    }
    let instructions: Vec<String> = dosage
        .get("additionalInstruction")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| concept_text(Some(c))).collect())
        .unwrap_or_default();
    parts.extend(instructions);
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Repeat or acute, from what FHIR says of the course of therapy.
pub fn medicine_kind(request: &Value) -> MedicineKind {
    let course = request
        .get("courseOfTherapyType")
        .and_then(|c| first(c, "coding"))
        .and_then(|c| text(c, "code"));
    let repeats = request
        .get("dispenseRequest")
        .and_then(|d| d.get("numberOfRepeatsAllowed"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    match course {
        Some("continuous") | Some("seasonal") => MedicineKind::Repeat,
        Some("acute") => MedicineKind::Acute,
        _ if repeats > 0 => MedicineKind::Repeat,
        _ => MedicineKind::Acute,
    }
}

/// Names of the people and organisations a bundle mentions, by reference.
type Names = HashMap<String, String>;

fn person_name(v: &Value) -> Option<String> {
    let name = first(v, "name")?;
    if let Some(t) = text(name, "text") {
        return Some(t.to_owned());
    }
    let words = |f: &str| -> Vec<String> {
        name.get(f)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all = words("prefix");
    all.extend(words("given"));
    all.extend(text(name, "family").map(str::to_owned));
    (!all.is_empty()).then(|| all.join(" "))
}

fn who(names: &Names, r: Option<&Value>) -> Option<String> {
    let r = r?;
    reference(Some(r))
        .and_then(|key| names.get(key).cloned())
        .or_else(|| text(r, "display").map(str::to_owned))
}

/// Reads a bundle. File-level problems are the Err; resource problems are
/// collected in the result with their positions.
pub fn parse_bundle(file: &str, bundle: &Value, today: NaiveDate) -> Result<ParsedBundle, String> {
    if text(bundle, "resourceType") != Some("Bundle") {
        return Err(match text(bundle, "resourceType") {
            Some(other) => format!(
                "this is a FHIR {other}, not a Bundle. import-fhir reads Bundles (transaction or collection)"
            ),
            None => "this is JSON but not FHIR (it has no resourceType). import-fhir reads FHIR R4 Bundles".to_owned(),
        });
    }
    match text(bundle, "type") {
        Some("transaction" | "collection" | "batch" | "searchset") => {}
        other => {
            return Err(format!(
                "the Bundle's type is {}; import-fhir reads transaction, batch, collection and searchset bundles",
                other.unwrap_or("missing")
            ));
        }
    }
    let entries = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let source_system = bundle
        .get("meta")
        .and_then(|m| text(m, "source"))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("FHIR R4 import ({file})"));

    let mut out = ParsedBundle::default();
    // Every way a resource can be referred to: its fullUrl and type/id.
    let keys_of = |i: usize, e: &Value| -> (String, Vec<String>) {
        let resource = e.get("resource");
        let kind = resource.and_then(|r| text(r, "resourceType")).unwrap_or("");
        let typed = resource
            .and_then(|r| text(r, "id"))
            .map(|id| format!("{kind}/{id}"));
        let full = text(e, "fullUrl").map(str::to_owned);
        let key = full
            .clone()
            .or_else(|| typed.clone())
            .unwrap_or_else(|| format!("{file}#entry{i}"));
        (key, full.into_iter().chain(typed).collect())
    };

    // First pass: who is who, and which results belong to which report.
    let mut names = Names::new();
    let mut patient_keys: HashMap<String, String> = HashMap::new();
    let mut reports: HashMap<String, (String, String)> = HashMap::new();
    let mut bad_patients: Vec<String> = Vec::new();
    let problem = |out: &mut ParsedBundle, i: usize, kind: &str, message: String| {
        out.problems.push(ImportProblem {
            file: file.to_owned(),
            position: Some(format!("entry {} ({kind})", i + 1)),
            message,
        });
        out.problem_types.push(kind.to_owned());
    };
    for (i, e) in entries.iter().enumerate() {
        let Some(r) = e.get("resource") else { continue };
        let (key, aliases) = keys_of(i, e);
        match text(r, "resourceType") {
            Some("Practitioner") | Some("Organization") | Some("PractitionerRole") => {
                let name = person_name(r).or_else(|| text(r, "name").map(str::to_owned));
                if let Some(name) = name {
                    for a in aliases {
                        names.insert(a, name.clone());
                    }
                }
            }
            Some("Patient") => match parse_patient(&key, r, today) {
                Ok(p) => {
                    for a in aliases {
                        patient_keys.insert(a, key.clone());
                    }
                    out.patients.push(p);
                }
                Err(message) => {
                    problem(
                        &mut out,
                        i,
                        "Patient",
                        format!("{message}; this patient and their entries were not imported"),
                    );
                    bad_patients.extend(aliases);
                }
            },
            Some("DiagnosticReport") => {
                let title =
                    concept_text(r.get("code")).unwrap_or_else(|| "Test results".to_owned());
                for result in r
                    .get("result")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(target) = reference(Some(result)) {
                        reports.insert(target.to_owned(), (key.clone(), title.clone()));
                    }
                }
            }
            _ => {}
        }
    }

    // Second pass: the entries.
    for (i, e) in entries.iter().enumerate() {
        let Some(r) = e.get("resource") else {
            problem(
                &mut out,
                i,
                "unknown",
                "the entry has no resource".to_owned(),
            );
            continue;
        };
        let Some(kind) = text(r, "resourceType") else {
            problem(
                &mut out,
                i,
                "unknown",
                "the resource has no resourceType, so it is not FHIR".to_owned(),
            );
            continue;
        };
        if matches!(
            kind,
            "Patient" | "Practitioner" | "Organization" | "PractitionerRole"
        ) {
            continue;
        }
        if !matches!(
            kind,
            "AllergyIntolerance"
                | "Condition"
                | "MedicationRequest"
                | "MedicationStatement"
                | "Immunization"
                | "Observation"
                | "DiagnosticReport"
                | "Encounter"
                | "DocumentReference"
        ) {
            out.other.push(kind.to_owned());
            continue;
        }
        let (key, aliases) = keys_of(i, e);
        let subject = reference(r.get("subject")).or_else(|| reference(r.get("patient")));
        let patient_key = match subject {
            Some(s) if bad_patients.iter().any(|b| b == s) => {
                out.other.push(kind.to_owned());
                continue;
            }
            Some(s) => patient_keys.get(s).cloned(),
            None => None,
        };
        let Some(patient_key) = patient_key else {
            problem(
                &mut out,
                i,
                kind,
                "it does not refer to a patient in this bundle (subject or patient)".to_owned(),
            );
            continue;
        };
        if kind == "DiagnosticReport" {
            // Reports group their results; they are not entries themselves.
            out.other.push(kind.to_owned());
            continue;
        }
        let group = aliases.iter().find_map(|a| reports.get(a)).cloned();
        match parse_entry(kind, r, &names, group, today) {
            Ok(mut entry) => {
                entry.patient_key = patient_key;
                entry.source_key = key;
                entry.source_system = source_system.clone();
                out.entries.push(entry);
            }
            Err(message) => problem(&mut out, i, kind, message),
        }
    }
    Ok(out)
}

fn parse_patient(key: &str, r: &Value, today: NaiveDate) -> Result<ParsedPatient, String> {
    let mut nhs_number = None;
    for id in r
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if text(id, "system") == Some(NHS_NUMBER_SYSTEM) {
            let value = text(id, "value").unwrap_or("");
            nhs_number = Some(
                NhsNumber::parse(value)
                    .map_err(|e| format!("its NHS number {value} is not valid ({e})"))?,
            );
        }
    }
    let name = first(r, "name").ok_or("it has no name (Patient.name)")?;
    let family = text(name, "family").ok_or("it has no family name (Patient.name.family)")?;
    let given = name
        .get("given")
        .and_then(Value::as_array)
        .and_then(|g| g.first())
        .and_then(Value::as_str)
        .ok_or("it has no given name (Patient.name.given)")?;
    let birth = text(r, "birthDate").ok_or("it has no date of birth (Patient.birthDate)")?;
    let date_of_birth =
        fhir_date(birth).ok_or_else(|| format!("its date of birth {birth} is not a date"))?;
    if date_of_birth > today {
        return Err(format!("its date of birth {birth} is in the future"));
    }
    Ok(ParsedPatient {
        key: key.to_owned(),
        nhs_number,
        given_name: given.trim().to_owned(),
        family_name: family.trim().to_owned(),
        date_of_birth,
    })
}

/// One clinical resource as an entry (keys and source filled by the caller).
fn parse_entry(
    kind: &str,
    r: &Value,
    names: &Names,
    group: Option<(String, String)>,
    today: NaiveDate,
) -> Result<ParsedEntry, String> {
    let date_of = |fields: &[&str]| -> Result<Option<NaiveDate>, String> {
        for f in fields {
            let value = match *f {
                "period.start" => r.get("period").and_then(|p| text(p, "start")),
                "effectivePeriod.start" => r.get("effectivePeriod").and_then(|p| text(p, "start")),
                f => text(r, f),
            };
            if let Some(v) = value {
                let d = fhir_date(v).ok_or_else(|| format!("its date {v} ({f}) is not a date"))?;
                if d > today {
                    return Err(format!(
                        "its date {v} ({f}) is in the future; check the export or the clinical system's clock"
                    ));
                }
                return Ok(Some(d));
            }
        }
        Ok(None)
    };
    let status_required = |field: &str| -> Result<&str, String> {
        text(r, field).ok_or_else(|| format!("it has no {field}, which FHIR requires"))
    };
    let mut entry = ParsedEntry {
        resource_type: kind.to_owned(),
        patient_key: String::new(),
        source_key: String::new(),
        section: Section::Problems,
        title: String::new(),
        date: None,
        status: EntryStatus::Active,
        note: note_of(r),
        codes: vec![],
        details: EntryDetails::Problem { ended: None },
        body_text: None,
        recorded_on: today,
        recorded_by: None,
        source_system: String::new(),
    };
    let named = |concept: Option<&Value>, field: &str| -> Result<String, String> {
        concept_text(concept)
            .ok_or_else(|| format!("it has no {field} saying what it is, which the record needs"))
    };
    let recorded: Option<NaiveDate>;
    match kind {
        "AllergyIntolerance" => {
            entry.section = Section::Allergies;
            entry.title = named(r.get("code"), "code")?;
            entry.codes = codes_of(r.get("code"));
            entry.status = match status_code(r, "clinicalStatus").as_deref() {
                Some("inactive" | "resolved") => EntryStatus::Past,
                _ => EntryStatus::Active,
            };
            let reactions = r
                .get("reaction")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|re| {
                    re.get("manifestation")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|m| concept_text(Some(m)))
                })
                .collect();
            entry.details = EntryDetails::Allergy {
                kind: text(r, "type").map(str::to_owned),
                category: first(r, "category")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                criticality: text(r, "criticality").map(str::to_owned),
                reactions,
            };
            entry.date = date_of(&["onsetDateTime", "recordedDate"])?;
            recorded = date_of(&["recordedDate"])?;
            entry.recorded_by =
                who(names, r.get("recorder")).or_else(|| who(names, r.get("asserter")));
        }
        "Condition" => {
            entry.section = Section::Problems;
            entry.title = named(r.get("code"), "code")?;
            entry.codes = codes_of(r.get("code"));
            entry.status = match status_code(r, "clinicalStatus").as_deref() {
                Some("active" | "recurrence" | "relapse") | None => EntryStatus::Active,
                _ => EntryStatus::Past,
            };
            let ended = date_of(&["abatementDateTime"])?;
            if ended.is_some() {
                entry.status = EntryStatus::Past;
            }
            entry.details = EntryDetails::Problem { ended };
            entry.date = date_of(&["onsetDateTime", "recordedDate"])?;
            recorded = date_of(&["recordedDate"])?;
            entry.recorded_by =
                who(names, r.get("recorder")).or_else(|| who(names, r.get("asserter")));
        }
        "MedicationRequest" | "MedicationStatement" => {
            entry.section = Section::Medicines;
            let status = status_required("status")?;
            if status == "entered-in-error" {
                return Err("it was entered in error, so it is not shown".to_owned());
            }
            let concept = r.get("medicationCodeableConcept");
            entry.title = match concept_text(concept) {
                Some(t) => t,
                None => r
                    .get("medicationReference")
                    .and_then(|m| text(m, "display"))
                    .map(str::to_owned)
                    .ok_or(
                        "it has no medication (medicationCodeableConcept or medicationReference)",
                    )?,
            };
            entry.codes = codes_of(concept);
            entry.status = if status == "active" {
                EntryStatus::Active
            } else {
                EntryStatus::Past
            };
            let dosage = if kind == "MedicationRequest" {
                first(r, "dosageInstruction")
            } else {
                first(r, "dosage")
            };
            let issued = date_of(&[
                "authoredOn",
                "effectiveDateTime",
                "effectivePeriod.start",
                "dateAsserted",
            ])?;
            entry.details = EntryDetails::Medicine {
                kind: medicine_kind(r),
                dose: dosage.and_then(describe_dose),
                last_issued: if kind == "MedicationRequest" {
                    issued
                } else {
                    None
                },
            };
            entry.date = issued;
            recorded = date_of(&["authoredOn", "dateAsserted"])?;
            entry.recorded_by =
                who(names, r.get("requester")).or_else(|| who(names, r.get("informationSource")));
        }
        "Immunization" => {
            entry.section = Section::Immunisations;
            let status = status_required("status")?;
            if status == "entered-in-error" {
                return Err("it was entered in error, so it is not shown".to_owned());
            }
            entry.title = named(r.get("vaccineCode"), "vaccineCode")?;
            entry.codes = codes_of(r.get("vaccineCode"));
            entry.status = EntryStatus::Past;
            entry.date = date_of(&["occurrenceDateTime"])?;
            if entry.date.is_none() && text(r, "occurrenceString").is_none() {
                return Err("it has no date (occurrenceDateTime), which FHIR requires".to_owned());
            }
            let dose_number = first(r, "protocolApplied").and_then(|p| {
                p.get("doseNumberPositiveInt")
                    .and_then(Value::as_u64)
                    .map(|n| n.to_string())
                    .or_else(|| text(p, "doseNumberString").map(str::to_owned))
            });
            entry.details = EntryDetails::Immunisation { dose_number };
            recorded = date_of(&["recorded"])?;
            entry.recorded_by = first(r, "performer").and_then(|p| who(names, p.get("actor")));
        }
        "Observation" => {
            entry.section = Section::TestResults;
            let status = status_required("status")?;
            if status == "entered-in-error" || status == "cancelled" {
                return Err(format!("its status is {status}, so it is not shown"));
            }
            entry.title = named(r.get("code"), "code")?;
            entry.codes = codes_of(r.get("code"));
            entry.status = EntryStatus::Past;
            let mut values: Vec<ResultValue> =
                result_value(entry.title.clone(), r).into_iter().collect();
            for c in r
                .get("component")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = concept_text(c.get("code")).unwrap_or_else(|| entry.title.clone());
                values.extend(result_value(name, c));
                entry.codes.extend(codes_of(c.get("code")));
            }
            entry.date = date_of(&["effectiveDateTime", "effectivePeriod.start", "issued"])?;
            let (group_key, group_title) =
                group.unwrap_or_else(|| (String::new(), entry.title.clone()));
            entry.details = EntryDetails::TestResult {
                group_key,
                group_title,
                values,
            };
            recorded = date_of(&["issued"])?;
            entry.recorded_by = first(r, "performer").and_then(|p| who(names, Some(p)));
        }
        "Encounter" => {
            entry.section = Section::Consultations;
            status_required("status")?;
            let class = r
                .get("class")
                .and_then(|c| text(c, "display").or_else(|| text(c, "code")));
            entry.title = concept_text(first(r, "type"))
                .or_else(|| class.map(str::to_owned))
                .ok_or("it has no type or class saying what kind of consultation it was")?;
            entry.codes = codes_of(first(r, "type"));
            entry.status = EntryStatus::Past;
            entry.date = date_of(&["period.start"])?;
            let clinician = first(r, "participant").and_then(|p| who(names, p.get("individual")));
            entry.details = EntryDetails::Consultation {
                kind: class.map(str::to_owned),
                reason: concept_text(first(r, "reasonCode")),
                clinician: clinician.clone(),
            };
            recorded = None;
            entry.recorded_by = clinician.or_else(|| who(names, r.get("serviceProvider")));
        }
        "DocumentReference" => {
            entry.section = Section::Documents;
            let status = status_required("status")?;
            if status == "entered-in-error" {
                return Err("it was entered in error, so it is not shown".to_owned());
            }
            let attachment = first(r, "content")
                .and_then(|c| c.get("attachment"))
                .ok_or("it has no content (content.attachment), which FHIR requires")?;
            entry.title = text(r, "description")
                .map(str::to_owned)
                .or_else(|| text(attachment, "title").map(str::to_owned))
                .or_else(|| concept_text(r.get("type")))
                .ok_or("it has no description, title or type saying what the document is")?;
            entry.codes = codes_of(r.get("type"));
            entry.status = if status == "current" {
                EntryStatus::Active
            } else {
                EntryStatus::Past
            };
            let content_type = text(attachment, "contentType").map(str::to_owned);
            let is_text = content_type
                .as_deref()
                .is_none_or(|c| c.starts_with("text/"));
            if is_text && let Some(data) = text(attachment, "data") {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|_| "its attachment data is not base64".to_owned())?;
                entry.body_text = Some(
                    String::from_utf8(bytes)
                        .map_err(|_| "its text attachment is not UTF-8 text".to_owned())?,
                );
            }
            entry.details = EntryDetails::Document {
                kind: concept_text(r.get("type")),
                content_type,
                has_text: entry.body_text.is_some(),
            };
            entry.date = date_of(&["date"])?;
            recorded = entry.date;
            entry.recorded_by = first(r, "author").and_then(|a| who(names, Some(a)));
        }
        other => return Err(format!("{other} is not part of the record")),
    }
    entry.recorded_on = recorded.or(entry.date).unwrap_or(today);
    Ok(entry)
}

async fn store(
    db: &Db,
    practice: PracticeId,
    parsed: ParsedBundle,
    target: Target,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    for kind in &parsed.other {
        report.count(kind).not_in_record += 1;
    }
    for kind in &parsed.problem_types {
        report.count(kind).problems += 1;
    }
    report.problems.extend(parsed.problems);
    let mut by_patient: HashMap<&str, Vec<&ParsedEntry>> = HashMap::new();
    for e in &parsed.entries {
        by_patient
            .entry(e.patient_key.as_str())
            .or_default()
            .push(e);
    }
    let fetched_at = now_unix();
    for patient in &parsed.patients {
        // One transaction per patient: their record arrives whole or not at all.
        let mut tx = db.begin_write().await?;
        let (id, created) = match target {
            Target::Into(id) => (id, false),
            Target::ByPatient => find_or_create(&mut tx, practice, patient).await?,
        };
        sqlx::query(
            "insert into record_patient_sources (practice_id, source_key, patient_id) values ($1, $2, $3)
             on conflict (practice_id, source_key) do nothing",
        )
        .bind(practice.0)
        .bind(&patient.key)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        let mut counts: Vec<(&str, bool)> = Vec::new();
        for e in by_patient.get(patient.key.as_str()).into_iter().flatten() {
            let group_key = match &e.details {
                EntryDetails::TestResult { group_key, .. } if group_key.is_empty() => {
                    Some(e.source_key.clone())
                }
                EntryDetails::TestResult { group_key, .. } => Some(group_key.clone()),
                _ => None,
            };
            let mut details = e.details.clone();
            if let (EntryDetails::TestResult { group_key: g, .. }, Some(k)) =
                (&mut details, &group_key)
            {
                g.clone_from(k);
            }
            let codes = serde_json::to_string(&e.codes).unwrap_or_else(|_| "[]".to_owned());
            let details = serde_json::to_string(&details)
                .map_err(|err| sqlx::Error::Protocol(format!("entry details: {err}")))?;
            let done = sqlx::query(
                "insert into record_entries (practice_id, patient_id, section, source_key, title,
                     event_date, group_key, status, note, codes, details, body_text, recorded_on,
                     recorded_by, source_system, fetched_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 on conflict (patient_id, source_key) do nothing",
            )
            .bind(practice.0)
            .bind(id.0)
            .bind(e.section.as_str())
            .bind(&e.source_key)
            .bind(&e.title)
            .bind(e.date.map(|d| d.to_string()))
            .bind(group_key)
            .bind(e.status.as_str())
            .bind(e.note.as_deref())
            .bind(codes)
            .bind(details)
            .bind(e.body_text.as_deref())
            .bind(e.recorded_on.to_string())
            .bind(e.recorded_by.as_deref())
            .bind(&e.source_system)
            .bind(fetched_at)
            .execute(&mut *tx)
            .await?;
            counts.push((e.resource_type.as_str(), done.rows_affected() == 1));
        }
        tx.commit().await?;
        if created {
            report.patients_created += 1;
        } else {
            report.patients_matched += 1;
        }
        let patient_count = report.count("Patient");
        if created {
            patient_count.added += 1;
        } else {
            patient_count.unchanged += 1;
        }
        for (kind, added) in counts {
            let c = report.count(kind);
            if added {
                c.added += 1;
            } else {
                c.unchanged += 1;
            }
        }
    }
    Ok(())
}

/// The patient already here (by NHS number, or from an earlier import of
/// this bundle), or a new one. True when created.
async fn find_or_create(
    tx: &mut crate::db::WriteTx,
    practice: PracticeId,
    patient: &ParsedPatient,
) -> Result<(PatientId, bool), ImportError> {
    if let Some(nhs) = &patient.nhs_number {
        let found =
            sqlx::query("select id from patients where practice_id = $1 and nhs_number = $2")
                .bind(practice.0)
                .bind(nhs.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        if let Some(row) = found {
            return Ok((PatientId(row.try_get("id")?), false));
        }
    }
    let known = sqlx::query(
        "select patient_id from record_patient_sources where practice_id = $1 and source_key = $2",
    )
    .bind(practice.0)
    .bind(&patient.key)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = known {
        return Ok((PatientId(row.try_get("patient_id")?), false));
    }
    let row = sqlx::query(
        "insert into patients (practice_id, nhs_number, given_name, family_name, date_of_birth, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(practice.0)
    .bind(patient.nhs_number.as_ref().map(|n| n.as_str().to_owned()))
    .bind(&patient.given_name)
    .bind(&patient.family_name)
    .bind(patient.date_of_birth.to_string())
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await?;
    Ok((PatientId(row.try_get("id")?), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date")
    }

    #[test]
    fn fhir_dates() {
        assert_eq!(fhir_date("2019"), NaiveDate::from_ymd_opt(2019, 1, 1));
        assert_eq!(fhir_date("2019-03"), NaiveDate::from_ymd_opt(2019, 3, 1));
        assert_eq!(
            fhir_date("2007-06-04T05:28:45+00:00"),
            NaiveDate::from_ymd_opt(2007, 6, 4)
        );
        assert_eq!(fhir_date("yesterday"), None);
    }

    #[test]
    fn doses_in_words() {
        let d = json!({"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                       "asNeededBoolean": true,
                       "doseAndRate": [{"doseQuantity": {"value": 1.0, "unit": "tablet"}}]});
        assert_eq!(
            describe_dose(&d).as_deref(),
            Some("1 tablet, twice a day, when needed")
        );
        assert_eq!(
            describe_dose(&json!({"text": "One daily"})).as_deref(),
            Some("One daily")
        );
        assert_eq!(describe_dose(&json!({})), None);
    }

    #[test]
    fn repeat_or_acute() {
        let course = |c: &str| json!({"courseOfTherapyType": {"coding": [{"code": c}]}});
        assert_eq!(medicine_kind(&course("continuous")), MedicineKind::Repeat);
        assert_eq!(medicine_kind(&course("acute")), MedicineKind::Acute);
        assert_eq!(
            medicine_kind(&json!({"dispenseRequest": {"numberOfRepeatsAllowed": 3}})),
            MedicineKind::Repeat
        );
        assert_eq!(medicine_kind(&json!({})), MedicineKind::Acute);
    }

    #[test]
    fn not_a_bundle_is_said_plainly() {
        let err = parse_bundle("x.json", &json!({"resourceType": "Patient"}), today())
            .expect_err("not a bundle");
        assert!(err.contains("not a Bundle"), "{err}");
        let err = parse_bundle("x.json", &json!({"hello": 1}), today()).expect_err("not FHIR");
        assert!(err.contains("not FHIR"), "{err}");
    }

    #[test]
    fn bad_resources_are_reported_with_positions_and_the_rest_parses() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1",
                "name": [{"family": "Lee", "given": ["Ann"]}], "birthDate": "1990-01-01"}},
            {"fullUrl": "urn:uuid:o1", "resource": {"resourceType": "Observation", "status": "final",
                "subject": {"reference": "urn:uuid:p1"}}},
            {"fullUrl": "urn:uuid:o2", "resource": {"resourceType": "Observation", "status": "final",
                "code": {"text": "HbA1c"}, "effectiveDateTime": "2090-01-01",
                "subject": {"reference": "urn:uuid:p1"}}},
            {"fullUrl": "urn:uuid:o3", "resource": {"resourceType": "Observation", "status": "final",
                "code": {"text": "HbA1c"}, "effectiveDateTime": "2020-01-01",
                "valueQuantity": {"value": 48, "unit": "mmol/mol"},
                "referenceRange": [{"low": {"value": 20}, "high": {"value": 41}}],
                "subject": {"reference": "urn:uuid:p1"}}}
        ]});
        let parsed = parse_bundle("b.json", &bundle, today()).expect("a bundle");
        assert_eq!(parsed.patients.len(), 1);
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.problems.len(), 2);
        assert_eq!(
            parsed.problems[0].position.as_deref(),
            Some("entry 2 (Observation)")
        );
        assert!(parsed.problems[1].message.contains("future"));
        let EntryDetails::TestResult { values, .. } = &parsed.entries[0].details else {
            panic!("a test result")
        };
        assert_eq!(
            values[0].flag(),
            Some(domain::gp_record::RangeFlag::AboveRange)
        );
    }

    #[test]
    fn a_wrong_nhs_check_digit_keeps_the_patient_out() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient",
                "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "9434765918"}],
                "name": [{"family": "Lee", "given": ["Ann"]}], "birthDate": "1990-01-01"}},
            {"fullUrl": "urn:uuid:c1", "resource": {"resourceType": "Condition",
                "code": {"text": "Asthma"}, "subject": {"reference": "urn:uuid:p1"}}}
        ]});
        let parsed = parse_bundle("b.json", &bundle, today()).expect("a bundle");
        assert!(parsed.patients.is_empty());
        assert!(parsed.entries.is_empty());
        assert_eq!(parsed.problems.len(), 1);
        assert!(parsed.problems[0].message.contains("NHS number"));
    }
}
