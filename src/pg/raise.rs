//! Turns an [`MqError`] into a PostgreSQL ERROR with its SQLSTATE, message and hint.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use mq_core::error::{MqError, SqlState};

/// PostgreSQL's packed form of a five-character SQLSTATE (MAKE_SQLSTATE in elog.h).
fn error_code(state: SqlState) -> PgSqlErrorCode {
    let packed = state
        .code()
        .bytes()
        .enumerate()
        .fold(0_i32, |acc, (i, ch)| {
            acc + (((i32::from(ch) - i32::from(b'0')) & 0x3F) << (6 * i))
        });
    PgSqlErrorCode::from(packed)
}

/// Raises `error` as a PostgreSQL ERROR; does not return.
pub fn raise(error: MqError) -> ! {
    let mut report = ErrorReport::new(error_code(error.sqlstate()), error.to_string(), "pg_mq");
    if let Some(hint) = error.hint() {
        report = report.set_hint(hint);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

/// `result.or_raise()`: the value, or the error raised as a PostgreSQL ERROR.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, MqError> {
    fn or_raise(self) -> T {
        self.unwrap_or_else(|e| raise(e))
    }
}
