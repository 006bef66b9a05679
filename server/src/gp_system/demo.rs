//! Demo records for `portal seed-demo`: the demo patient gets a small
//! record written for the demo (UK codes, reference ranges, a clinic
//! letter) and the largest Synthea patient's history; every other Synthea
//! patient of `../shared/fixtures/fhir/synthea-r4` becomes a Riverside
//! patient. Works without the Synthea folder: the demo record is built in.

use super::fhir_import::{
    ImportError, ImportReport, Target, import_bytes, import_file, practice_id,
};
use crate::db::{Db, now_unix};
use domain::PatientId;
use std::path::{Path, PathBuf};

const DEMO_RECORD: &str = include_str!("../../fixtures/demo-record.json");

/// Where the Synthea bundles are: `PORTAL_DEMO_FHIR_DIR`, else
/// `../shared/fixtures/fhir/synthea-r4` from the current folder (the repo
/// root), else the same beside this source tree.
pub fn synthea_folder() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("PORTAL_DEMO_FHIR_DIR").map(PathBuf::from),
        Some(PathBuf::from("../shared/fixtures/fhir/synthea-r4")),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/fhir/synthea-r4")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

/// Loads the demo records and puts the demo patient's whole record online.
pub async fn seed_records(db: &Db, demo_patient: PatientId) -> Result<ImportReport, ImportError> {
    let practice = practice_id(db, "Y90001").await?;
    let mut report = ImportReport::default();
    import_bytes(
        db,
        practice,
        "demo-record.json",
        DEMO_RECORD.as_bytes().to_vec(),
        Target::Into(demo_patient),
        &mut report,
    )
    .await?;
    if let Some(folder) = synthea_folder() {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(&folder)
            .map_err(|cause| ImportError::Unreadable {
                path: folder.display().to_string(),
                cause,
            })?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| (std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0), p))
            .collect();
        files.sort();
        if let Some((_, largest)) = files.pop() {
            import_file(
                db,
                practice,
                &largest,
                Target::Into(demo_patient),
                &mut report,
            )
            .await?;
        }
        for (_, file) in files {
            import_file(db, practice, &file, Target::ByPatient, &mut report).await?;
        }
    } else {
        tracing::info!("no Synthea bundles found; the demo patient has the built-in record only");
    }
    sqlx::query(
        "insert into record_settings (patient_id, practice_id, access_level, show_from, updated_by, updated_at)
         values ($1, $2, 'full', null, null, $3)
         on conflict (patient_id) do nothing",
    )
    .bind(demo_patient.0)
    .bind(practice.0)
    .bind(now_unix())
    .execute(&db.pool)
    .await?;
    Ok(report)
}
