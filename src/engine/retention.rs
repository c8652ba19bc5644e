//! Retention: deleting finished messages, replayed dead letters and old trace rows in bounded
//! batches. Counters live in their own tables, so deleting rows never lowers them.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use mq_core::lifecycle::Status;

use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// Rows deleted per batch (and per transaction, when the background worker runs it).
pub const RETENTION_BATCH: i32 = 1_000;

/// What a retention batch deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Completed,
    Failed,
    ReplayedDeadLetters,
    Traces,
}

impl Kind {
    pub const ALL_SCHEDULED: [Kind; 3] = [Kind::Completed, Kind::ReplayedDeadLetters, Kind::Traces];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Completed => "completed messages",
            Kind::Failed => "failed messages",
            Kind::ReplayedDeadLetters => "replayed dead letters",
            Kind::Traces => "traces",
        }
    }

    /// The configured retention in seconds (0: keep forever); None for kinds the worker does
    /// not delete on its own.
    pub fn retention_seconds(self) -> Option<i32> {
        match self {
            Kind::Completed => Some(settings::COMPLETED_RETENTION.get()),
            Kind::ReplayedDeadLetters => Some(settings::DEAD_LETTER_RETENTION.get()),
            Kind::Traces => Some(settings::TRACE_RETENTION.get()),
            Kind::Failed => None,
        }
    }
}

/// Deletes one batch of `kind` rows older than `cutoff`; returns (deleted, more may remain).
pub fn delete_batch(
    client: &mut SpiClient<'_>,
    kind: Kind,
    cutoff: TimestampWithTimeZone,
) -> (i64, bool) {
    let deleted = match kind {
        Kind::Completed | Kind::Failed => {
            let status = if kind == Kind::Completed {
                Status::Completed
            } else {
                Status::Failed
            };
            Statement::CleanupMessages.run_scalar::<i64>(
                client,
                &[
                    status.as_str().into(),
                    cutoff.into(),
                    RETENTION_BATCH.into(),
                ],
            )
        }
        Kind::ReplayedDeadLetters => Statement::CleanupDeadLetters
            .run_scalar::<i64>(client, &[cutoff.into(), RETENTION_BATCH.into()]),
        Kind::Traces => Statement::CleanupTraces
            .run_scalar::<i64>(client, &[cutoff.into(), RETENTION_BATCH.into()]),
    };
    (deleted, deleted >= i64::from(RETENTION_BATCH))
}

/// Deletes every `kind` row older than `cutoff`, batch after batch, in the caller's transaction.
pub fn delete_all(client: &mut SpiClient<'_>, kind: Kind, cutoff: TimestampWithTimeZone) -> i64 {
    let mut total = 0;
    loop {
        let (deleted, more) = delete_batch(client, kind, cutoff);
        total += deleted;
        if !more {
            return total;
        }
    }
}

/// The cutoff for `kind` under the settings, or None when its retention is 0 (keep).
pub fn cutoff(kind: Kind, now: TimestampWithTimeZone) -> Option<TimestampWithTimeZone> {
    match kind.retention_seconds() {
        Some(seconds) if seconds > 0 => {
            Some(clock::plus_micros(now, -i64::from(seconds) * 1_000_000))
        }
        _ => None,
    }
}
