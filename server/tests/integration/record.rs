//! The GP record: `portal import-fhir` (counts, idempotent, each kind of
//! bad input), every record page, access levels, hidden entries, another
//! patient's record refused, and the access-log rows, through HTTP.

use crate::common::{self, MANAGER_A, RECEPTION_A, SARAH, SARAH_NHS, TestApp, location};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

fn portal(database_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env_remove("PORTAL_CONFIG_FILE")
        .output()
        .expect("run portal");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "portal-record-{name}-{}-{}",
        std::process::id(),
        common::backend()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir
}

fn write(dir: &Path, name: &str, value: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).expect("json")).expect("write");
    path
}

fn cc(system: &str, code: &str, display: &str) -> serde_json::Value {
    json!({"coding": [{"system": system, "code": code, "display": display}], "text": display})
}

const SCT: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";

/// Sarah's record: one of each section, a report with a result outside
/// its range, a letter; and two bad resources (no code; a future date).
fn sarah_bundle() -> serde_json::Value {
    let p = json!({"reference": "urn:uuid:sarah"});
    let letter =
        base64_text("Dear Dr Smith,\nSarah was seen in clinic today. Continue metformin.\n");
    json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:sarah", "resource": {"resourceType": "Patient", "id": "sarah",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": SARAH_NHS}],
            "name": [{"family": "Jones", "given": ["Sarah"]}], "birthDate": "1984-03-27"}},
        {"fullUrl": "urn:uuid:dr", "resource": {"resourceType": "Practitioner", "id": "dr",
            "name": [{"family": "Okafor", "given": ["Tom"], "prefix": ["Dr"]}]}},
        {"fullUrl": "urn:uuid:allergy", "resource": {"resourceType": "AllergyIntolerance",
            "code": cc(SCT, "91936005", "Penicillin allergy"), "patient": p, "recordedDate": "2015-01-01",
            "recorder": {"reference": "urn:uuid:dr"},
            "reaction": [{"manifestation": [cc(SCT, "271807003", "Rash")]}]}},
        {"fullUrl": "urn:uuid:metformin", "resource": {"resourceType": "MedicationRequest", "status": "active",
            "intent": "order", "medicationCodeableConcept": cc("https://dmd.nhs.uk", "42301211000001103", "Metformin 500mg tablets"),
            "courseOfTherapyType": {"coding": [{"code": "continuous"}]},
            "subject": p, "authoredOn": "2024-06-01", "dosageInstruction": [{"text": "One tablet twice a day"}]}},
        {"fullUrl": "urn:uuid:old-antibiotic", "resource": {"resourceType": "MedicationRequest", "status": "completed",
            "intent": "order", "medicationCodeableConcept": cc("http://www.nlm.nih.gov/research/umls/rxnorm", "308182", "Amoxicillin 250 MG Oral Capsule"),
            "subject": p, "authoredOn": "2012-02-01"}},
        {"fullUrl": "urn:uuid:diabetes", "resource": {"resourceType": "Condition",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": cc(SCT, "44054006", "Type 2 diabetes"), "subject": p, "onsetDateTime": "2023-11-20"}},
        {"fullUrl": "urn:uuid:flu", "resource": {"resourceType": "Immunization", "status": "completed",
            "vaccineCode": cc("http://hl7.org/fhir/sid/cvx", "140", "Influenza vaccine"), "patient": p,
            "occurrenceDateTime": "2024-10-01"}},
        {"fullUrl": "urn:uuid:hba1c-2024", "resource": {"resourceType": "Observation", "status": "final",
            "code": cc(LOINC, "4548-4", "HbA1c"), "subject": p, "effectiveDateTime": "2024-05-10",
            "valueQuantity": {"value": 48, "unit": "mmol/mol"},
            "referenceRange": [{"low": {"value": 20}, "high": {"value": 41}}]}},
        {"fullUrl": "urn:uuid:report-2024", "resource": {"resourceType": "DiagnosticReport", "status": "final",
            "code": cc(LOINC, "24331-1", "Diabetes blood tests"), "subject": p, "effectiveDateTime": "2024-05-10",
            "result": [{"reference": "urn:uuid:hba1c-2024"}]}},
        {"fullUrl": "urn:uuid:weight-2010", "resource": {"resourceType": "Observation", "status": "final",
            "code": cc(LOINC, "29463-7", "Body weight"), "subject": p, "effectiveDateTime": "2010-03-03",
            "valueQuantity": {"value": 70.5, "unit": "kg"}}},
        {"fullUrl": "urn:uuid:visit", "resource": {"resourceType": "Encounter", "status": "finished",
            "class": {"code": "AMB"}, "type": [cc(SCT, "185317003", "Telephone consultation")],
            "subject": p, "period": {"start": "2024-05-12T09:00:00Z"},
            "participant": [{"individual": {"reference": "urn:uuid:dr"}}]}},
        {"fullUrl": "urn:uuid:letter", "resource": {"resourceType": "DocumentReference", "status": "current",
            "description": "Clinic letter", "subject": p, "date": "2024-05-20",
            "content": [{"attachment": {"contentType": "text/plain", "data": letter}}]}},
        {"fullUrl": "urn:uuid:no-code", "resource": {"resourceType": "Observation", "status": "final",
            "subject": p, "effectiveDateTime": "2020-01-01"}},
        {"fullUrl": "urn:uuid:future", "resource": {"resourceType": "Condition",
            "code": cc(SCT, "38341003", "Hypertension"), "subject": p, "onsetDateTime": "2999-01-01"}},
        {"fullUrl": "urn:uuid:stranger", "resource": {"resourceType": "Patient", "id": "stranger",
            "name": [{"family": "Newman", "given": ["Nina"]}], "birthDate": "1970-01-01"}},
        {"fullUrl": "urn:uuid:stranger-asthma", "resource": {"resourceType": "Condition",
            "code": cc(SCT, "195967001", "Asthma"), "subject": {"reference": "urn:uuid:stranger"}}}
    ]})
}

fn base64_text(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn sarah_record_entries(app: &TestApp) -> i64 {
    app.count(&format!(
        "select count(*) from record_entries where patient_id = {}",
        app.fixtures.sarah
    ))
    .await
}

#[tokio::test]
async fn import_counts_matches_by_nhs_number_reports_bad_resources_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let dir = folder("import");
    let file = write(&dir, "sarah.json", &sarah_bundle());
    let file = file.to_str().expect("path");
    let patients_before = app.count("select count(*) from patients").await;

    let (ok, out) = portal(
        &app.database_url,
        &["import-fhir", file, "--practice", "A81001"],
    );
    assert!(!ok, "problems give a non-zero exit: {out}");
    assert!(out.contains("1 patient(s) created, 1 matched"), "{out}");
    assert!(
        out.contains("Observation: 2 added, 0 already there, 1 with problems"),
        "{out}"
    );
    assert!(
        out.contains("Condition: 2 added, 0 already there, 1 with problems"),
        "{out}"
    );
    assert!(
        out.contains("sarah.json, entry 13 (Observation): it has no code"),
        "{out}"
    );
    assert!(
        out.contains("sarah.json, entry 14 (Condition): its date 2999-01-01"),
        "{out}"
    );
    assert!(out.contains("in the future"), "{out}");
    // Sarah matched by NHS number; Nina, with none, created.
    assert_eq!(
        app.count("select count(*) from patients").await,
        patients_before + 1
    );
    assert_eq!(sarah_record_entries(&app).await, 9);
    assert_eq!(
        app.count(
            "select count(*) from patients where family_name = 'Newman' and nhs_number is null"
        )
        .await,
        1
    );

    let (_, again) = portal(
        &app.database_url,
        &["import-fhir", file, "--practice", "A81001"],
    );
    assert!(again.contains("0 patient(s) created, 2 matched"), "{again}");
    assert!(
        again.contains("Observation: 0 added, 2 already there"),
        "{again}"
    );
    assert_eq!(
        app.count("select count(*) from patients").await,
        patients_before + 1
    );
    assert_eq!(sarah_record_entries(&app).await, 9);

    let (ok, unknown) = portal(
        &app.database_url,
        &["import-fhir", file, "--practice", "Z99999"],
    );
    assert!(!ok);
    assert!(
        unknown.contains("No practice with ODS code Z99999"),
        "{unknown}"
    );
}

#[tokio::test]
async fn each_bad_file_is_reported_and_the_rest_of_the_folder_imports() {
    let app = TestApp::spawn().await;
    let dir = folder("bad");
    write(&dir, "a-good.json", &sarah_bundle());
    std::fs::write(dir.join("b-not-json.json"), "this is { not json").expect("write");
    write(&dir, "c-not-fhir.json", &json!({"hello": "world"}));
    write(&dir, "d-patient.json", &json!({"resourceType": "Patient"}));
    write(
        &dir,
        "e-wrong-check-digit.json",
        &json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:x", "resource": {"resourceType": "Patient",
                "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765918"}],
                "name": [{"family": "Wrong", "given": ["Digit"]}], "birthDate": "1980-01-01"}},
            {"fullUrl": "urn:uuid:y", "resource": {"resourceType": "Condition",
                "code": {"text": "Asthma"}, "subject": {"reference": "urn:uuid:x"}}}
        ]}),
    );
    // 200 MB, sparse: refused from its size, never read.
    std::fs::File::create(dir.join("f-huge.json"))
        .and_then(|f| f.set_len(200 * 1024 * 1024))
        .expect("huge file");
    let (ok, out) = portal(
        &app.database_url,
        &[
            "import-fhir",
            dir.to_str().expect("path"),
            "--practice",
            "A81001",
        ],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Read 6 file(s)"), "{out}");
    assert!(
        out.contains("b-not-json.json: this is not JSON (line 1"),
        "{out}"
    );
    assert!(
        out.contains("c-not-fhir.json: this is JSON but not FHIR"),
        "{out}"
    );
    assert!(
        out.contains("d-patient.json: this is a FHIR Patient, not a Bundle"),
        "{out}"
    );
    assert!(
        out.contains(
            "e-wrong-check-digit.json, entry 1 (Patient): its NHS number 9434765918 is not valid"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "f-huge.json: the file is 200 MB; the largest bundle import-fhir reads is 64 MB"
        ),
        "{out}"
    );
    assert_eq!(sarah_record_entries(&app).await, 9);
    assert_eq!(
        app.count("select count(*) from patients where family_name = 'Wrong'")
            .await,
        0
    );
}

async fn imported_app() -> TestApp {
    let app = TestApp::spawn().await;
    let dir = folder("pages");
    let file = write(&dir, "sarah.json", &sarah_bundle());
    server::gp_system::fhir_import::import_path(&app.db, "A81001", &file)
        .await
        .expect("import");
    app
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let res = client
        .get(app.url(path))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"))
}

async fn log_rows(app: &TestApp, action: &str, outcome: &str) -> i64 {
    app.count(&format!(
        "select count(*) from access_log where patient_id = {} and action = '{action}' and outcome = '{outcome}'",
        app.fixtures.sarah
    ))
    .await
}

async fn set_level(
    app: &TestApp,
    manager: &reqwest::Client,
    level: &str,
    from: (&str, &str, &str),
) -> reqwest::Response {
    let sarah = app.fixtures.sarah.to_string();
    app.post_form_with(
        manager,
        "/api/set_online_access",
        &[
            ("patient", &sarah),
            ("level", level),
            ("from_day", from.0),
            ("from_month", from.1),
            ("from_year", from.2),
        ],
    )
    .await
}

#[tokio::test]
async fn every_section_follows_the_access_level_and_is_logged() {
    let app = imported_app().await;
    app.sign_in(SARAH).await;
    let patient = &app.client;

    // Default: the summary only.
    let (status, summary) = page(&app, patient, "/record").await;
    assert_eq!(status, 200);
    assert!(
        summary.contains("Penicillin allergy"),
        "allergies in the summary"
    );
    assert!(summary.contains("Metformin 500mg tablets"));
    assert!(summary.contains("One tablet twice a day"));
    assert!(summary.contains("Type 2 diabetes"));
    assert!(
        !summary.contains("Amoxicillin"),
        "past medicines are not in the summary"
    );
    assert!(
        summary.contains("Dr Tom Okafor"),
        "provenance: who recorded it"
    );
    assert!(summary.contains("Technical details") && summary.contains("SNOMED CT"));
    assert!(summary.contains("dm+d"));
    assert!(summary.contains("has made only this summary available online"));
    assert_eq!(log_rows(&app, "view_record_summary", "allowed").await, 1);

    let (_, hidden_section) = page(&app, patient, "/record/test-results").await;
    assert!(
        hidden_section.contains("has not made this part of your record"),
        "{hidden_section}"
    );
    assert!(!hidden_section.contains("HbA1c"));
    assert_eq!(
        log_rows(&app, "view_record_test_results", "refused").await,
        1
    );

    // A clinician or practice manager puts the detailed coded record online.
    let manager = common::client();
    app.sign_in_with(&manager, MANAGER_A).await;
    let saved = set_level(&app, &manager, "detailed", ("", "", "")).await;
    assert_eq!(
        location(&saved),
        format!("/staff/patients/{}?record=saved", app.fixtures.sarah)
    );
    assert_eq!(
        log_rows(&app, "change_online_record_access", "allowed").await,
        1
    );

    let (_, results) = page(&app, patient, "/record/test-results").await;
    assert!(
        results.contains("Diabetes blood tests"),
        "grouped by report"
    );
    assert!(results.contains("48 mmol/mol") && results.contains("20 to 41 mmol/mol"));
    assert!(
        results.contains("Above the normal range"),
        "a flag in words"
    );
    assert!(results.contains("Body weight") && results.contains("70.5 kg"));
    assert!(results.contains("LOINC"));
    assert_eq!(
        log_rows(&app, "view_record_test_results", "allowed").await,
        1
    );
    let (_, medicines) = page(&app, patient, "/record/medicines").await;
    assert!(medicines.contains("Amoxicillin 250 MG Oral Capsule") && medicines.contains("RxNorm"));
    assert!(medicines.contains("Repeat") && medicines.contains("Past"));
    let (_, immunisations) = page(&app, patient, "/record/immunisations").await;
    assert!(immunisations.contains("Influenza vaccine") && immunisations.contains("CVX"));
    for (path, text) in [
        ("/record/allergies", "Rash"),
        ("/record/problems", "Type 2 diabetes"),
    ] {
        let (status, body) = page(&app, patient, path).await;
        assert_eq!(status, 200);
        assert!(body.contains(text), "{path}");
    }
    let (_, consultations) = page(&app, patient, "/record/consultations").await;
    assert!(consultations.contains("has not made this part of your record"));
    assert_eq!(
        log_rows(&app, "view_record_consultations", "refused").await,
        1
    );

    // The full record, from a start date: older entries go.
    set_level(&app, &manager, "full", ("1", "1", "2015")).await;
    let (_, consultations) = page(&app, patient, "/record/consultations").await;
    assert!(consultations.contains("Telephone consultation"));
    let (_, documents) = page(&app, patient, "/record/documents").await;
    assert!(documents.contains("Clinic letter"));
    let letter: i64 = app
        .count("select id from record_entries where section = 'documents'")
        .await;
    let (status, document) = page(&app, patient, &format!("/record/documents/{letter}")).await;
    assert_eq!(status, 200);
    assert!(document.contains("Continue metformin"), "the letter's text");
    assert_eq!(log_rows(&app, "view_record_document", "allowed").await, 1);
    let (_, results) = page(&app, patient, "/record/test-results").await;
    assert!(
        !results.contains("Body weight"),
        "recorded before the start date"
    );

    // A trend: chart (SVG with a description) and the same data as a table.
    let (status, trend) = page(&app, patient, "/record/test-results/trend?name=HbA1c").await;
    assert_eq!(status, 200);
    assert!(
        trend.contains("<svg") && trend.contains("role=\"img\""),
        "{trend}"
    );
    assert!(
        trend.contains("HbA1c: one result, 48 mmol/mol on 10 May 2024"),
        "{trend}"
    );
    assert!(trend.contains("<table") && trend.contains("48 mmol/mol"));

    // Date filter: a bad date is explained; a good one filters.
    let (_, bad) = page(
        &app,
        patient,
        "/record/test-results?from_day=31&from_month=2&from_year=2024",
    )
    .await;
    assert!(bad.contains("The from date must be a real date"), "{bad}");
    let (_, filtered) = page(
        &app,
        patient,
        "/record/test-results?from_day=1&from_month=6&from_year=2024",
    )
    .await;
    assert!(!filtered.contains("Diabetes blood tests"));
    assert!(filtered.contains("Nothing in this section was recorded between those dates"));
}

#[tokio::test]
async fn hidden_entries_never_reach_the_patient() {
    let app = imported_app().await;
    let manager = common::client();
    app.sign_in_with(&manager, MANAGER_A).await;
    set_level(&app, &manager, "full", ("", "", "")).await;
    let entry = app
        .count("select id from record_entries where title = 'Type 2 diabetes'")
        .await
        .to_string();
    let sarah = app.fixtures.sarah.to_string();

    let (_, staff_page) = page(&app, &manager, &format!("/staff/patients/{sarah}")).await;
    assert!(staff_page.contains("GP record online") && staff_page.contains("Type 2 diabetes"));
    assert_eq!(log_rows(&app, "review_online_record", "allowed").await, 1);

    // A reason is needed.
    let refused = app
        .post_form_with(
            &manager,
            "/api/hide_record_entry",
            &[("patient", &sarah), ("entry", &entry), ("reason", " ")],
        )
        .await;
    assert_eq!(location(&refused), format!("/staff/patients/{sarah}"));
    let (_, again) = page(&app, &manager, &format!("/staff/patients/{sarah}")).await;
    assert!(again.contains("Enter why this entry is hidden"), "{again}");
    assert_eq!(
        app.count("select count(*) from record_entries where hidden_reason is not null")
            .await,
        0
    );

    let hidden = app
        .post_form_with(
            &manager,
            "/api/hide_record_entry",
            &[
                ("patient", &sarah),
                ("entry", &entry),
                ("reason", "Information about a third party"),
            ],
        )
        .await;
    assert_eq!(
        location(&hidden),
        format!("/staff/patients/{sarah}?record=hidden")
    );
    assert_eq!(log_rows(&app, "hide_record_entry", "allowed").await, 1);

    app.sign_in(SARAH).await;
    for path in ["/record", "/record/problems"] {
        let (_, body) = page(&app, &app.client, path).await;
        assert!(
            !body.contains("Type 2 diabetes"),
            "{path} shows a hidden entry"
        );
        assert!(body.contains("Penicillin allergy") || path == "/record/problems");
    }
    // Not in what the hydrated app receives either.
    let json = app
        .call(
            &app.client,
            "/api/record_section",
            &[("patient", &sarah), ("section", "Problems"), ("page", "1")],
        )
        .await
        .text()
        .await
        .expect("body");
    assert!(
        json.contains("Shown") && !json.contains("Type 2 diabetes"),
        "{json}"
    );

    let shown = app
        .post_form_with(
            &manager,
            "/api/unhide_record_entry",
            &[("patient", &sarah), ("entry", &entry)],
        )
        .await;
    assert_eq!(
        location(&shown),
        format!("/staff/patients/{sarah}?record=shown")
    );
    let (_, body) = page(&app, &app.client, "/record/problems").await;
    assert!(body.contains("Type 2 diabetes"));
    assert_eq!(log_rows(&app, "unhide_record_entry", "allowed").await, 1);
}

#[tokio::test]
async fn the_record_downloads_as_a_fhir_bundle_without_hidden_entries() {
    let app = imported_app().await;
    let manager = common::client();
    app.sign_in_with(&manager, MANAGER_A).await;
    set_level(&app, &manager, "full", ("", "", "")).await;
    let sarah = app.fixtures.sarah.to_string();
    let entry = app
        .count("select id from record_entries where title = 'Type 2 diabetes'")
        .await
        .to_string();
    app.post_form_with(
        &manager,
        "/api/hide_record_entry",
        &[
            ("patient", &sarah),
            ("entry", &entry),
            ("reason", "Third party"),
        ],
    )
    .await;
    app.sign_in(SARAH).await;
    let res = app.get("/record/download").await;
    assert_eq!(res.status().as_u16(), 200);
    assert!(common::header(&res, "content-disposition").starts_with("attachment"));
    assert_eq!(
        common::header(&res, "content-type"),
        "application/fhir+json"
    );
    let bundle: serde_json::Value = res.json().await.expect("json");
    assert_eq!(bundle["resourceType"], "Bundle");
    let text = bundle.to_string();
    assert!(text.contains("Penicillin allergy") && text.contains("Clinic letter"));
    assert!(text.contains("\"referenceRange\""));
    assert!(
        !text.contains("Type 2 diabetes"),
        "hidden entries are not exported"
    );
    assert_eq!(log_rows(&app, "export_record", "allowed").await, 1);
    // The file imports back: it is a FHIR bundle the portal itself reads.
    let dir = folder("export");
    let file = write(&dir, "export.json", &bundle);
    let parsed = server::gp_system::fhir_import::parse_bundle(
        "export.json",
        &bundle,
        chrono::Utc::now().date_naive(),
    )
    .expect("a bundle");
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.entries.len(), 8);
    let _ = file;

    // Staff cannot download a patient's record here.
    let (status, _) = page(&app, &manager, "/record/download").await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn the_printable_summary_says_who_it_is_for_holds_only_the_summary_and_is_logged() {
    let app = imported_app().await;
    let manager = common::client();
    app.sign_in_with(&manager, MANAGER_A).await;
    let sarah = app.fixtures.sarah.to_string();
    let problem = app
        .count("select id from record_entries where title = 'Type 2 diabetes'")
        .await
        .to_string();
    app.sign_in(SARAH).await;
    let (status, html) = page(&app, &app.client, "/record/print").await;
    assert_eq!(status, 200, "{html}");
    let nhs = domain::NhsNumber::parse(SARAH_NHS)
        .expect("nhs")
        .formatted();
    for shown in [
        "Summary of your GP record",
        "Sarah",
        nhs.as_str(),
        "Penicillin allergy",
        "Rash",
        "Metformin 500mg tablets",
        "One tablet twice a day",
        "Type 2 diabetes",
        "portal-print-summary",
    ] {
        assert!(
            html.contains(shown),
            "{shown} missing from the printable summary"
        );
    }
    // Only the summary: no past medicines, no results, no letters.
    for left_out in ["Amoxicillin", "HbA1c", "Clinic letter"] {
        assert!(
            !html.contains(left_out),
            "{left_out} is not part of the summary"
        );
    }
    assert_eq!(log_rows(&app, "print_record_summary", "allowed").await, 1);

    // An entry the practice hides is not printed either.
    app.post_form_with(
        &manager,
        "/api/hide_record_entry",
        &[
            ("patient", &sarah),
            ("entry", &problem),
            ("reason", "Third party"),
        ],
    )
    .await;
    let (_, html) = page(&app, &app.client, "/record/print").await;
    assert!(!html.contains("Type 2 diabetes"));
    assert!(html.contains("No active health problems are recorded."));

    // Another patient asking for Sarah's is refused, and that is logged.
    let bob = common::client();
    app.sign_in_with(&bob, "bob@example.com").await;
    let res = app
        .call(
            &bob,
            "/api/record_printable",
            &[("patient", sarah.as_str())],
        )
        .await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(!res.text().await.expect("body").contains("Penicillin"));
    assert_eq!(log_rows(&app, "print_record_summary", "refused").await, 1);
}

/// A record with thousands of results still serves a page at a time: the
/// first and the last page of reports hold whole reports, and a trend draws
/// at most its limit of points.
#[tokio::test]
async fn a_record_with_thousands_of_results_pages_them() {
    let app = imported_app().await;
    let dir = folder("large");
    let file = dir.join("large.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/large-record");
    let made = Command::new("python3")
        .arg(&script)
        .arg(&file)
        .args(["--observations", "3000", "--nhs-number", SARAH_NHS])
        .output()
        .expect("python3 runs scripts/large-record");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let report = server::gp_system::fhir_import::import_path(&app.db, "A81001", &file)
        .await
        .expect("import");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let results = app
        .count(&format!(
            "select count(*) from record_entries where patient_id = {} and section = 'test-results'",
            app.fixtures.sarah
        ))
        .await;
    assert!(results >= 3000, "{results} results imported");
    let manager = common::client();
    app.sign_in_with(&manager, MANAGER_A).await;
    set_level(&app, &manager, "detailed", ("", "", "")).await;
    app.sign_in(SARAH).await;

    let (status, first) = page(&app, &app.client, "/record/test-results").await;
    assert_eq!(status, 200);
    assert_eq!(first.matches("portal-result-group").count(), 25);
    assert!(first.contains("/record/test-results?page=2"));
    // 600 generated reports and the bundle's own few: page 24 is full and
    // the 25th is the last.
    let (_, full) = page(&app, &app.client, "/record/test-results?page=24").await;
    assert_eq!(full.matches("portal-result-group").count(), 25);
    assert!(full.contains("/record/test-results?page=25"));
    let (_, last) = page(&app, &app.client, "/record/test-results?page=25").await;
    let groups = last.matches("portal-result-group").count();
    assert!(
        (1..=3).contains(&groups),
        "{groups} reports on the last page"
    );
    assert!(!last.contains("/record/test-results?page=26"));
    let (_, trend) = page(&app, &app.client, "/record/test-results/trend?name=HbA1c").await;
    let rows = trend.matches("<tr class=\"nhsuk-table__row\">").count();
    assert!(rows > 100 && rows <= 201, "{rows} rows in the trend table");
}

#[tokio::test]
async fn another_patients_record_and_receptionists_are_refused_and_logged() {
    let app = imported_app().await;
    let sarah = app.fixtures.sarah.to_string();
    let bob = common::client();
    app.sign_in_with(&bob, "bob@example.com").await;
    for (function, extra) in [
        ("/api/record_summary", vec![]),
        (
            "/api/record_section",
            vec![("section", "Allergies"), ("page", "1")],
        ),
    ] {
        let mut form = vec![("patient", sarah.as_str())];
        form.extend(extra);
        let res = app.call(&bob, function, &form).await;
        assert_eq!(res.status().as_u16(), 403, "{function}");
        let body = res.text().await.expect("body");
        assert!(!body.contains("Penicillin"), "{body}");
    }
    assert_eq!(log_rows(&app, "view_record_summary", "refused").await, 1);
    assert_eq!(log_rows(&app, "view_record_allergies", "refused").await, 1);

    // Receptionists cannot change what is online (the access table says no
    // before anything is read).
    let reception = common::client();
    app.sign_in_with(&reception, RECEPTION_A).await;
    let res = set_level(&app, &reception, "full", ("", "", "")).await;
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(app.count("select count(*) from record_settings").await, 0);
    // Staff do not open the patient's record pages.
    let (status, _) = page(&app, &reception, "/record").await;
    assert_ne!(status, 200);
}
