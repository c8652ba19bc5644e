//! `mq_complete`, `mq_fail`, their batch forms and `mq_extend`: how a consumer settles (or
//! keeps) a delivery. Every form takes the delivery's lease, so a consumer whose lock expired
//! cannot settle someone else's newer delivery of the same message, and an optional `topic`,
//! checked when given (the message must be in it).

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use mq_core::backoff::RetryPolicy;
use mq_core::batch::{self, Batch};
use mq_core::capabilities::Capability;
use mq_core::lifecycle::Status;
use mq_core::validation;

use crate::api::privileges;
use crate::engine::failure::{self, RetryEvent};
use crate::engine::{keys, topics};
use crate::pg::clock;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;

/// Checks the optional `topic` argument and the caller's consumer grant: for that topic when
/// it is named (no query), else for the topics of the messages `ids`.
fn check_consumer(topic: Option<&str>, ids: &[i64]) -> Option<String> {
    match topic {
        Some(topic) => {
            let topic = validation::topic(Some(topic)).or_raise();
            privileges::check_topic(Capability::Consumer, topic);
            Some(topic.to_owned())
        }
        None => {
            privileges::check_message_topics(Capability::Consumer, || ids.to_vec().into());
            None
        }
    }
}

/// One row per element of a batch: its id and what it became (None: unchanged).
type Report = Vec<(Option<i64>, Option<String>)>;

fn report(batch: &Batch<Uuid>, outcome: impl Fn(i64) -> Option<String>) -> Report {
    batch.report(outcome)
}

/// Marks message `id` COMPLETED. Returns true when this call completed it; false when the
/// message is unknown, not PROCESSING, not in `topic` (when given), or `lease` is not its
/// current delivery's lease. Without a lease it completes the current delivery, whoever holds
/// it.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_complete(
    id: Option<i64>,
    lease: default!(Option<Uuid>, "NULL"),
    topic: default!(Option<&str>, "NULL"),
) -> bool {
    let id = validation::required("id", id).or_raise();
    let topic = check_consumer(topic, &[id]);
    Spi::connect_mut(|client| {
        let now = clock::now();
        let rows =
            Statement::Complete.run(client, &[id.into(), lease.into(), topic.into(), now.into()]);
        let completed = !rows.is_empty();
        let finished = finished_keys(&rows);
        keys::release(client, &finished, now);
        completed
    })
}

/// The ordering keys of completed messages (complete.sql / complete_batch.sql rows).
fn finished_keys(rows: &crate::pg::spi::Rows<'_>) -> Vec<keys::Finished> {
    rows.iter()
        .filter_map(|row| {
            Some(keys::Finished {
                key: row.get::<String>("ordering_key")?,
                topic: row.value("topic"),
                group: row.value("consumer_group"),
                id: row.value("id"),
                was_head: true,
                dead: None,
            })
        })
        .collect()
}

/// Completes each delivery `ids[i]` whose current lease is `leases[i]` (and that is in `topic`,
/// when given), in one statement. Returns one row per element of `ids`, in order: the id and
/// 'COMPLETED', or NULL when that element changed nothing (stale lease, not in flight, unknown,
/// a repeated or NULL id). NULL or empty `ids` is an empty batch.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_complete_batch(
    ids: Option<Vec<Option<i64>>>,
    leases: Option<Vec<Option<Uuid>>>,
    topic: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(id, Option<i64>), name!(status, Option<String>))> {
    let batch = batch::plan(ids, leases).or_raise();
    if batch.is_empty() {
        return TableIterator::new(report(&batch, |_| None));
    }
    let topic = check_consumer(topic, &batch.ids);
    let done: std::collections::HashSet<i64> = Spi::connect_mut(|client| {
        let now = clock::now();
        let rows = Statement::CompleteBatch.run(
            client,
            &[
                batch.ids.clone().into(),
                batch.leases.clone().into(),
                topic.into(),
                now.into(),
            ],
        );
        let done = rows.iter().map(|row| row.value::<i64>("id")).collect();
        let finished = finished_keys(&rows);
        keys::release(client, &finished, now);
        done
    });
    TableIterator::new(report(&batch, |id| {
        done.contains(&id)
            .then(|| Status::Completed.as_str().to_owned())
    }))
}

/// The retry delay a failure report asks for (`retry_in`), if any; without one each message
/// waits its topic's backoff (else the settings').
fn retry_in_policy(retry_in: Option<Interval>) -> Option<RetryPolicy> {
    validation::retry_in(retry_in.map(clock::parts))
        .or_raise()
        .map(|delay| {
            let millis = i64::try_from(delay.comparable_micros() / 1_000).unwrap_or(i64::MAX);
            validation::fits_after_now("retry_in", clock::now().into(), delay).or_raise();
            RetryPolicy::fixed(millis)
        })
}

/// Settles the failed deliveries `ids` (with `leases`, None meaning any) that are in flight;
/// returns each settled message's id and new status.
fn fail(
    ids: Vec<i64>,
    leases: Vec<Option<Uuid>>,
    topic: Option<String>,
    error: Option<&str>,
    retry_in: Option<RetryPolicy>,
) -> Vec<(i64, Status)> {
    Spi::connect_mut(|client| {
        let now = clock::now();
        let locked =
            Statement::LockForFailure.run(client, &[ids.into(), leases.into(), topic.into()]);
        let decisions = failure::decide(
            locked,
            |topic| retry_in.unwrap_or_else(|| topics::retry_policy(topic)),
            now,
        );
        failure::settle(client, &decisions, error, RetryEvent::Failed, now)
            .into_iter()
            .map(|settled| (settled.id, settled.status))
            .collect()
    })
}

/// Records `error` for message `id`. Returns the status it now has: 'SCHEDULED' when it will
/// be delivered again after its backoff (or after `retry_in`, when given: the attempt still
/// counts; 'PENDING' when that is now), 'FAILED' when its retries are exhausted, 'EXPIRED'
/// when its expiry has passed (both then in mq.dead_letters); NULL, changing nothing, when the
/// message is unknown, not PROCESSING, not in `topic` (when given), or `lease` is stale.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_fail(
    id: Option<i64>,
    error: default!(Option<&str>, "NULL"),
    lease: default!(Option<Uuid>, "NULL"),
    retry_in: default!(Option<Interval>, "NULL"),
    topic: default!(Option<&str>, "NULL"),
) -> Option<String> {
    let id = validation::required("id", id).or_raise();
    let policy = retry_in_policy(retry_in);
    let topic = check_consumer(topic, &[id]);
    fail(vec![id], vec![lease], topic, error, policy)
        .into_iter()
        .next()
        .map(|(_, status)| status.as_str().to_owned())
}

/// Records `error` for each delivery `ids[i]` whose current lease is `leases[i]` (and that is
/// in `topic`, when given), each retried or dead-lettered by its own policy (or after
/// `retry_in`). Returns one row per element of `ids`, in order: the id and its new status, or
/// NULL when that element changed nothing. NULL or empty `ids` is an empty batch.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_fail_batch(
    ids: Option<Vec<Option<i64>>>,
    leases: Option<Vec<Option<Uuid>>>,
    error: default!(Option<&str>, "NULL"),
    retry_in: default!(Option<Interval>, "NULL"),
    topic: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(id, Option<i64>), name!(status, Option<String>))> {
    let batch = batch::plan(ids, leases).or_raise();
    let policy = retry_in_policy(retry_in);
    if batch.is_empty() {
        return TableIterator::new(report(&batch, |_| None));
    }
    let topic = check_consumer(topic, &batch.ids);
    let leases = batch.leases.iter().copied().map(Some).collect();
    let settled: std::collections::HashMap<i64, Status> =
        fail(batch.ids.clone(), leases, topic, error, policy)
            .into_iter()
            .collect();
    TableIterator::new(report(&batch, |id| {
        settled.get(&id).map(|status| status.as_str().to_owned())
    }))
}

/// Extends the lock of the current delivery of message `id` (the one `lease` was handed out
/// with) to now + `extend_by`, never shortening it, and returns the new lock expiry; NULL,
/// changing nothing, when the lease is stale (or the message is not in `topic`, when given).
/// A consumer with a long job calls it as a heartbeat.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_extend(
    id: Option<i64>,
    lease: Option<Uuid>,
    extend_by: Option<Interval>,
    topic: default!(Option<&str>, "NULL"),
) -> Option<TimestampWithTimeZone> {
    let id = validation::required("id", id).or_raise();
    let lease = validation::required("lease", lease).or_raise();
    let extend_by_parts = validation::extend_by(extend_by.map(clock::parts)).or_raise();
    let now = clock::now();
    validation::fits_after_now("extend_by", now.into(), extend_by_parts).or_raise();
    let topic = check_consumer(topic, &[id]);
    Spi::connect_mut(|client| {
        Statement::Extend
            .run(
                client,
                &[
                    id.into(),
                    lease.into(),
                    extend_by.into(),
                    now.into(),
                    topic.into(),
                ],
            )
            .first()
            .map(|row| row.value::<TimestampWithTimeZone>("locked_until"))
    })
}
