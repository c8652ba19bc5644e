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

use crate::scenarios::Scenario;

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

/// (i): one connection's view of a topic delivered to several groups (consumer groups of
/// pg_mq; for pgmq, one queue per group bound to the topic).
pub trait FanoutSession: Send {
    /// Publishes the messages to the topic in one transaction.
    fn publish_batch(&mut self, payloads: &[Value]);
    /// Claims up to `max` deliveries of group `group` (0-based), completes them, and returns
    /// how many.
    fn consume(&mut self, group: usize, max: i32) -> usize;
}

/// (j): one connection's view of an ordered backlog.
pub trait OrderedSession: Send {
    /// Claims up to `max` deliverable messages (by key, when the backlog has keys), completes
    /// them and returns how many.
    fn consume(&mut self, max: i32) -> usize;
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
    /// Whether the system runs `scenario`: every one but (g), (h) and (i), which only the
    /// systems implementing the methods below run.
    fn runs(&self, scenario: Scenario) -> bool {
        !matches!(
            scenario,
            Scenario::ScheduledPoll | Scenario::Monitoring | Scenario::Fanout | Scenario::Ordered
        )
    }
    /// (g): adds `n` messages to `queue` that fall due in an hour, stored the way the system
    /// stores messages published for later (and counted as its own publish would count them),
    /// then vacuums and analyzes.
    fn fill_scheduled(&self, _admin: &mut Client, _queue: &str, _n: i64) {
        unimplemented!("{} does not run scenario g", self.name())
    }
    /// (h): adds `n` due messages spread evenly over `topics` topics named `{prefix}_{i}`
    /// (i from 0), counted as the system's own publish would count them, then vacuums and
    /// analyzes. Returns a note for the report when the fill had to differ from that.
    fn fill_topics(&self, _admin: &mut Client, _prefix: &str, _topics: i64, _n: i64) -> String {
        unimplemented!("{} does not run scenario h", self.name())
    }
    /// (h): what is timed once the topics are filled, as (row label, SQL).
    fn monitoring_calls(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
    /// (i): creates `topic` delivered to `groups` groups.
    fn fanout_create(&self, _admin: &mut Client, _topic: &str, _groups: usize) {
        unimplemented!("{} does not run scenario i", self.name())
    }
    /// (i): removes it.
    fn fanout_drop(&self, _admin: &mut Client, _topic: &str, _groups: usize) {}
    /// (i): a session on it.
    fn fanout_session(
        &self,
        _client: Client,
        _topic: &str,
        _groups: usize,
    ) -> Box<dyn FanoutSession> {
        unimplemented!("{} does not run scenario i", self.name())
    }
    /// (i): bytes the system's tables of the topic take on disk (with indexes and TOAST).
    fn fanout_storage(&self, _admin: &mut Client, _topic: &str, _groups: usize) -> i64 {
        unimplemented!("{} does not run scenario i", self.name())
    }
    /// (j): adds `n` due messages to `queue`, message i of key i % `keys` (with its key when
    /// `keyed`).
    fn ordered_fill(&self, _admin: &mut Client, _queue: &str, _keys: i64, _n: i64, _keyed: bool) {
        unimplemented!("{} does not run scenario j", self.name())
    }
    /// (j): a session consuming it; no call of it may take longer than `limit`.
    fn ordered_session(
        &self,
        _client: Client,
        _queue: &str,
        _keyed: bool,
        _limit: Duration,
    ) -> Box<dyn OrderedSession> {
        unimplemented!("{} does not run scenario j", self.name())
    }
    /// (h): removes what `fill_topics` added.
    fn drop_topics(&self, admin: &mut Client, prefix: &str, _topics: i64) {
        System::drop(self, admin, prefix, 1);
    }
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

/// Calls `insert_range(first, last)` for 1..=n in consecutive ranges of 10,000.
pub fn in_ranges(n: i64, mut insert_range: impl FnMut(i64, i64)) {
    let mut done = 0;
    in_chunks(n, |chunk| {
        insert_range(done + 1, done + chunk);
        done += chunk;
    });
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
