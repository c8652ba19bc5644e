//! pg_mq: a durable message queue inside PostgreSQL.
//!
//! Pure logic (no PostgreSQL types): `backoff`, `error`, `validation`.
//! pgrx glue: `settings`, `jsonb`, `raise`, `clock`, `statements`, `failure`, `recovery` and
//! one module per SQL function family.

use pgrx::prelude::*;

mod backoff;
mod error;
mod validation;

mod clock;
mod failure;
mod jsonb;
mod raise;
mod recovery;
mod settings;
mod statements;

mod complete;
mod fail;
mod poll;
mod publish;
mod replay;
mod trace;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
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
