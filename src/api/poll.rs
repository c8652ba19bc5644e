//! `mq_poll`: claim a batch of due messages of a topic.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use std::time::{Duration, Instant};

use mq_core::capabilities::Capability;
use mq_core::validation;

use crate::api::privileges;
use crate::engine::{promotion, recovery, topics};
use crate::pg::jsonb::RawJsonb;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;
use crate::pg::{clock, session, wakeup, workers};

/// A claimed message, as mq_poll returns it.
struct Polled {
    id: i64,
    topic: String,
    payload: RawJsonb<'static>,
    headers: Option<RawJsonb<'static>>,
    priority: i32,
    retry_count: i32,
    max_retries: i32,
    trace_id: Uuid,
    published_at: TimestampWithTimeZone,
    lease: Uuid,
    /// When it became due, for ordering (microseconds since the Unix epoch).
    due_micros: i64,
}

impl Polled {
    #[allow(clippy::type_complexity)]
    fn into_row(
        self,
    ) -> (
        i64,
        String,
        RawJsonb<'static>,
        Option<RawJsonb<'static>>,
        i32,
        i32,
        i32,
        Uuid,
        TimestampWithTimeZone,
        Uuid,
    ) {
        (
            self.id,
            self.topic,
            self.payload,
            self.headers,
            self.priority,
            self.retry_count,
            self.max_retries,
            self.trace_id,
            self.published_at,
            self.lease,
        )
    }
}

/// A waiting poll looks again at least this often, for messages that fall due (scheduled ones,
/// retries) rather than being committed.
const LONGEST_NAP: Duration = Duration::from_millis(500);

/// Claims up to `batch_size` due messages of `topic` (highest priority first, then earliest
/// due, then lowest id), marks them PROCESSING for `lock_timeout` (else the topic's, else
/// `pg_mq.lock_timeout`) and returns them, each with a fresh lease. Pollers never block each
/// other and never receive a message whose lock is live, nor one whose expiry has passed.
/// A paused topic returns nothing. With `wait` > 0 and nothing due, it waits up to `wait` for
/// a message to be committed (or the topic resumed), looking at least every 500 ms whether its
/// client is still connected (a poll whose client went away ends its backend and claims
/// nothing).
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
        name!(payload, RawJsonb<'static>),
        name!(headers, Option<RawJsonb<'static>>),
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
    if let Some(lock_timeout) = lock_timeout {
        validation::fits_after_now(
            "lock_timeout",
            clock::now().into(),
            clock::parts(lock_timeout),
        )
        .or_raise();
    }
    privileges::check_topic(Capability::Consumer, topic);
    let lock_timeout =
        lock_timeout.unwrap_or_else(|| Interval::from_micros(topics::lock_timeout_us(topic)));
    let consumer_id =
        consumer_id.map_or_else(|| format!("pid:{}", session::backend_pid()), str::to_owned);

    topics::register_if_unknown(topic);

    // None: a wait too long to represent, which is as good as forever.
    let deadline = Instant::now().checked_add(wait);

    let mut waited = false;
    loop {
        // Read the wake-up generation before claiming, so a commit after the claim wakes us.
        let mut waiter = wakeup::Waiter::new(topic);
        if waited {
            // A pause or resume committed while we slept must be seen now.
            topics::refresh();
        }
        let rows = if topics::is_paused(topic) && topics::still_paused(topic) {
            Vec::new()
        } else {
            claim(topic, batch_size, &consumer_id, lock_timeout)
        };
        let remaining =
            deadline.map_or(LONGEST_NAP, |d| d.saturating_duration_since(Instant::now()));
        if waited {
            // A client that went away while we waited must not receive (and so strand) the
            // messages just claimed: ending the backend aborts the claim with its transaction.
            session::exit_if_client_gone();
        }
        if !rows.is_empty() || remaining.is_zero() {
            return TableIterator::new(rows.into_iter().map(Polled::into_row));
        }
        waiter.sleep(remaining.min(LONGEST_NAP));
        waited = true;
    }
}

/// Claims a batch. When no background worker works in this database (pg_mq not preloaded, no
/// worker slot left, or the worker not started yet), first recovers the topic's expired locks,
/// expires and promotes its waiting messages itself; with one, the
/// worker does that for every topic, and polls stay free of the extra statements.
fn claim(topic: &str, batch_size: i32, consumer_id: &str, lock_timeout: Interval) -> Vec<Polled> {
    Spi::connect_mut(|client| {
        let now = clock::now();
        if !workers::serves_this_database() {
            recovery::recover_batch(client, Some(topic), now);
            promotion::promote_batch(client, Some(topic), now);
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
        let mut claimed: Vec<Polled> = rows
            .iter()
            .map(|row| Polled {
                id: row.value("id"),
                topic: row.value("topic"),
                payload: row
                    .jsonb("payload")
                    .expect("payload is NOT NULL")
                    .transfer(),
                headers: row.jsonb("headers").map(RawJsonb::transfer),
                priority: row.value("priority"),
                retry_count: row.value("retry_count"),
                max_retries: row.value("max_retries"),
                trace_id: row.value("trace_id"),
                published_at: row.value("created_at"),
                lease: row.value("lease"),
                due_micros: clock::unix_micros(row.value("due_at")),
            })
            .collect();
        // Highest priority first, then earliest due, then lowest id.
        claimed.sort_by_key(|p| (std::cmp::Reverse(p.priority), p.due_micros, p.id));
        claimed
    })
}
