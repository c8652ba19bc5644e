//! Scheduled messages falling due: a message published for later, or waiting out a retry's
//! backoff, is SCHEDULED (out of the claim index, so it costs polls nothing) until its due
//! time, then made PENDING here — by the background worker every `pg_mq.schedule_interval`,
//! and by a poll of its topic when no worker serves the database. The pollers of each topic
//! that got messages are woken when the promotion commits.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use crate::pg::statements::Statement;
use crate::pg::wakeup;

/// At most this many messages are promoted by one batch, so a transaction stays short.
pub const PROMOTION_BATCH: i32 = 1_000;

/// Promotes up to one batch of due SCHEDULED messages of `topic` (None: every topic); returns
/// how many. Rows another session holds are skipped, not waited for.
pub fn promote_batch(
    client: &mut SpiClient<'_>,
    topic: Option<&str>,
    now: TimestampWithTimeZone,
) -> i64 {
    Statement::Promote
        .run(client, &[topic.into(), now.into(), PROMOTION_BATCH.into()])
        .iter()
        .map(|row| {
            wakeup::notify_on_commit(&row.value::<String>("topic"));
            row.value::<i64>("promoted")
        })
        .sum()
}

/// Promotes every due SCHEDULED message, batch after batch, in the caller's transaction.
pub fn promote_all(client: &mut SpiClient<'_>) -> i64 {
    let mut total = 0;
    loop {
        let n = promote_batch(client, None, crate::pg::clock::now());
        total += n;
        if n < i64::from(PROMOTION_BATCH) {
            return total;
        }
    }
}
