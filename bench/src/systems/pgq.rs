//! PgQ 3 (Debian's postgresql-15-pgq3): insert_event; next_batch / get_batch_events /
//! finish_batch.
//!
//! A PgQ consumer receives every event of its queue, batch by batch between ticks; PgQ has no
//! competing consumers on one queue. So with several consuming connections the benchmark
//! splits the queue into that many PgQ queues (shards), one consumer each, and producers
//! spread over them. Events become visible at ticks: a ticker thread calls pgq.ticker() every
//! 5 ms, and each queue ticks once 10 ms have passed or 500 events accumulated. Consumed events
//! are counted in a side table written in the transaction that finishes the batch.

use std::time::Duration;

use postgres::{Client, Statement};
use serde_json::Value;

use super::{count, delivered_at, in_chunks, Session, System};
use crate::payload::SQL_PAYLOAD;

pub struct PgQ;

const CONSUMER: &str = "bench";

fn shard(queue: &str, i: usize) -> String {
    format!("{queue}_{i}")
}

struct PgQSession {
    client: Client,
    queue: String,
    insert: Statement,
    insert_batch: Statement,
    next_batch: Statement,
    events: Statement,
    finish: Statement,
    counted: Statement,
}

impl Session for PgQSession {
    fn publish(&mut self, payload: &Value) {
        self.client
            .query_one(&self.insert, &[&self.queue, &payload.to_string()])
            .unwrap();
    }

    fn publish_batch(&mut self, payloads: &[Value]) {
        let texts: Vec<String> = payloads.iter().map(Value::to_string).collect();
        self.client
            .query_one(&self.insert_batch, &[&self.queue, &texts])
            .unwrap();
    }

    fn consume(&mut self, _max: i32, _wait: Option<Duration>) -> Vec<(Value, i64)> {
        let mut tx = self.client.transaction().unwrap();
        let batch: Option<i64> = tx
            .query_one(&self.next_batch, &[&self.queue])
            .unwrap()
            .get(0);
        let Some(batch) = batch else {
            tx.commit().unwrap();
            return Vec::new();
        };
        let rows = tx.query(&self.events, &[&batch]).unwrap();
        let at = delivered_at();
        tx.query_one(&self.finish, &[&batch]).unwrap();
        let n = rows.len() as i64;
        tx.execute(&self.counted, &[&self.queue, &n]).unwrap();
        tx.commit().unwrap();
        rows.iter()
            .map(|r| {
                let data: String = r.get(0);
                (serde_json::from_str(&data).unwrap_or(Value::Null), at)
            })
            .collect()
    }
}

impl System for PgQ {
    fn name(&self) -> String {
        "PgQ".into()
    }

    fn install(&self, admin: &mut Client) {
        admin
            .batch_execute(
                "CREATE EXTENSION IF NOT EXISTS pgq;
                 CREATE TABLE IF NOT EXISTS public.bench_pgq_consumed (queue text, events bigint);",
            )
            .unwrap();
    }

    fn create(&self, admin: &mut Client, queue: &str, shards: usize) {
        for i in 0..shards {
            let name = shard(queue, i);
            admin
                .execute("SELECT pgq.create_queue($1)", &[&name])
                .unwrap();
            admin
                .execute(
                    "SELECT pgq.set_queue_config($1, 'ticker_max_lag', '10 milliseconds')",
                    &[&name],
                )
                .unwrap();
            admin
                .execute("SELECT pgq.register_consumer($1, $2)", &[&name, &CONSUMER])
                .unwrap();
        }
    }

    fn drop(&self, admin: &mut Client, queue: &str, shards: usize) {
        for i in 0..shards {
            let name = shard(queue, i);
            admin
                .execute(
                    "SELECT pgq.unregister_consumer($1, $2)",
                    &[&name, &CONSUMER],
                )
                .unwrap();
            admin
                .execute("SELECT pgq.drop_queue($1)", &[&name])
                .unwrap();
        }
        admin
            .batch_execute("TRUNCATE public.bench_pgq_consumed")
            .unwrap();
    }

    fn session(
        &self,
        mut client: Client,
        queue: &str,
        index: usize,
        shards: usize,
    ) -> Box<dyn Session> {
        Box::new(PgQSession {
            insert: client
                .prepare("SELECT pgq.insert_event($1, 'bench', $2)")
                .unwrap(),
            insert_batch: client
                .prepare("SELECT count(pgq.insert_event($1, 'bench', e)) FROM unnest($2::text[]) e")
                .unwrap(),
            next_batch: client
                .prepare(&format!("SELECT pgq.next_batch($1, '{CONSUMER}')"))
                .unwrap(),
            events: client
                .prepare("SELECT ev_data FROM pgq.get_batch_events($1)")
                .unwrap(),
            finish: client.prepare("SELECT pgq.finish_batch($1)").unwrap(),
            counted: client
                .prepare("INSERT INTO public.bench_pgq_consumed (queue, events) VALUES ($1, $2)")
                .unwrap(),
            client,
            queue: shard(queue, index % shards.max(1)),
        })
    }

    fn fill_backlog(&self, admin: &mut Client, queue: &str, shards: usize, n: i64) {
        let sql = format!(
            "SELECT count(pgq.insert_event($1, 'bench', ({SQL_PAYLOAD})::text)) FROM generate_series(1, $2::bigint) n"
        );
        let per_shard = n / shards as i64;
        for i in 0..shards {
            let name = shard(queue, i);
            let share = if i == shards - 1 {
                n - per_shard * (shards as i64 - 1)
            } else {
                per_shard
            };
            in_chunks(share, |chunk| {
                admin.query_one(&sql, &[&name, &chunk]).unwrap();
            });
        }
        self.flush(admin, queue, shards);
    }

    fn fill_history(&self, admin: &mut Client, queue: &str, n: i64) {
        // Consumed events: inserted straight into the queue's current event table, then
        // skipped over by one batch that is finished without reading it.
        let name = shard(queue, 0);
        let row = admin
            .query_one(
                "SELECT queue_data_pfx || '_' || queue_cur_table, queue_event_seq FROM pgq.queue WHERE queue_name = $1",
                &[&name],
            )
            .unwrap();
        let (table, seq): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "INSERT INTO {table} (ev_id, ev_time, ev_txid, ev_type, ev_data) \
             SELECT nextval('{seq}'), now(), txid_current(), 'history', '{{}}' FROM generate_series(1, $1::bigint)"
        );
        in_chunks(n, |chunk| {
            admin.execute(&sql, &[&chunk]).unwrap();
        });
        self.flush(admin, queue, 1);
        let batch: Option<i64> = admin
            .query_one(
                &format!("SELECT pgq.next_batch($1, '{CONSUMER}')"),
                &[&name],
            )
            .unwrap()
            .get(0);
        if let Some(batch) = batch {
            admin
                .execute("SELECT pgq.finish_batch($1)", &[&batch])
                .unwrap();
        }
        admin
            .batch_execute(&format!("VACUUM ANALYZE {table}"))
            .unwrap();
    }

    fn published(&self, admin: &mut Client, queue: &str, shards: usize) -> i64 {
        (0..shards)
            .map(|i| {
                let pfx: String = admin
                    .query_one(
                        "SELECT queue_data_pfx FROM pgq.queue WHERE queue_name = $1",
                        &[&shard(queue, i)],
                    )
                    .unwrap()
                    .get(0);
                count(
                    admin,
                    &format!("SELECT count(*) FROM {pfx} WHERE $1::text IS NOT NULL"),
                    queue,
                )
            })
            .sum()
    }

    fn consumed(&self, admin: &mut Client, queue: &str, _shards: usize) -> i64 {
        count(
            admin,
            "SELECT coalesce(sum(events), 0)::bigint FROM public.bench_pgq_consumed WHERE queue LIKE $1 || '\\_%'",
            queue,
        )
    }

    fn ticker_sql(&self) -> Option<&'static str> {
        Some("SELECT pgq.ticker()")
    }

    fn flush(&self, admin: &mut Client, queue: &str, shards: usize) {
        for i in 0..shards {
            let name = shard(queue, i);
            admin
                .execute("SELECT pgq.force_tick($1)", &[&name])
                .unwrap();
            admin.execute("SELECT pgq.ticker($1)", &[&name]).unwrap();
        }
    }
}
