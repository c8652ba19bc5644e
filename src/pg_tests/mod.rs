//! `#[pg_test]` tests: each runs inside the database, in a transaction that is rolled back.

mod architecture;
mod bad_input;
mod batch;
mod complete;
mod fail;
mod metrics;
mod operations;
mod ordering;
mod poll;
mod privileges;
mod publish;
mod replay;
mod settings;
mod subscriptions;
mod topics;
mod trace;

use pgrx::prelude::*;
use pgrx::{FromDatum, IntoDatum};

/// The value of a one-row, one-column query (panics on NULL or no row).
pub fn one<T: FromDatum + IntoDatum>(sql: &str) -> T {
    Spi::get_one::<T>(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_else(|| panic!("{sql}: NULL"))
}

/// Like [`one`], but a NULL result or no row is `None`.
pub fn maybe<T: FromDatum + IntoDatum>(sql: &str) -> Option<T> {
    Spi::connect_mut(|client| {
        let rows = client
            .update(sql, Some(1), &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        if rows.is_empty() {
            None
        } else {
            rows.first()
                .get_one::<T>()
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
    })
}

/// Runs `sql`; panics if it fails.
pub fn run(sql: &str) {
    Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows in the three pg_mq tables, to show that a failed call wrote nothing.
pub fn table_counts() -> (i64, i64, i64) {
    (
        one("SELECT count(*) FROM mq.messages"),
        one("SELECT count(*) FROM mq.dead_letters"),
        one("SELECT count(*) FROM mq.traces"),
    )
}

/// Runs `sql` in a subtransaction and returns the SQLSTATE and message of the ERROR it raised,
/// or None when it succeeded. The subtransaction is rolled back on error, so the test's
/// transaction stays usable.
pub fn error_of(sql: &str) -> Option<(String, String)> {
    crate::pg::xact::error_in_subtransaction(|| {
        Spi::run(sql).expect("SPI failed outside an ERROR");
    })
}

/// Asserts that `sql` fails with `sqlstate`, with a message containing `needle`, and that
/// the pg_mq tables are unchanged afterwards.
#[track_caller]
pub fn assert_rejected(sql: &str, sqlstate: &str, needle: &str) {
    let before = table_counts();
    match error_of(sql) {
        None => panic!("{sql}: expected SQLSTATE {sqlstate}, but it succeeded"),
        Some((state, message)) => {
            assert_eq!(state, sqlstate, "{sql}: {message}");
            assert!(
                message.contains(needle),
                "{sql}: {message:?} lacks {needle:?}"
            );
        }
    }
    assert_eq!(table_counts(), before, "{sql} left rows behind");
}

/// Publishes a message on `topic` and returns its id.
pub fn publish(topic: &str) -> i64 {
    one(&format!("SELECT mq_publish('{topic}', '{{\"n\": 1}}')"))
}

/// Polls one message of `topic`; returns (id, lease).
pub fn poll_one(topic: &str) -> (i64, pgrx::Uuid) {
    let (id, lease) =
        Spi::get_two::<i64, pgrx::Uuid>(&format!("SELECT id, lease FROM mq_poll('{topic}', 1)"))
            .unwrap();
    (id.expect("a message"), lease.expect("a lease"))
}

/// The events of a trace, in order.
pub fn events(trace_sql: &str) -> Vec<String> {
    one::<Vec<String>>(&format!(
        "SELECT coalesce(array_agg(t.event ORDER BY t.n), '{{}}') \
         FROM mq_trace(({trace_sql})) WITH ORDINALITY AS t(event, message_id, topic, detail, created_at, n)"
    ))
}
