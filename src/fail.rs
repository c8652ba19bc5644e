//! `mq_fail`: report failed deliveries.

use pgrx::prelude::*;
use pgrx::Uuid;

use crate::arrays::IdArray;
use crate::capabilities::Capability;
use crate::failure::{self, RetryEvent};
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, privileges, settings, validation};

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
            .map(|settled| settled.status)
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
