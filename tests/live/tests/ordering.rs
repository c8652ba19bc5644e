//! Ordered delivery and deduplication against a live server: concurrent producers and
//! consumers (some failing, some killed) see each key's messages completed one at a time, in
//! the order their publishers committed; each consumer group keeps its own order; `skip` and
//! `block` decide what follows a dead letter; concurrent producers of overlapping dedup keys
//! (some rolling back) leave one message per committed key.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster, Connector, Rng};

fn main() {
    run_suite(
        "ordering",
        &[
            "pg_mq.recovery_interval = '200ms'",
            "pg_mq.retry_base_delay = '0'",
            "pg_mq.retry_jitter = 0",
        ],
        &[
            (
                "keys_complete_in_commit_order_one_at_a_time",
                keys_complete_in_commit_order_one_at_a_time,
            ),
            (
                "each_group_keeps_its_own_order",
                each_group_keeps_its_own_order,
            ),
            (
                "skip_and_block_decide_what_follows_a_dead_letter",
                skip_and_block_decide_what_follows_a_dead_letter,
            ),
            (
                "concurrent_dedup_leaves_one_message_per_committed_key",
                concurrent_dedup_leaves_one_message_per_committed_key,
            ),
        ],
    );
}

/// Consumes `topic` (in `group`, when given) until `stop`: completes most deliveries, fails some
/// (they are retried). Reconnects when killed.
fn consumer(connector: &Connector, topic: &str, group: Option<&str>, seed: u64, stop: &AtomicBool) {
    let application = "ord-consumer";
    let mut rng = Rng::seeded(seed);
    let mut client = connector.connect_retrying(application);
    while !stop.load(Ordering::Relaxed) {
        let rows = match client.query(
            "SELECT id, lease FROM mq_poll($1, 5, lock_timeout => '1 second', \
                                           consumer_group => $2, wait => '100 milliseconds')",
            &[&topic, &group],
        ) {
            Ok(rows) => rows,
            Err(_) => {
                client = connector.connect_retrying(application);
                continue;
            }
        };
        for row in rows {
            let (id, lease): (i64, uuid::Uuid) = (row.get(0), row.get(1));
            if rng.chance(10) {
                if client
                    .execute("SELECT mq_fail($1, 'flaky', $2)", &[&id, &lease])
                    .is_err()
                {
                    client = connector.connect_retrying(application);
                    break;
                }
                continue;
            }
            match client.query_one("SELECT mq_complete($1, $2)", &[&id, &lease]) {
                Ok(_) => {}
                Err(_) => {
                    client = connector.connect_retrying(application);
                    break;
                }
            }
        }
    }
}

/// Publishes `per_key` messages for each of `keys` keys from `producers` concurrent producers
/// (in transactions of 1 to 5 messages of random keys); returns, per producer, the ids of each
/// key in the order it published them.
fn produce(
    cluster: &Cluster,
    topic: &str,
    keys: usize,
    per_key: usize,
    producers: usize,
) -> Vec<HashMap<String, Vec<i64>>> {
    let handles: Vec<_> = (0..producers)
        .map(|p| {
            let connector = cluster.connector();
            let topic = topic.to_owned();
            thread::spawn(move || {
                let mut rng = Rng::seeded(1_000 + p as u64);
                let mut client = connector.connect();
                let mut left: Vec<(String, usize)> = (0..keys)
                    .map(|k| (format!("key-{k}"), per_key / producers))
                    .collect();
                let mut mine: HashMap<String, Vec<i64>> = HashMap::new();
                while !left.is_empty() {
                    // Up to 5 messages of random keys a transaction, in key order: publishers
                    // hold their keys until they commit, so transactions that took keys in
                    // different orders could deadlock (PostgreSQL would abort one).
                    let mut picks: Vec<usize> = (0..rng.between(1, 6))
                        .map(|_| rng.between(0, left.len() as u64) as usize)
                        .collect();
                    picks.sort_by(|a, b| left[*a].0.cmp(&left[*b].0));
                    picks.dedup();
                    let picks: Vec<String> = picks.into_iter().map(|i| left[i].0.clone()).collect();
                    let mut tx = client.transaction().unwrap();
                    let mut published = Vec::new();
                    for key in picks {
                        let Some(i) = left.iter().position(|(k, _)| *k == key) else {
                            continue;
                        };
                        let id: i64 = tx
                            .query_one(
                                "SELECT mq_publish($1, jsonb_build_object('p', $2::int), ordering_key => $3)",
                                &[&topic, &(p as i32), &key],
                            )
                            .unwrap()
                            .get(0);
                        published.push((key, id));
                        left[i].1 -= 1;
                        if left[i].1 == 0 {
                            left.swap_remove(i);
                        }
                    }
                    tx.commit().unwrap();
                    for (key, id) in published {
                        mine.entry(key).or_default().push(id);
                    }
                }
                mine
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Checks, from the database, the completions of `total` messages of `topic` (in `group`:
/// '' for point-to-point) against the producers' own orders: per key, completed in the order
/// of ordering_seq (which each producer's own order agrees with), each message once, and no
/// delivery of a message before the one ahead of it was completed (the trace's event ids, drawn
/// from one sequence in causal order: a delivery's PROCESSING id is drawn by its claim, whose
/// snapshot must already see the completion ahead of it, whose id was drawn before it
/// committed).
fn check_order(
    client: &mut Client,
    topic: &str,
    group: &str,
    produced: &[HashMap<String, Vec<i64>>],
    total: usize,
) {
    let rows = client
        .query(
            "SELECT m.ordering_key, coalesce(m.payload_id, m.id), m.ordering_seq, \
                    (SELECT min(t.started_id) FROM mq.traces t \
                       WHERE t.trace_id = m.trace_id AND t.message_id = m.id), \
                    (SELECT max(t.id) FROM mq.traces t WHERE t.trace_id = m.trace_id \
                       AND t.message_id = m.id AND t.event = 'COMPLETED'), \
                    (SELECT count(*) FROM mq.traces t WHERE t.trace_id = m.trace_id \
                       AND t.message_id = m.id AND t.event = 'COMPLETED') \
             FROM mq.messages m WHERE m.topic = $1 AND coalesce(m.consumer_group, '') = $2",
            &[&topic, &group],
        )
        .unwrap();
    assert_eq!(rows.len(), total);
    let mut by_key: HashMap<String, Vec<(i64, i64, i64, i64)>> = HashMap::new();
    for row in &rows {
        let completions: i64 = row.get(5);
        assert_eq!(
            completions,
            1,
            "message {} completed {completions} times",
            row.get::<_, i64>(1)
        );
        by_key.entry(row.get(0)).or_default().push((
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
        ));
    }
    for (key, mut list) in by_key {
        // A key's sequence numbers order its messages while it has any; a key forgotten when
        // its last message finished starts afresh. Completion order is the order to check.
        list.sort_by_key(|(_, _, _, done)| *done);
        for pair in list.windows(2) {
            let ((a, _, _, a_done), (b, _, b_first, _)) = (pair[0], pair[1]);
            assert!(
                b_first > a_done,
                "key {key}: message {b} was delivered before {a} was completed"
            );
        }
        // Each producer's messages of the key come in the order it published them.
        let position: HashMap<i64, usize> = list
            .iter()
            .enumerate()
            .map(|(i, (id, _, _, _))| (*id, i))
            .collect();
        for mine in produced {
            if let Some(ids) = mine.get(&key) {
                let places: Vec<usize> = ids.iter().map(|id| position[id]).collect();
                let mut sorted = places.clone();
                sorted.sort();
                assert_eq!(places, sorted, "key {key}: a producer's order was not kept");
            }
        }
    }
}

fn run_consumers(
    cluster: &Cluster,
    topic: &str,
    group: Option<&str>,
    consumers: usize,
    total: usize,
    kill: bool,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..consumers)
        .map(|c| {
            let (connector, stop) = (cluster.connector(), stop.clone());
            let (topic, group) = (topic.to_owned(), group.map(str::to_owned));
            thread::spawn(move || {
                consumer(&connector, &topic, group.as_deref(), 7 + c as u64, &stop)
            })
        })
        .collect();
    let kills = Arc::new(AtomicU64::new(0));
    let killer = kill.then(|| {
        let (connector, stop, kills) = (cluster.connector(), stop.clone(), kills.clone());
        thread::spawn(move || {
            let mut rng = Rng::from_env("ordering kills");
            let mut client = connector.connect();
            while !stop.load(Ordering::Relaxed) && kills.load(Ordering::Relaxed) < 8 {
                thread::sleep(Duration::from_millis(rng.between(200, 600)));
                let killed: i64 = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM \
                         (SELECT pid FROM pg_stat_activity WHERE application_name = 'ord-consumer' \
                          ORDER BY random() LIMIT 1) victim",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                kills.fetch_add(killed as u64, Ordering::Relaxed);
            }
        })
    });
    let mut admin = cluster.connect();
    let finished = wait_until(Duration::from_secs(300), || {
        let completed: i64 = admin
            .query_one(
                "SELECT count(*) FROM mq.messages WHERE topic = $1 \
                 AND coalesce(consumer_group, '') = $2 AND status = 'COMPLETED'",
                &[&topic, &group.unwrap_or("")],
            )
            .unwrap()
            .get(0);
        completed as usize >= total
    });
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    if let Some(k) = killer {
        k.join().unwrap();
        assert!(kills.load(Ordering::Relaxed) > 0, "no consumer was killed");
    }
    assert!(
        finished,
        "not every message of {topic} was completed in time"
    );
}

fn keys_complete_in_commit_order_one_at_a_time(cluster: &Cluster) {
    const KEYS: usize = 50;
    const PER_KEY: usize = 200;
    let topic = "ord-live";
    // Kills count as attempts: retry enough that no message becomes a dead letter here.
    cluster
        .connect()
        .batch_execute("SELECT mq_create_topic('ord-live', max_retries => 1000)")
        .unwrap();
    // Producers and consumers at the same time.
    let produced = thread::scope(|scope| {
        let consuming =
            scope.spawn(|| run_consumers(cluster, topic, None, 8, KEYS * PER_KEY, true));
        let produced = produce(cluster, topic, KEYS, PER_KEY, 4);
        consuming.join().unwrap();
        produced
    });
    check_order(&mut cluster.connect(), topic, "", &produced, KEYS * PER_KEY);
    let left: i64 = cluster
        .connect()
        .query_one(
            "SELECT count(*) FROM mq.ordering_keys WHERE topic = $1",
            &[&topic],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "keys with nothing left are forgotten");
}

fn each_group_keeps_its_own_order(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_create_topic('ord.grp', max_retries => 1000); \
             SELECT mq_subscribe('ord-g1', 'ord.grp'), mq_subscribe('ord-g2', 'ord.grp')",
        )
        .unwrap();
    let produced = produce(cluster, "ord.grp", 10, 40, 2);
    for group in ["ord-g1", "ord-g2"] {
        run_consumers(cluster, "ord.grp", Some(group), 4, 400, false);
        check_order(&mut admin, "ord.grp", group, &produced, 400);
    }
}

fn skip_and_block_decide_what_follows_a_dead_letter(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let mut consumer = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_create_topic('ord-skip', max_retries => 0); \
             SELECT mq_create_topic('ord-block', max_retries => 0, ordering_dead_letter => 'block')",
        )
        .unwrap();
    for topic in ["ord-skip", "ord-block"] {
        admin
            .execute(
                "SELECT mq_publish($1, jsonb_build_object('n', g), ordering_key => 'k') \
                 FROM generate_series(1, 3) g",
                &[&topic],
            )
            .unwrap();
        let failed: i64 = consumer
            .query_one(
                "SELECT count(mq_fail(id, 'no', lease)) FROM mq_poll($1, 10)",
                &[&topic],
            )
            .unwrap()
            .get(0);
        assert_eq!(failed, 1, "{topic}: one at a time");
    }
    let next = |consumer: &mut Client, topic: &str| -> Vec<i64> {
        consumer
            .query(
                "SELECT (payload->>'n')::bigint FROM mq_poll($1, 10)",
                &[&topic],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(next(&mut consumer, "ord-skip"), vec![2]);
    assert_eq!(next(&mut consumer, "ord-block"), Vec::<i64>::new());
    let blocked: i64 = admin
        .query_one("SELECT count(*) FROM mq_blocked_keys('ord-block')", &[])
        .unwrap()
        .get(0);
    assert_eq!(blocked, 1);
    admin
        .batch_execute("SELECT mq_replay(id) FROM mq.dead_letters WHERE topic = 'ord-block'")
        .unwrap();
    let replayed = next(&mut consumer, "ord-block");
    assert_eq!(replayed, vec![1], "the replayed dead letter goes first");
}

fn concurrent_dedup_leaves_one_message_per_committed_key(cluster: &Cluster) {
    const KEYS: i64 = 100;
    let committed: Arc<Mutex<HashMap<String, HashSet<i64>>>> = Arc::default();
    let handles: Vec<_> = (0..8)
        .map(|p| {
            let (connector, committed) = (cluster.connector(), committed.clone());
            thread::spawn(move || {
                let mut rng = Rng::seeded(500 + p);
                let mut client = connector.connect();
                for round in 0..60 {
                    let key = format!("dd-{}", rng.between(0, KEYS as u64));
                    let mut tx = client.transaction().unwrap();
                    let id: i64 = tx
                        .query_one(
                            "SELECT mq_publish('ord-dedup', jsonb_build_object('p', $1::int, 'r', $2::int), dedup_key => $3)",
                            &[&(p as i32), &round, &key],
                        )
                        .unwrap()
                        .get(0);
                    if rng.chance(25) {
                        tx.rollback().unwrap();
                    } else {
                        tx.commit().unwrap();
                        committed.lock().unwrap().entry(key).or_default().insert(id);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let committed = committed.lock().unwrap();
    // Every committed publish of a key returned the same id, and that message exists.
    let mut admin = cluster.connect();
    for (key, ids) in committed.iter() {
        assert_eq!(ids.len(), 1, "key {key} got ids {ids:?}");
    }
    let stored: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE topic = 'ord-dedup'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        stored as usize,
        committed.len(),
        "one message per committed key"
    );
    // After the window a key publishes again.
    admin
        .batch_execute(
            "UPDATE mq.dedup_keys SET expires_at = now() - interval '1 second' \
             WHERE topic = 'ord-dedup' AND dedup_key = 'dd-1'",
        )
        .unwrap();
    let again: i64 = admin
        .query_one(
            "SELECT mq_publish('ord-dedup', '{}', dedup_key => 'dd-1')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(committed
        .get("dd-1")
        .is_none_or(|ids| !ids.contains(&again)));
    let deduplicated: i64 = admin
        .query_one(
            "SELECT deduplicated_total FROM mq_metrics() WHERE topic = 'ord-dedup'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(deduplicated > 0);
}
