//! Transactions and process state for the background worker, which runs outside any
//! transaction between its jobs.

use std::ffi::CString;
use std::panic::UnwindSafe;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Runs `body` in a transaction of its own. An ERROR (or panic) inside is logged as a WARNING
/// naming `what`, the transaction is aborted, and None is returned.
pub fn in_transaction<R>(what: &str, body: impl FnOnce() -> R + UnwindSafe) -> Option<R> {
    // SAFETY: the caller is between transactions; this is the start/commit sequence
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
            // SAFETY: we are in a failed transaction; abort it and return to the top-level
            // memory context, as PostgresMain does after an error.
            unsafe {
                pg_sys::AbortCurrentTransaction();
                pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
            }
            pgrx::warning!("pg_mq worker: {what} failed: {message}");
            None
        }
    }
}

/// Runs a job of this database's worker in a transaction of its own, as [`in_transaction`]
/// does, unless a restore is loading rows into the database (see `workers::may_work`): then
/// nothing is done and None returned.
pub fn in_job_transaction<R>(what: &str, body: impl FnOnce() -> R + UnwindSafe) -> Option<R> {
    // SAFETY: reads a backend global.
    let dboid = unsafe { pg_sys::MyDatabaseId };
    in_transaction(what, || crate::pg::workers::may_work(dboid).then(body)).flatten()
}

/// Shows `status` in pg_stat_activity.query for this process.
pub fn report_activity(status: &str) {
    let status = CString::new(status).unwrap_or_default();
    // SAFETY: pgstat copies the string into shared memory.
    unsafe { pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, status.as_ptr()) }
}

/// Reloads postgresql.conf, as a backend does on SIGHUP.
pub fn reload_configuration() {
    // SAFETY: reloading the configuration file is what a backend does on SIGHUP, between
    // transactions.
    unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
}

/// Ends this process with `code` (1 lets the postmaster restart a background worker).
pub fn exit(code: i32) -> ! {
    // SAFETY: ends the process through PostgreSQL's exit path.
    unsafe { pg_sys::proc_exit(code) }
}

/// Runs `body` in a subtransaction; returns the SQLSTATE and message of the ERROR it raised
/// (the subtransaction then rolled back), or None when it succeeded. For tests.
#[cfg(any(test, feature = "pg_test"))]
pub fn error_in_subtransaction(body: impl FnOnce() + UnwindSafe) -> Option<(String, String)> {
    // SAFETY: the standard internal-subtransaction pattern (as PL/pgSQL's exception blocks
    // use): remember the memory context and resource owner, begin, and on the way out either
    // release or roll back and restore both.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
        let outcome = PgTryBuilder::new(|| {
            body();
            None
        })
        .catch_others(|caught| match caught {
            pg_sys::panic::CaughtError::PostgresError(report)
            | pg_sys::panic::CaughtError::ErrorReport(report)
            | pg_sys::panic::CaughtError::RustPanic {
                ereport: report, ..
            } => Some((
                unpack_sqlstate(report.sql_error_code() as i32),
                report.message().to_owned(),
            )),
        })
        .execute();
        if outcome.is_some() {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        } else {
            pg_sys::ReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        outcome
    }
}

#[cfg(any(test, feature = "pg_test"))]
fn unpack_sqlstate(packed: i32) -> String {
    (0..5)
        .map(|i| char::from((((packed >> (6 * i)) & 0x3F) as u8) + b'0'))
        .collect()
}
