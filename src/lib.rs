//! pg_mq: a durable message queue inside PostgreSQL. This crate is the PostgreSQL side; the
//! decisions that need no PostgreSQL live in the pure core crate `mq_core`
//! (crates/mq_core/). ARCHITECTURE.md draws how a message moves through these rooms:
//!
//! - `api`: the SQL surface, one file per function family (`#[pg_extern]` functions check
//!   their arguments with `mq_core::validation`, then run statements)
//! - `engine`: queue operations built from several statements, shared by the SQL functions
//!   and the background worker (settling failures, recovering expired locks, retention,
//!   metrics samples)
//! - `worker`: the background worker's loop and its jobs, each job in a file of its own
//! - `pg`: the PostgreSQL glue: SPI and the plan cache, the statements (sql/statements/),
//!   jsonb and array datums, raising errors, the clock, long-poll wake-ups, per-backend
//!   cached catalog tables, the settings, transactions. The only room with unsafe code.

mod api;
mod engine;
mod pg;
mod worker;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

pgrx::pg_module_magic!(name, version);

pgrx::extension_sql_file!("../sql/schema/schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!(
    "../sql/schema/metrics.sql",
    name = "metrics",
    requires = ["schema", latency_histogram, histogram_add]
);
pgrx::extension_sql_file!(
    "../sql/schema/topics.sql",
    name = "topics",
    requires = ["metrics"]
);
pgrx::extension_sql_file!(
    "../sql/schema/admin.sql",
    name = "admin",
    requires = ["topics"]
);
// Last: it takes EXECUTE on every function of the extension away from PUBLIC.
pgrx::extension_sql_file!(
    "../sql/schema/privileges.sql",
    name = "privileges",
    finalize
);

#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    pg::settings::register();
    if pg::preloading() {
        pg::wakeup::request_shared_memory();
        pg::workers::install();
        worker::register();
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'pg_mq'"]
    }
}
