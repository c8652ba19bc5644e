//! `mq_complete`: acknowledge delivered messages.

use pgrx::prelude::*;
use pgrx::Uuid;

use crate::arrays::IdArray;
use crate::capabilities::Capability;
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, privileges, validation};

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
