//! Staff second factor: authenticator apps (TOTP with totp-rs, QR codes
//! with qrcode) and recovery codes. The TOTP secret has to be kept as it
//! is (the server must compute the same codes as the phone); recovery
//! codes are kept only as SHA-256 hashes. Neither is ever logged.
//!
//! Using something up is one conditional UPDATE (`... where
//! last_used_step < $step`, `... where used_at is null`), so of two
//! requests racing with the same code exactly one succeeds.

use super::db_err;
use crate::db::{Db, now_unix};
use async_trait::async_trait;
use domain::ports::PortError;
use domain::second_factor::{
    CodeBox, CodeProblem, Enrolment, EnrolmentOutcome, EnrolmentStart, RECOVERY_ALPHABET,
    RECOVERY_CODE_COUNT, RECOVERY_CODE_LENGTH, ResetOutcome, STEP_SECONDS, SecondFactor,
    SecondFactorStatus, SecurityEvent, StepMatch, TeamMember, TypedCode, group_recovery_code,
    match_step, may_reset, read_code, shape_problem,
};
use domain::throttle::{self, ThrottleDecision};
use domain::{AccountId, Actor, Permission, PracticeId, Role};
use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::Row;
use totp_rs::{Algorithm, Secret, Totp};

/// The name an authenticator app shows beside the codes.
const ISSUER: &str = "GP online services";

pub struct SqlSecondFactor {
    pub db: Db,
}

type Tx = crate::db::WriteTx;

/// A member of staff's row in `staff_mfa`.
struct Stored {
    secret: String,
    enrolled: bool,
    last_used_step: i64,
}

/// SHA-1, 6 digits, 30-second steps: what every authenticator app speaks.
/// No skew here: the window of steps is the domain's `match_step`, which
/// asks about one step at a time.
pub fn totp(secret_base32: &str, account_name: &str) -> Result<Totp, PortError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|_| PortError::new("stored second-factor secret is not base32"))?;
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(STEP_SECONDS as u64)
        .with_skew(0)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account_name)
        .build()
        .map_err(|e| PortError::new(format!("second-factor secret: {e}")))
}

/// The code an authenticator app shows for a time step. For tests and the
/// demo's documentation; the server only ever checks codes.
pub fn code_for_step(secret_base32: &str, step: i64) -> Result<String, PortError> {
    let seconds = u64::try_from(step * STEP_SECONDS).map_err(PortError::new)?;
    Ok(totp(secret_base32, "")?.generate(seconds).to_string())
}

fn code_matches_step(totp: &Totp, code: &str, step: i64) -> bool {
    u64::try_from(step * STEP_SECONDS).is_ok_and(|seconds| totp.check(code, seconds).is_some())
}

/// The QR code as an inline `<svg>`, labelled for screen readers (who are
/// told where the same key is written out as text). Drawn here rather than
/// by qrcode's renderer, which writes a standalone document with one
/// rectangle per module: each row's dark runs become one path segment, in
/// module units, with the four-module quiet zone scanners need.
fn qr_svg(otpauth_url: &str) -> Result<String, PortError> {
    use std::fmt::Write;
    const QUIET_ZONE: usize = 4;
    let code = qrcode::QrCode::with_error_correction_level(otpauth_url, qrcode::EcLevel::M)
        .map_err(|e| PortError::new(format!("QR code: {e}")))?;
    let width = code.width();
    let modules = code.to_colors();
    let dark = |x: usize, y: usize| modules[y * width + x] == qrcode::Color::Dark;
    let mut path = String::new();
    for y in 0..width {
        let mut x = 0;
        while x < width {
            if !dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < width && dark(x, y) {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                path,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    let size = width + 2 * QUIET_ZONE;
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\" role=\"img\" focusable=\"false\" class=\"portal-qr-code\" \
         aria-label=\"QR code for your authenticator app. If you cannot scan it, \
         type the setup key shown below into the app instead.\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// A fresh recovery code: 12 characters drawn evenly from the alphabet.
fn new_recovery_code() -> String {
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODE_LENGTH)
        .map(|_| char::from(RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())]))
        .collect()
}

/// Of a recovery code as `read_code` gives it (no hyphens, lower case).
fn recovery_code_hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn record_event(
    tx: &mut Tx,
    account: AccountId,
    actor: AccountId,
    event: SecurityEvent,
    request_id: &str,
) -> Result<(), PortError> {
    sqlx::query(
        "insert into security_events (account_id, actor_account_id, event, request_id, at)
         values ($1, $2, $3, $4, $5)",
    )
    .bind(account.0)
    .bind(actor.0)
    .bind(event.as_str())
    .bind(request_id)
    .bind(now_unix())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

impl SqlSecondFactor {
    async fn stored(&self, account: AccountId) -> Result<Option<Stored>, PortError> {
        let row = sqlx::query(
            "select secret, enrolled_at, last_used_step from staff_mfa where account_id = $1",
        )
        .bind(account.0)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            Ok(Stored {
                secret: row.try_get("secret").map_err(db_err)?,
                enrolled: row
                    .try_get::<Option<i64>, _>("enrolled_at")
                    .map_err(db_err)?
                    .is_some(),
                last_used_step: row.try_get("last_used_step").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn email(&self, account: AccountId) -> Result<String, PortError> {
        sqlx::query("select email from accounts where id = $1")
            .bind(account.0)
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| PortError::new("second factor for an account that is gone"))?
            .try_get("email")
            .map_err(db_err)
    }

    async fn too_many_failures(&self, account: AccountId) -> Result<bool, PortError> {
        let since = now_unix() - throttle::WINDOW.as_secs() as i64;
        let failures: i64 = sqlx::query(
            "select count(*) from second_factor_failures where account_id = $1 and at >= $2",
        )
        .bind(account.0)
        .bind(since)
        .fetch_one(&self.db.pool)
        .await
        .map_err(db_err)?
        .try_get(0)
        .map_err(db_err)?;
        Ok(
            throttle::decide(u32::try_from(failures).unwrap_or(u32::MAX), 0)
                == ThrottleDecision::TooManyAttempts,
        )
    }

    async fn record_failure(&self, account: AccountId) -> Result<(), PortError> {
        let now = now_unix();
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query("insert into second_factor_failures (account_id, at) values ($1, $2)")
            .bind(account.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Old rows count for nothing; trimming here keeps the table small.
        sqlx::query("delete from second_factor_failures where at < $1")
            .bind(now - throttle::WINDOW.as_secs() as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// Only the person with the phone gets this far, so their own slips no
    /// longer count against them.
    async fn clear_failures(tx: &mut Tx, account: AccountId) -> Result<(), PortError> {
        sqlx::query("delete from second_factor_failures where account_id = $1")
            .bind(account.0)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn verify_authenticator_code(
        &self,
        account: AccountId,
        stored: &Stored,
        code: &str,
    ) -> Result<Result<(), CodeProblem>, PortError> {
        let totp = totp(&stored.secret, "")?;
        let step = match match_step(now_unix(), stored.last_used_step, |step| {
            code_matches_step(&totp, code, step)
        }) {
            StepMatch::Fresh(step) => step,
            StepMatch::AlreadyUsed => return Ok(Err(CodeProblem::CodeAlreadyUsed)),
            StepMatch::NoMatch => {
                self.record_failure(account).await?;
                return Ok(Err(CodeProblem::WrongCode));
            }
        };
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let used = sqlx::query(
            "update staff_mfa set last_used_step = $2
             where account_id = $1 and enrolled_at is not null and last_used_step < $2",
        )
        .bind(account.0)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if used != 1 {
            // Another request used this step (or a later one) first.
            return Ok(Err(CodeProblem::CodeAlreadyUsed));
        }
        Self::clear_failures(&mut tx, account).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(Ok(()))
    }

    async fn use_recovery_code(
        &self,
        account: AccountId,
        code: &str,
        request_id: &str,
    ) -> Result<Result<(), CodeProblem>, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let used = sqlx::query(
            "update mfa_recovery_codes set used_at = $3
             where account_id = $1 and code_hash = $2 and used_at is null",
        )
        .bind(account.0)
        .bind(recovery_code_hash(code))
        .bind(now_unix())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if used == 0 {
            drop(tx);
            self.record_failure(account).await?;
            return Ok(Err(CodeProblem::WrongRecoveryCode));
        }
        record_event(
            &mut tx,
            account,
            account,
            SecurityEvent::RecoveryCodeUsed,
            request_id,
        )
        .await?;
        Self::clear_failures(&mut tx, account).await?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(account = account.0, "a recovery code was used");
        Ok(Ok(()))
    }
}

#[async_trait]
impl SecondFactor for SqlSecondFactor {
    async fn status(&self, account: AccountId) -> Result<SecondFactorStatus, PortError> {
        Ok(match self.stored(account).await? {
            Some(Stored { enrolled: true, .. }) => SecondFactorStatus::Enrolled,
            _ => SecondFactorStatus::NotEnrolled,
        })
    }

    async fn start_enrolment(&self, account: AccountId) -> Result<EnrolmentStart, PortError> {
        let secret = match self.stored(account).await? {
            Some(Stored { enrolled: true, .. }) => return Ok(EnrolmentStart::AlreadyEnrolled),
            Some(unconfirmed) => unconfirmed.secret,
            None => {
                // Two tabs opening set-up at once agree on the first secret.
                sqlx::query(
                    "insert into staff_mfa (account_id, secret, created_at) values ($1, $2, $3)
                     on conflict (account_id) do nothing",
                )
                .bind(account.0)
                .bind(Secret::generate().to_base32())
                .bind(now_unix())
                .execute(&self.db.pool)
                .await
                .map_err(db_err)?;
                match self.stored(account).await? {
                    Some(Stored {
                        enrolled: false,
                        secret,
                        ..
                    }) => secret,
                    Some(_) => return Ok(EnrolmentStart::AlreadyEnrolled),
                    None => return Err(PortError::new("second-factor secret not saved")),
                }
            }
        };
        let totp = totp(&secret, &self.email(account).await?)?;
        let otpauth_url = totp
            .to_url()
            .map_err(|e| PortError::new(format!("otpauth url: {e}")))?;
        Ok(EnrolmentStart::Started(Enrolment {
            secret_base32: secret,
            qr_svg: qr_svg(&otpauth_url)?,
            otpauth_url,
        }))
    }

    async fn confirm_enrolment(
        &self,
        account: AccountId,
        code: &str,
        request_id: &str,
    ) -> Result<EnrolmentOutcome, PortError> {
        let code = match read_code(code) {
            TypedCode::Authenticator(code) => code,
            TypedCode::Empty => return Ok(EnrolmentOutcome::Refused(CodeProblem::MissingCode)),
            _ => return Ok(EnrolmentOutcome::Refused(CodeProblem::MalformedCode)),
        };
        if self.too_many_failures(account).await? {
            return Ok(EnrolmentOutcome::Refused(CodeProblem::TooManyAttempts));
        }
        let stored = match self.stored(account).await? {
            None => return Ok(EnrolmentOutcome::NotStarted),
            Some(Stored { enrolled: true, .. }) => return Ok(EnrolmentOutcome::AlreadyEnrolled),
            Some(stored) => stored,
        };
        let totp = totp(&stored.secret, "")?;
        let step = match match_step(now_unix(), stored.last_used_step, |step| {
            code_matches_step(&totp, &code, step)
        }) {
            StepMatch::Fresh(step) => step,
            StepMatch::AlreadyUsed => {
                return Ok(EnrolmentOutcome::Refused(CodeProblem::CodeAlreadyUsed));
            }
            StepMatch::NoMatch => {
                self.record_failure(account).await?;
                return Ok(EnrolmentOutcome::Refused(CodeProblem::WrongCode));
            }
        };
        let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
            .map(|_| new_recovery_code())
            .collect();
        let now = now_unix();
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        // The secret is named so that a reset and a new set-up in another
        // tab since this page was loaded cannot be confirmed with the old one.
        let enrolled = sqlx::query(
            "update staff_mfa set enrolled_at = $2, last_used_step = $3
             where account_id = $1 and secret = $4 and enrolled_at is null and last_used_step < $3",
        )
        .bind(account.0)
        .bind(now)
        .bind(step)
        .bind(&stored.secret)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if enrolled != 1 {
            return Ok(EnrolmentOutcome::AlreadyEnrolled);
        }
        sqlx::query("delete from mfa_recovery_codes where account_id = $1")
            .bind(account.0)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for code in &codes {
            sqlx::query(
                "insert into mfa_recovery_codes (account_id, code_hash, created_at) values ($1, $2, $3)",
            )
            .bind(account.0)
            .bind(recovery_code_hash(code))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        record_event(
            &mut tx,
            account,
            account,
            SecurityEvent::SecondFactorEnrolled,
            request_id,
        )
        .await?;
        Self::clear_failures(&mut tx, account).await?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(account = account.0, "a second factor was set up");
        Ok(EnrolmentOutcome::Enrolled(
            codes.iter().map(|c| group_recovery_code(c)).collect(),
        ))
    }

    async fn verify(
        &self,
        account: AccountId,
        code: &str,
        code_box: CodeBox,
        request_id: &str,
    ) -> Result<domain::second_factor::Verification, PortError> {
        use domain::second_factor::Verification;
        let typed = read_code(code);
        if let Some(problem) = shape_problem(&typed, code_box) {
            return Ok(Verification::Refused(problem));
        }
        if self.too_many_failures(account).await? {
            return Ok(Verification::Refused(CodeProblem::TooManyAttempts));
        }
        let stored = match self.stored(account).await? {
            Some(stored) if stored.enrolled => stored,
            _ => return Ok(Verification::NotEnrolled),
        };
        let checked = match typed {
            TypedCode::Authenticator(code) => {
                self.verify_authenticator_code(account, &stored, &code)
                    .await?
            }
            TypedCode::Recovery(code) => self.use_recovery_code(account, &code, request_id).await?,
            // shape_problem answered these.
            TypedCode::Empty | TypedCode::Malformed => Err(CodeProblem::MalformedCode),
        };
        Ok(match checked {
            Ok(()) => Verification::Accepted,
            Err(problem) => Verification::Refused(problem),
        })
    }

    async fn reset_for_colleague(
        &self,
        manager: &Actor,
        colleague: AccountId,
        request_id: &str,
    ) -> Result<ResetOutcome, PortError> {
        let mut tx = self.db.begin_write().await.map_err(db_err)?;
        let row = sqlx::query("select role, practice_id from accounts where id = $1")
            .bind(colleague.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            return Ok(ResetOutcome::Forbidden);
        };
        let role = Role::parse(&row.try_get::<String, _>("role").map_err(db_err)?)
            .ok_or_else(|| PortError::new("stored role"))?;
        let practice = row
            .try_get::<Option<i64>, _>("practice_id")
            .map_err(db_err)?
            .map(PracticeId);
        if !may_reset(manager, colleague, role, practice) {
            return Ok(ResetOutcome::Forbidden);
        }
        for forget in [
            "delete from staff_mfa where account_id = $1",
            "delete from mfa_recovery_codes where account_id = $1",
            "delete from second_factor_failures where account_id = $1",
            // Whoever holds their sessions now (perhaps with the lost
            // phone) is signed out.
            "delete from sessions where account_id = $1",
        ] {
            sqlx::query(forget)
                .bind(colleague.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        record_event(
            &mut tx,
            colleague,
            manager.account,
            SecurityEvent::SecondFactorReset,
            request_id,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        tracing::info!(
            account = colleague.0,
            by = manager.account.0,
            "a practice manager reset a colleague's second factor"
        );
        Ok(ResetOutcome::Done)
    }

    async fn team(&self, manager: &Actor) -> Result<Vec<TeamMember>, PortError> {
        let Some(practice) = manager
            .practice
            .filter(|_| manager.role.has(Permission::ManagePracticeStaff))
        else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "select a.id, a.display_name, a.role, m.enrolled_at
             from accounts a left join staff_mfa m on m.account_id = a.id
             where a.practice_id = $1 and a.role <> 'patient'
             order by a.display_name, a.id",
        )
        .bind(practice.0)
        .fetch_all(&self.db.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let account = AccountId(row.try_get("id").map_err(db_err)?);
                let role_text: String = row.try_get("role").map_err(db_err)?;
                Ok(TeamMember {
                    account,
                    display_name: row.try_get("display_name").map_err(db_err)?,
                    role: Role::parse(&role_text)
                        .ok_or_else(|| PortError::new(format!("unknown role {role_text}")))?,
                    second_factor: if row
                        .try_get::<Option<i64>, _>("enrolled_at")
                        .map_err(db_err)?
                        .is_some()
                    {
                        SecondFactorStatus::Enrolled
                    } else {
                        SecondFactorStatus::NotEnrolled
                    },
                    is_you: account == manager.account,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA-1 test secret "12345678901234567890"
    /// gives 94287082 at 59 seconds; its last six digits are the 6-digit code.
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        assert_eq!(code_for_step(&secret, 1).expect("code"), "287082");
        // 1111111109 seconds: 07081804.
        assert_eq!(
            code_for_step(&secret, 1_111_111_109 / STEP_SECONDS).expect("code"),
            "081804"
        );
    }

    #[test]
    fn recovery_codes_read_back_as_recovery_codes() {
        for _ in 0..200 {
            let code = new_recovery_code();
            assert_eq!(
                read_code(&group_recovery_code(&code)),
                TypedCode::Recovery(code.clone())
            );
            assert_eq!(recovery_code_hash(&code).len(), 64);
        }
    }

    #[test]
    fn the_qr_code_is_an_inline_labelled_svg() {
        let totp = totp("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "jo@example.com").expect("totp");
        let url = totp.to_url().expect("url");
        assert!(url.starts_with("otpauth://totp/"));
        assert!(url.contains("secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"));
        assert!(url.contains("issuer=GP%20online%20services"));
        let svg = qr_svg(&url).expect("svg");
        assert!(svg.starts_with("<svg xmlns="));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("aria-label=\"QR code"));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
