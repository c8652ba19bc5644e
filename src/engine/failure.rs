//! Settling failed deliveries, shared by `mq_fail` and lock-expiry recovery: each locked
//! message either goes back to PENDING (due after its backoff) or to FAILED with a dead letter.

use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::spi::SpiClient;

use mq_core::backoff::{self, FailureOutcome, RetryPolicy};
use mq_core::lifecycle::{Status, TraceEvent};

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

/// Decides each message of a LOCK_FOR_FAILURE / LOCK_EXPIRED result `(id, retry_count,
/// max_retries)` under `policy`.
pub fn decide(rows: Rows<'_>, policy: RetryPolicy) -> Vec<(i64, FailureOutcome)> {
    rows.iter()
        .map(|row| {
            let id: i64 = row.value("id");
            let retry_count: i32 = row.value("retry_count");
            let max_retries: i32 = row.value("max_retries");
            let outcome =
                backoff::on_failure(retry_count, max_retries, policy, backoff::jitter_sample());
            (id, outcome)
        })
        .collect()
}

/// A settled message and its new status (`PENDING` or `FAILED`).
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
            FailureOutcome::DeadLetter { .. } => None,
        })
        .collect();
    let args: [DatumWithOid; 5] = [
        ids.into(),
        due.into(),
        error.into(),
        now.into(),
        event.event().as_str().into(),
    ];
    Statement::Settle
        .run(client, &args)
        .iter()
        .map(|row| {
            let status: String = row.value("status");
            let status = Status::parse(&status).expect("settle.sql returns a status");
            if event == RetryEvent::Recovered && status == Status::Pending {
                wakeup::notify_on_commit(&row.value::<String>("topic"));
            }
            Settled {
                id: row.value("id"),
                status,
            }
        })
        .collect()
}
