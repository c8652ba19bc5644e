//! pg_mq: a durable message queue inside PostgreSQL.
//!
//! Pure logic (no PostgreSQL types): `backoff`, `capabilities`, `dashboard`, `error`, `ids`,
//! `metrics`, `prometheus`, `schedule`, `validation`.
//! pgrx glue: `settings`, `jsonb`, `arrays`, `raise`, `clock`, `statements`, `failure`,
//! `recovery`, `privileges`, `wakeup` and one module per SQL function family.

use pgrx::prelude::*;

mod backoff;
mod capabilities;
mod dashboard;
mod error;
mod ids;
mod metrics;
mod prometheus;
mod schedule;
mod validation;

mod arrays;
mod clock;
mod failure;
mod jsonb;
mod privileges;
mod raise;
mod recovery;
mod settings;
mod statements;
mod wakeup;

mod complete;
mod fail;
mod monitoring;
mod poll;
mod publish;
mod purge;
mod replay;
mod retention;
mod trace;
mod worker;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/metrics.sql",
    name = "metrics",
    requires = ["schema"]
);
extension_sql_file!("../sql/admin.sql", name = "admin", requires = ["metrics"]);
// Last: it takes EXECUTE on every function of the extension away from PUBLIC.
extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    // SAFETY: a plain read of a flag the postmaster sets while loading preload libraries.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        wakeup::request_shared_memory();
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
