//! Entry points that only pg_mq 0.2.0's SQL refers to. The 0.2.0 install script must still load
//! with this library (CREATE EXTENSION pg_mq VERSION '0.2.0', the first step of the update
//! test), so the C symbols of its functions that 0.3.0 removed stay, each raising an error that
//! says to update. `ALTER EXTENSION pg_mq UPDATE` drops those functions.

use pgrx::prelude::*;

use mq_core::error::MqError;

use crate::pg::arrays::IdArray;
use crate::pg::raise::raise;

fn removed(function: &'static str, replacement: &'static str) -> ! {
    raise(MqError::RemovedFunction {
        function,
        replacement,
    })
}

/// 0.2.0's `mq_complete(ids bigint[])`.
#[pg_extern(sql = false)]
fn mq_complete_many(_ids: Option<IdArray>) -> i32 {
    removed("mq_complete(bigint[])", "mq_complete_batch(ids, leases)")
}

/// 0.2.0's `mq_fail(ids bigint[], error text)`.
#[pg_extern(sql = false)]
fn mq_fail_many(_ids: Option<IdArray>, _error: Option<&str>) -> i32 {
    removed(
        "mq_fail(bigint[], text)",
        "mq_fail_batch(ids, leases, error)",
    )
}

/// 0.2.0's `mq_replay(dead_letter_ids bigint[])`.
#[pg_extern(sql = false)]
fn mq_replay_many(_dead_letter_ids: Option<IdArray>) -> i64 {
    removed("mq_replay(bigint[])", "mq_replay_batch(dead_letter_ids)")
}
