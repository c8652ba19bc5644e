//! Retention: deleting finished messages, replayed dead letters and old trace rows in bounded
//! batches. Counters live in their own tables, so deleting rows never lowers them.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::error::MqError;
use crate::raise::{raise, OrRaise};
use crate::statements::Statement;
use crate::{clock, settings, validation};

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
            Kind::Completed => Some(settings::COMPLETED_RETENTION_S.get()),
            Kind::ReplayedDeadLetters => Some(settings::DEAD_LETTER_RETENTION_S.get()),
            Kind::Traces => Some(settings::TRACE_RETENTION_S.get()),
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
                "COMPLETED"
            } else {
                "FAILED"
            };
            Statement::CleanupMessages.run_scalar::<i64>(
                client,
                &[status.into(), cutoff.into(), RETENTION_BATCH.into()],
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
fn delete_all(client: &mut SpiClient<'_>, kind: Kind, cutoff: TimestampWithTimeZone) -> i64 {
    let mut total = 0;
    loop {
        let (deleted, more) = delete_batch(client, kind, cutoff);
        total += deleted;
        if !more {
            return total;
        }
    }
}

/// Deletes messages in `status` ('COMPLETED' or 'FAILED') whose last change is older than
/// `older_than`; returns how many. Counters are not affected.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_cleanup(
    status: default!(Option<&str>, "'COMPLETED'"),
    older_than: default!(Option<Interval>, "'7 days'"),
) -> i64 {
    let kind = match validation::required("status", status).or_raise() {
        "COMPLETED" => Kind::Completed,
        "FAILED" => Kind::Failed,
        other => raise(MqError::InvalidArgument {
            argument: "status",
            reason: format!("must be 'COMPLETED' or 'FAILED', got '{other}'"),
            hint: Some("PENDING messages are removed with mq_purge(topic)."),
        }),
    };
    let older_than = validation::required("older_than", older_than).or_raise();
    if clock::parts(older_than).comparable_micros() < 0 {
        raise(MqError::invalid("older_than", "must not be negative"));
    }
    let cutoff = clock::minus(clock::now(), older_than);
    Spi::connect_mut(|client| delete_all(client, kind, cutoff))
}

/// Runs one full retention pass with the `pg_mq.*_retention` settings (what the background
/// worker does every `pg_mq.retention_interval`); returns the rows deleted per kind.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_retention() -> TableIterator<'static, (name!(kind, String), name!(deleted, i64))> {
    let now = clock::now();
    let rows: Vec<(String, i64)> = Spi::connect_mut(|client| {
        Kind::ALL_SCHEDULED
            .iter()
            .map(|kind| {
                let deleted = match cutoff(*kind, now) {
                    Some(cutoff) => delete_all(client, *kind, cutoff),
                    None => 0,
                };
                (kind.name().to_owned(), deleted)
            })
            .collect()
    });
    TableIterator::new(rows)
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
