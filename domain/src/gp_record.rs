//! The GP record as the portal shows it: one type per record section that
//! the browser may see, the provenance and codes every entry carries, the
//! practice's online-access settings for a patient (level, "show entries
//! recorded from", hidden entries) with the pure rules that apply them, and
//! the [`GpRecord`] port through which the pages read the record.
//!
//! The record lives in the practice's clinical system; an adapter (the
//! portal's own database after `portal import-fhir`, or later a FHIR
//! client) implements the port. Nothing here is server-only.

use crate::access::PatientRef;
use crate::ids::AccountId;
use crate::ports::PortError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// An entry's id in the portal (not the clinical system's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(pub i64);

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A section of the record, each with its own page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Section {
    Allergies,
    Medicines,
    Problems,
    Immunisations,
    TestResults,
    Consultations,
    Documents,
}

impl Section {
    pub const ALL: [Section; 7] = [
        Section::Allergies,
        Section::Medicines,
        Section::Problems,
        Section::Immunisations,
        Section::TestResults,
        Section::Consultations,
        Section::Documents,
    ];

    /// Stored in the database and used in page addresses.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Allergies => "allergies",
            Section::Medicines => "medicines",
            Section::Problems => "problems",
            Section::Immunisations => "immunisations",
            Section::TestResults => "test-results",
            Section::Consultations => "consultations",
            Section::Documents => "documents",
        }
    }

    pub fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            Section::Allergies => "Allergies and adverse reactions",
            Section::Medicines => "Medicines",
            Section::Problems => "Health problems",
            Section::Immunisations => "Vaccinations",
            Section::TestResults => "Test results",
            Section::Consultations => "Consultations",
            Section::Documents => "Documents",
        }
    }

    pub fn path(self) -> String {
        format!("/record/{}", self.as_str())
    }

    /// What a patient reads when the section has nothing online.
    pub fn empty_message(self) -> &'static str {
        match self {
            Section::Allergies => "There are no allergies or adverse reactions in your record.",
            Section::Medicines => "There are no medicines in your record.",
            Section::Problems => "There are no health problems in your record.",
            Section::Immunisations => "There are no vaccinations in your record.",
            Section::TestResults => "There are no test results in your record.",
            Section::Consultations => "There are no consultations in your record.",
            Section::Documents => "There are no documents in your record.",
        }
    }

    /// The access-log action for reading this section.
    pub fn view_action(self) -> crate::access_log::RecordAction {
        use crate::access_log::RecordAction as A;
        match self {
            Section::Allergies => A::ViewRecordAllergies,
            Section::Medicines => A::ViewRecordMedicines,
            Section::Problems => A::ViewRecordProblems,
            Section::Immunisations => A::ViewRecordImmunisations,
            Section::TestResults => A::ViewRecordTestResults,
            Section::Consultations => A::ViewRecordConsultations,
            Section::Documents => A::ViewRecordDocuments,
        }
    }
}

/// What of a patient's record the practice has put online.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AccessLevel {
    /// Allergies, current medicines and active problems.
    SummaryOnly,
    /// Every coded entry: all medicines, problems, vaccinations, results.
    DetailedCoded,
    /// The detailed coded record plus consultations and documents.
    Full,
}

impl AccessLevel {
    pub const ALL: [AccessLevel; 3] = [
        AccessLevel::SummaryOnly,
        AccessLevel::DetailedCoded,
        AccessLevel::Full,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::SummaryOnly => "summary",
            AccessLevel::DetailedCoded => "detailed",
            AccessLevel::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<AccessLevel> {
        AccessLevel::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            AccessLevel::SummaryOnly => "Summary only",
            AccessLevel::DetailedCoded => "Detailed coded record",
            AccessLevel::Full => "Full record, including consultations and documents",
        }
    }

    /// Does this level put the given part of the record online?
    pub fn allows(self, view: RecordView) -> bool {
        match view {
            RecordView::Summary => true,
            RecordView::Section(Section::Consultations | Section::Documents)
            | RecordView::Document => self == AccessLevel::Full,
            RecordView::Section(_) => self >= AccessLevel::DetailedCoded,
        }
    }

    /// The sections a patient at this level can open.
    pub fn sections(self) -> Vec<Section> {
        Section::ALL
            .into_iter()
            .filter(|s| self.allows(RecordView::Section(*s)))
            .collect()
    }
}

/// A part of the record a patient may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordView {
    Summary,
    Section(Section),
    /// One document's text.
    Document,
}

/// The practice's settings for one patient's online record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSettings {
    pub level: AccessLevel,
    /// Entries recorded before this date are not shown online.
    pub show_from: Option<NaiveDate>,
}

impl Default for RecordSettings {
    /// Until the practice decides, only the summary is online: the least
    /// that can surprise a patient or reveal something about someone else.
    fn default() -> Self {
        Self {
            level: AccessLevel::SummaryOnly,
            show_from: None,
        }
    }
}

impl RecordSettings {
    /// Which entries the patient may see: never hidden ones, and only
    /// those recorded from the start date.
    pub fn patient_visibility(&self) -> Visibility {
        Visibility {
            recorded_from: self.show_from,
            include_hidden: false,
        }
    }
}

/// Which entries an adapter returns. Built by the rules above; an adapter
/// applies it in its query so hidden entries never leave it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    pub recorded_from: Option<NaiveDate>,
    pub include_hidden: bool,
}

impl Visibility {
    /// Staff deciding what is online see everything, marked.
    pub const STAFF: Visibility = Visibility {
        recorded_from: None,
        include_hidden: true,
    };

    /// The rule itself, for adapters that cannot filter at the source and
    /// for the tests that check those that can.
    pub fn shows(&self, recorded: NaiveDate, hidden: bool) -> bool {
        (self.include_hidden || !hidden) && self.recorded_from.is_none_or(|from| recorded >= from)
    }
}

/// A code from a clinical terminology.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The code system's URI, as FHIR names it.
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

impl Code {
    /// The code system's name for people, or its URI when unknown.
    pub fn system_name(&self) -> String {
        code_system_name(&self.system)
            .map(str::to_owned)
            .unwrap_or_else(|| self.system.clone())
    }
}

/// The name of a code system from its FHIR URI.
pub fn code_system_name(uri: &str) -> Option<&'static str> {
    let uri = uri.trim().trim_end_matches('/');
    Some(match uri {
        "http://snomed.info/sct" => "SNOMED CT",
        "https://dmd.nhs.uk" | "http://dmd.nhs.uk" => {
            "dm+d (NHS Dictionary of Medicines and Devices)"
        }
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "RxNorm",
        "http://hl7.org/fhir/sid/cvx" => "CVX (vaccines administered)",
        "http://loinc.org" => "LOINC",
        "http://hl7.org/fhir/sid/icd-10" | "http://hl7.org/fhir/sid/icd-10-uk" => "ICD-10",
        "http://hl7.org/fhir/sid/icd-10-cm" => "ICD-10-CM",
        "http://unitsofmeasure.org" => "UCUM (units of measure)",
        "https://fhir.hl7.org.uk/Id/emis-drug-codes" => "EMIS drug codes",
        _ => return None,
    })
}

/// Where an entry came from and how fresh it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// When it was recorded in the clinical system.
    pub recorded_on: NaiveDate,
    /// The clinician or organisation that recorded it, when known.
    pub recorded_by: Option<String>,
    /// The clinical system it came from.
    pub source_system: String,
    /// When the portal last read it from there.
    pub fetched_at: DateTime<Utc>,
}

/// Active or in the past. Medicines: current or past; problems and
/// allergies: active or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryStatus {
    Active,
    Past,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Active => "active",
            EntryStatus::Past => "past",
        }
    }

    pub fn parse(s: &str) -> Option<EntryStatus> {
        match s {
            "active" => Some(EntryStatus::Active),
            "past" => Some(EntryStatus::Past),
            _ => None,
        }
    }
}

/// A repeat medicine can be re-ordered; an acute one was prescribed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MedicineKind {
    Repeat,
    Acute,
}

impl MedicineKind {
    pub fn label(self) -> &'static str {
        match self {
            MedicineKind::Repeat => "Repeat",
            MedicineKind::Acute => "Acute (one-off)",
        }
    }
}

/// A reference ("normal") range. Either bound may be missing (">= 60").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReferenceRange {
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// The range as the laboratory wrote it, when it gave text.
    pub text: Option<String>,
}

impl ReferenceRange {
    pub fn describe(&self, unit: Option<&str>) -> String {
        if let Some(text) = &self.text {
            return text.clone();
        }
        let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
        match (self.low, self.high) {
            (Some(l), Some(h)) => format!("{} to {}{unit}", number(l), number(h)),
            (Some(l), None) => format!("{} or more{unit}", number(l)),
            (None, Some(h)) => format!("up to {}{unit}", number(h)),
            (None, None) => String::new(),
        }
    }
}

/// A number as people write it: at most two decimals, no trailing zeros.
pub fn number(value: f64) -> String {
    let s = format!("{value:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ResultAmount {
    Number(f64),
    Text(String),
}

/// Which side of the range a value fell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeFlag {
    BelowRange,
    AboveRange,
}

impl RangeFlag {
    pub fn label(self) -> &'static str {
        match self {
            RangeFlag::BelowRange => "Below the normal range",
            RangeFlag::AboveRange => "Above the normal range",
        }
    }
}

/// Is a value outside its reference range? None when it is inside, or when
/// there is nothing to compare (no range, a text value, a bound that is not
/// a finite number). Bounds are inclusive, as laboratories report them.
pub fn outside_range(amount: &ResultAmount, range: Option<&ReferenceRange>) -> Option<RangeFlag> {
    let (ResultAmount::Number(value), Some(range)) = (amount, range) else {
        return None;
    };
    if !value.is_finite() {
        return None;
    }
    match (
        range.low.filter(|l| l.is_finite()),
        range.high.filter(|h| h.is_finite()),
    ) {
        (Some(low), _) if *value < low => Some(RangeFlag::BelowRange),
        (_, Some(high)) if *value > high => Some(RangeFlag::AboveRange),
        _ => None,
    }
}

/// One measured value of a test result (a blood pressure has two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultValue {
    pub name: String,
    pub amount: ResultAmount,
    pub unit: Option<String>,
    pub range: Option<ReferenceRange>,
}

impl ResultValue {
    pub fn flag(&self) -> Option<RangeFlag> {
        outside_range(&self.amount, self.range.as_ref())
    }

    pub fn value_text(&self) -> String {
        let unit = self
            .unit
            .as_deref()
            .map(|u| format!(" {u}"))
            .unwrap_or_default();
        match &self.amount {
            ResultAmount::Number(n) => format!("{}{unit}", number(*n)),
            ResultAmount::Text(t) => t.clone(),
        }
    }
}

/// What each section adds to the common entry fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EntryDetails {
    Allergy {
        /// Allergy or intolerance, as recorded.
        kind: Option<String>,
        category: Option<String>,
        criticality: Option<String>,
        reactions: Vec<String>,
    },
    Medicine {
        kind: MedicineKind,
        dose: Option<String>,
        last_issued: Option<NaiveDate>,
    },
    Problem {
        ended: Option<NaiveDate>,
    },
    Immunisation {
        dose_number: Option<String>,
    },
    TestResult {
        /// The report (DiagnosticReport) this result belongs to; a result
        /// outside any report is its own group.
        group_key: String,
        group_title: String,
        values: Vec<ResultValue>,
    },
    Consultation {
        kind: Option<String>,
        reason: Option<String>,
        clinician: Option<String>,
    },
    Document {
        kind: Option<String>,
        content_type: Option<String>,
        has_text: bool,
    },
}

/// One entry of the record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordEntry {
    pub id: EntryId,
    pub section: Section,
    /// The entry's name as the clinical system gives it.
    pub title: String,
    /// When it happened (onset, issue, vaccination, test, consultation).
    pub date: Option<NaiveDate>,
    pub status: EntryStatus,
    pub note: Option<String>,
    pub codes: Vec<Code>,
    pub provenance: Provenance,
    pub details: EntryDetails,
    /// Only ever true in what staff see; patients never receive hidden entries.
    pub hidden: bool,
}

/// A group of test results from one report, in the order shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultGroup {
    pub title: String,
    pub date: Option<NaiveDate>,
    pub results: Vec<RecordEntry>,
}

/// Groups test results by their report, keeping the order they came in.
pub fn group_results(entries: Vec<RecordEntry>) -> Vec<ResultGroup> {
    let mut groups: Vec<(String, ResultGroup)> = Vec::new();
    for entry in entries {
        let (key, title) = match &entry.details {
            EntryDetails::TestResult {
                group_key,
                group_title,
                ..
            } => (group_key.clone(), group_title.clone()),
            _ => (format!("entry-{}", entry.id), entry.title.clone()),
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, group)) => group.results.push(entry),
            None => groups.push((
                key,
                ResultGroup {
                    title,
                    date: entry.date,
                    results: vec![entry],
                },
            )),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

/// How many entries (or, for test results, reports) a page holds.
pub const PAGE_SIZE: u32 = 25;

/// A request for one page of a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionQuery {
    /// Only entries dated on or after this day.
    pub from: Option<NaiveDate>,
    /// Only entries dated on or before this day.
    pub to: Option<NaiveDate>,
    /// From 1.
    pub page: u32,
    pub visibility: Visibility,
}

/// One page of a section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SectionPage {
    pub entries: Vec<RecordEntry>,
    pub page: u32,
    pub has_more: bool,
}

/// A document with its text, when it has any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentView {
    pub entry: RecordEntry,
    pub text: Option<String>,
}

/// The date-filter form's fields, as typed (`from` and `to`, each a day,
/// month and year), read from the page address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateFilterForm {
    pub from_day: String,
    pub from_month: String,
    pub from_year: String,
    pub to_day: String,
    pub to_month: String,
    pub to_year: String,
}

/// A checked date filter, or what to tell the patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// A problem with one field of the date filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateFilterProblem {
    /// `from` or `to`.
    pub field: &'static str,
    pub message: String,
}

fn one_date(
    field: &'static str,
    label: &str,
    day: &str,
    month: &str,
    year: &str,
) -> Result<Option<NaiveDate>, DateFilterProblem> {
    let (d, m, y) = (day.trim(), month.trim(), year.trim());
    if d.is_empty() && m.is_empty() && y.is_empty() {
        return Ok(None);
    }
    let problem = |message: String| DateFilterProblem { field, message };
    if d.is_empty() || m.is_empty() || y.is_empty() {
        return Err(problem(format!(
            "The {label} date must include a day, month and year"
        )));
    }
    let (Ok(d), Ok(m), Ok(y)) = (d.parse::<u32>(), m.parse::<u32>(), y.parse::<i32>()) else {
        return Err(problem(format!(
            "The {label} date must be a real date, written in numbers, like 27 3 2019"
        )));
    };
    if !(1000..=9999).contains(&y) {
        return Err(problem(format!(
            "The year of the {label} date must have 4 numbers, like 2019"
        )));
    }
    NaiveDate::from_ymd_opt(y, m, d).map(Some).ok_or_else(|| {
        problem(format!(
            "The {label} date must be a real date, like 27 3 2019"
        ))
    })
}

/// Reads the date filter. Empty fields mean no bound.
pub fn check_date_filter(form: &DateFilterForm) -> Result<DateFilter, DateFilterProblem> {
    let from = one_date(
        "from",
        "from",
        &form.from_day,
        &form.from_month,
        &form.from_year,
    )?;
    let to = one_date("to", "to", &form.to_day, &form.to_month, &form.to_year)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(DateFilterProblem {
            field: "to",
            message: "The to date must be the same as or after the from date".to_owned(),
        });
    }
    Ok(DateFilter { from, to })
}

/// The staff form for online access: level and start date.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineAccessForm {
    pub level: String,
    pub from_day: String,
    pub from_month: String,
    pub from_year: String,
}

pub const ONLINE_ACCESS_FORM: &str = "online-access";
pub const HIDE_ENTRY_FORM: &str = "hide-entry";

/// Checks the staff form. The start date may be empty (everything shown).
pub fn check_online_access_form(
    form: &OnlineAccessForm,
) -> Result<RecordSettings, crate::forms::FormFeedback> {
    let feedback = crate::forms::FormFeedback::new(ONLINE_ACCESS_FORM)
        .keep("level", &form.level)
        .keep("from_day", &form.from_day)
        .keep("from_month", &form.from_month)
        .keep("from_year", &form.from_year);
    let Some(level) = AccessLevel::parse(form.level.trim()) else {
        return Err(feedback.error("level", "Select what this patient can see online"));
    };
    match one_date(
        "from",
        "start",
        &form.from_day,
        &form.from_month,
        &form.from_year,
    ) {
        Ok(show_from) => Ok(RecordSettings { level, show_from }),
        Err(problem) => Err(feedback.error("from_day", &problem.message)),
    }
}

/// Checks a reason for hiding an entry: needed, and short.
pub fn check_hide_reason(reason: &str) -> Result<String, &'static str> {
    let reason = reason.trim();
    if reason.is_empty() {
        Err(
            "Enter why this entry is hidden from the patient, for example: information about a third party",
        )
    } else if reason.chars().count() > 500 {
        Err("The reason must be 500 characters or fewer")
    } else {
        Ok(reason.to_owned())
    }
}

/// The staff view of a patient's online record: settings and the most
/// recent entries of every section, hidden ones marked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaffRecordView {
    pub settings: RecordSettings,
    pub entries: Vec<RecordEntry>,
}

/// Reads the record and the practice's settings for it.
#[async_trait]
pub trait GpRecord: Send + Sync {
    /// The practice's settings for this patient (the default when unset).
    async fn settings(&self, patient: PatientRef) -> Result<RecordSettings, PortError>;
    async fn set_settings(
        &self,
        patient: PatientRef,
        settings: &RecordSettings,
        by: AccountId,
    ) -> Result<(), PortError>;
    /// Allergies, current medicines and active problems, in one read.
    async fn summary(
        &self,
        patient: PatientRef,
        visibility: Visibility,
    ) -> Result<Vec<RecordEntry>, PortError>;
    /// One page of a section, newest first. Test results page by report.
    async fn section(
        &self,
        patient: PatientRef,
        section: Section,
        query: &SectionQuery,
    ) -> Result<SectionPage, PortError>;
    /// A document with its text; None if it is not this patient's, not a
    /// document, or not visible.
    async fn document(
        &self,
        patient: PatientRef,
        entry: EntryId,
        visibility: Visibility,
    ) -> Result<Option<DocumentView>, PortError>;
    /// The most recent entries across every section, for staff.
    async fn recent_entries(
        &self,
        patient: PatientRef,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError>;
    /// Hides (with a reason) or shows one entry. False if the entry is not
    /// this patient's.
    async fn set_hidden(
        &self,
        patient: PatientRef,
        entry: EntryId,
        hidden_reason: Option<&str>,
        by: AccountId,
    ) -> Result<bool, PortError>;
    /// Every visible result of one test (by its name), oldest first, at
    /// most `limit`: the data of a trend chart.
    async fn results_named(
        &self,
        patient: PatientRef,
        name: &str,
        visibility: Visibility,
        limit: u32,
    ) -> Result<Vec<RecordEntry>, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(low: Option<f64>, high: Option<f64>) -> ReferenceRange {
        ReferenceRange {
            low,
            high,
            text: None,
        }
    }

    #[test]
    fn levels_open_sections_in_order() {
        use RecordView::*;
        assert!(AccessLevel::SummaryOnly.allows(Summary));
        assert!(!AccessLevel::SummaryOnly.allows(Section(super::Section::Medicines)));
        assert!(AccessLevel::DetailedCoded.allows(Section(super::Section::TestResults)));
        assert!(!AccessLevel::DetailedCoded.allows(Section(super::Section::Consultations)));
        assert!(!AccessLevel::DetailedCoded.allows(Document));
        assert!(AccessLevel::Full.allows(Section(super::Section::Documents)));
        assert!(AccessLevel::Full.allows(Document));
        assert_eq!(AccessLevel::SummaryOnly.sections(), vec![]);
        assert_eq!(AccessLevel::Full.sections().len(), 7);
    }

    #[test]
    fn names_round_trip() {
        for s in super::Section::ALL {
            assert_eq!(super::Section::parse(s.as_str()), Some(s));
        }
        for l in AccessLevel::ALL {
            assert_eq!(AccessLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(super::Section::parse("other"), None);
    }

    #[test]
    fn code_systems_have_names() {
        assert_eq!(
            code_system_name("http://snomed.info/sct"),
            Some("SNOMED CT")
        );
        assert_eq!(code_system_name("http://loinc.org/"), Some("LOINC"));
        assert_eq!(
            code_system_name("http://www.nlm.nih.gov/research/umls/rxnorm"),
            Some("RxNorm")
        );
        assert!(code_system_name("https://dmd.nhs.uk").is_some_and(|n| n.starts_with("dm+d")));
        assert!(
            code_system_name("http://hl7.org/fhir/sid/cvx").is_some_and(|n| n.starts_with("CVX"))
        );
        assert_eq!(
            code_system_name("http://hl7.org/fhir/sid/icd-10"),
            Some("ICD-10")
        );
        let unknown = Code {
            system: "urn:oid:1.2.3".to_owned(),
            code: "x".to_owned(),
            display: None,
        };
        assert_eq!(unknown.system_name(), "urn:oid:1.2.3");
    }

    #[test]
    fn outside_range_examples() {
        let hba1c = range(Some(20.0), Some(41.0));
        assert_eq!(
            outside_range(&ResultAmount::Number(48.0), Some(&hba1c)),
            Some(RangeFlag::AboveRange)
        );
        assert_eq!(
            outside_range(&ResultAmount::Number(41.0), Some(&hba1c)),
            None
        );
        assert_eq!(
            outside_range(&ResultAmount::Number(19.9), Some(&hba1c)),
            Some(RangeFlag::BelowRange)
        );
        assert_eq!(outside_range(&ResultAmount::Number(19.9), None), None);
        assert_eq!(
            outside_range(&ResultAmount::Text("Negative".into()), Some(&hba1c)),
            None
        );
        let egfr = range(Some(60.0), None);
        assert_eq!(
            outside_range(&ResultAmount::Number(59.0), Some(&egfr)),
            Some(RangeFlag::BelowRange)
        );
        assert_eq!(
            outside_range(&ResultAmount::Number(f64::NAN), Some(&egfr)),
            None
        );
        assert_eq!(egfr.describe(Some("mL/min")), "60 or more mL/min");
        assert_eq!(hba1c.describe(Some("mmol/mol")), "20 to 41 mmol/mol");
    }

    #[test]
    fn numbers_are_written_plainly() {
        assert_eq!(number(48.0), "48");
        assert_eq!(number(5.25), "5.25");
        assert_eq!(number(178.880_234_99), "178.88");
        assert_eq!(number(-0.001), "0");
    }

    #[test]
    fn date_filter_messages() {
        let form = |d: &str, m: &str, y: &str| DateFilterForm {
            from_day: d.into(),
            from_month: m.into(),
            from_year: y.into(),
            ..Default::default()
        };
        assert_eq!(
            check_date_filter(&DateFilterForm::default()),
            Ok(DateFilter {
                from: None,
                to: None
            })
        );
        assert_eq!(
            check_date_filter(&form("1", "2", "2020")).map(|f| f.from),
            Ok(NaiveDate::from_ymd_opt(2020, 2, 1))
        );
        let err = check_date_filter(&form("31", "2", "2020")).expect_err("no 31 February");
        assert_eq!(err.field, "from");
        assert!(err.message.contains("real date"));
        assert!(check_date_filter(&form("1", "", "2020")).is_err());
        assert!(check_date_filter(&form("a", "2", "2020")).is_err());
        assert!(check_date_filter(&form("1", "2", "20")).is_err());
        let backwards = DateFilterForm {
            to_day: "1".into(),
            to_month: "1".into(),
            to_year: "2019".into(),
            ..form("1", "1", "2020")
        };
        assert_eq!(
            check_date_filter(&backwards).map_err(|e| e.field),
            Err("to")
        );
    }

    #[test]
    fn online_access_form() {
        let good = OnlineAccessForm {
            level: "full".into(),
            from_day: "1".into(),
            from_month: "4".into(),
            from_year: "2020".into(),
        };
        assert_eq!(
            check_online_access_form(&good),
            Ok(RecordSettings {
                level: AccessLevel::Full,
                show_from: NaiveDate::from_ymd_opt(2020, 4, 1)
            })
        );
        let no_level = OnlineAccessForm {
            level: String::new(),
            ..good.clone()
        };
        let feedback = check_online_access_form(&no_level).expect_err("level needed");
        assert!(feedback.has_errors());
        assert_eq!(feedback.value("from_year"), "2020");
        assert!(check_hide_reason("  ").is_err());
        assert_eq!(
            check_hide_reason(" third party "),
            Ok("third party".to_owned())
        );
    }

    fn entry(id: i64, key: &str) -> RecordEntry {
        RecordEntry {
            id: EntryId(id),
            section: super::Section::TestResults,
            title: format!("result {id}"),
            date: None,
            status: EntryStatus::Active,
            note: None,
            codes: vec![],
            provenance: Provenance {
                recorded_on: NaiveDate::MIN,
                recorded_by: None,
                source_system: "test".into(),
                fetched_at: DateTime::<Utc>::MIN_UTC,
            },
            details: EntryDetails::TestResult {
                group_key: key.into(),
                group_title: key.into(),
                values: vec![],
            },
            hidden: false,
        }
    }

    #[test]
    fn results_group_by_report_in_order() {
        let groups = group_results(vec![entry(1, "a"), entry(2, "b"), entry(3, "a")]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].title, "a");
        assert_eq!(groups[0].results.len(), 2);
        assert_eq!(groups[1].results[0].id, EntryId(2));
    }

    proptest! {
        #[test]
        fn a_flag_means_the_value_is_past_a_bound(
            value in -1000.0f64..1000.0,
            low in proptest::option::of(-1000.0f64..1000.0),
            high in proptest::option::of(-1000.0f64..1000.0),
        ) {
            let r = range(low, high);
            match outside_range(&ResultAmount::Number(value), Some(&r)) {
                Some(RangeFlag::BelowRange) => prop_assert!(low.is_some_and(|l| value < l)),
                Some(RangeFlag::AboveRange) => prop_assert!(high.is_some_and(|h| value > h)),
                None => {
                    prop_assert!(low.is_none_or(|l| value >= l));
                    prop_assert!(high.is_none_or(|h| value <= h || low.is_some_and(|l| value < l)));
                }
            }
        }

        #[test]
        fn each_level_opens_at_least_what_the_one_below_opens(i in 0usize..7) {
            let view = RecordView::Section(super::Section::ALL[i]);
            for pair in AccessLevel::ALL.windows(2) {
                prop_assert!(!pair[0].allows(view) || pair[1].allows(view));
            }
        }

        #[test]
        fn patients_never_see_hidden_entries(
            days in 0i64..20000, from in proptest::option::of(0i64..20000), hidden: bool,
        ) {
            let base = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
            let settings = RecordSettings {
                level: AccessLevel::Full,
                show_from: from.map(|d| base + chrono::Days::new(d as u64)),
            };
            let recorded = base + chrono::Days::new(days as u64);
            let shown = settings.patient_visibility().shows(recorded, hidden);
            prop_assert_eq!(shown, !hidden && from.is_none_or(|f| days >= f));
            prop_assert!(Visibility::STAFF.shows(recorded, hidden));
        }

        #[test]
        fn date_filter_accepts_every_real_date(y in 1900i32..2100, m in 1u32..=12, d in 1u32..=31) {
            let form = DateFilterForm {
                from_day: d.to_string(), from_month: m.to_string(), from_year: y.to_string(),
                ..Default::default()
            };
            let real = NaiveDate::from_ymd_opt(y, m, d);
            prop_assert_eq!(check_date_filter(&form).ok().and_then(|f| f.from), real);
        }

        #[test]
        fn any_number_is_written_without_panicking(v in proptest::num::f64::ANY) {
            let _ = number(v);
        }
    }
}

/// One line of a trend chart: a test's values over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendSeries {
    pub name: String,
    pub unit: Option<String>,
    /// Oldest first.
    pub points: Vec<(NaiveDate, f64)>,
}

/// The numeric values of repeated results, one series per value name (a
/// blood pressure gives systolic and diastolic), oldest first.
pub fn trend_series(entries: &[RecordEntry]) -> Vec<TrendSeries> {
    let mut series: Vec<TrendSeries> = Vec::new();
    let mut sorted: Vec<&RecordEntry> = entries.iter().filter(|e| e.date.is_some()).collect();
    sorted.sort_by_key(|e| (e.date, e.id));
    for entry in sorted {
        let (Some(date), EntryDetails::TestResult { values, .. }) = (entry.date, &entry.details)
        else {
            continue;
        };
        for v in values {
            let ResultAmount::Number(n) = v.amount else {
                continue;
            };
            if !n.is_finite() {
                continue;
            }
            match series.iter_mut().find(|s| s.name == v.name) {
                Some(s) => s.points.push((date, n)),
                None => series.push(TrendSeries {
                    name: v.name.clone(),
                    unit: v.unit.clone(),
                    points: vec![(date, n)],
                }),
            }
        }
    }
    series
}

/// Where a chart's points go in an SVG of the given size (with a margin),
/// and the value range its axis shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ChartLayout {
    pub low: f64,
    pub high: f64,
    /// Per series, its points as (x, y) in SVG units (y grows downwards).
    pub lines: Vec<Vec<(f64, f64)>>,
}

pub fn chart_layout(series: &[TrendSeries], width: f64, height: f64, margin: f64) -> ChartLayout {
    let values = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (mut low, mut high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    if !low.is_finite() {
        (low, high) = (0.0, 1.0);
    }
    if (high - low).abs() < f64::EPSILON {
        (low, high) = (low - 1.0, high + 1.0);
    }
    let days = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let first = days.clone().min();
    let last = days.max();
    let span = match (first, last) {
        (Some(f), Some(l)) => (l - f).num_days().max(1) as f64,
        _ => 1.0,
    };
    let x_of = |d: NaiveDate| {
        let from = first.map(|f| (d - f).num_days() as f64).unwrap_or(0.0);
        margin + from / span * (width - 2.0 * margin)
    };
    let y_of = |v: f64| height - margin - (v - low) / (high - low) * (height - 2.0 * margin);
    ChartLayout {
        low,
        high,
        lines: series
            .iter()
            .map(|s| s.points.iter().map(|(d, v)| (x_of(*d), y_of(*v))).collect())
            .collect(),
    }
}

/// The chart in words, for people who cannot see it.
pub fn describe_trend(series: &TrendSeries, long_date: impl Fn(NaiveDate) -> String) -> String {
    let unit = series
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    match (series.points.first(), series.points.last()) {
        (Some(first), Some(last)) if series.points.len() > 1 => {
            let low = series
                .points
                .iter()
                .map(|p| p.1)
                .fold(f64::INFINITY, f64::min);
            let high = series
                .points
                .iter()
                .map(|p| p.1)
                .fold(f64::NEG_INFINITY, f64::max);
            format!(
                "{}: {} results from {} to {}. It went from {}{unit} to {}{unit}; the lowest was {}{unit} and the highest {}{unit}.",
                series.name,
                series.points.len(),
                long_date(first.0),
                long_date(last.0),
                number(first.1),
                number(last.1),
                number(low),
                number(high)
            )
        }
        (Some(only), _) => format!(
            "{}: one result, {}{unit} on {}.",
            series.name,
            number(only.1),
            long_date(only.0)
        ),
        _ => format!("{}: no results with a number.", series.name),
    }
}

#[cfg(test)]
mod trend_tests {
    use super::*;
    use proptest::prelude::*;

    fn series(points: Vec<(NaiveDate, f64)>) -> TrendSeries {
        TrendSeries {
            name: "HbA1c".into(),
            unit: Some("mmol/mol".into()),
            points,
        }
    }

    fn day(n: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).expect("a date") + chrono::Days::new(n)
    }

    #[test]
    fn trends_are_described_in_words() {
        let s = series(vec![(day(0), 52.0), (day(300), 48.0)]);
        let text = describe_trend(&s, |d| d.to_string());
        assert_eq!(
            text,
            "HbA1c: 2 results from 2020-01-01 to 2020-10-27. It went from 52 mmol/mol to 48 mmol/mol; the lowest was 48 mmol/mol and the highest 52 mmol/mol."
        );
    }

    proptest! {
        #[test]
        fn every_point_lies_inside_the_chart(values in proptest::collection::vec((0u64..5000, -500.0f64..500.0), 1..40)) {
            let s = series(values.iter().map(|(d, v)| (day(*d), *v)).collect());
            let layout = chart_layout(&[s], 600.0, 300.0, 20.0);
            for (x, y) in &layout.lines[0] {
                prop_assert!((20.0..=580.0).contains(x), "x {}", x);
                prop_assert!((20.0 - 1e-9..=280.0 + 1e-9).contains(y), "y {}", y);
            }
            prop_assert!(layout.low < layout.high);
        }
    }
}
