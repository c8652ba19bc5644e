//! The background worker's jobs, listed once: [`JOBS`]. Each job has a file of its own with
//! its interval setting and one run (in transactions of its own). The worker's timetable
//! (`mq_core::schedule`) indexes jobs by their place in this list.

use std::time::Duration;

mod counters;
mod metrics;
mod recovery;
mod retention;
mod schedule;

/// A job the background worker runs on its own timetable.
pub struct Job {
    /// What it does, for pg_stat_activity and log lines.
    pub name: &'static str,
    /// Its interval now (read from its setting at every wake-up, so a reload applies).
    pub interval: fn() -> Duration,
    /// Runs it once; true when it stopped at a batch limit with work left.
    pub run: fn() -> bool,
}

/// Every job, in the order they run when several are due.
pub const JOBS: &[Job] = &[
    recovery::JOB,
    schedule::JOB,
    counters::JOB,
    retention::JOB,
    metrics::JOB,
];

/// Milliseconds from an interval setting.
fn millis(value: i32) -> Duration {
    Duration::from_millis(u64::try_from(value).unwrap_or(0))
}
