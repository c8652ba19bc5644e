//! Operations on the queue as a whole: `mq_recover`, `mq_cleanup`, `mq_retention` and
//! `mq_purge`. The first three do on demand what the background worker does on its own.

use pgrx::datum::Interval;
use pgrx::prelude::*;

use mq_core::error::MqError;
use mq_core::lifecycle::Status;
use mq_core::validation;

use crate::engine::retention::{self, Cutoff, Kind};
use crate::engine::{keys, promotion, recovery};
use crate::pg::clock;
use crate::pg::raise::{raise, OrRaise};
use crate::pg::statements::Statement;

/// Recovers every message whose lock has expired, in every topic, and returns how many were
/// recovered (or dead-lettered, when their retries were used up). This is what the background
/// worker does every `pg_mq.recovery_interval`.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_recover() -> i64 {
    let total = Spi::connect_mut(recovery::recover_all);
    i64::try_from(total).unwrap_or(i64::MAX)
}

/// Moves every waiting message whose time has come, in every topic: a SCHEDULED one that is
/// due becomes PENDING, a waiting one whose expiry has passed becomes EXPIRED (dead-lettered);
/// returns how many were moved. This is what the background worker does every
/// `pg_mq.schedule_interval`; without the worker, polls do it for their own topic.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_promote() -> i64 {
    Spi::connect_mut(promotion::promote_all)
}

/// Deletes messages in `status` ('COMPLETED', 'FAILED' or 'EXPIRED') whose last change is
/// older than `older_than`, in every topic; returns how many. Counters are not affected.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_cleanup(
    status: default!(Option<&str>, "'COMPLETED'"),
    older_than: default!(Option<Interval>, "'7 days'"),
) -> i64 {
    let status = validation::required("status", status).or_raise();
    let kind = match Status::parse(status) {
        Some(Status::Completed) => Kind::Completed,
        Some(Status::Failed) => Kind::Failed,
        Some(Status::Expired) => Kind::Expired,
        _ => raise(MqError::InvalidArgument {
            argument: "status",
            reason: format!("must be 'COMPLETED', 'FAILED' or 'EXPIRED', got '{status}'"),
            hint: Some("PENDING messages are removed with mq_purge(topic)."),
        }),
    };
    let older_than = validation::required("older_than", older_than).or_raise();
    if clock::parts(older_than).comparable_micros() < 0 {
        raise(MqError::invalid("older_than", "must not be negative"));
    }
    let cutoff = Cutoff::Before(clock::minus(clock::now(), older_than));
    Spi::connect_mut(|client| retention::delete_all(client, kind, cutoff))
}

/// Runs one full retention pass with the `pg_mq.*_retention` settings and each topic's own
/// retention (what the background worker does every `pg_mq.retention_interval`); returns the
/// rows deleted per kind.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_retention() -> TableIterator<'static, (name!(kind, String), name!(deleted, i64))> {
    let now = clock::now();
    let rows: Vec<(String, i64)> = Spi::connect_mut(|client| {
        Kind::ALL_SCHEDULED
            .iter()
            .map(|kind| {
                let deleted = retention::delete_all(client, *kind, retention::cutoff(*kind, now));
                (kind.name().to_owned(), deleted)
            })
            .collect()
    });
    TableIterator::new(rows)
}

/// Deletes every waiting message of `topic` (PENDING and SCHEDULED), writing a PURGED trace row
/// for each, and returns how many. Messages being processed are left alone.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_purge(topic: Option<&str>) -> i64 {
    let topic = validation::topic(topic).or_raise();
    Spi::connect_mut(|client| {
        let now = clock::now();
        let purged = Statement::Purge.run_scalar::<i64>(client, &[topic.into(), now.into()]);
        keys::reconcile(client, topic, None, now);
        purged
    })
}
