//! The `pg_mq.*` settings as PostgreSQL variables. What each one is (name, type, default,
//! range, unit, context, description) is declared once, in `mq_core::settings`; this module
//! only gives each a place to live and registers it. The `settings` pg_tests check that every
//! declared setting is registered with exactly its declaration.

use mq_core::backoff::RetryPolicy;
use mq_core::settings::{self as spec, Context, Kind, Unit};
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

enum Storage {
    Int(&'static GucSetting<i32>),
    Real(&'static GucSetting<f64>),
    Bool(&'static GucSetting<bool>),
    #[allow(dead_code)] // no text setting today
    Text(&'static GucSetting<Option<std::ffi::CString>>),
}

/// One static per setting, named as its declaration in `mq_core::settings`, and the list of
/// them to register.
macro_rules! storage {
    (@static $name:ident Int) => {
        pub static $name: GucSetting<i32> = GucSetting::<i32>::new(spec::$name.int_default());
    };
    (@static $name:ident Real) => {
        pub static $name: GucSetting<f64> = GucSetting::<f64>::new(spec::$name.real_default());
    };
    (@static $name:ident Bool) => {
        pub static $name: GucSetting<bool> = GucSetting::<bool>::new(spec::$name.bool_default());
    };
    (@static $name:ident Text) => {
        pub static $name: GucSetting<Option<std::ffi::CString>> =
            GucSetting::<Option<std::ffi::CString>>::new(Some(spec::$name.text_default()));
    };
    ($($name:ident: $kind:ident),+ $(,)?) => {
        $(storage!(@static $name $kind);)+

        const REGISTERED: &[(spec::Setting, Storage)] = &[$((spec::$name, Storage::$kind(&$name))),+];
    };
}

storage! {
    DEFAULT_MAX_RETRIES: Int,
    LOCK_TIMEOUT: Int,
    RETRY_BASE_DELAY: Int,
    RETRY_MAX_DELAY: Int,
    RETRY_JITTER: Real,
    TRACE: Bool,
    MAX_PAYLOAD_SIZE: Int,
    AUTO_CREATE_TOPICS: Bool,
    DEDUP_WINDOW: Int,
    RECOVERY_INTERVAL: Int,
    SCHEDULE_INTERVAL: Int,
    FOLD_INTERVAL: Int,
    RETENTION_INTERVAL: Int,
    COMPLETED_RETENTION: Int,
    DEAD_LETTER_RETENTION: Int,
    TRACE_RETENTION: Int,
    METRICS_SAMPLE_INTERVAL: Int,
    METRICS_MAX_SAMPLES: Int,
    HEALTH_LAG_WARN: Int,
    HEALTH_SNAPSHOT_WARN: Int,
}

/// The names of the registered settings (for the test that compares them with the list).
#[cfg(any(test, feature = "pg_test"))]
pub fn registered_names() -> Vec<&'static str> {
    REGISTERED.iter().map(|(s, _)| s.name()).collect()
}

fn context(context: Context) -> GucContext {
    match context {
        Context::User => GucContext::Userset,
        Context::Superuser => GucContext::Suset,
        Context::Reload => GucContext::Sighup,
    }
}

fn flags(unit: Unit) -> GucFlags {
    match unit {
        Unit::None => GucFlags::empty(),
        Unit::Milliseconds => GucFlags::UNIT_MS,
        Unit::Seconds => GucFlags::UNIT_S,
        Unit::Bytes => GucFlags::UNIT_BYTE,
    }
}

/// Registers every setting; called once per process from `_PG_init`.
pub fn register() {
    for (setting, storage) in REGISTERED {
        let (name, short, long) = (setting.name, setting.description, setting.detail);
        let guc_context = context(setting.context);
        match (setting.kind, storage) {
            (Kind::Int { min, max, unit, .. }, Storage::Int(value)) => {
                GucRegistry::define_int_guc(
                    name,
                    short,
                    long,
                    value,
                    min,
                    max,
                    guc_context,
                    flags(unit),
                );
            }
            (Kind::Real { min, max, .. }, Storage::Real(value)) => {
                GucRegistry::define_float_guc(
                    name,
                    short,
                    long,
                    value,
                    min,
                    max,
                    guc_context,
                    GucFlags::empty(),
                );
            }
            (Kind::Bool { .. }, Storage::Bool(value)) => {
                GucRegistry::define_bool_guc(
                    name,
                    short,
                    long,
                    value,
                    guc_context,
                    GucFlags::empty(),
                );
            }
            (Kind::Text { .. }, Storage::Text(value)) => {
                GucRegistry::define_string_guc(
                    name,
                    short,
                    long,
                    value,
                    guc_context,
                    GucFlags::empty(),
                );
            }
            _ => panic!(
                "pg_mq: {} is stored as another type than declared",
                setting.name()
            ),
        }
    }
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
        base_delay_ms: i64::from(RETRY_BASE_DELAY.get()),
        max_delay_ms: i64::from(RETRY_MAX_DELAY.get()),
        jitter: RETRY_JITTER.get(),
    }
}

/// `pg_mq.max_payload_size` in bytes.
pub fn max_payload_size() -> usize {
    usize::try_from(MAX_PAYLOAD_SIZE.get()).unwrap_or(0)
}

/// `pg_mq.lock_timeout` in milliseconds.
pub fn lock_timeout_ms() -> i32 {
    LOCK_TIMEOUT.get()
}
