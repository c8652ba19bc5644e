//! What happens to a message when a delivery fails: retry after an exponential backoff, or
//! go to the dead-letter table. Pure Rust; the glue supplies the settings and the randomness.

/// The retry settings in force for one call (`pg_mq.retry_base_delay`, `pg_mq.retry_max_delay`,
/// `pg_mq.retry_jitter`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    /// The largest fraction of the delay that jitter may take off, 0.0..=1.0.
    pub jitter: f64,
}

impl RetryPolicy {
    /// The same delay before every retry, without jitter (`mq_fail(..., retry_in => ...)`).
    pub fn fixed(delay_ms: i64) -> RetryPolicy {
        RetryPolicy {
            base_delay_ms: delay_ms,
            max_delay_ms: delay_ms,
            jitter: 0.0,
        }
    }
}

/// The fate of a message after a failed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Deliver again after `delay_ms`; `retry_count` failed attempts so far.
    Retry { retry_count: i32, delay_ms: i64 },
    /// Retries exhausted: status FAILED and a dead letter; `retry_count` failed attempts.
    DeadLetter { retry_count: i32 },
    /// The message's expiry has passed: status EXPIRED and a dead letter (error 'expired')
    /// instead of a retry; `retry_count` failed attempts.
    Expire { retry_count: i32 },
}

/// The delay before the next delivery after `retry_count` failed attempts (`retry_count >= 1`):
/// `min(base * 2^(retry_count - 1), max)`, shortened by jitter by at most `jitter * 100`%.
/// `jitter_sample` is uniform in `[0, 1)`; 0 gives the full delay.
pub fn retry_delay_ms(policy: RetryPolicy, retry_count: i32, jitter_sample: f64) -> i64 {
    let base = policy.base_delay_ms.max(0);
    let max = policy.max_delay_ms.max(0);
    let doublings = u32::try_from(retry_count.saturating_sub(1)).unwrap_or(0);
    let factor = 1_i64
        .checked_shl(doublings)
        .filter(|f| *f > 0)
        .unwrap_or(i64::MAX);
    let delay = base.saturating_mul(factor).min(max);
    let jitter = policy.jitter.clamp(0.0, 1.0) * jitter_sample.clamp(0.0, 1.0);
    let cut = (delay as f64 * jitter).floor() as i64;
    (delay - cut).clamp(0, delay)
}

/// Decides a failed delivery. `retry_count` is the number of failed attempts before this
/// one; a message is delivered at most `1 + max_retries` times.
pub fn on_failure(
    retry_count: i32,
    max_retries: i32,
    policy: RetryPolicy,
    jitter_sample: f64,
) -> FailureOutcome {
    let failed = retry_count.saturating_add(1);
    if failed > max_retries {
        FailureOutcome::DeadLetter {
            retry_count: failed,
        }
    } else {
        FailureOutcome::Retry {
            retry_count: failed,
            delay_ms: retry_delay_ms(policy, failed, jitter_sample),
        }
    }
}

/// Decides a failed delivery of a message that may have expired meanwhile: an expired message
/// is never retried (it expires, whatever retries it has left).
pub fn on_failure_of(
    retry_count: i32,
    max_retries: i32,
    expired: bool,
    policy: RetryPolicy,
    jitter_sample: f64,
) -> FailureOutcome {
    if expired {
        FailureOutcome::Expire {
            retry_count: retry_count.saturating_add(1),
        }
    } else {
        on_failure(retry_count, max_retries, policy, jitter_sample)
    }
}

/// A uniform sample in `[0, 1)` for jitter. Jitter only has to spread retries apart, not be
/// unpredictable, so the standard library's randomly keyed hasher is enough.
pub fn jitter_sample() -> f64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, RandomState};
    thread_local! {
        static STATE: RandomState = RandomState::new();
        static COUNTER: Cell<u64> = const { Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n
    });
    let bits = STATE.with(|s| s.hash_one(n));
    (bits >> 11) as f64 / (1_u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_message_expires_instead_of_retrying() {
        let policy = RetryPolicy::fixed(1_000);
        assert_eq!(
            on_failure_of(0, 5, true, policy, 0.0),
            FailureOutcome::Expire { retry_count: 1 }
        );
        assert_eq!(
            on_failure_of(0, 5, false, policy, 0.0),
            FailureOutcome::Retry {
                retry_count: 1,
                delay_ms: 1_000
            }
        );
        assert_eq!(
            on_failure_of(5, 5, false, policy, 0.0),
            FailureOutcome::DeadLetter { retry_count: 6 }
        );
    }

    const DEFAULTS: RetryPolicy = RetryPolicy {
        base_delay_ms: 1_000,
        max_delay_ms: 60_000,
        jitter: 0.0,
    };

    #[test]
    fn doubles_from_the_base_delay() {
        let delays: Vec<i64> = (1..=8).map(|n| retry_delay_ms(DEFAULTS, n, 0.0)).collect();
        assert_eq!(
            delays,
            vec![1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
    }

    #[test]
    fn caps_at_the_max_delay_without_overflow() {
        assert_eq!(retry_delay_ms(DEFAULTS, 64, 0.0), 60_000);
        assert_eq!(retry_delay_ms(DEFAULTS, i32::MAX, 0.0), 60_000);
        let huge = RetryPolicy {
            base_delay_ms: i64::from(i32::MAX),
            max_delay_ms: i64::from(i32::MAX),
            jitter: 0.0,
        };
        assert_eq!(retry_delay_ms(huge, 40, 0.0), i64::from(i32::MAX));
    }

    #[test]
    fn max_below_base_wins() {
        let p = RetryPolicy {
            base_delay_ms: 5_000,
            max_delay_ms: 2_000,
            jitter: 0.0,
        };
        assert_eq!(retry_delay_ms(p, 1, 0.0), 2_000);
    }

    #[test]
    fn jitter_only_shortens_and_by_at_most_its_fraction() {
        let p = RetryPolicy {
            jitter: 0.1,
            ..DEFAULTS
        };
        assert_eq!(retry_delay_ms(p, 1, 0.0), 1_000);
        assert_eq!(retry_delay_ms(p, 1, 0.5), 950);
        assert_eq!(retry_delay_ms(p, 1, 0.999_999), 901);
        for _ in 0..10_000 {
            let d = retry_delay_ms(p, 3, jitter_sample());
            assert!((3_600..=4_000).contains(&d), "{d}");
        }
    }

    #[test]
    fn full_jitter_never_goes_negative() {
        let p = RetryPolicy {
            jitter: 1.0,
            ..DEFAULTS
        };
        assert!(retry_delay_ms(p, 1, 0.999_999_9) <= 1);
        assert_eq!(retry_delay_ms(p, 1, 0.0), 1_000);
        let silly = RetryPolicy {
            jitter: 7.0,
            ..DEFAULTS
        };
        assert!(retry_delay_ms(silly, 1, 0.5) >= 0);
    }

    #[test]
    fn delivered_at_most_one_plus_max_retries_times() {
        // max_retries = 2: failures 1 and 2 retry, failure 3 dead-letters.
        assert_eq!(
            on_failure(0, 2, DEFAULTS, 0.0),
            FailureOutcome::Retry {
                retry_count: 1,
                delay_ms: 1_000
            }
        );
        assert_eq!(
            on_failure(1, 2, DEFAULTS, 0.0),
            FailureOutcome::Retry {
                retry_count: 2,
                delay_ms: 2_000
            }
        );
        assert_eq!(
            on_failure(2, 2, DEFAULTS, 0.0),
            FailureOutcome::DeadLetter { retry_count: 3 }
        );
        assert_eq!(
            on_failure(0, 0, DEFAULTS, 0.0),
            FailureOutcome::DeadLetter { retry_count: 1 }
        );
    }

    #[test]
    fn a_fixed_delay_overrides_the_backoff_but_still_counts_the_attempt() {
        let fixed = RetryPolicy::fixed(45_000);
        assert_eq!(
            on_failure(3, 5, fixed, 0.9),
            FailureOutcome::Retry {
                retry_count: 4,
                delay_ms: 45_000
            }
        );
        assert_eq!(
            on_failure(5, 5, fixed, 0.0),
            FailureOutcome::DeadLetter { retry_count: 6 }
        );
    }

    #[test]
    fn jitter_samples_are_in_range_and_vary() {
        let samples: Vec<f64> = (0..1_000).map(|_| jitter_sample()).collect();
        assert!(samples.iter().all(|s| (0.0..1.0).contains(s)));
        let distinct: std::collections::BTreeSet<u64> =
            samples.iter().map(|s| s.to_bits()).collect();
        assert!(distinct.len() > 990);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
