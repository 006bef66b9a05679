//! When a signed-in session ends: after a spell of inactivity (default 15
//! minutes, as NHS services do) or after an absolute lifetime, whichever
//! comes first.

use serde::{Deserialize, Serialize};

/// What the server keeps in the session for a signed-in person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInSession {
    pub account: crate::AccountId,
    pub signed_in_at: i64,
    pub last_seen_at: i64,
    /// For a sign-in through NHS login: the level it reported this time.
    /// None for a password sign-in, which has the account's own level.
    #[serde(default)]
    pub nhs_login_level: Option<crate::IdentityLevel>,
    /// When a member of staff gave their second factor in this session.
    #[serde(default)]
    pub second_factor_at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Expired through inactivity: tell them why they were signed out.
    IdleTimedOut,
    /// Too old regardless of activity.
    LifetimeExceeded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
}

/// Touching `last_seen_at` on every request would write the session on
/// every request; a minute's resolution is plenty for a 15-minute timeout.
pub const TOUCH_RESOLUTION_SECONDS: i64 = 60;

impl SignedInSession {
    pub fn state(&self, now: i64, limits: SessionLimits) -> SessionState {
        if now - self.signed_in_at >= limits.absolute_seconds {
            SessionState::LifetimeExceeded
        } else if now - self.last_seen_at >= limits.idle_seconds {
            SessionState::IdleTimedOut
        } else {
            SessionState::Active
        }
    }

    pub fn needs_touch(&self, now: i64) -> bool {
        now - self.last_seen_at >= TOUCH_RESOLUTION_SECONDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AccountId;
    use proptest::prelude::*;

    const LIMITS: SessionLimits = SessionLimits {
        idle_seconds: 900,
        absolute_seconds: 12 * 3600,
    };

    fn session(signed_in_at: i64, last_seen_at: i64) -> SignedInSession {
        SignedInSession {
            account: AccountId(1),
            signed_in_at,
            last_seen_at,
            nhs_login_level: None,
            second_factor_at: None,
        }
    }

    #[test]
    fn idle_for_fifteen_minutes_ends_the_session() {
        assert_eq!(session(0, 0).state(899, LIMITS), SessionState::Active);
        assert_eq!(session(0, 0).state(900, LIMITS), SessionState::IdleTimedOut);
    }

    #[test]
    fn activity_cannot_extend_past_the_absolute_lifetime() {
        let now = 12 * 3600;
        assert_eq!(
            session(0, now - 10).state(now, LIMITS),
            SessionState::LifetimeExceeded
        );
    }

    proptest! {
        #[test]
        fn active_only_inside_both_limits(signed_in in 0i64..100_000, idle in 0i64..2000, age_extra in 0i64..50_000) {
            let last_seen = signed_in + age_extra;
            let now = last_seen + idle;
            let state = session(signed_in, last_seen).state(now, LIMITS);
            let inside = idle < LIMITS.idle_seconds && now - signed_in < LIMITS.absolute_seconds;
            prop_assert_eq!(state == SessionState::Active, inside);
        }
    }
}
