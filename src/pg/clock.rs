//! The time pg_mq stamps on rows and compares due times with.
//!
//! pg_mq uses the wall clock at the call, not now() (the transaction's start): a consumer that
//! polls in a loop inside one transaction must still see messages fall due, and a lock must last
//! lock_timeout from the moment it is taken.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::pg_sys;

use mq_core::validation::{IntervalParts, TIMESTAMP_END_MICROS, TIMESTAMP_FIRST_MICROS};

/// The current wall-clock time.
pub fn now() -> TimestampWithTimeZone {
    // SAFETY: GetCurrentTimestamp only reads the system clock.
    let micros = unsafe { pg_sys::GetCurrentTimestamp() };
    TimestampWithTimeZone::try_from(micros).expect("the system clock is within timestamptz range")
}

/// `now` moved by `millis` milliseconds.
pub fn plus_millis(now: TimestampWithTimeZone, millis: i64) -> TimestampWithTimeZone {
    let micros = pg_sys::TimestampTz::from(now).saturating_add(millis.saturating_mul(1_000));
    TimestampWithTimeZone::try_from(micros)
        .unwrap_or_else(|_| TimestampWithTimeZone::positive_infinity())
}

/// An interval's fields, for validation.
pub fn parts(interval: Interval) -> IntervalParts {
    IntervalParts {
        months: interval.months(),
        days: interval.days(),
        micros: interval.micros(),
    }
}

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const UNIX_TO_POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A timestamp as microseconds since the Unix epoch.
pub fn unix_micros(at: TimestampWithTimeZone) -> i64 {
    pg_sys::TimestampTz::from(at) + UNIX_TO_POSTGRES_EPOCH_MICROS
}

/// `at` minus an interval's length (a month counted as 30 days).
pub fn minus(at: TimestampWithTimeZone, interval: Interval) -> TimestampWithTimeZone {
    let micros = i64::try_from(parts(interval).comparable_micros()).unwrap_or(i64::MAX);
    plus_micros(at, micros.saturating_neg())
}

/// `at` moved by `micros` microseconds, saturating at the first and last finite timestamps
/// (never infinity, which timestamp arithmetic in SQL refuses).
pub fn plus_micros(at: TimestampWithTimeZone, micros: i64) -> TimestampWithTimeZone {
    let moved = pg_sys::TimestampTz::from(at)
        .saturating_add(micros)
        .clamp(TIMESTAMP_FIRST_MICROS, TIMESTAMP_END_MICROS - 1);
    TimestampWithTimeZone::try_from(moved).expect("clamped into the timestamptz range")
}

/// The timestamp `micros` microseconds after the Unix epoch.
pub fn from_unix_micros(micros: i64) -> TimestampWithTimeZone {
    let moved = micros
        .saturating_sub(UNIX_TO_POSTGRES_EPOCH_MICROS)
        .clamp(TIMESTAMP_FIRST_MICROS, TIMESTAMP_END_MICROS - 1);
    TimestampWithTimeZone::try_from(moved).expect("clamped into the timestamptz range")
}
