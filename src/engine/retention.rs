//! Retention: deleting finished messages, replayed dead letters and old trace rows in bounded
//! batches. Counters live in their own tables, so deleting rows never lowers them. Finished
//! messages are deleted topic by topic (the index is per topic), each topic by its own
//! retention when it has one, else by `pg_mq.completed_retention`.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::SpiClient;

use mq_core::lifecycle::Status;

use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// Rows deleted per batch (and per transaction, when the background worker runs it); for
/// messages, per topic.
pub const RETENTION_BATCH: i32 = 1_000;

/// What a retention batch deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Completed,
    Failed,
    Expired,
    ReplayedDeadLetters,
    Traces,
    /// Payloads of messages delivered to consumer groups that no delivery refers to any more.
    Payloads,
    /// Dedup keys whose window has passed.
    DedupKeys,
    /// Consumers (mq_consumers) not seen for `pg_mq.completed_retention`.
    Consumers,
}

/// Which rows are old enough to delete.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cutoff {
    /// The retention settings: a topic's own retention (finished messages only), else this
    /// cutoff of the server's setting (None: keep).
    Retention(Option<TimestampWithTimeZone>),
    /// Everything last changed before this moment (mq_cleanup).
    Before(TimestampWithTimeZone),
}

impl Kind {
    pub const ALL_SCHEDULED: [Kind; 6] = [
        Kind::Completed,
        Kind::Payloads,
        Kind::DedupKeys,
        Kind::Consumers,
        Kind::ReplayedDeadLetters,
        Kind::Traces,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Completed => "completed messages",
            Kind::Failed => "failed messages",
            Kind::Expired => "expired messages",
            Kind::ReplayedDeadLetters => "replayed dead letters",
            Kind::Traces => "traces",
            Kind::Payloads => "payloads",
            Kind::DedupKeys => "dedup keys",
            Kind::Consumers => "consumers",
        }
    }

    /// The configured retention in seconds (0: keep forever); None for kinds the worker does
    /// not delete on its own.
    pub fn retention_seconds(self) -> Option<i32> {
        match self {
            Kind::Completed | Kind::Consumers => Some(settings::COMPLETED_RETENTION.get()),
            Kind::ReplayedDeadLetters => Some(settings::DEAD_LETTER_RETENTION.get()),
            Kind::Traces => Some(settings::TRACE_RETENTION.get()),
            Kind::Failed | Kind::Expired | Kind::Payloads | Kind::DedupKeys => None,
        }
    }

    fn status(self) -> Option<Status> {
        match self {
            Kind::Completed => Some(Status::Completed),
            Kind::Failed => Some(Status::Failed),
            Kind::Expired => Some(Status::Expired),
            Kind::ReplayedDeadLetters
            | Kind::Traces
            | Kind::Payloads
            | Kind::DedupKeys
            | Kind::Consumers => None,
        }
    }
}

/// Deletes one batch of `kind` rows older than `cutoff` (for messages: a batch per topic);
/// returns (deleted, more may remain).
pub fn delete_batch(
    client: &mut SpiClient<'_>,
    kind: Kind,
    cutoff: Cutoff,
    now: TimestampWithTimeZone,
) -> (i64, bool) {
    let full = i64::from(RETENTION_BATCH);
    if let Some(status) = kind.status() {
        let server = match cutoff {
            Cutoff::Retention(server) => server,
            Cutoff::Before(at) => Some(at),
        };
        let topics: Vec<(String, Option<TimestampWithTimeZone>)> = Statement::RetentionTopics
            .run(client, &[server.into(), now.into()])
            .iter()
            .map(|row| {
                let topic: String = row.value("topic");
                let own = row.get::<TimestampWithTimeZone>("cutoff");
                (topic, own)
            })
            .collect();
        let (mut deleted, mut more) = (0, false);
        for (topic, topic_cutoff) in topics {
            let cutoff = match cutoff {
                Cutoff::Retention(_) => topic_cutoff,
                Cutoff::Before(at) => Some(at),
            };
            let Some(cutoff) = cutoff else { continue };
            let n = Statement::CleanupMessages.run_scalar::<i64>(
                client,
                &[
                    topic.as_str().into(),
                    status.as_str().into(),
                    cutoff.into(),
                    RETENTION_BATCH.into(),
                ],
            );
            deleted += n;
            more |= n >= full;
        }
        return (deleted, more);
    }
    if kind == Kind::DedupKeys {
        // Not by a retention setting: a key goes when its window has passed.
        let deleted = Statement::CleanupDedupKeys
            .run_scalar::<i64>(client, &[now.into(), RETENTION_BATCH.into()]);
        return (deleted, deleted >= full);
    }
    if kind == Kind::Payloads {
        // Not by age: a payload goes when no delivery refers to it any more.
        let deleted =
            Statement::CleanupPayloads.run_scalar::<i64>(client, &[RETENTION_BATCH.into()]);
        return (deleted, deleted >= full);
    }
    let cutoff = match cutoff {
        Cutoff::Retention(Some(at)) | Cutoff::Before(at) => at,
        Cutoff::Retention(None) => return (0, false),
    };
    let deleted = match kind {
        Kind::ReplayedDeadLetters => Statement::CleanupDeadLetters
            .run_scalar::<i64>(client, &[cutoff.into(), RETENTION_BATCH.into()]),
        Kind::Consumers => Statement::CleanupConsumers
            .run_scalar::<i64>(client, &[cutoff.into(), RETENTION_BATCH.into()]),
        _ => Statement::CleanupTraces
            .run_scalar::<i64>(client, &[cutoff.into(), RETENTION_BATCH.into()]),
    };
    (deleted, deleted >= full)
}

/// Deletes every `kind` row older than `cutoff`, batch after batch, in the caller's transaction.
pub fn delete_all(client: &mut SpiClient<'_>, kind: Kind, cutoff: Cutoff) -> i64 {
    let now = clock::now();
    let mut total = 0;
    loop {
        let (deleted, more) = delete_batch(client, kind, cutoff, now);
        total += deleted;
        if !more {
            return total;
        }
    }
}

/// The cutoff of the server's retention setting for `kind` (None inside: keep).
pub fn cutoff(kind: Kind, now: TimestampWithTimeZone) -> Cutoff {
    Cutoff::Retention(match kind.retention_seconds() {
        Some(seconds) if seconds > 0 => {
            Some(clock::plus_micros(now, -i64::from(seconds) * 1_000_000))
        }
        _ => None,
    })
}
