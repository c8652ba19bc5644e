//! pgmq 1.13, installed from the SQL the `pgmq` crate embeds: send / send_batch, read +
//! archive; its own read_with_poll when waiting.

use std::time::Duration;

use postgres::{Client, Statement};
use serde_json::Value;

use super::{count, delivered_at, in_chunks, FanoutSession, OrderedSession, Session, System};
use crate::payload::SQL_PAYLOAD;
use crate::scenarios::Scenario;

pub struct Pgmq;

/// (h) gives pgmq one queue per topic (its model), but at most this many. pgmq.metrics_all()
/// runs pgmq.metrics() for every queue in one transaction, and each locks the queue's table,
/// its two indexes and its sequence until the end: about 4 locks a queue, 40,000 for 10,000
/// queues, where the server's lock table has room for max_locks_per_transaction (64) × 82
/// backends ≈ 5,200 (max_connections = 60 here): "out of shared memory". (Creating them is
/// not the obstacle: pgmq.create makes two tables with their TOAST tables, four indexes and a
/// sequence in one transaction, by its SQL some milliseconds a queue, a minute or two for
/// 10,000 — an estimate, not measured.)
const MAX_QUEUES: i64 = 1_000;

struct PgmqSession {
    client: Client,
    queue: String,
    send: Statement,
    send_batch: Statement,
    read: Statement,
    read_with_poll: Statement,
    archive: Statement,
}

impl Session for PgmqSession {
    fn publish(&mut self, payload: &Value) {
        self.client
            .query_one(&self.send, &[&self.queue, payload])
            .unwrap();
    }

    fn publish_batch(&mut self, payloads: &[Value]) {
        self.client
            .query_one(&self.send_batch, &[&self.queue, &payloads])
            .unwrap();
    }

    fn consume(&mut self, max: i32, wait: Option<Duration>) -> Vec<(Value, i64)> {
        let rows = match wait {
            None => self.client.query(&self.read, &[&self.queue, &max]),
            Some(wait) => {
                let seconds = i32::try_from(wait.as_secs().max(1)).unwrap_or(1);
                self.client
                    .query(&self.read_with_poll, &[&self.queue, &max, &seconds])
            }
        }
        .unwrap();
        let at = delivered_at();
        if rows.is_empty() {
            return Vec::new();
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        self.client
            .query_one(&self.archive, &[&self.queue, &ids])
            .unwrap();
        rows.iter().map(|r| (r.get(1), at)).collect()
    }

    fn waits(&self) -> bool {
        true
    }
}

fn table(queue: &str, kind: &str) -> String {
    format!("pgmq.{kind}_{}", queue.to_lowercase())
}

impl System for Pgmq {
    fn name(&self) -> String {
        "pgmq".into()
    }

    fn install(&self, admin: &mut Client) {
        let exists: bool = admin
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq')",
                &[],
            )
            .unwrap()
            .get(0);
        if !exists {
            crate::install::pgmq_from_embedded_sql();
        }
    }

    fn create(&self, admin: &mut Client, queue: &str, _shards: usize) {
        admin.execute("SELECT pgmq.create($1)", &[&queue]).unwrap();
    }

    fn drop(&self, admin: &mut Client, queue: &str, _shards: usize) {
        admin
            .execute("SELECT pgmq.drop_queue($1)", &[&queue])
            .unwrap();
    }

    fn session(
        &self,
        mut client: Client,
        queue: &str,
        _index: usize,
        _shards: usize,
    ) -> Box<dyn Session> {
        Box::new(PgmqSession {
            send: client.prepare("SELECT pgmq.send($1, $2)").unwrap(),
            send_batch: client
                .prepare("SELECT count(*) FROM pgmq.send_batch($1, $2::jsonb[])")
                .unwrap(),
            read: client
                .prepare("SELECT msg_id, message FROM pgmq.read($1, 30, $2)")
                .unwrap(),
            read_with_poll: client
                .prepare("SELECT msg_id, message FROM pgmq.read_with_poll($1, 30, $2, $3, 1)")
                .unwrap(),
            archive: client
                .prepare("SELECT count(*) FROM pgmq.archive($1, $2::bigint[])")
                .unwrap(),
            client,
            queue: queue.to_owned(),
        })
    }

    fn fill_backlog(&self, admin: &mut Client, queue: &str, _shards: usize, n: i64) {
        let sql = format!(
            "SELECT count(*) FROM pgmq.send_batch($1, ARRAY(SELECT {SQL_PAYLOAD} FROM generate_series(1, $2::bigint) n))"
        );
        in_chunks(n, |chunk| {
            admin.query_one(&sql, &[&queue, &chunk]).unwrap();
        });
    }

    fn fill_history(&self, admin: &mut Client, queue: &str, n: i64) {
        // Archived rows with negative ids, below any the queue hands out.
        let archive = table(queue, "a");
        let sql = format!(
            "INSERT INTO {archive} (msg_id, read_ct, enqueued_at, archived_at, vt, message) \
             SELECT -g, 1, now(), now(), now(), '{{\"history\": true}}' \
             FROM generate_series($1::bigint, $2::bigint) g"
        );
        let mut done: i64 = admin
            .query_one(
                &format!("SELECT coalesce(-min(msg_id), 0) FROM {archive} WHERE msg_id < 0"),
                &[],
            )
            .unwrap()
            .get(0);
        in_chunks(n, |chunk| {
            admin
                .execute(&sql, &[&(done + 1), &(done + chunk)])
                .unwrap();
            done += chunk;
        });
        admin
            .batch_execute(&format!("VACUUM ANALYZE {archive}"))
            .unwrap();
    }

    fn published(&self, admin: &mut Client, queue: &str, _shards: usize) -> i64 {
        let sql = format!(
            "SELECT (SELECT count(*) FROM {}) + (SELECT count(*) FROM {} WHERE msg_id > 0) WHERE $1::text IS NOT NULL",
            table(queue, "q"),
            table(queue, "a")
        );
        count(admin, &sql, queue)
    }

    fn consumed(&self, admin: &mut Client, queue: &str, _shards: usize) -> i64 {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE msg_id > 0 AND $1::text IS NOT NULL",
            table(queue, "a")
        );
        count(admin, &sql, queue)
    }

    fn runs(&self, _scenario: Scenario) -> bool {
        true
    }

    fn ordered_fill(&self, admin: &mut Client, queue: &str, keys: i64, n: i64, keyed: bool) {
        let sql = format!(
            "SELECT count(*) FROM pgmq.send_batch($1, \
               ARRAY(SELECT {SQL_PAYLOAD} FROM generate_series($2::bigint, $3::bigint) n), \
               CASE WHEN $5 THEN ARRAY(SELECT jsonb_build_object('x-pgmq-group', 'key-' || (n % $4::bigint)) \
                                       FROM generate_series($2::bigint, $3::bigint) n) END)"
        );
        super::in_ranges(n, |first, last| {
            admin
                .query_one(&sql, &[&queue, &first, &last, &keys, &keyed])
                .unwrap();
        });
    }

    /// Keyed: pgmq's FIFO read (read_grouped, SQS-style: as many as it can from one group),
    /// then a delete of what it read; plain: read and delete.
    fn ordered_session(
        &self,
        mut client: Client,
        queue: &str,
        keyed: bool,
        limit: Duration,
    ) -> Box<dyn OrderedSession> {
        // The grouped read scans the queue for every group: on a large backlog one call can
        // outlast the scenario. A call cut off by the limit consumed nothing.
        client
            .batch_execute(&format!("SET statement_timeout = {}", limit.as_millis()))
            .unwrap();
        let read = if keyed {
            "pgmq.read_grouped"
        } else {
            "pgmq.read"
        };
        let statement = client
            .prepare(&format!(
                "SELECT count(*) FROM pgmq.delete($1, ARRAY(SELECT msg_id FROM {read}($1, 30, $2)))"
            ))
            .unwrap();
        Box::new(OrderedPgmq {
            client,
            statement,
            queue: queue.to_owned(),
        })
    }

    /// pgmq's topics (1.11): a queue per group, bound to the topic's routing key; publishing
    /// with send_batch_topic writes a copy of each message into every bound queue.
    fn fanout_create(&self, admin: &mut Client, topic: &str, groups: usize) {
        for g in 0..groups {
            let queue = fanout_queue(topic, g);
            admin.execute("SELECT pgmq.create($1)", &[&queue]).unwrap();
            admin
                .execute("SELECT pgmq.bind_topic($1, $2)", &[&topic, &queue])
                .unwrap();
        }
    }

    fn fanout_drop(&self, admin: &mut Client, topic: &str, groups: usize) {
        for g in 0..groups {
            let queue = fanout_queue(topic, g);
            admin
                .execute("SELECT pgmq.unbind_topic($1, $2)", &[&topic, &queue])
                .unwrap();
            admin
                .execute("SELECT pgmq.drop_queue($1)", &[&queue])
                .unwrap();
        }
    }

    fn fanout_session(
        &self,
        mut client: Client,
        topic: &str,
        groups: usize,
    ) -> Box<dyn FanoutSession> {
        Box::new(PgmqFanout {
            send_batch: client
                .prepare("SELECT count(*) FROM pgmq.send_batch_topic($1, $2::jsonb[])")
                .unwrap(),
            read: client
                .prepare("SELECT msg_id FROM pgmq.read($1, 30, $2)")
                .unwrap(),
            archive: client
                .prepare("SELECT count(*) FROM pgmq.archive($1, $2::bigint[])")
                .unwrap(),
            queues: (0..groups).map(|g| fanout_queue(topic, g)).collect(),
            topic: topic.to_owned(),
            client,
        })
    }

    fn fanout_storage(&self, admin: &mut Client, topic: &str, groups: usize) -> i64 {
        (0..groups)
            .map(|g| {
                let queue = fanout_queue(topic, g);
                let sql = format!(
                    "SELECT (pg_total_relation_size('{}') + pg_total_relation_size('{}'))::bigint",
                    table(&queue, "q"),
                    table(&queue, "a")
                );
                admin.query_one(&sql, &[]).unwrap().get::<_, i64>(0)
            })
            .sum()
    }

    /// Visible in an hour (what pgmq.send with a delay stores): pgmq.read filters on vt.
    fn fill_scheduled(&self, admin: &mut Client, queue: &str, n: i64) {
        let q = table(queue, "q");
        let sql = format!(
            "INSERT INTO {q} (vt, message) \
             SELECT now() + interval '1 hour', {SQL_PAYLOAD} FROM generate_series(1, $1::bigint) n"
        );
        in_chunks(n, |chunk| {
            admin.execute(&sql, &[&chunk]).unwrap();
        });
        admin.batch_execute(&format!("VACUUM ANALYZE {q}")).unwrap();
    }

    fn fill_topics(&self, admin: &mut Client, prefix: &str, topics: i64, n: i64) -> String {
        let queues = topics.min(MAX_QUEUES);
        for i in 0..queues {
            let queue = format!("{prefix}_{i}");
            admin.execute("SELECT pgmq.create($1)", &[&queue]).unwrap();
            let q = table(&queue, "q");
            let sql = format!(
                "INSERT INTO {q} (enqueued_at, vt, message) \
                 SELECT now() - interval '5 seconds', now() - interval '5 seconds', {SQL_PAYLOAD} \
                 FROM generate_series(1, $1::bigint) n"
            );
            in_chunks(n / queues + i64::from(i < n % queues), |chunk| {
                admin.execute(&sql, &[&chunk]).unwrap();
            });
            admin.batch_execute(&format!("VACUUM ANALYZE {q}")).unwrap();
        }
        if queues < topics {
            format!(
                "{queues} queues (one per topic) of {} msgs, not {topics}: metrics_all() would \
                 take ~4 locks a queue in one transaction, beyond the server's lock table",
                n / queues
            )
        } else {
            String::new()
        }
    }

    fn monitoring_calls(&self) -> Vec<(&'static str, &'static str)> {
        vec![(
            "pgmq: metrics_all()",
            "SELECT count(*) FROM pgmq.metrics_all()",
        )]
    }

    fn drop_topics(&self, admin: &mut Client, prefix: &str, topics: i64) {
        for i in 0..topics.min(MAX_QUEUES) {
            admin
                .execute("SELECT pgmq.drop_queue($1)", &[&format!("{prefix}_{i}")])
                .unwrap();
        }
    }
}

fn fanout_queue(topic: &str, g: usize) -> String {
    format!("{}_g{g}", topic.replace(['.', '-'], "_"))
}

struct PgmqFanout {
    client: Client,
    topic: String,
    queues: Vec<String>,
    send_batch: Statement,
    read: Statement,
    archive: Statement,
}

impl FanoutSession for PgmqFanout {
    fn publish_batch(&mut self, payloads: &[Value]) {
        self.client
            .query_one(&self.send_batch, &[&self.topic, &payloads])
            .unwrap();
    }

    fn consume(&mut self, group: usize, max: i32) -> usize {
        let queue = &self.queues[group];
        let rows = self.client.query(&self.read, &[queue, &max]).unwrap();
        if rows.is_empty() {
            return 0;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        self.client
            .query_one(&self.archive, &[queue, &ids])
            .unwrap();
        rows.len()
    }
}

struct OrderedPgmq {
    client: Client,
    statement: Statement,
    queue: String,
}

impl OrderedSession for OrderedPgmq {
    fn consume(&mut self, max: i32) -> usize {
        match self.client.query_one(&self.statement, &[&self.queue, &max]) {
            Ok(row) => row.get::<_, i64>(0) as usize,
            Err(e) if e.code() == Some(&postgres::error::SqlState::QUERY_CANCELED) => 0,
            Err(e) => panic!("pgmq grouped read: {e}"),
        }
    }
}
