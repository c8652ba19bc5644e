//! The queue systems under test, each behind the same two traits.

mod pg_mq;
mod pgmq;
mod pgq;
mod raw_sql;

use std::time::Duration;

use postgres::Client;
use serde_json::Value;

pub use self::pg_mq::PgMq;
pub use self::pgmq::Pgmq;
pub use self::pgq::PgQ;
pub use self::raw_sql::RawSql;

/// One connection's view of a queue.
pub trait Session: Send {
    /// Publishes one message in a transaction of its own.
    fn publish(&mut self, payload: &Value);
    /// Publishes the messages in one transaction.
    fn publish_batch(&mut self, payloads: &[Value]);
    /// Claims up to `max` due messages, completes them and returns their payloads with the
    /// moment the claim returned. With `wait`, a system that can wait for messages server-side
    /// does so up to that long.
    fn consume(&mut self, max: i32, wait: Option<Duration>) -> Vec<(Value, i64)>;
    /// Whether `consume` with a wait waits server-side; the others are polled, with a 1 ms
    /// nap between empty polls.
    fn waits(&self) -> bool {
        false
    }
}

/// A queue system installed in the benchmark database.
pub trait System: Sync {
    fn name(&self) -> String;
    /// Installs what the system needs (once per run).
    fn install(&self, admin: &mut Client);
    /// Creates `queue`, to be consumed by `shards` connections.
    fn create(&self, admin: &mut Client, queue: &str, shards: usize);
    /// Removes `queue` and everything in it.
    fn drop(&self, admin: &mut Client, queue: &str, shards: usize);
    /// A session for connection `index` of `shards`.
    fn session(&self, client: Client, queue: &str, index: usize, shards: usize)
        -> Box<dyn Session>;
    /// Publishes `n` messages quickly (server-side).
    fn fill_backlog(&self, admin: &mut Client, queue: &str, shards: usize, n: i64);
    /// Adds `n` messages that were already consumed.
    fn fill_history(&self, admin: &mut Client, queue: &str, n: i64);
    /// Messages published to `queue` so far, counted in the database.
    fn published(&self, admin: &mut Client, queue: &str, shards: usize) -> i64;
    /// Messages consumed from `queue` so far, counted in the database.
    fn consumed(&self, admin: &mut Client, queue: &str, shards: usize) -> i64;
    /// PgQ needs a ticker running for events to become visible to consumers.
    fn ticker_sql(&self) -> Option<&'static str> {
        None
    }
    /// Makes everything published so far visible to consumers (PgQ: a forced tick).
    fn flush(&self, _admin: &mut Client, _queue: &str, _shards: usize) {}
}

/// Publishes `n` rows with `insert_chunk(count)` in chunks of 10,000 rows.
pub fn in_chunks(n: i64, mut insert_chunk: impl FnMut(i64)) {
    let mut left = n;
    while left > 0 {
        let chunk = left.min(10_000);
        insert_chunk(chunk);
        left -= chunk;
    }
}

/// The client's clock now, in microseconds since the Unix epoch.
pub fn delivered_at() -> i64 {
    crate::payload::now_micros()
}

pub fn count(admin: &mut Client, sql: &str, queue: &str) -> i64 {
    admin
        .query_one(sql, &[&queue])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}
