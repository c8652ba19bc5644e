//! The `pg_mq.*` settings. Each works in postgresql.conf, with ALTER SYSTEM / ALTER DATABASE /
//! ALTER ROLE, and with SET in a session.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::backoff::RetryPolicy;

pub static DEFAULT_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
pub static RETRY_BASE_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(1_000);
pub static RETRY_MAX_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(60_000);
pub static RETRY_JITTER: GucSetting<f64> = GucSetting::<f64>::new(0.1);
pub static TRACE: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static MAX_PAYLOAD_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1024 * 1024);

/// Registers every setting; called once per process from `_PG_init`.
pub fn register() {
    GucRegistry::define_int_guc(
        c"pg_mq.default_max_retries",
        c"Retries a message gets when mq_publish is called with max_retries NULL.",
        c"A message is delivered at most 1 + max_retries times before it is dead-lettered.",
        &DEFAULT_MAX_RETRIES,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"pg_mq.lock_timeout",
        c"How long a polled message stays locked when mq_poll is called with lock_timeout NULL.",
        c"After the lock expires the message can be delivered again and the old lease stops working.",
        &LOCK_TIMEOUT_MS,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.retry_base_delay",
        c"Backoff after the first failed delivery; it doubles with every further failure.",
        c"",
        &RETRY_BASE_DELAY_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.retry_max_delay",
        c"Longest backoff between two deliveries of a failing message.",
        c"",
        &RETRY_MAX_DELAY_MS,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_float_guc(
        c"pg_mq.retry_jitter",
        c"Largest fraction of a backoff that random jitter may take off (0 disables jitter).",
        c"Jitter only ever shortens the backoff.",
        &RETRY_JITTER,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_bool_guc(
        c"pg_mq.trace",
        c"Write a row to mq.traces for every state change of a message.",
        c"",
        &TRACE,
        GucContext::Userset,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"pg_mq.max_payload_size",
        c"Largest payload mq_publish accepts, as the size of the jsonb value.",
        c"",
        &MAX_PAYLOAD_SIZE,
        0,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    reserve_prefix();
}

#[cfg(any(feature = "pg13", feature = "pg14"))]
fn reserve_prefix() {
    // SAFETY: called from _PG_init with a static NUL-terminated name.
    unsafe { pgrx::pg_sys::EmitWarningsOnPlaceholders(c"pg_mq".as_ptr()) }
}

#[cfg(not(any(feature = "pg13", feature = "pg14")))]
fn reserve_prefix() {
    // SAFETY: called from _PG_init with a static NUL-terminated name; afterwards a misspelt
    // pg_mq.* setting is an error instead of a silently ignored placeholder.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(c"pg_mq".as_ptr()) }
}

/// The retry settings in force now.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        base_delay_ms: i64::from(RETRY_BASE_DELAY_MS.get()),
        max_delay_ms: i64::from(RETRY_MAX_DELAY_MS.get()),
        jitter: RETRY_JITTER.get(),
    }
}

/// `pg_mq.max_payload_size` in bytes.
pub fn max_payload_size() -> usize {
    usize::try_from(MAX_PAYLOAD_SIZE.get()).unwrap_or(0)
}

/// `pg_mq.lock_timeout` in milliseconds.
pub fn lock_timeout_ms() -> i32 {
    LOCK_TIMEOUT_MS.get()
}
