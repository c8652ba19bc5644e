//! `mq_poll`: claim a batch of due messages of a topic, point-to-point or as a consumer
//! group's deliveries.

use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use std::cell::Cell;
use std::time::{Duration, Instant};

use mq_core::capabilities::{Capability, TopicAccess};
use mq_core::error::MqError;
use mq_core::{routing as routing_rules, validation};

use crate::api::privileges;
use crate::engine::{promotion, recovery, routing, topics};
use crate::pg::jsonb::RawJsonb;
use crate::pg::raise::{raise, OrRaise};
use crate::pg::statements::Statement;
use crate::pg::{catalog, clock, session, wakeup, workers};

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
    consumer_group: Option<String>,
    ordering_key: Option<String>,
    /// When it became due, for ordering (microseconds since the Unix epoch).
    due_micros: i64,
}

type PolledRow = (
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
    Option<String>,
    Option<String>,
);

impl Polled {
    fn into_row(self) -> PolledRow {
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
            self.consumer_group,
            self.ordering_key,
        )
    }
}

/// A waiting poll looks again at least this often, for messages that fall due (scheduled ones,
/// retries) rather than being committed.
const LONGEST_NAP: Duration = Duration::from_millis(500);

/// What a poll claims from.
enum Source<'a> {
    /// A topic's point-to-point messages.
    Topic(&'a str),
    /// A consumer group's deliveries of one topic.
    GroupTopic(&'a str, &'a str),
    /// A consumer group's deliveries of any of its topics (those it may poll).
    Group(&'a str, TopicAccess),
}

impl Source<'_> {
    fn wakeup_key(&self) -> String {
        match self {
            Source::Topic(topic) => (*topic).to_owned(),
            Source::GroupTopic(group, topic) => wakeup::group_key(group, Some(topic)),
            Source::Group(group, _) => wakeup::group_key(group, None),
        }
    }
}

/// Claims up to `batch_size` due messages of `topic` (highest priority first, then earliest
/// due, then lowest id), marks them PROCESSING for `lock_timeout` (else the topic's, else
/// `pg_mq.lock_timeout`) and returns them, each with a fresh lease. With `consumer_group`,
/// claims that group's deliveries instead (of `topic`, or with topic NULL of any topic the
/// group subscribes to, taken in turn). Pollers never block each other and never receive a
/// message whose lock is live, nor one whose expiry has passed. A paused topic (or group)
/// returns nothing. With `wait` > 0 and nothing due, it waits up to `wait` for a message to
/// be committed (or the topic resumed), looking at least every 500 ms whether its client is
/// still connected (a poll whose client went away ends its backend and claims nothing).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_poll(
    topic: Option<&str>,
    batch_size: default!(Option<i32>, 10),
    lock_timeout: default!(Option<Interval>, "NULL"),
    consumer_id: default!(Option<&str>, "NULL"),
    wait: default!(Option<Interval>, "'0'"),
    consumer_group: default!(Option<&str>, "NULL"),
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
        name!(consumer_group, Option<String>),
        name!(ordering_key, Option<String>),
    ),
> {
    let group = consumer_group.map(|g| routing_rules::consumer_group(Some(g)).or_raise());
    let topic = match (topic, group) {
        (None, Some(_)) => None,
        (topic, _) => Some(validation::topic(topic).or_raise()),
    };
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
    let source = match (group, topic) {
        (None, Some(topic)) => {
            privileges::check_topic(Capability::Consumer, topic);
            topics::register_if_unknown(topic);
            Source::Topic(topic)
        }
        (Some(group), topic) => {
            if let Some(topic) = topic {
                privileges::check_topic(Capability::Consumer, topic);
            }
            check_group_exists(group);
            match topic {
                Some(topic) => Source::GroupTopic(group, topic),
                None => Source::Group(group, privileges::access(Capability::Consumer)),
            }
        }
        (None, None) => unreachable!("a topic is required without a group"),
    };
    let consumer_id =
        consumer_id.map_or_else(|| format!("pid:{}", session::backend_pid()), str::to_owned);

    // None: a wait too long to represent, which is as good as forever.
    let deadline = Instant::now().checked_add(wait);

    let mut waited = false;
    loop {
        // Read the wake-up generation before claiming, so a commit after the claim wakes us.
        let mut waiter = wakeup::Waiter::new(&source.wakeup_key());
        if waited {
            // A pause or resume committed while we slept must be seen now.
            catalog::accept_changes();
        }
        let rows = claim(&source, batch_size, &consumer_id, lock_timeout);
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

/// Raises 42704 unless `group` has a subscription (reading the subscriptions again first if
/// this session's copy does not know it: it may have been created a moment ago).
fn check_group_exists(group: &str) {
    if routing::current().has_group(group) {
        return;
    }
    catalog::accept_changes();
    if !routing::current().has_group(group) {
        raise(MqError::UnknownGroup {
            group: group.to_owned(),
        });
    }
}

/// Whether deliveries of `topic` (to `group`, when given) are paused now.
fn paused(topic: &str, group: Option<&str>) -> bool {
    (topics::is_paused(topic) && topics::still_paused(topic))
        || group.is_some_and(|g| {
            routing::group_paused(g, topic) && routing::group_still_paused(g, topic)
        })
}

thread_local! {
    /// Where the next poll of a group's topics starts, so that the topics take turns.
    static NEXT_TOPIC: Cell<usize> = const { Cell::new(0) };
}

/// Claims a batch from `source`.
fn claim(
    source: &Source<'_>,
    batch_size: i32,
    consumer_id: &str,
    lock_timeout: Option<Interval>,
) -> Vec<Polled> {
    match source {
        Source::Topic(topic) => {
            if paused(topic, None) {
                return Vec::new();
            }
            claim_from(topic, None, batch_size, consumer_id, lock_timeout)
        }
        Source::GroupTopic(group, topic) => {
            if paused(topic, Some(group)) {
                return Vec::new();
            }
            claim_from(topic, Some(group), batch_size, consumer_id, lock_timeout)
        }
        Source::Group(group, access) => {
            let candidates: Vec<String> = routing::topics_of(group)
                .iter()
                .filter(|t| access.allows(t))
                .cloned()
                .collect();
            if candidates.is_empty() {
                return Vec::new();
            }
            let start = NEXT_TOPIC.get();
            NEXT_TOPIC.set(start.wrapping_add(1));
            let mut claimed = Vec::new();
            for i in 0..candidates.len() {
                let topic = &candidates[(start + i) % candidates.len()];
                if paused(topic, Some(group)) {
                    continue;
                }
                let want = batch_size - i32::try_from(claimed.len()).unwrap_or(batch_size);
                claimed.extend(claim_from(
                    topic,
                    Some(group),
                    want,
                    consumer_id,
                    lock_timeout,
                ));
                if claimed.len() >= usize::try_from(batch_size).unwrap_or(0) {
                    break;
                }
            }
            claimed
        }
    }
}

/// Claims up to `batch_size` of `topic`'s point-to-point messages, or of its deliveries to
/// `group`. When no background worker works in this database (pg_mq not preloaded, no worker
/// slot left, or the worker not started yet), first recovers the topic's expired locks and
/// expires and promotes its waiting messages itself; with one, the worker does that for every
/// topic, and polls stay free of the extra statements.
fn claim_from(
    topic: &str,
    group: Option<&str>,
    batch_size: i32,
    consumer_id: &str,
    lock_timeout: Option<Interval>,
) -> Vec<Polled> {
    let lock_timeout =
        lock_timeout.unwrap_or_else(|| Interval::from_micros(topics::lock_timeout_us(topic)));
    Spi::connect_mut(|client| {
        let now = clock::now();
        if !workers::serves_this_database() {
            recovery::recover_batch(client, Some(topic), now);
            promotion::promote_batch(client, Some(topic), now);
        }
        let mut args: Vec<DatumWithOid> = vec![
            topic.into(),
            batch_size.into(),
            consumer_id.into(),
            lock_timeout.into(),
            now.into(),
        ];
        let statement = match group {
            None => Statement::Claim,
            Some(group) => {
                args.push(group.into());
                Statement::ClaimGroup
            }
        };
        let rows = statement.run(client, &args);
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
                consumer_group: group.map(str::to_owned),
                ordering_key: row.get("ordering_key"),
                due_micros: clock::unix_micros(row.value("due_at")),
            })
            .collect();
        // Highest priority first, then earliest due, then lowest id.
        claimed.sort_by_key(|p| (std::cmp::Reverse(p.priority), p.due_micros, p.id));
        claimed
    })
}
