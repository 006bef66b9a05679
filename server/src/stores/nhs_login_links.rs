//! NHS login identities and the portal accounts they sign in to.
//!
//! An identity (issuer + subject) is linked to one patient account. On a
//! first sign-in it is linked automatically only when NHS login's NHS
//! number (checked with modulus 11) and date of birth both match exactly
//! one registered patient; never on a name. Otherwise the person is offered
//! their practice's registration letter (see `linkage`).

use super::db_err;
use crate::db::{Db, now_unix};
use domain::access::PatientRef;
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::identity::NhsLoginIdentity;
use domain::ports::PortError;
use domain::{AccountId, Email, IdentityLevel, NhsNumber, PatientId, PracticeId, Role};
use sqlx::{Any, Row};

/// The password hash of an account that signs in only through NHS login.
/// Not a PHC string, so no password can ever match it.
pub const NO_PASSWORD: &str = "!";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInResult {
    SignedIn(AccountId),
    /// No account yet and no patient matched: offer the registration letter.
    NotLinked,
    /// The patient matched, but NHS login's email address belongs to
    /// another portal account.
    EmailInUse,
    /// The patient matched, but their account is already linked to a
    /// different NHS login.
    AccountLinkedElsewhere,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkResult {
    Linked(AccountId),
    EmailInUse,
    AccountLinkedElsewhere,
}

/// Signs in on NHS login's word: the account already linked to this
/// identity, else the one patient its NHS number and date of birth match
/// (linked now), else nothing.
pub async fn sign_in_with(
    db: &Db,
    identity: &NhsLoginIdentity,
    request_id: &str,
) -> Result<SignInResult, PortError> {
    let linked =
        sqlx::query("select account_id from nhs_login_links where issuer = $1 and subject = $2")
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(&db.pool)
            .await
            .map_err(db_err)?;
    if let Some(row) = linked {
        let account = AccountId(row.try_get("account_id").map_err(db_err)?);
        sqlx::query("update nhs_login_links set last_sign_in_at = $2 where account_id = $1")
            .bind(account.0)
            .bind(now_unix())
            .execute(&db.pool)
            .await
            .map_err(db_err)?;
        return Ok(SignInResult::SignedIn(account));
    }
    let Some(patient) = matching_patient(db, identity).await? else {
        return Ok(SignInResult::NotLinked);
    };
    let mut tx = db.begin_write().await.map_err(db_err)?;
    // The account itself proves nothing: each sign-in brings NHS login's level.
    let result = link_identity(&mut tx, identity, patient, IdentityLevel::P0, request_id).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(match result {
        LinkResult::Linked(account) => SignInResult::SignedIn(account),
        LinkResult::EmailInUse => SignInResult::EmailInUse,
        LinkResult::AccountLinkedElsewhere => SignInResult::AccountLinkedElsewhere,
    })
}

/// The one patient whose NHS number and date of birth are NHS login's.
/// None when either is missing or invalid, or when no patient or several
/// (registered at more than one practice) match: then a letter decides.
async fn matching_patient(
    db: &Db,
    identity: &NhsLoginIdentity,
) -> Result<Option<PatientRef>, PortError> {
    let Some(nhs_number) = identity
        .nhs_number
        .as_deref()
        .and_then(|n| NhsNumber::parse(n).ok())
    else {
        return Ok(None);
    };
    let Some(date_of_birth) = identity.date_of_birth else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "select id, practice_id from patients where nhs_number = $1 and date_of_birth = $2 limit 2",
    )
    .bind(nhs_number.as_str())
    .bind(date_of_birth.format("%Y-%m-%d").to_string())
    .fetch_all(&db.pool)
    .await
    .map_err(db_err)?;
    match rows.as_slice() {
        [row] => Ok(Some(PatientRef {
            id: PatientId(row.try_get("id").map_err(db_err)?),
            practice: PracticeId(row.try_get("practice_id").map_err(db_err)?),
        })),
        _ => Ok(None),
    }
}

/// Links an NHS login identity to a patient inside the caller's transaction:
/// to the patient's existing online account if they have one, else to a new
/// account that signs in only through NHS login. The account's own identity
/// level is raised to `account_level` (P9 when a practice's letter proved
/// it). Writes the access-log row and a security event.
pub(crate) async fn link_identity(
    tx: &mut crate::db::WriteTx,
    identity: &NhsLoginIdentity,
    patient: PatientRef,
    account_level: IdentityLevel,
    request_id: &str,
) -> Result<LinkResult, PortError> {
    let now = now_unix();
    let existing = sqlx::query(
        "select a.id, (select count(*) from nhs_login_links l where l.account_id = a.id) as links
         from accounts a where a.patient_id = $1 and a.role = 'patient'",
    )
    .bind(patient.id.0)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let account = match existing {
        Some(row) => {
            let links: i64 = row.try_get("links").map_err(db_err)?;
            if links > 0 {
                return Ok(LinkResult::AccountLinkedElsewhere);
            }
            let account = AccountId(row.try_get("id").map_err(db_err)?);
            if account_level > IdentityLevel::P0 {
                raise_identity_level(tx, account, account_level).await?;
            }
            account
        }
        None => {
            let Some(email) = identity.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
                return Ok(LinkResult::EmailInUse);
            };
            let names = sqlx::query("select given_name, family_name from patients where id = $1")
                .bind(patient.id.0)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_err)?;
            let given: String = names.try_get("given_name").map_err(db_err)?;
            let family: String = names.try_get("family_name").map_err(db_err)?;
            let created = sqlx::query(
                "insert into accounts (practice_id, email, display_name, password_hash, role, patient_id, created_at, email_verified_at, identity_level)
                 values ($1, $2, $3, $4, 'patient', $5, $6, $7, $8) returning id",
            )
            .bind(patient.practice.0)
            .bind(email.as_str())
            .bind(format!("{given} {family}"))
            .bind(NO_PASSWORD)
            .bind(patient.id.0)
            .bind(now)
            // NHS login has checked the address when it says so.
            .bind(identity.email_verified.then_some(now))
            .bind(account_level.as_str())
            .fetch_one(&mut **tx)
            .await;
            match created {
                Ok(row) => AccountId(row.try_get("id").map_err(db_err)?),
                Err(e)
                    if e.as_database_error()
                        .is_some_and(|d| d.is_unique_violation()) =>
                {
                    return Ok(LinkResult::EmailInUse);
                }
                Err(e) => return Err(db_err(e)),
            }
        }
    };
    let inserted = sqlx::query(
        "insert into nhs_login_links (issuer, subject, account_id, linked_at, last_sign_in_at)
         values ($1, $2, $3, $4, $4)",
    )
    .bind(&identity.issuer)
    .bind(&identity.subject)
    .bind(account.0)
    .bind(now)
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => {}
        // The same person finishing two sign-ins at once: the other won.
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            return Ok(LinkResult::AccountLinkedElsewhere);
        }
        Err(e) => return Err(db_err(e)),
    }
    super::access_log::insert(
        &mut **tx,
        NewAccessLogEntry {
            practice: patient.practice,
            patient: patient.id,
            actor: Some(account),
            actor_role: Role::Patient,
            acting_for: Some(patient.id),
            action: RecordAction::LinkNhsLogin,
            outcome: Outcome::Allowed,
            request_id: request_id.to_owned(),
        },
    )
    .await?;
    security_event(
        &mut **tx,
        account,
        Some(account),
        "nhs_login_linked",
        request_id,
    )
    .await?;
    Ok(LinkResult::Linked(account))
}

/// Raises (never lowers) how well an account's identity is proved.
pub(crate) async fn raise_identity_level(
    tx: &mut crate::db::WriteTx,
    account: AccountId,
    level: IdentityLevel,
) -> Result<(), PortError> {
    // Text comparison works: 'P0' < 'P5' < 'P9'.
    sqlx::query("update accounts set identity_level = $2 where id = $1 and identity_level < $2")
        .bind(account.0)
        .bind(level.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// A change to how someone signs in, and who made it.
pub(crate) async fn security_event<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    account: AccountId,
    actor: Option<AccountId>,
    event: &str,
    request_id: &str,
) -> Result<(), PortError> {
    sqlx::query(
        "insert into security_events (account_id, actor_account_id, event, request_id, at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(account.0)
    .bind(actor.map(|a| a.0))
    .bind(event)
    .bind(request_id)
    .bind(now_unix())
    .execute(executor)
    .await
    .map_err(db_err)?;
    Ok(())
}
