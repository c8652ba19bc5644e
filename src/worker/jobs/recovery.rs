//! Recovery of expired locks, every `pg_mq.recovery_interval` (see `engine::recovery`).

use pgrx::prelude::*;

use crate::engine::recovery;
use crate::pg::{clock, settings, xact};

pub const JOB: super::Job = super::Job {
    name: "recovery",
    interval: || super::millis(settings::RECOVERY_INTERVAL.get()),
    run,
};

fn run() -> bool {
    xact::in_job_transaction("recovery", || {
        Spi::connect_mut(|client| recovery::recover_batch(client, None, clock::now()))
    })
    .is_some_and(|n| n >= recovery::RECOVERY_BATCH)
}
