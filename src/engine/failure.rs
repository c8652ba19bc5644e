//! Settling failed deliveries, shared by `mq_fail` and lock-expiry recovery: each locked
//! message either goes back to PENDING (due after its backoff), or to FAILED with a dead
//! letter, or, when its expiry has passed meanwhile, to EXPIRED with a dead letter.

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::spi::SpiClient;

use mq_core::backoff::{self, FailureOutcome, RetryPolicy};
use mq_core::lifecycle::{Status, TraceEvent};

use crate::engine::keys;
use crate::pg::spi::Rows;
use crate::pg::statements::Statement;
use crate::pg::{clock, wakeup};

/// The trace event written when a failed message goes back to PENDING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryEvent {
    /// A consumer reported the failure (`mq_fail`).
    Failed,
    /// The lock expired without an answer from the consumer.
    Recovered,
}

impl RetryEvent {
    fn event(self) -> TraceEvent {
        match self {
            RetryEvent::Failed => TraceEvent::Failed,
            RetryEvent::Recovered => TraceEvent::Recovered,
        }
    }
}

/// Decides each message of a LOCK_FOR_FAILURE / LOCK_EXPIRED result `(id, topic,
/// retry_count, max_retries, expires_at)` under the retry policy of its topic; one whose
/// expiry is at or before `now` expires.
pub fn decide(
    rows: Rows<'_>,
    policy: impl Fn(&str) -> RetryPolicy,
    now: TimestampWithTimeZone,
) -> Vec<(i64, FailureOutcome)> {
    let now_us = clock::unix_micros(now);
    rows.iter()
        .map(|row| {
            let id: i64 = row.value("id");
            let topic: String = row.value("topic");
            let retry_count: i32 = row.value("retry_count");
            let max_retries: i32 = row.value("max_retries");
            let expired = row
                .get::<TimestampWithTimeZone>("expires_at")
                .is_some_and(|at| clock::unix_micros(at) <= now_us);
            let outcome = backoff::on_failure_of(
                retry_count,
                max_retries,
                expired,
                policy(&topic),
                backoff::jitter_sample(),
            );
            (id, outcome)
        })
        .collect()
}

/// A settled message and its new status (`PENDING`, `SCHEDULED`, `FAILED` or `EXPIRED`).
pub struct Settled {
    pub id: i64,
    pub status: Status,
}

/// Applies the decisions (rows must still be locked by this transaction). Messages that go
/// back to PENDING at once (recovered ones) wake their topic's pollers at commit.
pub fn settle(
    client: &mut SpiClient<'_>,
    decisions: &[(i64, FailureOutcome)],
    error: Option<&str>,
    event: RetryEvent,
    now: TimestampWithTimeZone,
) -> Vec<Settled> {
    if decisions.is_empty() {
        return Vec::new();
    }
    let ids: Vec<i64> = decisions.iter().map(|(id, _)| *id).collect();
    let due: Vec<Option<TimestampWithTimeZone>> = decisions
        .iter()
        .map(|(_, outcome)| match outcome {
            FailureOutcome::Retry { delay_ms, .. } => Some(clock::plus_millis(now, *delay_ms)),
            FailureOutcome::DeadLetter { .. } | FailureOutcome::Expire { .. } => None,
        })
        .collect();
    let expire: Vec<bool> = decisions
        .iter()
        .map(|(_, outcome)| matches!(outcome, FailureOutcome::Expire { .. }))
        .collect();
    let args: [DatumWithOid; 6] = [
        ids.into(),
        due.into(),
        error.into(),
        now.into(),
        event.event().as_str().into(),
        expire.into(),
    ];
    let rows = Statement::Settle.run(client, &args);
    let mut finished = Vec::new();
    let settled = rows
        .iter()
        .map(|row| {
            let status: String = row.value("status");
            let status = Status::parse(&status).expect("settle.sql returns a status");
            let topic: String = row.value("topic");
            let group = row.get::<String>("consumer_group");
            if event == RetryEvent::Recovered && status == Status::Pending {
                wakeup::notify_delivery_on_commit(&topic, group.as_deref());
            }
            let id: i64 = row.value("id");
            if let (Some(key), Status::Failed | Status::Expired) =
                (row.get::<String>("ordering_key"), status)
            {
                finished.push(keys::Finished {
                    topic,
                    group: group.unwrap_or_default(),
                    key,
                    id,
                    was_head: true,
                    dead: Some(if status == Status::Expired {
                        "expired"
                    } else {
                        "dead-lettered"
                    }),
                });
            }
            Settled { id, status }
        })
        .collect();
    keys::release(client, &finished, now);
    settled
}
