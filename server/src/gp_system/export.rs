//! "Download my record": what the patient can see online, as a FHIR R4
//! Bundle (collection) in JSON, sent as an attachment from
//! `GET /record/download`. Hidden entries and sections their access level
//! does not include are left out, exactly as on the pages. Logged.

use crate::web::AppState;
use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::access::{PatientRef, authorize_patient};
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::gp_record::{
    Code, EntryDetails, EntryStatus, MedicineKind, RecordEntry, RecordSettings, RecordView,
    ResultAmount, ResultValue, SectionQuery,
};
use domain::ports::{PortError, Ports, RequestContext};
use domain::{Decision, Permission};
use serde_json::{Value, json};

pub const DOWNLOAD_PATH: &str = "/record/download";

/// At most this many pages of a section go into one download.
const MAX_PAGES: u32 = 400;

fn concept(title: &str, codes: &[Code]) -> Value {
    json!({
        "text": title,
        "coding": codes.iter().map(|c| json!({
            "system": c.system, "code": c.code, "display": c.display,
        })).collect::<Vec<_>>(),
    })
}

fn quantity_or_text(v: &ResultValue) -> (&'static str, Value) {
    match &v.amount {
        ResultAmount::Number(n) => ("valueQuantity", json!({"value": n, "unit": v.unit})),
        ResultAmount::Text(t) => ("valueString", json!(t)),
    }
}

fn range(v: &ResultValue) -> Option<Value> {
    let r = v.range.as_ref()?;
    Some(json!([{
        "low": r.low.map(|l| json!({"value": l})),
        "high": r.high.map(|h| json!({"value": h})),
        "text": r.text,
    }]))
}

/// One entry as a FHIR R4 resource about `subject`.
pub fn entry_resource(entry: &RecordEntry, subject: &Value) -> Value {
    let date = entry.date.map(|d| d.to_string());
    let recorded = entry.provenance.recorded_on.to_string();
    let code = concept(&entry.title, &entry.codes);
    let active = entry.status == EntryStatus::Active;
    let note = entry.note.as_ref().map(|n| json!([{"text": n}]));
    let mut r = match &entry.details {
        EntryDetails::Allergy {
            kind,
            category,
            criticality,
            reactions,
        } => json!({
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                "code": if active { "active" } else { "inactive" }}]},
            "type": kind, "category": category.as_ref().map(|c| vec![c]), "criticality": criticality,
            "code": code, "patient": subject, "onsetDateTime": date, "recordedDate": recorded,
            "reaction": if reactions.is_empty() { Value::Null } else {
                json!([{"manifestation": reactions.iter().map(|m| json!({"text": m})).collect::<Vec<_>>()}])
            },
        }),
        EntryDetails::Medicine {
            kind,
            dose,
            last_issued,
        } => json!({
            "resourceType": "MedicationRequest",
            "status": if active { "active" } else { "completed" },
            "intent": "order",
            "courseOfTherapyType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                "code": match kind { MedicineKind::Repeat => "continuous", MedicineKind::Acute => "acute" }}]},
            "medicationCodeableConcept": code, "subject": subject,
            "authoredOn": last_issued.map(|d| d.to_string()).or(date),
            "dosageInstruction": dose.as_ref().map(|d| vec![json!({"text": d})]),
        }),
        EntryDetails::Problem { ended } => json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": if active { "active" } else { "resolved" }}]},
            "code": code, "subject": subject, "onsetDateTime": date,
            "abatementDateTime": ended.map(|d| d.to_string()), "recordedDate": recorded,
        }),
        EntryDetails::Immunisation { dose_number } => json!({
            "resourceType": "Immunization", "status": "completed", "vaccineCode": code,
            "patient": subject, "occurrenceDateTime": date.clone().unwrap_or(recorded.clone()),
            "recorded": recorded,
            "protocolApplied": dose_number.as_ref().map(|d| vec![json!({"doseNumberString": d})]),
        }),
        EntryDetails::TestResult { values, .. } => {
            let mut o = json!({
                "resourceType": "Observation", "status": "final", "code": code,
                "subject": subject, "effectiveDateTime": date,
            });
            if let [only] = values.as_slice() {
                let (field, value) = quantity_or_text(only);
                o[field] = value;
                if let Some(r) = range(only) {
                    o["referenceRange"] = r;
                }
            } else {
                o["component"] = values
                    .iter()
                    .map(|v| {
                        let (field, value) = quantity_or_text(v);
                        let mut c = json!({"code": {"text": v.name}});
                        c[field] = value;
                        if let Some(r) = range(v) {
                            c["referenceRange"] = r;
                        }
                        c
                    })
                    .collect();
            }
            o
        }
        EntryDetails::Consultation { kind, reason, .. } => json!({
            "resourceType": "Encounter", "status": "finished",
            "class": {"code": kind.clone().unwrap_or_else(|| "AMB".to_owned())},
            "type": [code], "subject": subject, "period": {"start": date},
            "reasonCode": reason.as_ref().map(|r| vec![json!({"text": r})]),
        }),
        EntryDetails::Document { content_type, .. } => json!({
            "resourceType": "DocumentReference", "status": if active { "current" } else { "superseded" },
            "description": entry.title, "type": code, "subject": subject, "date": date,
            "content": [{"attachment": {"contentType": content_type, "title": entry.title}}],
        }),
    };
    if let Some(n) = note {
        r["note"] = n;
    }
    r["meta"] = json!({"source": entry.provenance.source_system});
    strip_nulls(&mut r);
    r
}

/// FHIR forbids nulls and empty arrays: leave such fields out.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null() && !matches!(x, Value::Array(a) if a.is_empty()));
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

async fn visible_entries(
    ports: &Ports,
    patient: PatientRef,
    settings: &RecordSettings,
) -> Result<Vec<RecordEntry>, PortError> {
    let visibility = settings.patient_visibility();
    let sections = settings.level.sections();
    if sections.is_empty() {
        return ports.gp_record.summary(patient, visibility).await;
    }
    let mut all = Vec::new();
    for section in sections {
        for page in 1..=MAX_PAGES {
            let query = SectionQuery {
                from: None,
                to: None,
                page,
                visibility,
            };
            let got = ports.gp_record.section(patient, section, &query).await?;
            all.extend(got.entries);
            if !got.has_more {
                break;
            }
        }
    }
    Ok(all)
}

fn problem(status: StatusCode, message: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], message).into_response()
}

/// `GET /record/download`. The page access table has already checked the
/// actor may use `/record/...` (ViewOwnRecord, P9, confirmed email).
pub async fn download(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
) -> Response {
    match build(&state.ports, &ctx).await {
        Ok(Some(body)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/fhir+json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gp-record.json\"",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Ok(None) => problem(
            StatusCode::FORBIDDEN,
            "You do not have permission to download this record.",
        ),
        Err(err) => {
            tracing::error!(cause = %err, "record download failed");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sorry, there is a problem with the service. Try again later.",
            )
        }
    }
}

async fn build(ports: &Ports, ctx: &RequestContext) -> Result<Option<String>, PortError> {
    let Some(actor) = ctx.actor.as_ref() else {
        return Ok(None);
    };
    let Some(patient) = actor.acting_for else {
        return Ok(None);
    };
    let Some(found) = ports.directory.patient_ref(patient).await? else {
        return Ok(None);
    };
    let log = |outcome| NewAccessLogEntry {
        practice: found.practice,
        patient: found.id,
        actor: Some(actor.account),
        actor_role: actor.role,
        acting_for: actor.acting_for,
        action: RecordAction::ExportRecord,
        outcome,
        request_id: ctx.request_id.clone(),
    };
    if !actor.role.has(Permission::ViewOwnRecord)
        || authorize_patient(actor, found) != Decision::Allow
    {
        ports.access_log.record(log(Outcome::Refused)).await?;
        return Ok(None);
    }
    let settings = ports.gp_record.settings(found).await?;
    if !settings.level.allows(RecordView::Summary) {
        ports.access_log.record(log(Outcome::Refused)).await?;
        return Ok(None);
    }
    let details = ports.directory.patient_details(found).await?;
    let entries = visible_entries(ports, found, &settings).await?;
    let patient_url = format!("urn:uuid:portal-patient-{}", found.id);
    let subject = json!({"reference": patient_url});
    let mut bundle_entries = Vec::with_capacity(entries.len() + 1);
    if let Some(d) = details {
        let mut p = json!({
            "resourceType": "Patient",
            "name": [{"family": d.family_name, "given": [d.given_name]}],
            "birthDate": d.date_of_birth.to_string(),
        });
        if let Some(n) = d.nhs_number {
            p["identifier"] =
                json!([{"system": super::fhir_import::NHS_NUMBER_SYSTEM, "value": n.as_str()}]);
        }
        bundle_entries.push(json!({"fullUrl": patient_url, "resource": p}));
    }
    for e in &entries {
        bundle_entries.push(json!({
            "fullUrl": format!("urn:uuid:portal-entry-{}", e.id),
            "resource": entry_resource(e, &subject),
        }));
    }
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "entry": bundle_entries,
    });
    let body = serde_json::to_string_pretty(&bundle).map_err(PortError::new)?;
    // No row, no data.
    ports.access_log.record(log(Outcome::Allowed)).await?;
    Ok(Some(body))
}
