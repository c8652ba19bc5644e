//! pg_mq through its SQL functions, with tracing on or off.

use std::time::Duration;

use postgres::{Client, Statement};
use serde_json::Value;

use super::{
    count, delivered_at, in_chunks, in_ranges, FanoutSession, OrderedSession, Session, System,
};
use crate::payload::SQL_PAYLOAD;
use crate::scenarios::Scenario;

pub struct PgMq {
    pub trace: bool,
}

struct PgMqSession {
    client: Client,
    topic: String,
    consumer: String,
    publish: Statement,
    publish_batch: Statement,
    poll: Statement,
    poll_wait: Statement,
    complete: Statement,
}

impl Session for PgMqSession {
    fn publish(&mut self, payload: &Value) {
        self.client
            .query_one(&self.publish, &[&self.topic, payload])
            .unwrap();
    }

    fn publish_batch(&mut self, payloads: &[Value]) {
        self.client
            .query_one(&self.publish_batch, &[&self.topic, &payloads])
            .unwrap();
    }

    fn consume(&mut self, max: i32, wait: Option<Duration>) -> Vec<(Value, i64)> {
        let rows = match wait {
            None => self
                .client
                .query(&self.poll, &[&self.topic, &max, &self.consumer]),
            Some(wait) => {
                let wait = format!("{} milliseconds", wait.as_millis());
                self.client
                    .query(&self.poll_wait, &[&self.topic, &max, &self.consumer, &wait])
            }
        }
        .unwrap();
        let at = delivered_at();
        if rows.is_empty() {
            return Vec::new();
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let leases: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(2)).collect();
        self.client
            .execute(&self.complete, &[&ids, &leases])
            .unwrap();
        rows.iter().map(|r| (r.get(1), at)).collect()
    }

    fn waits(&self) -> bool {
        true
    }
}

impl System for PgMq {
    fn name(&self) -> String {
        format!("pg_mq trace={}", if self.trace { "on" } else { "off" })
    }

    fn install(&self, _admin: &mut Client) {
        // The benchmark server preloads pg_mq and creates the extension.
    }

    fn create(&self, _admin: &mut Client, _queue: &str, _shards: usize) {}

    /// Empties every table between scenarios. The background worker keeps working meanwhile
    /// (a fold locks the counters and then reads the messages), so the TRUNCATE can deadlock
    /// with it; PostgreSQL then cancels one of the two, and the TRUNCATE is simply tried again.
    fn drop(&self, admin: &mut Client, _queue: &str, _shards: usize) {
        for attempt in 1.. {
            match admin.batch_execute(
                "TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.ordering_keys, mq.dedup_keys, \
                 mq.metric_counts, mq.metric_totals, mq.consumer_totals, mq.metric_snapshots, \
                 mq.metric_samples",
            ) {
                Ok(()) => return,
                Err(e)
                    if attempt < 10
                        && e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED) =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("emptying pg_mq's tables: {e}"),
            }
        }
    }

    fn session(
        &self,
        mut client: Client,
        queue: &str,
        index: usize,
        _shards: usize,
    ) -> Box<dyn Session> {
        client
            .batch_execute(&format!(
                "SET pg_mq.trace = {}",
                if self.trace { "on" } else { "off" }
            ))
            .unwrap();
        Box::new(PgMqSession {
            publish: client.prepare("SELECT mq_publish($1, $2)").unwrap(),
            publish_batch: client
                .prepare("SELECT count(*) FROM mq_publish_batch($1, $2::jsonb[])")
                .unwrap(),
            poll: client
                .prepare("SELECT id, payload, lease FROM mq_poll($1, $2, consumer_id => $3)")
                .unwrap(),
            poll_wait: client
                .prepare("SELECT id, payload, lease FROM mq_poll($1, $2, consumer_id => $3, wait => $4::text::interval)")
                .unwrap(),
            complete: client
                .prepare("SELECT count(status) FROM mq_complete_batch($1, $2)")
                .unwrap(),
            client,
            topic: queue.to_owned(),
            consumer: format!("bench-{index}"),
        })
    }

    fn fill_backlog(&self, admin: &mut Client, queue: &str, _shards: usize, n: i64) {
        admin
            .batch_execute(&format!(
                "SET pg_mq.trace = {}",
                if self.trace { "on" } else { "off" }
            ))
            .unwrap();
        let sql = format!(
            "SELECT count(*) FROM mq_publish_batch($1, ARRAY(SELECT {SQL_PAYLOAD} FROM generate_series(1, $2::bigint) n))"
        );
        in_chunks(n, |chunk| {
            admin.query_one(&sql, &[&queue, &chunk]).unwrap();
        });
    }

    fn fill_history(&self, admin: &mut Client, queue: &str, n: i64) {
        let sql = "INSERT INTO mq.messages (topic, payload, status, max_retries, execute_at, \
                   consumer_id, locked_at, lease, trace_id, created_at, updated_at) \
                   SELECT $1, '{\"history\": true}', 'COMPLETED', 3, now(), 'history', now(), \
                          gen_random_uuid(), gen_random_uuid(), now(), now() \
                   FROM generate_series(1, $2::bigint)";
        in_chunks(n, |chunk| {
            admin.execute(sql, &[&queue, &chunk]).unwrap();
        });
        admin.batch_execute("VACUUM ANALYZE mq.messages").unwrap();
    }

    fn published(&self, admin: &mut Client, queue: &str, _shards: usize) -> i64 {
        count(
            admin,
            "SELECT count(*) FROM mq.messages WHERE topic = $1",
            queue,
        )
    }

    fn consumed(&self, admin: &mut Client, queue: &str, _shards: usize) -> i64 {
        count(
            admin,
            "SELECT count(*) FROM mq.messages WHERE topic = $1 AND status = 'COMPLETED'",
            queue,
        )
    }

    /// Every scenario; (h) only once, with tracing on: the monitoring functions read the
    /// counters, which do not depend on `pg_mq.trace`.
    fn runs(&self, scenario: Scenario) -> bool {
        !matches!(scenario, Scenario::Monitoring | Scenario::Ordered) || self.trace
    }

    fn ordered_fill(&self, admin: &mut Client, queue: &str, keys: i64, n: i64, keyed: bool) {
        admin.batch_execute("SET pg_mq.trace = on").unwrap();
        let sql = format!(
            "SELECT count(*) FROM mq_publish_batch($1, \
               ARRAY(SELECT {SQL_PAYLOAD} FROM generate_series($2::bigint, $3::bigint) n), \
               ordering_keys => CASE WHEN $5 THEN \
                 ARRAY(SELECT 'key-' || (n % $4::bigint) FROM generate_series($2::bigint, $3::bigint) n) END)"
        );
        in_ranges(n, |first, last| {
            admin
                .query_one(&sql, &[&queue, &first, &last, &keys, &keyed])
                .unwrap();
        });
    }

    fn ordered_session(
        &self,
        client: Client,
        queue: &str,
        _keyed: bool,
        _limit: Duration,
    ) -> Box<dyn OrderedSession> {
        let mut session = self.session(client, queue, 0, 1);
        Box::new(OrderedPgMq(move |max| session.consume(max, None).len()))
    }

    fn fanout_create(&self, admin: &mut Client, topic: &str, groups: usize) {
        for g in 0..groups {
            admin
                .execute(
                    "SELECT mq_subscribe($1, $2)",
                    &[&fanout_group(topic, g), &topic],
                )
                .unwrap();
        }
    }

    fn fanout_drop(&self, admin: &mut Client, topic: &str, groups: usize) {
        for g in 0..groups {
            admin
                .execute("SELECT mq_unsubscribe($1)", &[&fanout_group(topic, g)])
                .unwrap();
        }
        admin
            .execute("SELECT mq_drop_topic($1, force => true)", &[&topic])
            .unwrap();
    }

    fn fanout_session(
        &self,
        mut client: Client,
        topic: &str,
        groups: usize,
    ) -> Box<dyn FanoutSession> {
        client
            .batch_execute(&format!(
                "SET pg_mq.trace = {}",
                if self.trace { "on" } else { "off" }
            ))
            .unwrap();
        Box::new(PgMqFanout {
            publish_batch: client
                .prepare("SELECT count(*) FROM mq_publish_batch($1, $2::jsonb[])")
                .unwrap(),
            poll: client
                .prepare("SELECT id, lease FROM mq_poll($1, $2, consumer_group => $3)")
                .unwrap(),
            complete: client
                .prepare("SELECT count(*) FROM mq_complete_batch($1, $2, $3)")
                .unwrap(),
            groups: (0..groups).map(|g| fanout_group(topic, g)).collect(),
            topic: topic.to_owned(),
            client,
        })
    }

    fn fanout_storage(&self, admin: &mut Client, _topic: &str, _groups: usize) -> i64 {
        admin
            .query_one(
                "SELECT (pg_total_relation_size('mq.messages') + pg_total_relation_size('mq.payloads') \
                         + pg_total_relation_size('mq.traces'))::bigint",
                &[],
            )
            .unwrap()
            .get(0)
    }

    fn fill_scheduled(&self, admin: &mut Client, queue: &str, n: i64) {
        let sql = format!(
            "INSERT INTO mq.messages (topic, payload, status, max_retries, execute_at, trace_id, \
             created_at, updated_at) \
             SELECT $1, {SQL_PAYLOAD}, 'SCHEDULED', 3, now() + interval '1 hour', \
                    gen_random_uuid(), now(), now() \
             FROM generate_series(1, $2::bigint) n"
        );
        in_chunks(n, |chunk| {
            admin.execute(&sql, &[&queue, &chunk]).unwrap();
        });
        // One row of counted changes for the topic, as a publish of them would append.
        admin
            .execute(
                "INSERT INTO mq.metric_counts (topic, delayed, counted_at) VALUES ($1, $2, now())",
                &[&queue, &n],
            )
            .unwrap();
        fold_and_vacuum(admin);
    }

    fn fill_topics(&self, admin: &mut Client, prefix: &str, topics: i64, n: i64) -> String {
        let sql = format!(
            "INSERT INTO mq.messages (topic, payload, status, max_retries, execute_at, trace_id, \
             created_at, updated_at) \
             SELECT $1::text || '_' || (n % $4::bigint)::text, {SQL_PAYLOAD}, 'PENDING', 3, \
                    now() - interval '5 seconds', gen_random_uuid(), now(), now() \
             FROM generate_series($2::bigint, $3::bigint) n"
        );
        in_ranges(n, |first, last| {
            admin
                .execute(&sql, &[&prefix, &first, &last, &topics])
                .unwrap();
        });
        // One row of counted changes per topic, as a publish of its messages would append.
        admin
            .execute(
                "INSERT INTO mq.metric_counts (topic, pending_in, oldest_due, counted_at) \
                 SELECT topic, count(*), min(execute_at), now() FROM mq.messages \
                 WHERE status = 'PENDING' AND starts_with(topic, $1::text || '_') GROUP BY topic",
                &[&prefix],
            )
            .unwrap();
        fold_and_vacuum(admin);
        String::new()
    }

    fn monitoring_calls(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("pg_mq: mq_metrics()", "SELECT count(*) FROM mq_metrics()"),
            ("pg_mq: mq_depth()", "SELECT count(*) FROM mq_depth()"),
            (
                "pg_mq: mq_metrics_prometheus()",
                "SELECT length(mq_metrics_prometheus())",
            ),
            ("pg_mq: mq_dashboard()", "SELECT mq_dashboard() IS NOT NULL"),
            ("pg_mq: mq_metrics_sample()", "SELECT mq_metrics_sample()"),
        ]
    }
}

/// Folds the counted changes into the totals (and takes a sample), then vacuums and analyzes
/// the messages.
fn fold_and_vacuum(admin: &mut Client) {
    // Two calls: VACUUM cannot run in the implicit transaction of a multi-statement string.
    admin.batch_execute("SELECT mq_metrics_sample()").unwrap();
    admin.batch_execute("VACUUM ANALYZE mq.messages").unwrap();
}

fn fanout_group(topic: &str, g: usize) -> String {
    format!("{topic}-g{g}")
}

struct PgMqFanout {
    client: Client,
    topic: String,
    groups: Vec<String>,
    publish_batch: Statement,
    poll: Statement,
    complete: Statement,
}

impl FanoutSession for PgMqFanout {
    fn publish_batch(&mut self, payloads: &[Value]) {
        self.client
            .query_one(&self.publish_batch, &[&self.topic, &payloads])
            .unwrap();
    }

    fn consume(&mut self, group: usize, max: i32) -> usize {
        let rows = self
            .client
            .query(&self.poll, &[&self.topic, &max, &self.groups[group]])
            .unwrap();
        if rows.is_empty() {
            return 0;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let leases: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(1)).collect();
        self.client
            .query_one(&self.complete, &[&ids, &leases, &self.topic])
            .unwrap();
        rows.len()
    }
}

/// (j): the point-to-point session's poll and complete, keyed or not.
struct OrderedPgMq<F>(F);

impl<F: FnMut(i32) -> usize + Send> OrderedSession for OrderedPgMq<F> {
    fn consume(&mut self, max: i32) -> usize {
        (self.0)(max)
    }
}
