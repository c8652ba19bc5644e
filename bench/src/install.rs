//! Installing pgmq into the benchmark database from the SQL that the `pgmq` crate embeds.

use std::sync::OnceLock;

/// Where the benchmark server listens: (socket directory, port).
pub static SERVER: OnceLock<(String, u16)> = OnceLock::new();

pub fn pgmq_from_embedded_sql() {
    let (socket_dir, port) = SERVER.get().expect("benchmark server started").clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let options = sqlx::postgres::PgConnectOptions::new()
            .socket(&socket_dir)
            .port(port)
            .username(pg_mq_live_tests::SUPERUSER)
            .database("postgres");
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("sqlx connection for installing pgmq");
        pgmq::PGMQueueExt::new_with_pool(pool)
            .await
            .install_sql_from_embedded()
            .await
            .expect("install pgmq from the crate's embedded SQL");
    });
}
