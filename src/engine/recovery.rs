//! Recovery of messages whose consumer went away: a PROCESSING message whose lock expired goes
//! back to PENDING, deliverable at once. The expiry counts as a failed attempt (last_error
//! 'lock timeout'), so a message that kills every consumer is dead-lettered after max_retries
//! instead of looping forever. The stale holder's lease stops working.
//!
//! The background worker recovers every topic each `pg_mq.recovery_interval`; without the
//! worker (pg_mq not preloaded) `mq_poll` recovers its own topic before claiming;
//! `mq_recover()` (src/api/operations.rs) does it on demand.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use mq_core::backoff::RetryPolicy;

use crate::engine::failure::{self, RetryEvent};
use crate::pg::statements::Statement;

/// The error recorded on a message whose lock expired.
pub const LOCK_TIMEOUT_ERROR: &str = "lock timeout";

/// At most this many messages are recovered by one batch, so a transaction stays short.
pub const RECOVERY_BATCH: usize = 1_000;

/// An expired lock makes the message deliverable again at once: no backoff.
const IMMEDIATE: RetryPolicy = RetryPolicy {
    base_delay_ms: 0,
    max_delay_ms: 0,
    jitter: 0.0,
};

/// Recovers up to one batch of expired in-flight messages of `topic` (None: every topic);
/// returns how many were recovered or dead-lettered. Messages a consumer is settling right
/// now are skipped, not waited for.
pub fn recover_batch(
    client: &mut SpiClient<'_>,
    topic: Option<&str>,
    now: TimestampWithTimeZone,
) -> usize {
    let limit = i32::try_from(RECOVERY_BATCH).expect("batch fits i32");
    let expired = Statement::LockExpired.run(client, &[topic.into(), now.into(), limit.into()]);
    if expired.is_empty() {
        return 0;
    }
    let decisions = failure::decide(expired, |_| IMMEDIATE, now);
    failure::settle(
        client,
        &decisions,
        Some(LOCK_TIMEOUT_ERROR),
        RetryEvent::Recovered,
        now,
    )
    .len()
}

/// Recovers every expired lock, batch after batch, in the caller's transaction; returns how
/// many messages were recovered (or dead-lettered).
pub fn recover_all(client: &mut SpiClient<'_>) -> usize {
    let mut total = 0;
    loop {
        let n = recover_batch(client, None, crate::pg::clock::now());
        total += n;
        if n < RECOVERY_BATCH {
            return total;
        }
    }
}
