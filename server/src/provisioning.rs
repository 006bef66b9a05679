//! Creating practices, staff and patients: used by the CLI, the demo seed
//! and the tests. Each operation is one transaction, so a failure leaves
//! nothing half written. Accounts made here were set up by the practice or
//! an administrator, so their email addresses count as confirmed.

use crate::db::{Db, now_unix};
use crate::passwords;
use domain::{AccountId, Email, NhsNumber, OdsCode, PatientId, PracticeId, Role};
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(
        "No practice with ODS code {0} exists. Check the code, or run `portal seed-demo` to create the demo practices"
    )]
    UnknownPractice(String),
    #[error("A practice with ODS code {0} already exists")]
    PracticeExists(String),
    #[error("An account with that email address already exists. Use a different email address")]
    EmailTaken,
    #[error("A patient with that NHS number is already registered at this practice")]
    NhsNumberTaken,
    #[error("The password must be at least {min} characters long", min = passwords::MIN_PASSWORD_LEN)]
    PasswordTooShort,
    #[error("The password must be 128 characters or fewer")]
    PasswordTooLong,
    #[error("A {0} must belong to a practice: give --practice with its ODS code")]
    PracticeRequired(&'static str),
    #[error("A system administrator does not belong to a practice: leave out --practice")]
    AdminHasNoPractice,
    #[error("Use create-patient to add a patient")]
    PatientViaStaff,
    #[error("Name must be between 1 and 100 characters, on one line, without < or >")]
    BadName,
    #[error("No account uses that email address")]
    UnknownAccount,
    #[error("Only staff use a second factor: that account is a patient's")]
    NotStaff,
    #[error(
        "The authenticator secret must be base32 (letters A to Z and digits 2 to 7), at least 26 characters"
    )]
    BadSecondFactorSecret,
    #[error("Could not save to the database: {0}")]
    Database(#[source] sqlx::Error),
    #[error("Could not hash the password: {0}")]
    Hashing(String),
    #[error("Could not create the demo appointment sessions: {0}")]
    DemoSessions(String),
}

fn classify(err: sqlx::Error, unique: ProvisionError) -> ProvisionError {
    match err.as_database_error() {
        Some(db) if db.is_unique_violation() => unique,
        _ => ProvisionError::Database(err),
    }
}

/// Names reach emails and the access log: one line, sane length.
fn check_name(name: &str) -> Result<String, ProvisionError> {
    if domain::forms::name_problem(name, "name").is_some() {
        return Err(ProvisionError::BadName);
    }
    Ok(name.trim().to_owned())
}

async fn hash_checked(password: &SecretString) -> Result<String, ProvisionError> {
    let length = password.expose_secret().chars().count();
    if length < passwords::MIN_PASSWORD_LEN {
        return Err(ProvisionError::PasswordTooShort);
    }
    if length > domain::forms::MAX_PASSWORD_LEN {
        return Err(ProvisionError::PasswordTooLong);
    }
    passwords::hash_off_runtime(password.expose_secret().to_owned())
        .await
        .map_err(|e| ProvisionError::Hashing(e.to_string()))
}

async fn practice_id(
    tx: &mut crate::db::WriteTx,
    ods: &OdsCode,
) -> Result<PracticeId, ProvisionError> {
    sqlx::query("select id from practices where ods_code = $1")
        .bind(ods.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(ProvisionError::Database)?
        .map(|r| r.try_get::<i64, _>("id").map(PracticeId))
        .transpose()
        .map_err(ProvisionError::Database)?
        .ok_or_else(|| ProvisionError::UnknownPractice(ods.to_string()))
}

pub async fn create_practice(
    db: &Db,
    ods: &OdsCode,
    name: &str,
) -> Result<PracticeId, ProvisionError> {
    let mut tx = db.begin_write().await.map_err(ProvisionError::Database)?;
    let id = insert_practice(&mut tx, ods, name).await?;
    tx.commit().await.map_err(ProvisionError::Database)?;
    Ok(id)
}

async fn insert_practice(
    tx: &mut crate::db::WriteTx,
    ods: &OdsCode,
    name: &str,
) -> Result<PracticeId, ProvisionError> {
    let name = check_name(name)?;
    let row = sqlx::query(
        "insert into practices (ods_code, name, created_at) values ($1, $2, $3) returning id",
    )
    .bind(ods.as_str())
    .bind(name)
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| classify(e, ProvisionError::PracticeExists(ods.to_string())))?;
    Ok(PracticeId(
        row.try_get("id").map_err(ProvisionError::Database)?,
    ))
}

pub struct NewStaff {
    pub email: Email,
    pub display_name: String,
    pub role: Role,
    pub practice: Option<OdsCode>,
    pub password: SecretString,
}

pub async fn create_staff(db: &Db, staff: NewStaff) -> Result<AccountId, ProvisionError> {
    let phc = hash_checked(&staff.password).await?;
    let mut tx = db.begin_write().await.map_err(ProvisionError::Database)?;
    let id = insert_staff(&mut tx, &staff, phc).await?;
    tx.commit().await.map_err(ProvisionError::Database)?;
    Ok(id)
}

async fn insert_staff(
    tx: &mut crate::db::WriteTx,
    staff: &NewStaff,
    phc: String,
) -> Result<AccountId, ProvisionError> {
    let name = check_name(&staff.display_name)?;
    match (staff.role, &staff.practice) {
        (Role::Patient, _) => return Err(ProvisionError::PatientViaStaff),
        (Role::SystemAdmin, Some(_)) => return Err(ProvisionError::AdminHasNoPractice),
        (role, None) if role != Role::SystemAdmin => {
            return Err(ProvisionError::PracticeRequired(role.label()));
        }
        _ => {}
    }
    let practice = match &staff.practice {
        Some(ods) => Some(practice_id(tx, ods).await?),
        None => None,
    };
    let row = sqlx::query(
        "insert into accounts (practice_id, email, display_name, password_hash, role, patient_id, created_at, email_verified_at)
         values ($1, $2, $3, $4, $5, null, $6, $6) returning id",
    )
    .bind(practice.map(|p| p.0))
    .bind(staff.email.as_str())
    .bind(name)
    .bind(phc)
    .bind(staff.role.as_str())
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| classify(e, ProvisionError::EmailTaken))?;
    Ok(AccountId(
        row.try_get("id").map_err(ProvisionError::Database)?,
    ))
}

pub struct NewPatient {
    pub practice: OdsCode,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: chrono::NaiveDate,
    pub nhs_number: Option<NhsNumber>,
    /// An online account for the patient, if they are to sign in.
    pub account: Option<(Email, SecretString)>,
}

pub async fn create_patient(db: &Db, patient: NewPatient) -> Result<PatientId, ProvisionError> {
    let phc = match &patient.account {
        Some((_, password)) => Some(hash_checked(password).await?),
        None => None,
    };
    let mut tx = db.begin_write().await.map_err(ProvisionError::Database)?;
    let id = insert_patient(&mut tx, &patient, phc).await?;
    tx.commit().await.map_err(ProvisionError::Database)?;
    Ok(id)
}

async fn insert_patient(
    tx: &mut crate::db::WriteTx,
    patient: &NewPatient,
    phc: Option<String>,
) -> Result<PatientId, ProvisionError> {
    let given = check_name(&patient.given_name)?;
    let family = check_name(&patient.family_name)?;
    let practice = practice_id(tx, &patient.practice).await?;
    let row = sqlx::query(
        "insert into patients (practice_id, nhs_number, given_name, family_name, date_of_birth, created_at)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(practice.0)
    .bind(patient.nhs_number.as_ref().map(|n| n.as_str().to_owned()))
    .bind(&given)
    .bind(&family)
    .bind(patient.date_of_birth.format("%Y-%m-%d").to_string())
    .bind(now_unix())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| classify(e, ProvisionError::NhsNumberTaken))?;
    let id = PatientId(row.try_get("id").map_err(ProvisionError::Database)?);
    if let (Some((email, _)), Some(phc)) = (&patient.account, phc) {
        sqlx::query(
            "insert into accounts (practice_id, email, display_name, password_hash, role, patient_id, created_at, email_verified_at)
             values ($1, $2, $3, $4, 'patient', $5, $6, $6)",
        )
        .bind(practice.0)
        .bind(email.as_str())
        .bind(format!("{given} {family}"))
        .bind(phc)
        .bind(id.0)
        .bind(now_unix())
        .execute(&mut **tx)
        .await
        .map_err(|e| classify(e, ProvisionError::EmailTaken))?;
    }
    Ok(id)
}

/// Enrols an authenticator app with a known secret for a member of staff,
/// as if they had set it up themselves: for the demo and the tests, whose
/// staff must sign in without a phone. Replaces any earlier set-up; no
/// recovery codes are made.
pub async fn enrol_second_factor(
    db: &Db,
    email: &Email,
    secret_base32: &str,
) -> Result<(), ProvisionError> {
    let mut tx = db.begin_write().await.map_err(ProvisionError::Database)?;
    let row = sqlx::query("select id, role from accounts where email = $1")
        .bind(email.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(ProvisionError::Database)?
        .ok_or(ProvisionError::UnknownAccount)?;
    let role: String = row.try_get("role").map_err(ProvisionError::Database)?;
    if !Role::parse(&role).is_some_and(Role::is_staff) {
        return Err(ProvisionError::NotStaff);
    }
    let account = AccountId(row.try_get("id").map_err(ProvisionError::Database)?);
    insert_enrolled_second_factor(&mut tx, account, secret_base32).await?;
    tx.commit().await.map_err(ProvisionError::Database)
}

async fn insert_enrolled_second_factor(
    tx: &mut crate::db::WriteTx,
    account: AccountId,
    secret_base32: &str,
) -> Result<(), ProvisionError> {
    // totp-rs refuses secrets shorter than 128 bits.
    crate::stores::second_factor::totp(secret_base32, "")
        .map_err(|_| ProvisionError::BadSecondFactorSecret)?;
    let now = now_unix();
    sqlx::query(
        "insert into staff_mfa (account_id, secret, enrolled_at, last_used_step, created_at)
         values ($1, $2, $3, 0, $3)
         on conflict (account_id) do update
         set secret = excluded.secret, enrolled_at = excluded.enrolled_at, last_used_step = 0",
    )
    .bind(account.0)
    .bind(secret_base32)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(ProvisionError::Database)?;
    Ok(())
}

/// The password every demo account shares. Printed by `portal seed-demo`.
pub const DEMO_PASSWORD: &str = "demo-password-2026";
/// The authenticator secret every demo member of staff shares, so anyone
/// trying the demo can add it to an app (or compute codes in a test).
/// Printed by `portal seed-demo`. Base32, 160 bits.
pub const DEMO_TOTP_SECRET: &str = "GPONLINESERVICESDEMOSTAFFSECRET2";
pub const DEMO_PATIENT_EMAIL: &str = "sarah.jones@example.com";

pub enum SeedOutcome {
    Created {
        practices: usize,
        patients: usize,
        accounts: usize,
    },
    AlreadyThere,
}

/// Test-range NHS numbers (999 prefix) with valid check digits.
fn demo_nhs_numbers() -> impl Iterator<Item = NhsNumber> {
    (0u32..).filter_map(|n| {
        let stem = format!("999{:06}", 100_000 + n * 37);
        (0..10).find_map(|d| NhsNumber::parse(&format!("{stem}{d}")).ok())
    })
}

/// Two practices, staff of every role (each with an authenticator app
/// set up with [`DEMO_TOTP_SECRET`]), 24 patients (some without an NHS
/// number), a few of them with online accounts. Runs once; a second run
/// changes nothing.
pub async fn seed_demo(db: &Db) -> Result<SeedOutcome, ProvisionError> {
    let riverside = OdsCode::parse("Y90001").map_err(|_| ProvisionError::BadName)?;
    let hillside = OdsCode::parse("Y90002").map_err(|_| ProvisionError::BadName)?;
    let exists = sqlx::query("select count(*) as n from practices where ods_code = $1")
        .bind(riverside.as_str())
        .fetch_one(&db.pool)
        .await
        .map_err(ProvisionError::Database)?
        .try_get::<i64, _>("n")
        .map_err(ProvisionError::Database)?;
    if exists > 0 {
        return Ok(SeedOutcome::AlreadyThere);
    }
    // Hash first (slow, off the runtime), then write everything in one
    // transaction: a failure part-way leaves no demo data at all.
    let demo_hash = hash_checked(&SecretString::from(DEMO_PASSWORD)).await?;
    let mut tx = db.begin_write().await.map_err(ProvisionError::Database)?;
    let riverside_id = insert_practice(&mut tx, &riverside, "Riverside Surgery").await?;
    insert_practice(&mut tx, &hillside, "Hillside Medical Centre").await?;
    let password = || SecretString::from(DEMO_PASSWORD);
    let email = |s: &str| Email::parse(s).map_err(|_| ProvisionError::BadName);

    let staff = [
        (
            "priya.shah@riverside.example.com",
            "Priya Shah",
            Role::Receptionist,
            Some(&riverside),
        ),
        (
            "tom.okafor@riverside.example.com",
            "Dr Tom Okafor",
            Role::Clinician,
            Some(&riverside),
        ),
        (
            "helen.marsh@riverside.example.com",
            "Helen Marsh",
            Role::PracticeManager,
            Some(&riverside),
        ),
        (
            "sam.lee@hillside.example.com",
            "Sam Lee",
            Role::Receptionist,
            Some(&hillside),
        ),
        (
            "aisha.khan@hillside.example.com",
            "Dr Aisha Khan",
            Role::Clinician,
            Some(&hillside),
        ),
        (
            "mark.evans@hillside.example.com",
            "Mark Evans",
            Role::PracticeManager,
            Some(&hillside),
        ),
        (
            "admin@portal.example.com",
            "Service Administrator",
            Role::SystemAdmin,
            None,
        ),
    ];
    let mut accounts = 0;
    let mut riverside_receptionist = None;
    for (address, name, role, practice) in staff {
        let staff = NewStaff {
            email: email(address)?,
            display_name: name.into(),
            role,
            practice: practice.cloned(),
            password: password(),
        };
        let account = insert_staff(&mut tx, &staff, demo_hash.clone()).await?;
        insert_enrolled_second_factor(&mut tx, account, DEMO_TOTP_SECRET).await?;
        if role == Role::Receptionist && practice == Some(&riverside) {
            riverside_receptionist = Some(account);
        }
        accounts += 1;
    }

    let people = [
        (
            "Sarah",
            "Jones",
            "1984-03-27",
            true,
            Some(DEMO_PATIENT_EMAIL),
        ),
        (
            "Oliver",
            "Brown",
            "2001-11-02",
            false,
            Some("oliver.brown@example.com"),
        ),
        ("Margaret", "Taylor", "1941-06-15", true, None),
        ("James", "Wilson", "1967-09-30", true, None),
        ("Amelia", "Davies", "2019-01-12", true, None),
        ("Mohammed", "Ali", "1990-05-05", true, None),
        ("Grace", "Evans", "1975-12-24", false, None),
        ("Harry", "Thomas", "1958-02-08", true, None),
        ("Isla", "Roberts", "2008-07-19", true, None),
        ("George", "Johnson", "1949-04-01", true, None),
        ("Chloe", "Walker", "1996-10-10", true, None),
        ("Noah", "Wright", "2012-03-03", true, None),
        (
            "Amir",
            "Hussain",
            "1979-08-21",
            true,
            Some("amir.hussain@example.com"),
        ),
        ("Emily", "Green", "1988-01-30", true, None),
        ("Jack", "Hall", "1963-05-17", false, None),
        ("Sophie", "Clarke", "2003-09-09", true, None),
        ("William", "Lewis", "1952-11-11", true, None),
        ("Ava", "Young", "2016-06-06", true, None),
        ("Thomas", "King", "1970-02-14", true, None),
        ("Lily", "Scott", "1999-12-01", true, None),
        ("Daniel", "Baker", "1985-07-07", true, None),
        ("Ella", "Adams", "1938-03-18", false, None),
        ("Samuel", "Mitchell", "1993-04-22", true, None),
        ("Freya", "Turner", "2010-08-30", true, None),
    ];
    let mut numbers = demo_nhs_numbers();
    for (i, (given, family, dob, has_nhs, account_email)) in people.iter().enumerate() {
        let practice = if i < 12 {
            riverside.clone()
        } else {
            hillside.clone()
        };
        let account = match account_email {
            Some(e) => Some((email(e)?, password())),
            None => None,
        };
        accounts += usize::from(account.is_some());
        let phc = account.as_ref().map(|_| demo_hash.clone());
        insert_patient(
            &mut tx,
            &NewPatient {
                practice,
                given_name: (*given).into(),
                family_name: (*family).into(),
                date_of_birth: dob.parse().map_err(|_| ProvisionError::BadName)?,
                nhs_number: if *has_nhs { numbers.next() } else { None },
                account,
            },
            phc,
        )
        .await?;
    }
    if let Some(receptionist) = riverside_receptionist {
        insert_demo_sessions(&mut tx, db.dialect, riverside_id, receptionist).await?;
    }
    tx.commit().await.map_err(ProvisionError::Database)?;
    // The demo patient's GP record (and the Synthea patients', when the
    // fixtures are there), imported as `portal import-fhir` would.
    let sarah: i64 = sqlx::query("select patient_id from accounts where email = $1")
        .bind(DEMO_PATIENT_EMAIL)
        .fetch_one(&db.pool)
        .await
        .and_then(|r| r.try_get("patient_id"))
        .map_err(ProvisionError::Database)?;
    let records = crate::gp_system::demo::seed_records(db, PatientId(sarah))
        .await
        .map_err(|e| ProvisionError::Database(sqlx::Error::Protocol(e.to_string())))?;
    for problem in &records.problems {
        tracing::warn!(%problem, "a demo record resource was not imported");
    }
    Ok(SeedOutcome::Created {
        practices: 2,
        patients: people.len(),
        accounts,
    })
}

/// Two weeks of sessions at Riverside from today (UK date), so the demo
/// and the browser tests have slots to find: a GP every weekday morning in
/// person, a nurse every weekday afternoon by phone.
async fn insert_demo_sessions(
    tx: &mut crate::db::WriteTx,
    dialect: crate::db::Dialect,
    practice: PracticeId,
    by: AccountId,
) -> Result<(), ProvisionError> {
    use chrono::Datelike;
    use domain::appointments::SessionForm;
    let today = domain::uk_time::uk_local(chrono::Utc::now()).date();
    let until = today + chrono::Duration::days(14);
    let plans = [
        (
            "Dr Tom Okafor",
            "gp",
            "in_person",
            "Room 2",
            "09:00",
            "12:00",
            "10",
        ),
        (
            "Nurse Grace Obi",
            "nurse",
            "phone",
            "Telephone",
            "14:00",
            "16:00",
            "15",
        ),
    ];
    for first in (0..7).map(|d| today + chrono::Duration::days(d)) {
        if first.weekday().number_from_monday() > 5 {
            continue;
        }
        for (clinician, role, mode, location, start, end, minutes) in plans {
            let form = SessionForm {
                clinician: clinician.into(),
                role: role.into(),
                location: location.into(),
                date_day: first.day().to_string(),
                date_month: first.month().to_string(),
                date_year: first.year().to_string(),
                start_time: start.into(),
                end_time: end.into(),
                slot_minutes: minutes.into(),
                mode: mode.into(),
                bookable_online: "yes".into(),
                repeat_until_day: until.day().to_string(),
                repeat_until_month: until.month().to_string(),
                repeat_until_year: until.year().to_string(),
            };
            publish_demo_session(tx, dialect, practice, by, &form, today).await?;
        }
    }
    insert_yesterdays_clinic(tx, dialect, practice, by, today).await
}

/// A demo session, checked as the publish form checks it on `today`.
async fn publish_demo_session(
    tx: &mut crate::db::WriteTx,
    dialect: crate::db::Dialect,
    practice: PracticeId,
    by: AccountId,
    form: &domain::appointments::SessionForm,
    today: chrono::NaiveDate,
) -> Result<Vec<domain::appointments::SessionId>, ProvisionError> {
    let failed = |message: String| ProvisionError::DemoSessions(message);
    let checked = domain::appointments::check_session_form(form, today).map_err(|feedback| {
        failed(
            feedback
                .errors
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        )
    })?;
    crate::appointments::create_sessions_in(tx, dialect, practice, by, &checked)
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))
}

/// Who was booked into yesterday's demo clinic, at 09:00 and 09:10: two
/// demo patients without accounts (so never emailed), whose attendance the
/// demo and end2end/tests/staff-appointments.spec.ts record on the day view.
pub const YESTERDAYS_CLINIC: &str = "Dr Ruth Ellis";
const YESTERDAYS_PATIENTS: [(&str, &str, &str); 2] = [
    ("Amelia", "Davies", "Knee pain"),
    ("Isla", "Roberts", "Asthma review"),
];

/// A finished clinic, yesterday (UK date) 09:00 to 09:30, with two
/// patients booked: attendance can only be recorded once an appointment
/// has started (`Attendance::may_record`), so the demo needs one.
async fn insert_yesterdays_clinic(
    tx: &mut crate::db::WriteTx,
    dialect: crate::db::Dialect,
    practice: PracticeId,
    by: AccountId,
    today: chrono::NaiveDate,
) -> Result<(), ProvisionError> {
    use chrono::Datelike;
    use domain::appointments::SessionForm;
    let yesterday = today - chrono::Duration::days(1);
    let form = SessionForm {
        clinician: YESTERDAYS_CLINIC.into(),
        role: "gp".into(),
        location: "Room 1".into(),
        date_day: yesterday.day().to_string(),
        date_month: yesterday.month().to_string(),
        date_year: yesterday.year().to_string(),
        start_time: "09:00".into(),
        end_time: "09:30".into(),
        slot_minutes: "10".into(),
        mode: "in_person".into(),
        bookable_online: "no".into(),
        ..SessionForm::default()
    };
    let failed = |message: String| ProvisionError::DemoSessions(message);
    // Checked as it would have been the day before, when it was published.
    let sessions = publish_demo_session(tx, dialect, practice, by, &form, yesterday).await?;
    let session = sessions
        .first()
        .ok_or_else(|| failed("no session made".into()))?;
    let now = chrono::Utc::now().timestamp();
    for (n, (given, family, reason)) in YESTERDAYS_PATIENTS.into_iter().enumerate() {
        sqlx::query(
            "insert into appointments
                 (slot_id, practice_id, patient_id, status, reason, note, booked_online, booked_by, idempotency_key, booked_at)
             select s.id, s.practice_id, p.id, 'booked', $3, '', 0, $4, $8, $5
             from appointment_slots s, patients p
             where s.session_id = $1 and p.practice_id = s.practice_id and p.given_name = $6 and p.family_name = $7
             order by s.starts_at limit 1 offset $2",
        )
        .bind(session.0)
        .bind(n as i64)
        .bind(reason)
        .bind(by.0)
        .bind(now)
        .bind(given)
        .bind(family)
        .bind(format!("demo-yesterday-{n:04}"))
        .execute(&mut **tx)
        .await
        .map_err(ProvisionError::Database)?;
    }
    Ok(())
}

/// A demo patient with no online account, for trying sign-up: name, date
/// of birth and NHS number. None once they have signed up.
pub async fn demo_sign_up_example(
    db: &Db,
) -> Result<Option<(String, chrono::NaiveDate, NhsNumber)>, ProvisionError> {
    let row = sqlx::query(
        "select p.given_name, p.family_name, p.date_of_birth, p.nhs_number from patients p
         where p.given_name = 'Margaret' and p.family_name = 'Taylor'
           and not exists (select 1 from accounts a where a.patient_id = p.id)",
    )
    .fetch_optional(&db.pool)
    .await
    .map_err(ProvisionError::Database)?;
    let Some(row) = row else { return Ok(None) };
    let text = |name: &str| {
        row.try_get::<String, _>(name)
            .map_err(ProvisionError::Database)
    };
    let (Ok(dob), Ok(nhs)) = (
        text("date_of_birth")?.parse::<chrono::NaiveDate>(),
        NhsNumber::parse(&text("nhs_number")?),
    ) else {
        return Ok(None);
    };
    Ok(Some((
        format!("{} {}", text("given_name")?, text("family_name")?),
        dob,
        nhs,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_numbers_are_valid_and_distinct() {
        let numbers: Vec<_> = demo_nhs_numbers().take(30).collect();
        let mut unique = numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect::<Vec<_>>();
        unique.dedup();
        assert_eq!(unique.len(), 30);
        assert!(numbers.iter().all(|n| n.as_str().starts_with("999")));
    }
}
