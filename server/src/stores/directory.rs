//! Practices, patients and who is signed in, read from the portal's own
//! database.

use super::db_err;
use crate::db::Db;
use async_trait::async_trait;
use domain::access::PatientRef;
use domain::ports::{Directory, PortError};
use domain::views::{PatientDetails, PracticeSummary};
use domain::{NhsNumber, PatientId, PracticeId};
use sqlx::Row;
use sqlx::any::AnyRow;

pub struct SqlDirectory {
    pub db: Db,
}

fn patient_ref(row: &AnyRow) -> Result<PatientRef, PortError> {
    Ok(PatientRef {
        id: PatientId(row.try_get("id").map_err(db_err)?),
        practice: PracticeId(row.try_get("practice_id").map_err(db_err)?),
    })
}

#[async_trait]
impl Directory for SqlDirectory {
    async fn patient_ref(&self, patient: PatientId) -> Result<Option<PatientRef>, PortError> {
        sqlx::query("select id, practice_id from patients where id = $1")
            .bind(patient.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(patient_ref)
            .transpose()
    }

    async fn patient_details(
        &self,
        patient: PatientRef,
    ) -> Result<Option<PatientDetails>, PortError> {
        let row = sqlx::query(
            "select p.given_name, p.family_name, p.date_of_birth, p.nhs_number, pr.name, pr.ods_code
             from patients p join practices pr on pr.id = p.practice_id
             where p.id = $1 and p.practice_id = $2",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let dob: String = row.try_get("date_of_birth").map_err(db_err)?;
        let nhs: Option<String> = row.try_get("nhs_number").map_err(db_err)?;
        Ok(Some(PatientDetails {
            given_name: row.try_get("given_name").map_err(db_err)?,
            family_name: row.try_get("family_name").map_err(db_err)?,
            date_of_birth: dob
                .parse()
                .map_err(|e| PortError::new(format!("stored date of birth: {e}")))?,
            nhs_number: nhs
                .map(|n| NhsNumber::parse(&n))
                .transpose()
                .map_err(|e| PortError::new(format!("stored NHS number: {e}")))?,
            practice_name: row.try_get("name").map_err(db_err)?,
            practice_ods_code: row.try_get("ods_code").map_err(db_err)?,
        }))
    }

    async fn find_by_nhs_number(
        &self,
        practice: PracticeId,
        nhs_number: &NhsNumber,
    ) -> Result<Option<PatientRef>, PortError> {
        sqlx::query(
            "select id, practice_id from patients where practice_id = $1 and nhs_number = $2",
        )
        .bind(practice.0)
        .bind(nhs_number.as_str())
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(patient_ref)
        .transpose()
    }

    async fn list_practices(&self) -> Result<Vec<PracticeSummary>, PortError> {
        let rows = sqlx::query(
            "select pr.ods_code, pr.name,
                    (select count(*) from patients p where p.practice_id = pr.id) as patients,
                    (select count(*) from accounts a where a.practice_id = pr.id and a.role <> 'patient') as staff
             from practices pr order by pr.name",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(PracticeSummary {
                    ods_code: r.try_get("ods_code").map_err(db_err)?,
                    name: r.try_get("name").map_err(db_err)?,
                    patients: r.try_get("patients").map_err(db_err)?,
                    staff: r.try_get("staff").map_err(db_err)?,
                })
            })
            .collect()
    }
}
