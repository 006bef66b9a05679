//! The `fhir` GP-system adapter: the same record through `fhir` as through
//! `local` after `import-fhir` of the same Synthea bundle, paging followed,
//! and a server that does not answer (or answers 500) giving the patient
//! the plain message within the timeout.
//!
//! The FHIR server here is a small axum server on port 0 holding a real
//! Synthea bundle's resources, as a FHIR server would after the
//! transaction (references rewritten to `Type/id`), answering `?patient=`
//! and `?identifier=` searches a few resources a page with `next` links.
//! The same checks against helios-hfs run when it is installed.

use crate::common::{self, SARAH, SARAH_NHS, TestApp};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::access::PatientRef;
use domain::gp_record::{
    EntryDetails, EntryId, GpRecord, RecordEntry, Section, SectionQuery, Visibility,
};
use domain::{PatientId, PracticeId};
use serde_json::{Value, json};
use server::config::{GpSystemConfig, GpSystemKind};
use server::gp_system::fhir::FhirGpRecord;
use server::gp_system::local::LocalGpRecord;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SYNTHEA_FILE: &str = "Abdul_Koepp_e925b0f3-8006-43f6-aa31-94bd215e55e7.json";
const NHS_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn synthea_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/fhir/synthea-r4")
}

/// The Synthea bundle, its patient given Sarah's NHS number so both
/// adapters find her by it.
fn synthea_bundle_for_sarah() -> Value {
    let text = std::fs::read_to_string(synthea_dir().join(SYNTHEA_FILE)).expect("synthea bundle");
    let mut bundle: Value = serde_json::from_str(&text).expect("json");
    for e in bundle["entry"].as_array_mut().expect("entries") {
        if e["resource"]["resourceType"] == "Patient" {
            e["resource"]["identifier"]
                .as_array_mut()
                .expect("identifiers")
                .push(json!({"system": NHS_SYSTEM, "value": SARAH_NHS}));
        }
    }
    bundle
}

/// The bundle's resources as a server holds them: `urn:uuid:` references
/// become `Type/id`.
fn as_stored(bundle: &Value) -> Vec<Value> {
    let mut names: HashMap<String, String> = HashMap::new();
    for e in bundle["entry"].as_array().expect("entries") {
        let r = &e["resource"];
        if let (Some(full), Some(kind), Some(id)) = (
            e["fullUrl"].as_str(),
            r["resourceType"].as_str(),
            r["id"].as_str(),
        ) {
            names.insert(full.to_owned(), format!("{kind}/{id}"));
        }
    }
    fn rewrite(v: &mut Value, names: &HashMap<String, String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get_mut("reference")
                    && let Some(n) = names.get(r.as_str())
                {
                    *r = n.clone();
                }
                map.values_mut().for_each(|x| rewrite(x, names));
            }
            Value::Array(items) => items.iter_mut().for_each(|x| rewrite(x, names)),
            _ => {}
        }
    }
    bundle["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            let mut r = e["resource"].clone();
            rewrite(&mut r, &names);
            r
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Answer,
    Fail,
}

struct FakeFhir {
    resources: Vec<Value>,
    base: std::sync::OnceLock<String>,
    mode: Mode,
    requests: AtomicUsize,
    next_pages: AtomicUsize,
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn matches_search(r: &Value, query: &[(String, String)]) -> bool {
    query.iter().all(|(k, v)| match k.as_str() {
        "patient" => ["subject", "patient"]
            .iter()
            .any(|f| r[f]["reference"].as_str() == Some(v.as_str())),
        "identifier" => r["identifier"].as_array().into_iter().flatten().any(|i| {
            let (system, value) = v.split_once('|').unwrap_or(("", v));
            i["value"].as_str() == Some(value)
                && (system.is_empty() || i["system"].as_str() == Some(system))
        }),
        _ => true,
    })
}

async fn search(
    State(fake): State<Arc<FakeFhir>>,
    Path(kind): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    if fake.mode == Mode::Fail {
        return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let count = get("_count").unwrap_or(50);
    let offset = get("_offset").unwrap_or(0);
    if offset > 0 {
        fake.next_pages.fetch_add(1, Ordering::SeqCst);
    }
    let found: Vec<&Value> = fake
        .resources
        .iter()
        .filter(|r| r["resourceType"].as_str() == Some(kind.as_str()) && matches_search(r, &query))
        .collect();
    let mut links = Vec::new();
    if offset + count < found.len() {
        let rest: String = query
            .iter()
            .filter(|(k, _)| k != "_offset")
            .map(|(k, v)| format!("{}={}&", encode(k), encode(v)))
            .collect();
        let base = fake.base.get().expect("base");
        links.push(json!({"relation": "next", "url": format!("{base}/{kind}?{rest}_offset={}", offset + count)}));
    }
    let entries: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(count)
        .map(|r| json!({"resource": r, "search": {"mode": "match"}}))
        .collect();
    axum::Json(json!({
        "resourceType": "Bundle", "type": "searchset", "total": found.len(),
        "link": links, "entry": entries,
    }))
    .into_response()
}

async fn read(
    State(fake): State<Arc<FakeFhir>>,
    Path((kind, id)): Path<(String, String)>,
) -> Response {
    fake.requests.fetch_add(1, Ordering::SeqCst);
    match fake.resources.iter().find(|r| {
        r["resourceType"].as_str() == Some(kind.as_str()) && r["id"].as_str() == Some(id.as_str())
    }) {
        Some(r) => axum::Json(r.clone()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts the fake server; returns its base URL (…/fhir).
async fn start_fake(resources: Vec<Value>, mode: Mode) -> (String, Arc<FakeFhir>) {
    let fake = Arc::new(FakeFhir {
        resources,
        base: Default::default(),
        mode,
        requests: AtomicUsize::new(0),
        next_pages: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}/fhir", listener.local_addr().expect("addr"));
    fake.base.set(base.clone()).expect("once");
    let router = Router::new()
        .route("/fhir/{kind}", get(search))
        .route("/fhir/{kind}/{id}", get(read))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, fake)
}

pub(crate) fn fhir_config(base: &str, timeout_seconds: u64, page_size: u32) -> GpSystemConfig {
    let mut config = GpSystemConfig::local();
    config.gp_system = GpSystemKind::Fhir;
    config.fhir_base_url = Some(base.to_owned());
    config.fhir_connect_timeout_seconds = 1;
    config.fhir_timeout_seconds = timeout_seconds;
    config.fhir_page_size = page_size;
    config
}

pub(crate) async fn sarah_ref(app: &TestApp) -> PatientRef {
    let practice = app
        .count(&format!(
            "select practice_id from patients where id = {}",
            app.fixtures.sarah
        ))
        .await;
    PatientRef {
        id: PatientId(app.fixtures.sarah.0),
        practice: PracticeId(practice),
    }
}

/// An entry without what differs by adapter: its id (a database row id
/// or a hash of Type/id), when it was fetched, the source system's name
/// and the report key its results are grouped by (urn:uuid or Type/id).
fn comparable(mut e: RecordEntry) -> String {
    e.id = EntryId(0);
    e.provenance.fetched_at = chrono::DateTime::UNIX_EPOCH;
    e.provenance.source_system.clear();
    if let EntryDetails::TestResult { group_key, .. } = &mut e.details {
        group_key.clear();
    }
    serde_json::to_string(&e).expect("json")
}

/// Every entry of a section, through every page; and how many pages.
async fn whole_section(
    record: &dyn GpRecord,
    patient: PatientRef,
    section: Section,
) -> (Vec<String>, u32) {
    let mut all = Vec::new();
    let mut page = 1;
    loop {
        let query = SectionQuery {
            from: None,
            to: None,
            page,
            visibility: Visibility {
                recorded_from: None,
                include_hidden: false,
            },
        };
        let got = record
            .section(patient, section, &query)
            .await
            .expect("section");
        all.extend(got.entries.into_iter().map(comparable));
        if !got.has_more {
            break;
        }
        page += 1;
    }
    all.sort();
    (all, page)
}

#[tokio::test]
async fn the_record_through_fhir_is_the_record_through_local_with_paging_followed() {
    let app = TestApp::spawn().await;
    let bundle = synthea_bundle_for_sarah();
    let dir = std::env::temp_dir().join(format!(
        "portal-fhir-{}-{}",
        std::process::id(),
        common::backend()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("sarah-synthea.json");
    std::fs::write(&file, serde_json::to_vec(&bundle).expect("json")).expect("write");
    server::gp_system::fhir_import::import_path(&app.db, "A81001", &file)
        .await
        .expect("import");
    let (base, fake) = start_fake(as_stored(&bundle), Mode::Answer).await;
    let patient = sarah_ref(&app).await;
    let local = LocalGpRecord { db: app.db.clone() };
    // Seven a page: the 94 observations need 14 pages.
    let fhir = FhirGpRecord::new(app.db.clone(), &fhir_config(&base, 20, 7)).expect("adapter");

    let everyone = Visibility {
        recorded_from: None,
        include_hidden: false,
    };
    let mut local_summary: Vec<String> = local
        .summary(patient, everyone)
        .await
        .expect("local")
        .into_iter()
        .map(comparable)
        .collect();
    let mut fhir_summary: Vec<String> = fhir
        .summary(patient, everyone)
        .await
        .expect("fhir")
        .into_iter()
        .map(comparable)
        .collect();
    local_summary.sort();
    fhir_summary.sort();
    assert!(
        !local_summary.is_empty(),
        "the Synthea patient has active problems"
    );
    assert_eq!(fhir_summary, local_summary, "summary");

    let mut compared = 0;
    for section in Section::ALL {
        let (from_local, local_pages) = whole_section(&local, patient, section).await;
        let (from_fhir, fhir_pages) = whole_section(&fhir, patient, section).await;
        assert_eq!(from_fhir, from_local, "{section:?}");
        assert_eq!(fhir_pages, local_pages, "{section:?} pages");
        compared += from_local.len();
    }
    assert!(compared > 100, "compared {compared} entries");
    assert!(
        fake.next_pages.load(Ordering::SeqCst) >= 13,
        "next links followed: {}",
        fake.next_pages.load(Ordering::SeqCst)
    );

    // And the portal itself, run with PORTAL_GP_SYSTEM=fhir, shows them.
    let portal = TestApp::spawn_with(|c| c.gp_system = fhir_config(&base, 20, 50)).await;
    portal.sign_in(SARAH).await;
    let res = portal
        .client
        .get(portal.url("/record"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("body");
    for entry in local.summary(patient, everyone).await.expect("local") {
        let title = entry
            .title
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(html.contains(&title), "the summary page shows {title}");
    }
}

/// The portal on the fhir adapter, Sarah signed in, asking for her summary.
async fn summary_page_within(base: &str, timeout_seconds: u64) -> (u16, String, Duration) {
    let portal =
        TestApp::spawn_with(|c| c.gp_system = fhir_config(base, timeout_seconds, 50)).await;
    portal.sign_in(SARAH).await;
    let started = Instant::now();
    let res = portal
        .client
        .get(portal.url("/record"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"), started.elapsed())
}

fn says_not_answering(html: &str) -> bool {
    html.contains("system is not answering. Try again later.")
}

#[tokio::test]
async fn a_server_that_never_answers_gives_the_plain_message_within_the_timeout() {
    // Accepts connections (the kernel's backlog) and never replies.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}/fhir", silent.local_addr().expect("addr"));
    let (status, html, took) = summary_page_within(&base, 2).await;
    assert_ne!(status, 500);
    assert!(says_not_answering(&html), "{html}");
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
    drop(silent);
}

#[tokio::test]
async fn a_server_error_gives_the_plain_message() {
    let (base, fake) = start_fake(Vec::new(), Mode::Fail).await;
    let (status, html, _) = summary_page_within(&base, 5).await;
    assert_ne!(status, 500);
    assert!(says_not_answering(&html), "{html}");
    assert!(
        fake.requests.load(Ordering::SeqCst) >= 1,
        "the server was asked"
    );
}

#[tokio::test]
async fn a_server_that_is_down_gives_the_plain_message() {
    // A port nobody listens on: refused, retried once, then the message.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let base = format!("http://{port}/fhir");
    let (status, html, took) = summary_page_within(&base, 5).await;
    assert_ne!(status, 500);
    assert!(says_not_answering(&html), "{html}");
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
}

// ---- Against helios-hfs, a real FHIR R4 server, when it is installed ----

pub const SKIPPED: &str =
    "FHIR suite SKIPPED: helios-hfs not installed (scripts/install-fhir-server)";

pub(crate) fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn hfs_binary() -> Option<std::path::PathBuf> {
    let out = std::process::Command::new(repo_root().join("scripts/install-fhir-server"))
        .arg("--path")
        .output()
        .ok()?;
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}

pub(crate) struct Hfs {
    pub(crate) base: String,
    _child: tokio::process::Child,
    _dir: std::path::PathBuf,
}

/// hfs on a free loopback port with a temporary data folder and SQLite
/// file; stopped when dropped.
pub(crate) async fn start_hfs(binary: &std::path::Path) -> Hfs {
    let dir = std::env::temp_dir().join(format!(
        "portal-hfs-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    let data = dir.join("data");
    let prepared = std::process::Command::new(repo_root().join("scripts/fhir-server"))
        .arg("--data")
        .arg(&data)
        .status()
        .expect("scripts/fhir-server --data");
    assert!(prepared.success(), "hfs data files written");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let child = tokio::process::Command::new(binary)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--base-url",
            &base,
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--database-url")
        .arg(dir.join("hfs.db"))
        .args(["--log-level", "warn"])
        .kill_on_drop(true)
        .spawn()
        .expect("start hfs");
    let http = reqwest::Client::new();
    for _ in 0..240 {
        if let Ok(r) = http.get(format!("{base}/metadata")).send().await
            && r.status().is_success()
        {
            return Hfs {
                base,
                _child: child,
                _dir: dir,
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("helios-hfs did not answer {base}/metadata within 120 seconds");
}

pub(crate) async fn post_transaction(hfs: &Hfs, bundle: &Value) {
    let res = reqwest::Client::new()
        .post(&hfs.base)
        .header("content-type", "application/fhir+json")
        .header("accept", "application/fhir+json")
        .body(serde_json::to_vec(bundle).expect("json"))
        .send()
        .await
        .expect("post bundle");
    let status = res.status();
    assert!(
        status.is_success(),
        "hfs took the transaction: {status} {}",
        res.text().await.unwrap_or_default()
    );
}

/// A few HL7 R4 examples about Patient/example, from the specification's
/// npm package (unpacked by scripts/fhir-server).
fn hl7_examples() -> Vec<Value> {
    let cache = std::env::var("PORTAL_TOOLS_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/gp-portal")
        });
    let package = cache.join("hl7.fhir.r4.examples-4.0.1/package");
    [
        "Patient-example",
        "AllergyIntolerance-example",
        "AllergyIntolerance-fishallergy",
        "Condition-example",
        "Condition-stroke",
        "Observation-blood-pressure",
        "Observation-bmi",
        "Observation-body-temperature",
        "Observation-heart-rate",
        "Immunization-example",
    ]
    .iter()
    .map(|name| {
        let text =
            std::fs::read_to_string(package.join(format!("{name}.json"))).expect("HL7 example");
        serde_json::from_str(&text).expect("json")
    })
    .collect()
}

async fn same_record(local: &LocalGpRecord, fhir: &FhirGpRecord, patient: PatientRef) -> usize {
    let mut compared = 0;
    for section in Section::ALL {
        let (from_local, local_pages) = whole_section(local, patient, section).await;
        let (from_fhir, fhir_pages) = whole_section(fhir, patient, section).await;
        assert_eq!(from_fhir, from_local, "{section:?}");
        assert_eq!(fhir_pages, local_pages, "{section:?} pages");
        compared += from_local.len();
    }
    compared
}

#[tokio::test]
async fn against_helios_hfs_the_record_is_the_same_through_fhir_and_local() {
    let Some(binary) = hfs_binary() else {
        eprintln!("\n********\n{SKIPPED}\n********\n");
        return;
    };
    let hfs = start_hfs(&binary).await;
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!(
        "portal-hfs-import-{}-{}",
        std::process::id(),
        common::backend()
    ));
    std::fs::create_dir_all(&dir).expect("dir");

    // Synthea, as Sarah (matched by NHS number both ways).
    let synthea = synthea_bundle_for_sarah();
    post_transaction(&hfs, &synthea).await;
    let file = dir.join("synthea.json");
    std::fs::write(&file, serde_json::to_vec(&synthea).expect("json")).expect("write");
    // HL7 examples: PUT with their ids on the server; the same resources as
    // a collection for the local import, keyed Type/id.
    let examples = hl7_examples();
    let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": examples.iter().map(|r| json!({
        "resource": r,
        "request": {"method": "PUT", "url": format!("{}/{}", r["resourceType"].as_str().expect("type"), r["id"].as_str().expect("id"))},
    })).collect::<Vec<_>>()});
    post_transaction(&hfs, &transaction).await;
    let collection = json!({"resourceType": "Bundle", "type": "collection",
        "entry": examples.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()});
    std::fs::write(
        dir.join("z-hl7.json"),
        serde_json::to_vec(&collection).expect("json"),
    )
    .expect("write");
    server::gp_system::fhir_import::import_path(&app.db, "A81001", &dir)
        .await
        .expect("import");

    let local = LocalGpRecord { db: app.db.clone() };
    let fhir = FhirGpRecord::new(app.db.clone(), &fhir_config(&hfs.base, 30, 10)).expect("adapter");
    let sarah = sarah_ref(&app).await;
    let compared = same_record(&local, &fhir, sarah).await;
    assert!(compared > 100, "Synthea entries compared: {compared}");

    let example_patient = app
        .count("select patient_id from record_patient_sources where source_key = 'Patient/example'")
        .await;
    let example = PatientRef {
        id: PatientId(example_patient),
        practice: sarah.practice,
    };
    let compared = same_record(&local, &fhir, example).await;
    assert!(compared >= 3, "HL7 example entries compared: {compared}");
}

#[tokio::test]
async fn an_entry_staff_hide_never_reaches_the_patient_through_fhir() {
    let app = TestApp::spawn().await;
    let bundle = synthea_bundle_for_sarah();
    let (base, _fake) = start_fake(as_stored(&bundle), Mode::Answer).await;
    let patient = sarah_ref(&app).await;
    let fhir = FhirGpRecord::new(app.db.clone(), &fhir_config(&base, 20, 50)).expect("adapter");
    let manager = domain::AccountId(
        app.count(&format!(
            "select id from accounts where email = '{}'",
            common::MANAGER_A
        ))
        .await,
    );
    let patient_view = Visibility {
        recorded_from: None,
        include_hidden: false,
    };
    let query = |visibility| SectionQuery {
        from: None,
        to: None,
        page: 1,
        visibility,
    };
    let before = fhir
        .section(patient, Section::Immunisations, &query(patient_view))
        .await
        .expect("section");
    let target = before
        .entries
        .first()
        .expect("Synthea immunisations")
        .clone();

    assert!(
        fhir.set_hidden(patient, target.id, Some("About a third party"), manager)
            .await
            .expect("hide")
    );
    assert!(
        !fhir
            .set_hidden(patient, EntryId(12345), Some("x"), manager)
            .await
            .expect("hide"),
        "an entry that is not this patient's"
    );
    let after = fhir
        .section(patient, Section::Immunisations, &query(patient_view))
        .await
        .expect("section");
    assert_eq!(after.entries.len(), before.entries.len() - 1);
    assert!(after.entries.iter().all(|e| e.id != target.id));
    let staff = fhir
        .section(patient, Section::Immunisations, &query(Visibility::STAFF))
        .await
        .expect("section");
    assert!(staff.entries.iter().any(|e| e.id == target.id && e.hidden));

    // Shown again.
    assert!(
        fhir.set_hidden(patient, target.id, None, manager)
            .await
            .expect("show")
    );
    let shown = fhir
        .section(patient, Section::Immunisations, &query(patient_view))
        .await
        .expect("section");
    assert_eq!(shown.entries.len(), before.entries.len());
}
