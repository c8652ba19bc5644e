//! The background worker: recovers expired locks, applies retention and records metrics
//! samples, in the database named by `pg_mq.database`.
//!
//! Registered from `_PG_init` when pg_mq is in `shared_preload_libraries`; shows in
//! pg_stat_activity with backend_type `pg_mq worker`. Each job runs in short transactions of
//! its own; an error is logged, its transaction aborted, and the worker carries on. On SIGHUP it
//! reloads the settings; on SIGTERM it exits at once (exit code 1, so the postmaster starts it
//! again unless the server is shutting down), and the postmaster restarts it if it dies.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::prelude::*;

use mq_core::schedule::Schedule;

use crate::pg::statements::Statement;
use crate::pg::{settings, xact};

mod jobs;

use jobs::JOBS;

/// How long the postmaster waits before starting a worker that died.
const RESTART_DELAY: Duration = Duration::from_secs(5);

/// The worker's own lock wait limit: it would rather skip a tick than queue behind DDL.
const WORKER_LOCK_TIMEOUT: &str = "1s";
const WORKER_STATEMENT_TIMEOUT: &str = "5min";

pub const BACKEND_TYPE: &str = "pg_mq worker";

/// While the extension is missing or at another version, how often the worker looks again
/// (or every recovery interval, if that is shorter).
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// The extension version this library implements.
const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Registers the worker with the postmaster (only possible while preloading).
pub fn register() {
    BackgroundWorkerBuilder::new(BACKEND_TYPE)
        .set_type(BACKEND_TYPE)
        .set_library("pg_mq")
        .set_function("pg_mq_worker_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(RESTART_DELAY))
        .load();
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

/// The worker's main loop, in a new process started by the postmaster (through
/// `pg::pg_mq_worker_main`).
pub fn main() -> ! {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    xact::in_transaction("configuring the session", || {
        Spi::run(&format!(
            "SET lock_timeout = '{WORKER_LOCK_TIMEOUT}'; \
             SET statement_timeout = '{WORKER_STATEMENT_TIMEOUT}'; \
             SET application_name = '{BACKEND_TYPE}'"
        ))
    });
    pgrx::log!("pg_mq worker started in database \"{database}\"");

    let mut schedule = Schedule::new(JOBS.len());
    let mut installed: Option<Found> = None;
    let mut wait = Duration::ZERO;
    while BackgroundWorker::wait_latch(Some(wait)) {
        if BackgroundWorker::sighup_received() {
            xact::reload_configuration();
            let configured = settings::database();
            if configured != database {
                pgrx::log!(
                    "pg_mq worker: pg_mq.database changed from \"{database}\" to \"{configured}\"; restarting"
                );
                break;
            }
        }
        let intervals = intervals();
        // While it cannot work, the worker looks again as often as it would recover locks.
        let recovery_interval =
            Duration::from_millis(u64::try_from(settings::RECOVERY_INTERVAL.get()).unwrap_or(0));
        let found = look_for_extension();
        if installed.as_ref() != Some(&found) {
            match &found {
                Found::Ready => pgrx::log!(
                    "pg_mq worker: extension pg_mq found in database \"{database}\"; working"
                ),
                Found::Nothing => pgrx::log!(
                    "pg_mq worker: extension pg_mq is not installed in database \"{database}\"; waiting for CREATE EXTENSION pg_mq"
                ),
                Found::OtherVersion(v) => pgrx::log!(
                    "pg_mq worker: extension pg_mq in database \"{database}\" is version {v}, this library is {LIBRARY_VERSION}; waiting for ALTER EXTENSION pg_mq UPDATE"
                ),
            }
            installed = Some(found.clone());
        }
        match found {
            Found::Ready => {
                for job in schedule.due(Instant::now(), &intervals) {
                    let more = (JOBS[job].run)();
                    schedule.ran(job, Instant::now(), more);
                }
                xact::report_activity(&describe(&intervals));
                wait = schedule.wait(Instant::now(), &intervals);
            }
            Found::Nothing => {
                xact::report_activity("pg_mq worker: waiting for CREATE EXTENSION pg_mq");
                wait = recovery_interval.min(LOOK_AGAIN);
            }
            Found::OtherVersion(_) => {
                xact::report_activity("pg_mq worker: waiting for ALTER EXTENSION pg_mq UPDATE");
                wait = recovery_interval.min(LOOK_AGAIN);
            }
        }
    }
    pgrx::log!("pg_mq worker stopping");
    // Exit code 1 lets the postmaster restart the worker.
    xact::exit(1)
}
