//! Sign-in throttling. Failures are counted per account (the email typed,
//! whether or not an account exists, so the answer reveals nothing) and per
//! client address, over a sliding window.

use std::time::Duration;

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const MAX_FAILURES_PER_ACCOUNT: u32 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleDecision {
    Proceed,
    TooManyAttempts,
}

/// `recent_*` are failures inside [`WINDOW`] before this attempt.
pub fn decide(recent_for_account: u32, recent_for_address: u32) -> ThrottleDecision {
    if recent_for_account >= MAX_FAILURES_PER_ACCOUNT
        || recent_for_address >= MAX_FAILURES_PER_ADDRESS
    {
        ThrottleDecision::TooManyAttempts
    } else {
        ThrottleDecision::Proceed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fifth_failure_locks_the_account() {
        assert_eq!(decide(4, 0), ThrottleDecision::Proceed);
        assert_eq!(decide(5, 0), ThrottleDecision::TooManyAttempts);
        assert_eq!(decide(0, 20), ThrottleDecision::TooManyAttempts);
    }

    proptest! {
        #[test]
        fn monotonic(a in 0u32..100, b in 0u32..100) {
            if decide(a, b) == ThrottleDecision::TooManyAttempts {
                prop_assert_eq!(decide(a + 1, b), ThrottleDecision::TooManyAttempts);
                prop_assert_eq!(decide(a, b + 1), ThrottleDecision::TooManyAttempts);
            }
        }
    }
}
