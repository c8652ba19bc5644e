//! `mq_purge`: drop a topic's waiting messages.

use pgrx::prelude::*;

use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, validation};

/// Deletes every PENDING message of `topic` (due or not), writing a PURGED trace row for each,
/// and returns how many. Messages being processed are left alone.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_purge(topic: Option<&str>) -> i64 {
    let topic = validation::topic(topic).or_raise();
    Spi::connect_mut(|client| {
        Statement::Purge.run_scalar::<i64>(client, &[topic.into(), clock::now().into()])
    })
}
