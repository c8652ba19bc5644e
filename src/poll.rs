//! `mq_poll`: claim a batch of due messages of a topic.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use crate::capabilities::Capability;
use crate::jsonb::RawJsonb;
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, privileges, recovery, settings, validation, wakeup};
use std::time::{Duration, Instant};

type PolledRow = (
    i64,
    String,
    RawJsonb,
    Option<RawJsonb>,
    i32,
    i32,
    i32,
    Uuid,
    TimestampWithTimeZone,
    Uuid,
);

/// A waiting poll looks again at least this often, for messages that fall due (scheduled ones,
/// retries) rather than being committed.
const LONGEST_NAP: Duration = Duration::from_millis(500);

/// Claims up to `batch_size` due messages of `topic` (highest priority first, then earliest
/// due, then lowest id), marks them PROCESSING for `lock_timeout` and returns them, each with
/// a fresh lease. Pollers never block each other and never receive a message whose lock is live.
/// With `wait` > 0 and nothing due, it waits up to `wait` for a message to be committed.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_poll(
    topic: Option<&str>,
    batch_size: default!(Option<i32>, 10),
    lock_timeout: default!(Option<Interval>, "NULL"),
    consumer_id: default!(Option<&str>, "NULL"),
    wait: default!(Option<Interval>, "'0'"),
) -> TableIterator<
    'static,
    (
        name!(id, i64),
        name!(topic, String),
        name!(payload, RawJsonb),
        name!(headers, Option<RawJsonb>),
        name!(priority, i32),
        name!(retry_count, i32),
        name!(max_retries, i32),
        name!(trace_id, Uuid),
        name!(published_at, TimestampWithTimeZone),
        name!(lease, Uuid),
    ),
> {
    let topic = validation::topic(topic).or_raise();
    let batch_size = validation::batch_size(batch_size).or_raise();
    validation::lock_timeout(lock_timeout.map(clock::parts)).or_raise();
    let consumer_id = validation::consumer_id(consumer_id).or_raise();
    let wait = validation::wait(wait.map(clock::parts)).or_raise();
    let wait = Duration::from_micros(u64::try_from(wait.comparable_micros()).unwrap_or(u64::MAX));
    let lock_timeout =
        lock_timeout.unwrap_or_else(|| clock::millis_interval(settings::lock_timeout_ms()));
    validation::fits_after_now(
        "lock_timeout",
        clock::now().into(),
        clock::parts(lock_timeout),
    )
    .or_raise();
    privileges::check_topic(Capability::Consumer, topic);
    let consumer_id = consumer_id.map_or_else(default_consumer_id, str::to_owned);

    // None: a wait too long to represent, which is as good as forever.
    let deadline = Instant::now().checked_add(wait);

    loop {
        // Read the wake-up generation before claiming, so a commit after the claim wakes us.
        let mut waiter = wakeup::Waiter::new(topic);
        let rows = claim(topic, batch_size, &consumer_id, lock_timeout);
        let remaining =
            deadline.map_or(LONGEST_NAP, |d| d.saturating_duration_since(Instant::now()));
        if !rows.is_empty() || remaining.is_zero() {
            return TableIterator::new(rows);
        }
        waiter.sleep(remaining.min(LONGEST_NAP));
    }
}

/// Claims a batch. Without the background worker (pg_mq not preloaded), first recovers the
/// topic's expired locks itself; with it, the worker does that for every topic, and polls
/// stay free of the extra scan.
fn claim(
    topic: &str,
    batch_size: i32,
    consumer_id: &str,
    lock_timeout: Interval,
) -> Vec<PolledRow> {
    Spi::connect_mut(|client| {
        let now = clock::now();
        if !wakeup::preloaded() {
            recovery::recover_batch(client, Some(topic), now);
        }
        let rows = Statement::Claim.run(
            client,
            &[
                topic.into(),
                batch_size.into(),
                consumer_id.into(),
                lock_timeout.into(),
                now.into(),
            ],
        );
        let mut claimed: Vec<(i64, PolledRow)> = rows
            .iter()
            .map(|row| {
                let due: TimestampWithTimeZone = row.value(10);
                let polled = (
                    row.value(0),
                    row.value(1),
                    row.value::<RawJsonb>(2).transfer(),
                    row.get::<RawJsonb>(3).map(RawJsonb::transfer),
                    row.value(4),
                    row.value(5),
                    row.value(6),
                    row.value(7),
                    row.value(8),
                    row.value(9),
                );
                (clock::unix_micros(due), polled)
            })
            .collect();
        // Highest priority first, then earliest due, then lowest id.
        claimed.sort_by_key(|(due, row)| (std::cmp::Reverse(row.4), *due, row.0));
        claimed.into_iter().map(|(_, row)| row).collect()
    })
}

/// Without a consumer_id the delivery is attributed to this backend: `pid:<backend pid>`.
fn default_consumer_id() -> String {
    // SAFETY: MyProcPid is set once at backend start and only read here.
    format!("pid:{}", unsafe { pg_sys::MyProcPid })
}
