//! A metrics sample, every `pg_mq.metrics_sample_interval` (see `engine::sampling`).

use pgrx::prelude::*;

use crate::engine::sampling;
use crate::pg::{settings, xact};

pub const JOB: super::Job = super::Job {
    name: "metrics sample",
    interval: || super::millis(settings::METRICS_SAMPLE_INTERVAL.get()),
    run,
};

fn run() -> bool {
    xact::in_job_transaction("metrics sample", || Spi::connect_mut(sampling::take_sample));
    false
}
