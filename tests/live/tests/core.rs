//! Multi-session tests of the core lifecycle against a live server: concurrent pollers,
//! the transactional outbox, stale leases, and the trace chains.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster};
use uuid::Uuid;

fn main() {
    run_suite(
        "core",
        // A setting from postgresql.conf, to show the file is honoured.
        &[
            "pg_mq.retry_max_delay = '50s'",
            "pg_mq.recovery_interval = '200ms'",
        ],
        &[
            (
                "concurrent_pollers_get_disjoint_sets_covering_everything",
                concurrent_pollers_get_disjoint_sets_covering_everything,
            ),
            (
                "pollers_do_not_block_each_other",
                pollers_do_not_block_each_other,
            ),
            (
                "outbox_publish_is_visible_only_after_commit",
                outbox_publish_is_visible_only_after_commit,
            ),
            (
                "outbox_rollback_leaves_nothing",
                outbox_rollback_leaves_nothing,
            ),
            (
                "stale_lease_cannot_settle_a_newer_delivery",
                stale_lease_cannot_settle_a_newer_delivery,
            ),
            (
                "trace_chain_fail_twice_then_complete",
                trace_chain_fail_twice_then_complete,
            ),
            (
                "trace_chain_dead_letter_and_replay",
                trace_chain_dead_letter_and_replay,
            ),
            (
                "settings_from_postgresql_conf_and_set",
                settings_from_postgresql_conf_and_set,
            ),
            (
                "without_the_worker_poll_recovers_expired_locks",
                without_the_worker_poll_recovers_expired_locks,
            ),
        ],
    );
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Runs a publishing statement; returns the message's id and trace id.
fn publish(client: &mut Client, sql: &str) -> (i64, Uuid) {
    let id: i64 = client.query_one(sql, &[]).unwrap().get(0);
    let trace_id: Uuid = client
        .query_one("SELECT trace_id FROM mq.messages WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    (id, trace_id)
}

fn events(client: &mut Client, trace_id: Uuid) -> Vec<String> {
    client
        .query("SELECT event FROM mq_trace($1)", &[&trace_id])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn concurrent_pollers_get_disjoint_sets_covering_everything(cluster: &Cluster) {
    const MESSAGES: i64 = 10_000;
    const POLLERS: usize = 8;
    let mut admin = cluster.connect();
    let published: HashSet<i64> = admin
        .query(
            "SELECT mq_publish('conc', jsonb_build_object('n', g)) FROM generate_series(1, $1::bigint) g",
            &[&MESSAGES],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(published.len() as i64, MESSAGES);

    let start = Arc::new(Barrier::new(POLLERS));
    let handles: Vec<_> = (0..POLLERS)
        .map(|n| {
            let mut client = cluster.connect();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let consumer = format!("poller-{n}");
                let mut received = Vec::new();
                start.wait();
                loop {
                    let rows = client
                        .query(
                            "SELECT id, lease FROM mq_poll('conc', 10, consumer_id => $1)",
                            &[&consumer],
                        )
                        .unwrap();
                    if rows.is_empty() {
                        break;
                    }
                    for row in rows {
                        let id: i64 = row.get(0);
                        let lease: Uuid = row.get(1);
                        let done: bool = client
                            .query_one("SELECT mq_complete($1, $2)", &[&id, &lease])
                            .unwrap()
                            .get(0);
                        assert!(done, "{consumer} could not complete its own delivery {id}");
                        received.push(id);
                    }
                }
                received
            })
        })
        .collect();

    let mut seen = HashSet::new();
    let mut total = 0;
    let mut busy_pollers = 0;
    for handle in handles {
        let received = handle.join().expect("poller thread");
        total += received.len();
        if !received.is_empty() {
            busy_pollers += 1;
        }
        for id in received {
            assert!(seen.insert(id), "message {id} was delivered to two pollers");
        }
    }
    assert_eq!(total as i64, MESSAGES, "deliveries");
    assert_eq!(
        seen, published,
        "the pollers together received every message"
    );
    assert!(busy_pollers > 1, "only {busy_pollers} poller got work");
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = 'conc' AND status = 'COMPLETED'"
        ),
        MESSAGES
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM mq_traces('conc', event => 'PROCESSING', page_size => 10000)"
        ),
        MESSAGES,
        "each message was claimed exactly once"
    );
}

fn pollers_do_not_block_each_other(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute("SELECT mq_publish('noblock', '{}') FROM generate_series(1, 10)")
        .unwrap();
    let mut first = cluster.connect();
    let mut holder = first.transaction().unwrap();
    let held: Vec<i64> = holder
        .query("SELECT id FROM mq_poll('noblock', 5)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(held.len(), 5);

    // While the first poller's transaction is open (its rows locked, its claim uncommitted),
    // a second poller gets the other five at once instead of waiting.
    let mut second = cluster.connect();
    second
        .batch_execute("SET statement_timeout = '5s'")
        .unwrap();
    let other: Vec<i64> = second
        .query("SELECT id FROM mq_poll('noblock', 10)", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(other.len(), 5);
    assert!(other.iter().all(|id| !held.contains(id)));
    holder.commit().unwrap();
}

fn outbox_publish_is_visible_only_after_commit(cluster: &Cluster) {
    let mut producer = cluster.connect();
    let mut consumer = cluster.connect();
    producer
        .batch_execute("CREATE TABLE IF NOT EXISTS app_orders (id serial PRIMARY KEY, note text)")
        .unwrap();
    let mut tx = producer.transaction().unwrap();
    tx.execute("INSERT INTO app_orders (note) VALUES ('outbox')", &[])
        .unwrap();
    let id: i64 = tx
        .query_one("SELECT mq_publish('outbox', '{\"order\": 1}')", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        count(&mut consumer, "SELECT count(*) FROM mq_poll('outbox')"),
        0,
        "an uncommitted message was delivered"
    );
    tx.commit().unwrap();
    let got: i64 = consumer
        .query_one("SELECT id FROM mq_poll('outbox')", &[])
        .unwrap()
        .get(0);
    assert_eq!(got, id);
}

fn outbox_rollback_leaves_nothing(cluster: &Cluster) {
    let mut producer = cluster.connect();
    let mut tx = producer.transaction().unwrap();
    for _ in 0..3 {
        tx.query_one("SELECT mq_publish('rolled-back', '{}')", &[])
            .unwrap();
    }
    tx.rollback().unwrap();
    let mut check = cluster.connect();
    assert_eq!(
        count(
            &mut check,
            "SELECT count(*) FROM mq.messages WHERE topic = 'rolled-back'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut check,
            "SELECT count(*) FROM mq.traces WHERE topic = 'rolled-back'"
        ),
        0
    );
    assert_eq!(
        count(&mut check, "SELECT count(*) FROM mq_poll('rolled-back')"),
        0
    );
}

fn stale_lease_cannot_settle_a_newer_delivery(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let id: i64 = admin
        .query_one("SELECT mq_publish('stale', '{}')", &[])
        .unwrap()
        .get(0);
    let mut slow = cluster.connect();
    let old_lease: Uuid = slow
        .query_one(
            "SELECT lease FROM mq_poll('stale', 1, lock_timeout => '200 milliseconds')",
            &[],
        )
        .unwrap()
        .get(0);

    // The slow consumer's lock expires; another consumer receives the message again.
    let mut fast = cluster.connect();
    let mut new_lease = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            let rows = fast
                .query("SELECT id, lease FROM mq_poll('stale', 1)", &[])
                .unwrap();
            if let Some(row) = rows.first() {
                assert_eq!(row.get::<_, i64>(0), id);
                new_lease = Some(row.get::<_, Uuid>(1));
            }
            new_lease.is_some()
        }),
        "the message was not delivered again after its lock expired"
    );
    let new_lease = new_lease.unwrap();
    assert_ne!(new_lease, old_lease);

    let completed: bool = slow
        .query_one("SELECT mq_complete($1, $2)", &[&id, &old_lease])
        .unwrap()
        .get(0);
    assert!(!completed, "a stale lease completed the newer delivery");
    let failed: Option<String> = slow
        .query_one("SELECT mq_fail($1, 'late', $2)", &[&id, &old_lease])
        .unwrap()
        .get(0);
    assert_eq!(failed, None, "a stale lease failed the newer delivery");
    let status: String = admin
        .query_one("SELECT status FROM mq.messages WHERE id = $1", &[&id])
        .unwrap()
        .get(0);
    assert_eq!(status, "PROCESSING");

    let completed: bool = fast
        .query_one("SELECT mq_complete($1, $2)", &[&id, &new_lease])
        .unwrap()
        .get(0);
    assert!(completed);
}

fn trace_chain_fail_twice_then_complete(cluster: &Cluster) {
    let mut producer = cluster.connect();
    let (id, trace_id) = publish(&mut producer, "SELECT mq_publish('chain', '{}')");
    let mut consumer = cluster.connect();
    consumer
        .batch_execute("SET pg_mq.retry_base_delay = 0")
        .unwrap();
    for attempt in 1..=3 {
        let rows = consumer
            .query("SELECT id, retry_count FROM mq_poll('chain', 1)", &[])
            .unwrap();
        assert_eq!(rows.len(), 1, "attempt {attempt} got no delivery");
        assert_eq!(rows[0].get::<_, i64>(0), id);
        assert_eq!(rows[0].get::<_, i32>(1), attempt - 1);
        if attempt < 3 {
            let outcome: Option<String> = consumer
                .query_one("SELECT mq_fail($1::bigint, 'transient')", &[&id])
                .unwrap()
                .get(0);
            assert_eq!(outcome.as_deref(), Some("PENDING"));
        } else {
            consumer
                .execute("SELECT mq_complete($1::bigint)", &[&id])
                .unwrap();
        }
    }
    assert_eq!(
        events(&mut producer, trace_id),
        [
            "PUBLISHED",
            "PROCESSING",
            "FAILED",
            "PROCESSING",
            "FAILED",
            "PROCESSING",
            "COMPLETED"
        ]
    );
}

fn trace_chain_dead_letter_and_replay(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute("SET pg_mq.retry_base_delay = 0")
        .unwrap();
    let (id, trace_id) = publish(
        &mut client,
        "SELECT mq_publish('dlq-chain', '{\"x\": 1}', max_retries => 1)",
    );
    for expected in ["PENDING", "FAILED"] {
        client
            .query_one("SELECT id FROM mq_poll('dlq-chain', 1)", &[])
            .unwrap();
        let outcome: Option<String> = client
            .query_one("SELECT mq_fail($1::bigint, 'broken')", &[&id])
            .unwrap()
            .get(0);
        assert_eq!(outcome.as_deref(), Some(expected));
    }
    let dead_letter: i64 = client
        .query_one(
            "SELECT id FROM mq.dead_letters WHERE original_id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    let new_id: i64 = client
        .query_one("SELECT mq_replay($1::bigint)", &[&dead_letter])
        .unwrap()
        .get(0);
    let polled: i64 = client
        .query_one("SELECT id FROM mq_poll('dlq-chain', 1)", &[])
        .unwrap()
        .get(0);
    assert_eq!(polled, new_id);
    client
        .execute("SELECT mq_complete($1::bigint)", &[&new_id])
        .unwrap();
    assert_eq!(
        events(&mut client, trace_id),
        [
            "PUBLISHED",
            "PROCESSING",
            "FAILED",
            "PROCESSING",
            "FAILED",
            "DEAD_LETTERED",
            "REPLAYED",
            "PROCESSING",
            "COMPLETED"
        ]
    );
    let ids: Vec<i64> = client
        .query("SELECT message_id FROM mq_trace($1)", &[&trace_id])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(&ids[..6], &[id; 6]);
    assert_eq!(&ids[6..], &[new_id; 3]);
}

fn settings_from_postgresql_conf_and_set(cluster: &Cluster) {
    let mut client = cluster.connect();
    let shown: String = client
        .query_one("SHOW pg_mq.retry_max_delay", &[])
        .unwrap()
        .get(0);
    assert_eq!(shown, "50s");
    client
        .batch_execute("SET pg_mq.retry_max_delay = '2s'")
        .unwrap();
    let shown: String = client
        .query_one("SHOW pg_mq.retry_max_delay", &[])
        .unwrap()
        .get(0);
    assert_eq!(shown, "2s");
}

fn without_the_worker_poll_recovers_expired_locks(_cluster: &Cluster) {
    let plain = Cluster::start_with("core-plain", &[], false);
    let mut client = plain.connect();
    let id: i64 = client
        .query_one("SELECT mq_publish('no-worker', '{}')", &[])
        .unwrap()
        .get(0);
    let first: Uuid = client
        .query_one(
            "SELECT lease FROM mq_poll('no-worker', 1, lock_timeout => '100 milliseconds')",
            &[],
        )
        .unwrap()
        .get(0);
    let mut second = None;
    assert!(
        wait_until(Duration::from_secs(10), || {
            second = client
                .query_opt("SELECT lease FROM mq_poll('no-worker', 1)", &[])
                .unwrap()
                .map(|r| r.get::<_, Uuid>(0));
            second.is_some()
        }),
        "the expired message was not delivered again"
    );
    assert_ne!(second, Some(first));
    let row = client
        .query_one(
            "SELECT retry_count, last_error FROM mq.messages WHERE id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, String>(1), "lock timeout");
}
