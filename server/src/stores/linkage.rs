//! Registration letters (linkage keys) in the database: `linkage_keys`.
//!
//! Only a SHA-256 hash of each key is kept. Every change and its
//! access-log row share one write transaction; using a letter marks it used
//! with a conditional update (`where status = 'active'`) before anything is
//! linked, so two submissions at once link once. Wrong tries are counted by
//! the database itself (`failed_attempts + 1`), so two at once both count.
//! The rules (formats, what an attempt comes to) are in `domain::linkage`.

use super::db_err;
use super::nhs_login_links::{LinkResult, link_identity, raise_identity_level, security_event};
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use domain::access::PatientRef;
use domain::access_log::{NewAccessLogEntry, Outcome, RecordAction};
use domain::linkage::{
    AttemptDecision, CheckedLinkage, IssuedLetter, KeyState, KeyStatus, LetterState, LetterStatus,
    MAX_WRONG_ATTEMPTS, Redeemer, Redemption, RegistrationLetters, account_reference_from_random,
    after_wrong_attempts, decide_attempt, format_account_reference, format_linkage_key,
    linkage_key_from_random, same_surname,
};
use domain::ports::{ClientAddress, PortError};
use domain::throttle::{self, ThrottleDecision};
use domain::{AccountId, Actor, IdentityLevel, PatientId, PracticeId, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

type Tx = crate::db::WriteTx;

pub struct SqlRegistrationLetters {
    pub db: Db,
    /// How long a new letter works (`PORTAL_LINKAGE_KEY_DAYS`).
    pub lifetime_days: u32,
    /// Printed on the letter: where the patient goes.
    pub public_url: String,
}

fn key_hash(normalised_key: &str) -> String {
    Sha256::digest(normalised_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two hashes in time that does not depend on where they differ.
fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// 256 random bits at a time until they make a value (nearly always the
/// first time: see `linkage_key_from_random`).
fn random_from(make: fn(&[u8]) -> Option<String>) -> String {
    loop {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        if let Some(value) = make(&bytes) {
            return value;
        }
    }
}

fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// A letter as an attempt to use it needs it.
struct StoredLetter {
    id: i64,
    patient: PatientRef,
    key_hash: String,
    state: KeyState,
    family_name: String,
    date_of_birth: String,
    ods_code: String,
}

async fn find_letter(tx: &mut Tx, reference: &str) -> Result<Option<StoredLetter>, PortError> {
    let row = sqlx::query(
        "select k.id, k.practice_id, k.patient_id, k.key_hash, k.expires_at, k.failed_attempts, k.status,
                p.family_name, p.date_of_birth, pr.ods_code
         from linkage_keys k
         join patients p on p.id = k.patient_id
         join practices pr on pr.id = k.practice_id
         where k.account_reference = $1",
    )
    .bind(reference)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    let status: String = row.try_get("status").map_err(db_err)?;
    let failed: i64 = row.try_get("failed_attempts").map_err(db_err)?;
    Ok(Some(StoredLetter {
        id: row.try_get("id").map_err(db_err)?,
        patient: PatientRef {
            id: PatientId(row.try_get("patient_id").map_err(db_err)?),
            practice: PracticeId(row.try_get("practice_id").map_err(db_err)?),
        },
        key_hash: row.try_get("key_hash").map_err(db_err)?,
        state: KeyState {
            status: KeyStatus::parse(&status)
                .ok_or_else(|| PortError::new(format!("stored letter status {status}")))?,
            expires_at: row.try_get("expires_at").map_err(db_err)?,
            failed_attempts: u32::try_from(failed).unwrap_or(u32::MAX),
        },
        family_name: row.try_get("family_name").map_err(db_err)?,
        date_of_birth: row.try_get("date_of_birth").map_err(db_err)?,
        ods_code: row.try_get("ods_code").map_err(db_err)?,
    }))
}

/// A row on the patient's access log, by a member of staff.
fn staff_entry(
    staff: &Actor,
    patient: PatientRef,
    action: RecordAction,
    request_id: &str,
) -> NewAccessLogEntry {
    NewAccessLogEntry {
        practice: patient.practice,
        patient: patient.id,
        actor: Some(staff.account),
        actor_role: staff.role,
        acting_for: staff.acting_for,
        action,
        outcome: Outcome::Allowed,
        request_id: request_id.to_owned(),
    }
}

/// A row on the letter's record for someone using (or trying) the letter.
/// `account` is None for someone signed in with NHS login who has no
/// account yet; `acting_for` is the record their account belongs to.
fn use_entry(
    letter: PatientRef,
    account: Option<AccountId>,
    acting_for: Option<PatientId>,
    outcome: Outcome,
    request_id: &str,
) -> NewAccessLogEntry {
    NewAccessLogEntry {
        practice: letter.practice,
        patient: letter.id,
        actor: account,
        actor_role: Role::Patient,
        acting_for,
        action: RecordAction::UseRegistrationLetter,
        outcome,
        request_id: request_id.to_owned(),
    }
}

fn acting_for(redeemer: &Redeemer) -> Option<PatientId> {
    match redeemer {
        Redeemer::NhsLogin(_) => None,
        Redeemer::Account { patient, .. } => Some(*patient),
    }
}

/// Tries from this address lately: failed sign-ins and refused letters
/// share one budget, so guessing letters is as slow as guessing passwords.
async fn address_throttled(tx: &mut Tx, client: &ClientAddress) -> Result<bool, PortError> {
    let since = now_unix() - throttle::WINDOW.as_secs() as i64;
    let recent: i64 = sqlx::query(
        "select count(*) from sign_in_failures where scope = 'address' and key = $1 and at >= $2",
    )
    .bind(client.0.as_str())
    .bind(since)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?
    .try_get(0)
    .map_err(db_err)?;
    let recent = u32::try_from(recent).unwrap_or(u32::MAX);
    Ok(throttle::decide(0, recent) == ThrottleDecision::TooManyAttempts)
}

async fn count_address_failure(tx: &mut Tx, client: &ClientAddress) -> Result<(), PortError> {
    sqlx::query("insert into sign_in_failures (scope, key, at) values ('address', $1, $2)")
        .bind(client.0.as_str())
        .bind(now_unix())
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// A refused use of a letter: it counts against the client address and is
/// in the patient's access log, in the attempt's own transaction.
async fn refuse(
    mut tx: Tx,
    client: &ClientAddress,
    patient: PatientRef,
    redeemer: &Redeemer,
    request_id: &str,
) -> Result<(), PortError> {
    count_address_failure(&mut tx, client).await?;
    super::access_log::insert(
        &mut *tx,
        use_entry(
            patient,
            redeemer.account(),
            acting_for(redeemer),
            Outcome::Refused,
            request_id,
        ),
    )
    .await?;
    tx.commit().await.map_err(db_err)
}

impl SqlRegistrationLetters {
    /// Writes a refusal in a transaction of its own: after a failed link
    /// the first transaction is rolled back (on PostgreSQL it is unusable).
    async fn refuse_apart(
        &self,
        letter: PatientRef,
        redeemer: &Redeemer,
        request_id: &str,
    ) -> Result<(), PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        super::access_log::insert(
            &mut *tx,
            use_entry(
                letter,
                redeemer.account(),
                acting_for(redeemer),
                Outcome::Refused,
                request_id,
            ),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl RegistrationLetters for SqlRegistrationLetters {
    async fn issue(
        &self,
        staff: &Actor,
        patient: PatientRef,
        request_id: &str,
    ) -> Result<IssuedLetter, PortError> {
        // The caller authorized; this stops a slip there reaching another
        // practice's patient.
        if staff.practice != Some(patient.practice) {
            return Err(PortError::new(
                "letter asked for another practice's patient",
            ));
        }
        let now = now_unix();
        let expires_at = now + i64::from(self.lifetime_days) * 86_400;
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let names = sqlx::query(
            "select p.given_name, p.family_name, pr.ods_code, pr.name as practice_name
             from patients p join practices pr on pr.id = p.practice_id
             where p.id = $1 and p.practice_id = $2",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?
        .ok_or_else(|| PortError::new("letter asked for an unknown patient"))?;
        let replaced = sqlx::query(
            "update linkage_keys set status = 'revoked', ended_at = $2
             where patient_id = $1 and status = 'active'",
        )
        .bind(patient.id.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if replaced > 0 {
            super::access_log::insert(
                &mut *tx,
                staff_entry(
                    staff,
                    patient,
                    RecordAction::RevokeRegistrationLetter,
                    request_id,
                ),
            )
            .await?;
        }
        // Ten digits give ten thousand million references: a clash is rare,
        // and checked for rather than left to the unique index, whose
        // violation would end a PostgreSQL transaction.
        let reference = loop {
            let candidate = random_from(account_reference_from_random);
            let taken = sqlx::query("select 1 from linkage_keys where account_reference = $1")
                .bind(&candidate)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if taken.is_none() {
                break candidate;
            }
        };
        let key = random_from(linkage_key_from_random);
        sqlx::query(
            "insert into linkage_keys
                 (practice_id, patient_id, account_reference, key_hash, expires_at, failed_attempts, status, created_by, created_at)
             values ($1, $2, $3, $4, $5, 0, 'active', $6, $7)",
        )
        .bind(patient.practice.0)
        .bind(patient.id.0)
        .bind(&reference)
        .bind(key_hash(&key))
        .bind(expires_at)
        .bind(staff.account.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        super::access_log::insert(
            &mut *tx,
            staff_entry(
                staff,
                patient,
                RecordAction::IssueRegistrationLetter,
                request_id,
            ),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        let given: String = names.try_get("given_name").map_err(db_err)?;
        let family: String = names.try_get("family_name").map_err(db_err)?;
        Ok(IssuedLetter {
            patient: patient.id,
            account_reference: format_account_reference(&reference),
            linkage_key: format_linkage_key(&key),
            practice_ods: names.try_get("ods_code").map_err(db_err)?,
            practice_name: names.try_get("practice_name").map_err(db_err)?,
            patient_name: format!("{given} {family}"),
            expires_at: at(expires_at),
            portal_address: self.public_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn current(
        &self,
        staff: &Actor,
        patient: PatientRef,
    ) -> Result<Option<LetterStatus>, PortError> {
        if staff.practice != Some(patient.practice) {
            return Ok(None);
        }
        let row = sqlx::query(
            "select account_reference, status, created_at, expires_at, ended_at, failed_attempts
             from linkage_keys where patient_id = $1 and practice_id = $2
             order by id desc limit 1",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let status: String = row.try_get("status").map_err(db_err)?;
        let status = KeyStatus::parse(&status)
            .ok_or_else(|| PortError::new(format!("stored letter status {status}")))?;
        let expires_at: i64 = row.try_get("expires_at").map_err(db_err)?;
        let failed: i64 = row.try_get("failed_attempts").map_err(db_err)?;
        let reference: String = row.try_get("account_reference").map_err(db_err)?;
        Ok(Some(LetterStatus {
            account_reference: format_account_reference(&reference),
            state: LetterState::of(status, expires_at, now_unix()),
            created_at: at(row.try_get("created_at").map_err(db_err)?),
            expires_at: at(expires_at),
            ended_at: row
                .try_get::<Option<i64>, _>("ended_at")
                .map_err(db_err)?
                .map(at),
            failed_attempts: u32::try_from(failed).unwrap_or(u32::MAX),
        }))
    }

    async fn revoke(
        &self,
        staff: &Actor,
        patient: PatientRef,
        request_id: &str,
    ) -> Result<bool, PortError> {
        if staff.practice != Some(patient.practice) {
            return Err(PortError::new(
                "cancel asked for another practice's patient",
            ));
        }
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let revoked = sqlx::query(
            "update linkage_keys set status = 'revoked', ended_at = $3
             where patient_id = $1 and practice_id = $2 and status = 'active'",
        )
        .bind(patient.id.0)
        .bind(patient.practice.0)
        .bind(now_unix())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        if revoked {
            super::access_log::insert(
                &mut *tx,
                staff_entry(
                    staff,
                    patient,
                    RecordAction::RevokeRegistrationLetter,
                    request_id,
                ),
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(revoked)
    }

    async fn redeem(
        &self,
        redeemer: Redeemer,
        details: &CheckedLinkage,
        client: &ClientAddress,
        request_id: &str,
    ) -> Result<Redemption, PortError> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        if address_throttled(&mut tx, client).await? {
            tx.commit().await.map_err(db_err)?;
            return Ok(Redemption::TooManyAttempts);
        }
        let Some(letter) = find_letter(&mut tx, &details.account_reference).await? else {
            // No record to log against; the guess still counts.
            count_address_failure(&mut tx, client).await?;
            tx.commit().await.map_err(db_err)?;
            return Ok(Redemption::Refused(AttemptDecision::Unknown));
        };
        let key_matches = same_hash(&key_hash(&details.linkage_key), &letter.key_hash);
        let person_matches = same_surname(&details.family_name, &letter.family_name)
            && details.date_of_birth.format("%Y-%m-%d").to_string() == letter.date_of_birth
            && details.ods_code.as_str() == letter.ods_code;
        let mut decision = decide_attempt(Some(letter.state), now, key_matches, person_matches);

        let own_record = match &redeemer {
            Redeemer::Account { patient, .. } => *patient == letter.patient.id,
            Redeemer::NhsLogin(_) => true,
        };
        if decision == AttemptDecision::Linked && !own_record {
            // Every detail was right, so this is not a guess at the key:
            // the letter is left working for its patient.
            refuse(tx, client, letter.patient, &redeemer, request_id).await?;
            return Ok(Redemption::NotYourRecord);
        }

        if decision == AttemptDecision::Linked {
            let used = sqlx::query(
                "update linkage_keys set status = 'used', ended_at = $2 where id = $1 and status = 'active'",
            )
            .bind(letter.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
            if used == 1 {
                return self.link(tx, redeemer, letter.patient, request_id).await;
            }
            // Another request used, cancelled or locked it first.
            let latest = find_letter(&mut tx, &details.account_reference)
                .await?
                .map(|l| l.state);
            decision = decide_attempt(latest, now, true, true);
            if decision == AttemptDecision::Linked {
                return Err(PortError::new("letter still active after a failed use"));
            }
        } else if decision.counts_as_wrong(letter.state) {
            let counted = sqlx::query(
                "update linkage_keys
                 set failed_attempts = failed_attempts + 1,
                     status = case when failed_attempts + 1 >= $2 then 'locked' else status end,
                     ended_at = case when failed_attempts + 1 >= $2 then $3 else ended_at end
                 where id = $1 and status = 'active'
                 returning failed_attempts",
            )
            .bind(letter.id)
            .bind(i64::from(MAX_WRONG_ATTEMPTS))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
            decision = match counted {
                Some(row) => {
                    let failed: i64 = row.try_get(0).map_err(db_err)?;
                    after_wrong_attempts(u32::try_from(failed).unwrap_or(u32::MAX))
                }
                // Locked (or used) by another request meanwhile.
                None => AttemptDecision::Locked,
            };
        }
        refuse(tx, client, letter.patient, &redeemer, request_id).await?;
        Ok(Redemption::Refused(decision))
    }
}

impl SqlRegistrationLetters {
    /// The letter is marked used in `tx`; links the account and commits,
    /// or rolls everything back (the letter too) if it cannot be linked.
    async fn link(
        &self,
        mut tx: Tx,
        redeemer: Redeemer,
        letter: PatientRef,
        request_id: &str,
    ) -> Result<Redemption, PortError> {
        let account = match &redeemer {
            Redeemer::Account { account, .. } => {
                // The practice checked this person's ID when it made the letter.
                raise_identity_level(&mut tx, *account, IdentityLevel::P9).await?;
                security_event(
                    &mut *tx,
                    *account,
                    Some(*account),
                    "identity_checked_by_letter",
                    request_id,
                )
                .await?;
                *account
            }
            Redeemer::NhsLogin(identity) => {
                match link_identity(&mut tx, identity, letter, IdentityLevel::P9, request_id)
                    .await?
                {
                    LinkResult::Linked(account) => account,
                    refused => {
                        tx.rollback().await.map_err(db_err)?;
                        self.refuse_apart(letter, &redeemer, request_id).await?;
                        return Ok(match refused {
                            LinkResult::EmailInUse => Redemption::EmailInUse,
                            _ => Redemption::AccountLinkedElsewhere,
                        });
                    }
                }
            }
        };
        super::access_log::insert(
            &mut *tx,
            use_entry(
                letter,
                Some(account),
                Some(letter.id),
                Outcome::Allowed,
                request_id,
            ),
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Redemption::Linked(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_kept_as_sha256_hex() {
        let hash = key_hash("ABCDEFGHJKMNPQR");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(same_hash(&hash, &key_hash("ABCDEFGHJKMNPQR")));
        assert!(!same_hash(&hash, &key_hash("ABCDEFGHJKMNPQS")));
        assert!(!same_hash(&hash, &hash[..63]));
    }

    #[test]
    fn random_keys_and_references_have_their_shapes() {
        for _ in 0..50 {
            let key = random_from(linkage_key_from_random);
            assert_eq!(
                domain::linkage::normalise_linkage_key(&key).as_deref(),
                Some(key.as_str())
            );
            let reference = random_from(account_reference_from_random);
            assert_eq!(reference.len(), 10);
        }
    }
}
