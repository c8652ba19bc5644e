//! `mq_complete` and `mq_fail`: how a consumer settles a delivery.

use pgrx::prelude::*;
use pgrx::Uuid;

use mq_core::capabilities::Capability;
use mq_core::validation;

use crate::api::privileges;
use crate::engine::failure::{self, RetryEvent};
use crate::pg::arrays::IdArray;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// Marks message `id` COMPLETED. Returns true when this call completed it; false when the
/// message is unknown, not PROCESSING, or `lease` is not its current delivery's lease. Without
/// a lease it completes the current delivery, whoever holds it.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_complete(id: Option<i64>, lease: default!(Option<Uuid>, "NULL")) -> bool {
    let id = validation::required("id", id).or_raise();
    privileges::check_message_topics(Capability::Consumer, || [id].as_slice().into());
    Spi::connect_mut(|client| {
        !Statement::Complete
            .run(client, &[id.into(), lease.into(), clock::now().into()])
            .is_empty()
    })
}

/// Completes every listed message that is PROCESSING (whoever holds it) and returns how many.
/// NULL elements and duplicates are ignored.
#[pg_extern(name = "mq_complete", security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_complete_many(ids: Option<IdArray>) -> i32 {
    let ids = validation::required("ids", ids).or_raise();
    if ids.is_empty() {
        return 0;
    }
    privileges::check_message_topics(Capability::Consumer, || ids.into());
    let done = Spi::connect_mut(|client| {
        Statement::CompleteMany.run_scalar::<i64>(client, &[ids.into(), clock::now().into()])
    });
    i32::try_from(done).unwrap_or(i32::MAX)
}

/// Records `error` for message `id`. Returns 'PENDING' when it will be delivered again after
/// its backoff, 'FAILED' when its retries are exhausted (it is then in mq.dead_letters), and
/// NULL, changing nothing, when the message is unknown, not PROCESSING, or `lease` is stale.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_fail(
    id: Option<i64>,
    error: default!(Option<&str>, "NULL"),
    lease: default!(Option<Uuid>, "NULL"),
) -> Option<String> {
    let id = validation::required("id", id).or_raise();
    privileges::check_message_topics(Capability::Consumer, || [id].as_slice().into());
    Spi::connect_mut(|client| {
        let locked = Statement::LockForFailure.run(client, &[[id].as_slice().into(), lease.into()]);
        let decisions = failure::decide(locked, settings::retry_policy());
        failure::settle(client, &decisions, error, RetryEvent::Failed, clock::now())
            .into_iter()
            .next()
            .map(|settled| settled.status.as_str().to_owned())
    })
}

/// Records `error` for every listed message that is PROCESSING (whoever holds it), each
/// retried or dead-lettered by its own policy, and returns how many. NULL elements and
/// duplicates are ignored.
#[pg_extern(name = "mq_fail", security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_fail_many(ids: Option<IdArray>, error: default!(Option<&str>, "NULL")) -> i32 {
    let ids = validation::required("ids", ids).or_raise();
    if ids.is_empty() {
        return 0;
    }
    privileges::check_message_topics(Capability::Consumer, || ids.into());
    let settled = Spi::connect_mut(|client| {
        let locked = Statement::LockForFailure.run(client, &[ids.into(), None::<Uuid>.into()]);
        let decisions = failure::decide(locked, settings::retry_policy());
        failure::settle(client, &decisions, error, RetryEvent::Failed, clock::now()).len()
    });
    i32::try_from(settled).unwrap_or(i32::MAX)
}
