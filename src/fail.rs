//! `mq_fail`: report a failed delivery.

use pgrx::prelude::*;
use pgrx::Uuid;

use crate::failure::{self, RetryEvent};
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, settings, validation};

/// Records `error` for message `id`. Returns 'PENDING' when it will be delivered again after
/// its backoff, 'FAILED' when its retries are exhausted (it is then in mq.dead_letters), and
/// NULL, changing nothing, when the message is unknown, not PROCESSING, or `lease` is stale.
#[pg_extern]
fn mq_fail(
    id: Option<i64>,
    error: default!(Option<&str>, "NULL"),
    lease: default!(Option<Uuid>, "NULL"),
) -> Option<String> {
    let id = validation::required("id", id).or_raise();
    Spi::connect_mut(|client| {
        let locked = Statement::LockForFailure.run(client, &[vec![id].into(), lease.into()]);
        let decisions = failure::decide(locked, settings::retry_policy());
        failure::settle(client, &decisions, error, RetryEvent::Failed, clock::now())
            .into_iter()
            .next()
            .map(|(_, status)| status)
    })
}
