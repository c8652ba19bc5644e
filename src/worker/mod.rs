//! A database's background worker: recovers expired locks, makes due scheduled messages
//! deliverable, folds the metrics counters, applies retention and records metrics samples.
//!
//! The launcher (`launcher`) starts one in every database that may have pg_mq. It shows in
//! pg_stat_activity with backend_type `pg_mq worker`. It first looks for the extension: without
//! it (or at another version than this library's) it says so once in the log, tells the
//! registry, and leaves, to be started again when the extension is created or updated, or to
//! look again a while later. Each job runs in short transactions of its own; an error is
//! logged, its transaction aborted, and the worker carries on. On SIGHUP it reloads the
//! settings; on SIGTERM it exits at once, and the launcher starts another after a few seconds.
//! A statement that needs the database alone (DROP DATABASE, ...) makes it leave at once.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, SignalWakeFlags};
use pgrx::prelude::*;

use mq_core::schedule::Schedule;

use crate::pg::statements::Statement;
use crate::pg::workers::{self, DbState, Registered};
use crate::pg::xact;

mod jobs;
pub mod launcher;

use jobs::JOBS;

/// The worker's own lock wait limit: it would rather skip a tick than queue behind DDL.
const WORKER_LOCK_TIMEOUT: &str = "1s";
const WORKER_STATEMENT_TIMEOUT: &str = "5min";

pub const BACKEND_TYPE: &str = "pg_mq worker";

/// What pg_stat_activity shows while a restore loads rows into the database.
pub const RESTORE_ACTIVITY: &str = "pg_mq worker: keeping out while a restore loads rows";

/// How often the worker looks whether a restore is done.
const RESTORE_NAP: Duration = Duration::from_millis(200);

/// Without the extension, how long before a worker looks at the database again (one is started
/// at once when the extension is created or updated there).
const PROBE_AGAIN: Duration = Duration::from_secs(30);

/// The extension version this library implements.
const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Registers the launcher, which starts the workers (only possible while preloading).
pub fn register() {
    workers::register_launcher();
}

/// Each job's interval now.
fn intervals() -> Vec<Duration> {
    JOBS.iter().map(|job| (job.interval)()).collect()
}

fn describe(intervals: &[Duration]) -> String {
    let jobs: Vec<String> = JOBS
        .iter()
        .zip(intervals)
        .map(|(job, interval)| format!("{} every {}ms", job.name, interval.as_millis()))
        .collect();
    format!("pg_mq worker: {}", jobs.join(", "))
}

/// What the worker found in its database: whether it can work there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    /// No extension pg_mq: wait for CREATE EXTENSION.
    Nothing,
    /// pg_mq at another version than this library's: wait for ALTER EXTENSION pg_mq UPDATE
    /// (the tables may not yet have what this library's statements need).
    OtherVersion(String),
    /// pg_mq at this library's version: work.
    Ready,
}

fn look_for_extension() -> Found {
    let version = xact::in_transaction("checking for the extension", || {
        Spi::connect_mut(|client| {
            Statement::ExtensionVersion
                .run(client, &[])
                .first()
                .map(|row| row.value::<String>("extversion"))
        })
    });
    match version {
        // The check itself failed (logged); try again next tick.
        None | Some(None) => Found::Nothing,
        Some(Some(v)) if v == LIBRARY_VERSION => Found::Ready,
        Some(Some(v)) => Found::OtherVersion(v),
    }
}

/// The name of the worker's database.
fn database_name() -> String {
    xact::in_transaction("naming the database", || {
        Spi::get_one::<String>("SELECT pg_catalog.current_database()::text")
            .ok()
            .flatten()
    })
    .flatten()
    .unwrap_or_default()
}

/// The worker's main loop for database `dboid`, in a new process started by the launcher
/// (through `pg::pg_mq_worker_main`).
pub fn main(dboid: pg_sys::Oid) -> ! {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(dboid), None);
    if let Registered::Duplicate = workers::worker_register(dboid) {
        xact::exit(0);
    }
    let database = database_name();
    pgrx::log!("pg_mq worker started in database \"{database}\"");
    xact::in_transaction("configuring the session", || {
        Spi::run(&format!(
            "SET lock_timeout = '{WORKER_LOCK_TIMEOUT}'; \
             SET statement_timeout = '{WORKER_STATEMENT_TIMEOUT}'; \
             SET application_name = '{BACKEND_TYPE}'"
        ))
    });

    let mut schedule = Schedule::new(JOBS.len());
    let mut working = false;
    let mut wait = Duration::ZERO;
    while BackgroundWorker::wait_latch(Some(wait)) {
        if workers::worker_must_leave(dboid) {
            pgrx::log!(
                "pg_mq worker: leaving database \"{database}\" for a statement that needs it alone"
            );
            xact::exit(0);
        }
        if BackgroundWorker::sighup_received() {
            xact::reload_configuration();
        }
        let intervals = intervals();
        match look_for_extension() {
            Found::Ready => {
                if !working {
                    pgrx::log!(
                        "pg_mq worker: extension pg_mq found in database \"{database}\"; working"
                    );
                    workers::worker_report(dboid, DbState::Working, Duration::ZERO);
                    working = true;
                }
                if workers::restore_in_progress(dboid) {
                    // Rows are being loaded (pg_restore): nothing may move until they are in.
                    xact::report_activity(RESTORE_ACTIVITY);
                    wait = RESTORE_NAP;
                    continue;
                }
                for job in schedule.due(Instant::now(), &intervals) {
                    let more = (JOBS[job].run)();
                    schedule.ran(job, Instant::now(), more);
                }
                xact::report_activity(&describe(&intervals));
                wait = schedule.wait(Instant::now(), &intervals);
            }
            Found::Nothing => {
                pgrx::log!(
                    "pg_mq worker: extension pg_mq is not installed in database \"{database}\"; leaving until CREATE EXTENSION pg_mq"
                );
                workers::worker_report(dboid, DbState::Absent, PROBE_AGAIN);
                xact::exit(0);
            }
            Found::OtherVersion(v) => {
                pgrx::log!(
                    "pg_mq worker: extension pg_mq in database \"{database}\" is version {v}, this library is {LIBRARY_VERSION}; leaving until ALTER EXTENSION pg_mq UPDATE"
                );
                workers::worker_report(dboid, DbState::Absent, PROBE_AGAIN);
                xact::exit(0);
            }
        }
    }
    pgrx::log!("pg_mq worker stopping in database \"{database}\"");
    workers::worker_report(dboid, DbState::Stopped, Duration::from_secs(5));
    xact::exit(1)
}
