//! Waiting messages whose time has come: a message published for later, or waiting out a
//! retry's backoff, is SCHEDULED (out of the claim index, so it costs polls nothing) until its
//! due time, then made PENDING here; a waiting message whose expiry has passed is moved to
//! EXPIRED (with a dead letter) here. Both by the background worker every
//! `pg_mq.schedule_interval`, and by a poll of its topic when no worker serves the database.
//! The pollers of each topic that got messages are woken when the promotion commits. Claims
//! skip an expired message even before it is moved, so expiry never hands one out late.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use crate::engine::keys;
use crate::pg::statements::Statement;
use crate::pg::wakeup;

/// At most this many messages are promoted (and as many expired) by one batch, so a
/// transaction stays short.
pub const PROMOTION_BATCH: i32 = 1_000;

/// Expires, then promotes, up to one batch each of the waiting messages of `topic` (None:
/// every topic) whose time has come; returns how many were moved and whether a batch was
/// full (more may be waiting). Rows another session holds are skipped, not waited for.
pub fn promote_batch(
    client: &mut SpiClient<'_>,
    topic: Option<&str>,
    now: TimestampWithTimeZone,
) -> (i64, bool) {
    let rows = Statement::Expire.run(client, &[topic.into(), now.into(), PROMOTION_BATCH.into()]);
    let expired = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let finished: Vec<keys::Finished> = rows
        .iter()
        .filter_map(|row| {
            Some(keys::Finished {
                key: row.get::<String>("ordering_key")?,
                topic: row.value("topic"),
                group: row.value("consumer_group"),
                id: row.value("id"),
                was_head: row.value::<String>("was") != "WAITING",
                dead: Some("expired"),
            })
        })
        .collect();
    keys::release(client, &finished, now);
    let promoted: i64 = Statement::Promote
        .run(client, &[topic.into(), now.into(), PROMOTION_BATCH.into()])
        .iter()
        .map(|row| {
            let group = row.get::<String>("consumer_group");
            wakeup::notify_delivery_on_commit(&row.value::<String>("topic"), group.as_deref());
            row.value::<i64>("promoted")
        })
        .sum();
    let full = i64::from(PROMOTION_BATCH);
    (expired + promoted, expired >= full || promoted >= full)
}

/// Expires and promotes every waiting message whose time has come, batch after batch, in the
/// caller's transaction; returns how many were moved.
pub fn promote_all(client: &mut SpiClient<'_>) -> i64 {
    let mut total = 0;
    loop {
        let (n, more) = promote_batch(client, None, crate::pg::clock::now());
        total += n;
        if !more {
            return total;
        }
    }
}
