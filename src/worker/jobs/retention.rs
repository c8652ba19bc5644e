//! Retention, every `pg_mq.retention_interval`: one batch of each kind (of finished messages,
//! one per topic) per transaction (see `engine::retention`).

use pgrx::prelude::*;

use crate::engine::retention::{self, Kind};
use crate::pg::{clock, settings, xact};

pub const JOB: super::Job = super::Job {
    name: "retention",
    interval: || super::millis(settings::RETENTION_INTERVAL.get()),
    run,
};

fn run() -> bool {
    let now = clock::now();
    let mut more = false;
    for kind in Kind::ALL_SCHEDULED {
        let cutoff = retention::cutoff(kind, now);
        let what = format!("retention of {}", kind.name());
        let batch = xact::in_job_transaction(&what, || {
            Spi::connect_mut(|client| retention::delete_batch(client, kind, cutoff, now))
        });
        more |= batch.is_some_and(|(_, more)| more);
    }
    more
}
