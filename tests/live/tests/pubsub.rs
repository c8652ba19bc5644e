//! Publish–subscribe against a live server: consumer groups each receive every message of
//! their topics exactly once to completion while consumers are killed; a paused group loses
//! nothing and delays no other; a failing group's dead letters replay to it only; a group
//! started from history gets it once; subscribing while publishers run misses and doubles
//! nothing; a payload delivered to ten groups is stored once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster, Connector, Rng};

fn main() {
    run_suite(
        "pubsub",
        &[
            "pg_mq.recovery_interval = '200ms'",
            "pg_mq.fold_interval = '200ms'",
            "pg_mq.retry_base_delay = '0'",
        ],
        &[
            (
                "three_groups_get_every_message_once_while_consumers_are_killed",
                three_groups_get_every_message_once_while_consumers_are_killed,
            ),
            (
                "a_paused_group_loses_nothing_and_delays_no_other",
                a_paused_group_loses_nothing_and_delays_no_other,
            ),
            (
                "dead_letters_replay_to_their_group_only",
                dead_letters_replay_to_their_group_only,
            ),
            (
                "a_group_from_history_gets_it_once_and_what_follows",
                a_group_from_history_gets_it_once_and_what_follows,
            ),
            (
                "subscribing_while_publishers_run_misses_and_doubles_nothing",
                subscribing_while_publishers_run_misses_and_doubles_nothing,
            ),
            (
                "a_payload_for_ten_groups_is_stored_once",
                a_payload_for_ten_groups_is_stored_once,
            ),
        ],
    );
}

const TOPICS: [&str; 5] = [
    "shop.orders.eu",
    "shop.orders.us",
    "shop.audit.login",
    "shop.audit.logout",
    "shop.billing",
];

/// (group, pattern): orders and audit each match two topics, the archive every one.
const GROUPS: [(&str, &str); 3] = [
    ("ps-orders", "shop.orders.*"),
    ("ps-audit", "shop.audit.#"),
    ("ps-archive", "shop.#"),
];

/// Completions a consumer made: (group, message id) → how many times mq_complete said true.
type Ledger = Arc<Mutex<HashMap<(String, i64), u32>>>;

/// A consumer of `group` that completes what it gets until `stop`; when its connection is
/// killed it connects again. Returns nothing; its completions go to `ledger`.
fn consumer(connector: &Connector, group: &str, ledger: &Ledger, stop: &AtomicBool) {
    let application = format!("ps-consumer-{group}");
    let mut client = connector.connect_retrying(&application);
    while !stop.load(Ordering::Relaxed) {
        let polled = client.query(
            "SELECT id, lease, topic, (SELECT payload_id FROM mq.messages m WHERE m.id = p.id) \
             FROM mq_poll(NULL, 20, lock_timeout => '1 second', consumer_group => $1, \
                          wait => '200 milliseconds') p",
            &[&group],
        );
        let rows = match polled {
            Ok(rows) => rows,
            Err(_) => {
                client = connector.connect_retrying(&application);
                continue;
            }
        };
        for row in rows {
            let (id, lease): (i64, uuid::Uuid) = (row.get(0), row.get(1));
            let message: i64 = row.get::<_, Option<i64>>(3).unwrap_or(id);
            match client.query_one("SELECT mq_complete($1, $2)", &[&id, &lease]) {
                Ok(done) if done.get::<_, bool>(0) => {
                    *ledger
                        .lock()
                        .unwrap()
                        .entry((group.to_owned(), message))
                        .or_default() += 1;
                }
                Ok(_) => {}
                Err(_) => {
                    client = connector.connect_retrying(&application);
                    break;
                }
            }
        }
    }
}

fn publish_everywhere(admin: &mut Client, per_topic: i64) -> HashMap<String, Vec<i64>> {
    let mut published = HashMap::new();
    for topic in TOPICS {
        let mut ids = Vec::new();
        let mut left = per_topic;
        while left > 0 {
            let n = left.min(1_000);
            let rows = admin
                .query(
                    "SELECT * FROM mq_publish_batch($1, \
                     ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, $2::int) g))",
                    &[&topic, &(n as i32)],
                )
                .unwrap();
            ids.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
            left -= n;
        }
        published.insert(topic.to_owned(), ids);
    }
    published
}

fn subscribe_groups(admin: &mut Client) {
    for (group, pattern) in GROUPS {
        admin
            .execute("SELECT mq_subscribe($1, $2)", &[&group, &pattern])
            .unwrap();
    }
}

fn unsubscribe_groups(admin: &mut Client) {
    for (group, _) in GROUPS {
        admin
            .execute("SELECT mq_unsubscribe($1)", &[&group])
            .unwrap();
    }
}

/// What each group must receive: every message of the topics its pattern matches.
fn expected(published: &HashMap<String, Vec<i64>>) -> HashSet<(String, i64)> {
    let mut expected = HashSet::new();
    for (group, pattern) in GROUPS {
        let prefix = pattern.trim_end_matches(['*', '#']);
        for (topic, ids) in published {
            if topic.starts_with(prefix) {
                expected.extend(ids.iter().map(|id| (group.to_owned(), *id)));
            }
        }
    }
    expected
}

fn three_groups_get_every_message_once_while_consumers_are_killed(cluster: &Cluster) {
    let mut admin = cluster.connect();
    subscribe_groups(&mut admin);
    let per_topic: i64 = std::env::var("PG_MQ_PUBSUB_PER_TOPIC")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let published = publish_everywhere(&mut admin, per_topic);
    let expected = expected(&published);
    assert_eq!(expected.len() as i64, 9 * per_topic);

    let ledger: Ledger = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (group, _) in GROUPS {
        for _ in 0..4 {
            let (connector, ledger, stop) = (cluster.connector(), ledger.clone(), stop.clone());
            threads.push(thread::spawn(move || {
                consumer(&connector, group, &ledger, &stop)
            }));
        }
    }
    let kills = Arc::new(AtomicU64::new(0));
    let killer = {
        let (connector, stop, kills) = (cluster.connector(), stop.clone(), kills.clone());
        thread::spawn(move || {
            let mut rng = Rng::from_env("pubsub kills");
            let mut client = connector.connect();
            while !stop.load(Ordering::Relaxed) && kills.load(Ordering::Relaxed) < 30 {
                thread::sleep(Duration::from_millis(rng.between(50, 200)));
                let killed: i64 = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM \
                         (SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'ps-consumer-%' \
                          ORDER BY random() LIMIT 1) victim",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                kills.fetch_add(killed as u64, Ordering::Relaxed);
            }
        })
    };
    // Done when every delivery is COMPLETED (a consumer killed just after its completion
    // committed never hears of it, so the database, not the consumers, is the record).
    let done = wait_until(Duration::from_secs(300), || {
        admin
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'COMPLETED') = $1 AND count(*) = $1 \
                 FROM mq.messages WHERE consumer_group LIKE 'ps-%'",
                &[&(expected.len() as i64)],
            )
            .unwrap()
            .get(0)
    });
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    if !done {
        let states: Vec<(String, String, i64)> = admin
            .query(
                "SELECT consumer_group, status, count(*) FROM mq.messages \
                 WHERE consumer_group LIKE 'ps-%' GROUP BY 1, 2 ORDER BY 1, 2",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        panic!("not every delivery was completed in time: {states:?}");
    }
    // Each group has one delivery of each message of its topics, completed once (one
    // COMPLETED trace row each), and no other.
    let received: HashMap<(String, i64), i64> = admin
        .query(
            "SELECT m.consumer_group, m.payload_id, \
                    (SELECT count(*) FROM mq.traces t WHERE t.trace_id = m.trace_id \
                       AND t.message_id = m.id AND t.event = 'COMPLETED') \
             FROM mq.messages m WHERE m.consumer_group LIKE 'ps-%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), r.get(2)))
        .collect();
    let keys: HashSet<(String, i64)> = received.keys().cloned().collect();
    assert!(
        keys == expected,
        "a group got a message of a topic it does not match, or missed one"
    );
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "completed other than once: {twice:?}");
    // No consumer was told twice that its completion went through.
    let ledger = ledger.lock().unwrap();
    let doubled: Vec<_> = ledger.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "completed twice: {doubled:?}");
    assert!(kills.load(Ordering::Relaxed) > 0, "no consumer was killed");
    // The counters agree: every group consumed exactly its share.
    let consumed: HashMap<String, i64> = admin
        .query(
            "SELECT consumer_group, sum(consumed_total)::bigint FROM mq_metrics() \
             WHERE consumer_group LIKE 'ps-%' GROUP BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(consumed.get("ps-orders"), Some(&(2 * per_topic)));
    assert_eq!(consumed.get("ps-audit"), Some(&(2 * per_topic)));
    assert_eq!(consumed.get("ps-archive"), Some(&(5 * per_topic)));
    unsubscribe_groups(&mut admin);
}

fn a_paused_group_loses_nothing_and_delays_no_other(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_subscribe('ps-live', 'paused.t'), mq_subscribe('ps-held', 'paused.t'); \
             SELECT mq_pause(NULL, consumer_group => 'ps-held')",
        )
        .unwrap();
    admin
        .batch_execute(
            "SELECT mq_publish_batch('paused.t', ARRAY(SELECT jsonb_build_object('n', g) \
             FROM generate_series(1, 500) g))",
        )
        .unwrap();
    let drain = |client: &mut Client, group: &str| -> i64 {
        let mut total = 0;
        loop {
            let n: i64 = client
                .query_one(
                    "SELECT count(mq_complete(id, lease)) FROM mq_poll('paused.t', 100, consumer_group => $1)",
                    &[&group],
                )
                .unwrap()
                .get(0);
            if n == 0 {
                return total;
            }
            total += n;
        }
    };
    let started = Instant::now();
    assert_eq!(drain(&mut admin, "ps-live"), 500);
    let live_took = started.elapsed();
    assert_eq!(
        drain(&mut admin, "ps-held"),
        0,
        "a paused group got deliveries"
    );
    let held: i64 = admin
        .query_one("SELECT pending FROM mq_subscriptions('ps-held')", &[])
        .unwrap()
        .get(0);
    assert_eq!(held, 500);
    // A long-poll of the held group is woken by its resume.
    let mut poller = cluster.connect();
    let waiting = thread::spawn(move || {
        poller
            .query(
                "SELECT id FROM mq_poll('paused.t', 10, consumer_group => 'ps-held', wait => '30 seconds')",
                &[],
            )
            .unwrap()
            .len()
    });
    assert!(!wait_until(Duration::from_millis(700), || waiting.is_finished()));
    admin
        .batch_execute("SELECT mq_resume(NULL, consumer_group => 'ps-held')")
        .unwrap();
    assert_eq!(waiting.join().unwrap(), 10);
    assert_eq!(drain(&mut admin, "ps-held"), 490);
    assert!(live_took < Duration::from_secs(30));
}

fn dead_letters_replay_to_their_group_only(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_subscribe('ps-ok', 'dl.t'), mq_subscribe('ps-fails', 'dl.t'); \
             SELECT mq_publish('dl.t', jsonb_build_object('n', g), max_retries => 0) \
             FROM generate_series(1, 20) g",
        )
        .unwrap();
    let failed: i64 = admin
        .query_one(
            "SELECT count(mq_fail(id, 'bad', lease)) FROM mq_poll('dl.t', 100, consumer_group => 'ps-fails')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(failed, 20);
    let (dead, groups): (i64, Vec<String>) = admin
        .query_one(
            "SELECT count(*), array_agg(DISTINCT consumer_group) FROM mq.dead_letters WHERE topic = 'dl.t'",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((dead, groups), (20, vec!["ps-fails".to_owned()]));
    admin
        .batch_execute(
            "SELECT mq_replay_batch(ARRAY(SELECT id FROM mq.dead_letters WHERE topic = 'dl.t'))",
        )
        .unwrap();
    // ps-ok has its 20 first deliveries and nothing more; ps-fails its 20 replays.
    let ok: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq_poll('dl.t', 100, consumer_group => 'ps-ok')",
            &[],
        )
        .unwrap()
        .get(0);
    let again: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq_poll('dl.t', 100, consumer_group => 'ps-fails')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!((ok, again), (20, 20));
}

fn a_group_from_history_gets_it_once_and_what_follows(cluster: &Cluster) {
    let mut admin = cluster.connect();
    // History: 30 point-to-point messages, 20 delivered to another group, some of each
    // completed; and 5 too old for the start time.
    admin
        .batch_execute(
            "SELECT mq_publish('hist.p2p', jsonb_build_object('n', g)) FROM generate_series(1, 5) g; \
             UPDATE mq.messages SET created_at = created_at - interval '2 hours' WHERE topic = 'hist.p2p'; \
             SELECT mq_publish('hist.p2p', jsonb_build_object('n', g)) FROM generate_series(6, 35) g; \
             SELECT count(mq_complete(id, lease)) FROM mq_poll('hist.p2p', 10); \
             SELECT mq_subscribe('ps-first', 'hist.grouped'); \
             SELECT mq_publish('hist.grouped', jsonb_build_object('n', g)) FROM generate_series(1, 20) g; \
             SELECT count(mq_complete(id, lease)) FROM mq_poll('hist.grouped', 5, consumer_group => 'ps-first')",
        )
        .unwrap();
    admin
        .batch_execute(
            "SELECT mq_subscribe('ps-late', 'hist.*', start_at => now() - interval '1 hour')",
        )
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('hist.grouped', jsonb_build_object('n', g)) FROM generate_series(21, 30) g")
        .unwrap();
    let mut got: Vec<(String, i64)> = Vec::new();
    loop {
        let rows = admin
            .query(
                "SELECT topic, (payload->>'n')::bigint, mq_complete(id, lease) \
                 FROM mq_poll(NULL, 100, consumer_group => 'ps-late')",
                &[],
            )
            .unwrap();
        if rows.is_empty() {
            break;
        }
        got.extend(rows.iter().map(|r| (r.get(0), r.get(1))));
    }
    got.sort();
    let mut wanted: Vec<(String, i64)> = (6..=35).map(|n| ("hist.p2p".to_owned(), n)).collect();
    wanted.extend((1..=30).map(|n| ("hist.grouped".to_owned(), n)));
    wanted.sort();
    assert_eq!(
        got, wanted,
        "the retained history since start_at, then the new messages, each once"
    );
    // The point-to-point queue is not stranded: its messages are still there for mq_poll.
    let p2p: i64 = admin
        .query_one("SELECT count(*) FROM mq_poll('hist.p2p', 100)", &[])
        .unwrap()
        .get(0);
    assert_eq!(p2p, 35 - 10);
}

fn subscribing_while_publishers_run_misses_and_doubles_nothing(cluster: &Cluster) {
    let stop = Arc::new(AtomicBool::new(false));
    // (message id, transaction began, commit returned)
    let log: Arc<Mutex<Vec<(i64, Instant, Instant)>>> = Arc::default();
    let publishers: Vec<_> = (0..4)
        .map(|p| {
            let (connector, stop, log) = (cluster.connector(), stop.clone(), log.clone());
            thread::spawn(move || {
                let mut client = connector.connect();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let began = Instant::now();
                    let mut tx = client.transaction().unwrap();
                    let id: i64 = tx
                        .query_one("SELECT mq_publish('race.t', jsonb_build_object('p', $1::int, 'n', $2::int))", &[&p, &n])
                        .unwrap()
                        .get(0);
                    if n % 3 == 0 {
                        tx.batch_execute("SELECT pg_sleep(0.002)").unwrap();
                    }
                    tx.commit().unwrap();
                    log.lock().unwrap().push((id, began, Instant::now()));
                    n += 1;
                }
            })
        })
        .collect();
    let mut admin = cluster.connect();
    assert!(wait_until(Duration::from_secs(10), || log
        .lock()
        .unwrap()
        .len()
        > 200));
    let before = Instant::now();
    admin
        .batch_execute("SELECT mq_subscribe('ps-race', 'race.t')")
        .unwrap();
    let after = Instant::now();
    let target = log.lock().unwrap().len() + 400;
    assert!(wait_until(Duration::from_secs(20), || log
        .lock()
        .unwrap()
        .len()
        > target));
    stop.store(true, Ordering::Relaxed);
    for p in publishers {
        p.join().unwrap();
    }
    let routed: HashMap<i64, (i64, i64)> = admin
        .query(
            "SELECT coalesce(payload_id, id), count(*) FILTER (WHERE consumer_group = 'ps-race'), \
                    count(*) FILTER (WHERE consumer_group IS NULL) \
             FROM mq.messages WHERE topic = 'race.t' GROUP BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let log = log.lock().unwrap();
    let (mut late, mut early) = (0, 0);
    for (id, began, committed) in log.iter() {
        let (group, p2p) = routed.get(id).copied().unwrap_or((0, 0));
        assert_eq!(
            group + p2p,
            1,
            "message {id} was stored {group} + {p2p} times"
        );
        if *began > after {
            late += 1;
            assert_eq!(
                group, 1,
                "message {id}, published after the subscription, missed it"
            );
        }
        if *committed < before {
            early += 1;
            assert_eq!(
                p2p, 1,
                "message {id}, committed before the subscription, went to it"
            );
        }
    }
    assert!(late > 100 && early > 100, "late {late}, early {early}");
}

fn a_payload_for_ten_groups_is_stored_once(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let size = |admin: &mut Client| -> i64 {
        admin
            .query_one(
                "SELECT (pg_total_relation_size('mq.messages') + pg_total_relation_size('mq.payloads'))::bigint",
                &[],
            )
            .unwrap()
            .get(0)
    };
    admin
        .batch_execute("SELECT mq_subscribe('ps-one', 'big.one')")
        .unwrap();
    for g in 0..10 {
        admin
            .execute(
                "SELECT mq_subscribe($1, 'big.ten')",
                &[&format!("ps-ten-{g}")],
            )
            .unwrap();
    }
    // About 1 MB of JSON that compresses little (hex digests).
    let publish = |admin: &mut Client, topic: &str| {
        admin
            .execute(
                "SELECT mq_publish($1, jsonb_build_object('blob', \
                   (SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 30000))))",
                &[&topic],
            )
            .unwrap();
    };
    let start = size(&mut admin);
    for _ in 0..5 {
        publish(&mut admin, "big.one");
    }
    let one = size(&mut admin) - start;
    let middle = size(&mut admin);
    for _ in 0..5 {
        publish(&mut admin, "big.ten");
    }
    let ten = size(&mut admin) - middle;
    let payloads: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.payloads WHERE topic = 'big.ten'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(payloads, 5);
    assert!(one > 2_000_000, "5 MB of payloads took {one} bytes");
    assert!(
        (ten as f64) < (one as f64) * 1.5,
        "10 groups took {ten} bytes, 1 group {one}: the payload was stored more than once"
    );
}
