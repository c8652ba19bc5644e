//! The `pg_mq.*` settings. Each works in postgresql.conf, with ALTER SYSTEM / ALTER DATABASE /
//! ALTER ROLE, and with SET in a session.

use std::ffi::CString;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::backoff::RetryPolicy;

pub static DEFAULT_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static LOCK_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
pub static RETRY_BASE_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(1_000);
pub static RETRY_MAX_DELAY_MS: GucSetting<i32> = GucSetting::<i32>::new(60_000);
pub static RETRY_JITTER: GucSetting<f64> = GucSetting::<f64>::new(0.1);
pub static TRACE: GucSetting<bool> = GucSetting::<bool>::new(true);
pub static MAX_PAYLOAD_SIZE: GucSetting<i32> = GucSetting::<i32>::new(1024 * 1024);

// Background worker settings: postgresql.conf / ALTER SYSTEM, applied on reload.
pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
pub static RECOVERY_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(5_000);
pub static RETENTION_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(60_000);
pub static COMPLETED_RETENTION_S: GucSetting<i32> = GucSetting::<i32>::new(7 * DAY_S);
pub static DEAD_LETTER_RETENTION_S: GucSetting<i32> = GucSetting::<i32>::new(30 * DAY_S);
pub static TRACE_RETENTION_S: GucSetting<i32> = GucSetting::<i32>::new(7 * DAY_S);
pub static METRICS_SAMPLE_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static METRICS_MAX_SAMPLES: GucSetting<i32> = GucSetting::<i32>::new(360);

const DAY_S: i32 = 86_400;

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
        // The trace is the operators' record: a producer or consumer must not switch it off.
        GucContext::Suset,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"pg_mq.max_payload_size",
        c"Largest payload (and largest headers) a publish accepts, as the size of the jsonb value.",
        c"",
        &MAX_PAYLOAD_SIZE,
        0,
        i32::MAX,
        // A limit the operator sets; callers must not raise it for themselves.
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    register_worker_settings();
    reserve_prefix();
}

fn register_worker_settings() {
    GucRegistry::define_string_guc(
        c"pg_mq.database",
        c"Database the pg_mq background worker works in.",
        c"The worker reconnects when this changes.",
        &DATABASE,
        GucContext::Sighup,
        GucFlags::empty(),
    );
    GucRegistry::define_int_guc(
        c"pg_mq.recovery_interval",
        c"How often the background worker recovers messages whose lock expired.",
        c"",
        &RECOVERY_INTERVAL_MS,
        10,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.retention_interval",
        c"How often the background worker deletes rows past their retention.",
        c"",
        &RETENTION_INTERVAL_MS,
        10,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.completed_retention",
        c"Age after which the background worker deletes COMPLETED messages (0 keeps them).",
        c"",
        &COMPLETED_RETENTION_S,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.dead_letter_retention",
        c"Age after replay at which the background worker deletes dead letters (0 keeps them).",
        c"Dead letters that were never replayed are kept.",
        &DEAD_LETTER_RETENTION_S,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.trace_retention",
        c"Age after which the background worker deletes trace rows (0 keeps them).",
        c"",
        &TRACE_RETENTION_S,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.metrics_sample_interval",
        c"How often the background worker records a metrics sample per topic.",
        c"",
        &METRICS_SAMPLE_INTERVAL_MS,
        100,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"pg_mq.metrics_max_samples",
        c"Metrics samples kept per topic; older ones are deleted.",
        c"",
        &METRICS_MAX_SAMPLES,
        1,
        1_000_000,
        GucContext::Sighup,
        GucFlags::empty(),
    );
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

/// `pg_mq.database`: the database the background worker connects to.
pub fn database() -> String {
    DATABASE
        .get()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "postgres".to_owned())
}
