//! The background worker: recovers expired locks, applies retention and records metrics
//! samples, in the database named by `pg_mq.database`.
//!
//! Registered from `_PG_init` when pg_mq is in `shared_preload_libraries`; shows in
//! pg_stat_activity with backend_type `pg_mq worker`. Each job runs in short transactions of
//! its own; an error is logged, its transaction aborted, and the worker carries on. On SIGHUP it
//! reloads the settings; on SIGTERM it exits at once (exit code 1, so the postmaster starts it
//! again unless the server is shutting down), and the postmaster restarts it if it dies.

use std::ffi::CString;
use std::panic::UnwindSafe;
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::retention::{self, Kind};
use crate::schedule::{Intervals, Job, Schedule};
use crate::statements::Statement;
use crate::{clock, monitoring, recovery, settings};

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

fn intervals() -> Intervals {
    let ms = |v: i32| Duration::from_millis(u64::try_from(v).unwrap_or(0));
    Intervals {
        recovery: ms(settings::RECOVERY_INTERVAL_MS.get()),
        retention: ms(settings::RETENTION_INTERVAL_MS.get()),
        metrics: ms(settings::METRICS_SAMPLE_INTERVAL_MS.get()),
    }
}

/// Runs `body` in a transaction of its own. An ERROR (or panic) inside is logged as a WARNING
/// naming `what`, the transaction is aborted, and None is returned.
fn in_transaction<R>(what: &str, body: impl FnOnce() -> R + UnwindSafe) -> Option<R> {
    // SAFETY: the worker is between transactions here; this is the start/commit sequence
    // PostgreSQL's own workers use, and on error AbortCurrentTransaction cleans up whatever
    // state the failed transaction left (SPI, snapshots, locks, memory).
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let outcome = PgTryBuilder::new(|| {
        let result = body();
        // SAFETY: pairs with the Push/Start above.
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        Ok(result)
    })
    .catch_others(|caught| {
        use pg_sys::panic::CaughtError;
        let message = match &caught {
            CaughtError::PostgresError(report)
            | CaughtError::ErrorReport(report)
            | CaughtError::RustPanic {
                ereport: report, ..
            } => report.message().to_owned(),
        };
        Err(message)
    })
    .execute();
    match outcome {
        Ok(result) => Some(result),
        Err(message) => {
            // SAFETY: we are in a failed transaction; abort it and return to the worker's
            // top-level memory context, as PostgresMain does after an error.
            unsafe {
                pg_sys::AbortCurrentTransaction();
                pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
            }
            pgrx::warning!("pg_mq worker: {what} failed: {message}");
            None
        }
    }
}

fn report_activity(status: &str) {
    let status = CString::new(status).unwrap_or_default();
    // SAFETY: pgstat copies the string into shared memory.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, status.as_ptr()) }
}

fn describe(intervals: &Intervals) -> String {
    format!(
        "pg_mq worker: recovery every {}ms, retention every {}ms, metrics every {}ms",
        intervals.recovery.as_millis(),
        intervals.retention.as_millis(),
        intervals.metrics.as_millis()
    )
}

/// Runs `job` once; returns whether it stopped at a batch limit with work left.
fn run_job(job: Job) -> bool {
    match job {
        Job::Recovery => in_transaction("recovery", || {
            Spi::connect_mut(|client| recovery::recover_batch(client, None, clock::now()))
        })
        .is_some_and(|n| n >= recovery::RECOVERY_BATCH),
        Job::Retention => {
            let now = clock::now();
            let mut more = false;
            for kind in Kind::ALL_SCHEDULED {
                let Some(cutoff) = retention::cutoff(kind, now) else {
                    continue;
                };
                let what = format!("retention of {}", kind.name());
                let batch = in_transaction(&what, || {
                    Spi::connect_mut(|client| retention::delete_batch(client, kind, cutoff))
                });
                more |= batch.is_some_and(|(_, more)| more);
            }
            more
        }
        Job::Metrics => {
            in_transaction("metrics sample", || {
                Spi::connect_mut(monitoring::take_sample)
            });
            false
        }
    }
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
    let version = in_transaction("checking for the extension", || {
        Spi::connect_mut(|client| {
            Statement::ExtensionVersion
                .run(client, &[])
                .iter()
                .next()
                .map(|row| row.value::<String>(0))
        })
    });
    match version {
        // The check itself failed (logged); try again next tick.
        None | Some(None) => Found::Nothing,
        Some(Some(v)) if v == LIBRARY_VERSION => Found::Ready,
        Some(Some(v)) => Found::OtherVersion(v),
    }
}

/// The worker's entry point, called by the postmaster in a new process.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_mq_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = settings::database();
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    in_transaction("configuring the session", || {
        Spi::run(&format!(
            "SET lock_timeout = '{WORKER_LOCK_TIMEOUT}'; \
             SET statement_timeout = '{WORKER_STATEMENT_TIMEOUT}'; \
             SET application_name = '{BACKEND_TYPE}'"
        ))
    });
    pgrx::log!("pg_mq worker started in database \"{database}\"");

    let mut schedule = Schedule::default();
    let mut installed: Option<Found> = None;
    let mut wait = Duration::ZERO;
    while BackgroundWorker::wait_latch(Some(wait)) {
        if BackgroundWorker::sighup_received() {
            // SAFETY: reloading the configuration file is what a backend does on SIGHUP.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            let configured = settings::database();
            if configured != database {
                pgrx::log!(
                    "pg_mq worker: pg_mq.database changed from \"{database}\" to \"{configured}\"; restarting"
                );
                break;
            }
        }
        let intervals = intervals();
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
                    let more = run_job(job);
                    schedule.ran(job, Instant::now(), more);
                }
                report_activity(&describe(&intervals));
                wait = schedule.wait(Instant::now(), &intervals);
            }
            Found::Nothing => {
                report_activity("pg_mq worker: waiting for CREATE EXTENSION pg_mq");
                wait = intervals.recovery.min(LOOK_AGAIN);
            }
            Found::OtherVersion(_) => {
                report_activity("pg_mq worker: waiting for ALTER EXTENSION pg_mq UPDATE");
                wait = intervals.recovery.min(LOOK_AGAIN);
            }
        }
    }
    pgrx::log!("pg_mq worker stopping");
    // SAFETY: ends this process; exit code 1 lets the postmaster restart the worker.
    unsafe { pg_sys::proc_exit(1) }
}
