//! `portal import-fhir`: runs the import and prints its summary.

use super::fhir_import::import_path;
use crate::db::Db;
use std::path::Path;

/// Prints the counts per resource type and each problem to standard error;
/// fails (a non-zero exit) when any resource could not be imported, after
/// the rest was.
pub async fn run(db: &Db, practice_ods: &str, path: &Path) -> anyhow::Result<()> {
    let report = import_path(db, practice_ods, path).await?;
    eprint!("{}", report.summary());
    if report.problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} problem(s), listed above. Everything else was imported; fix these and run the same command again",
            report.problems.len()
        )
    }
}
