//! The metrics changes folded into the per-topic totals, every `pg_mq.fold_interval` (see
//! `engine::sampling`), so that reading the metrics stays one row per topic.

use pgrx::prelude::*;

use crate::engine::sampling;
use crate::pg::{settings, xact};

pub const JOB: super::Job = super::Job {
    name: "counters",
    interval: || super::millis(settings::FOLD_INTERVAL.get()),
    run,
};

fn run() -> bool {
    xact::in_job_transaction("folding the counters", || Spi::connect_mut(sampling::fold));
    false
}
