//! Recovery of messages whose consumer went away: a PROCESSING message whose lock expired goes
//! back to PENDING, deliverable at once. The expiry counts as a failed attempt (last_error
//! 'lock timeout'), so a message that kills every consumer is dead-lettered after max_retries
//! instead of looping forever. The stale holder's lease stops working.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use crate::backoff::RetryPolicy;
use crate::failure::{self, RetryEvent};
use crate::statements::Statement;

/// The error recorded on a message whose lock expired.
pub const LOCK_TIMEOUT_ERROR: &str = "lock timeout";

/// At most this many messages are recovered by one call, so a call stays short.
const RECOVERY_BATCH: i32 = 1_000;

/// An expired lock makes the message deliverable again at once: no backoff.
const IMMEDIATE: RetryPolicy = RetryPolicy {
    base_delay_ms: 0,
    max_delay_ms: 0,
    jitter: 0.0,
};

/// Recovers the expired in-flight messages of `topic`; returns how many were recovered or
/// dead-lettered. Messages a consumer is settling right now are skipped, not waited for.
pub fn recover_topic(client: &mut SpiClient<'_>, topic: &str, now: TimestampWithTimeZone) -> usize {
    let expired =
        Statement::LockExpired.run(client, &[topic.into(), now.into(), RECOVERY_BATCH.into()]);
    if expired.is_empty() {
        return 0;
    }
    let decisions = failure::decide(expired, IMMEDIATE);
    failure::settle(
        client,
        &decisions,
        Some(LOCK_TIMEOUT_ERROR),
        RetryEvent::Recovered,
        now,
    )
    .len()
}
