//! Waiting messages whose time has come made deliverable, and expired ones moved to EXPIRED,
//! every `pg_mq.schedule_interval` (see `engine::promotion`).

use pgrx::prelude::*;

use crate::engine::promotion;
use crate::pg::{clock, settings, xact};

pub const JOB: super::Job = super::Job {
    name: "schedule",
    interval: || super::millis(settings::SCHEDULE_INTERVAL.get()),
    run,
};

fn run() -> bool {
    xact::in_job_transaction("promotion and expiry of waiting messages", || {
        Spi::connect_mut(|client| promotion::promote_batch(client, None, clock::now()))
    })
    .is_some_and(|(_, more)| more)
}
