//! Topics as managed queues against a live server, across sessions: a configuration change
//! reaches other sessions' next calls; pause holds a long-poll and resume wakes it; messages
//! expire within a second of their time, by the worker; capacity holds under 8 concurrent
//! publishers; drop with and without force while a consumer holds a message; auto-creation
//! off is the operator's setting, not a producer's.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, sqlstate, wait_until, Client, Cluster};

fn main() {
    run_suite(
        "topics",
        &[
            "pg_mq.schedule_interval = '100ms'",
            "pg_mq.fold_interval = '200ms'",
        ],
        &[
            (
                "a_change_reaches_the_next_call_of_every_session",
                a_change_reaches_the_next_call_of_every_session,
            ),
            (
                "pause_holds_a_long_poll_and_resume_wakes_it",
                pause_holds_a_long_poll_and_resume_wakes_it,
            ),
            (
                "messages_expire_within_a_second_of_their_time",
                messages_expire_within_a_second_of_their_time,
            ),
            (
                "capacity_holds_under_eight_concurrent_publishers",
                capacity_holds_under_eight_concurrent_publishers,
            ),
            (
                "drop_refuses_while_in_use_and_force_removes_what_is_held",
                drop_refuses_while_in_use_and_force_removes_what_is_held,
            ),
            (
                "auto_creation_off_is_the_operators_choice",
                auto_creation_off_is_the_operators_choice,
            ),
            (
                "first_use_registers_the_topic",
                first_use_registers_the_topic,
            ),
        ],
    );
}

fn lock_seconds(client: &mut Client, topic: &str) -> f64 {
    let row = client
        .query_one(
            "SELECT extract(epoch FROM locked_until - locked_at)::float8 \
             FROM mq.messages WHERE id = (SELECT max(id) FROM mq.messages WHERE topic = $1)",
            &[&topic],
        )
        .unwrap();
    row.get(0)
}

fn a_change_reaches_the_next_call_of_every_session(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let mut consumer = cluster.connect();
    admin
        .batch_execute("SELECT mq_create_topic('tp-conf', lock_timeout => '1 minute')")
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('tp-conf', '{}')")
        .unwrap();
    consumer
        .batch_execute("SELECT * FROM mq_poll('tp-conf', 1)")
        .unwrap();
    assert_eq!(lock_seconds(&mut admin, "tp-conf"), 60.0);
    // The consumer's session has read the catalog; the change must still reach it.
    admin
        .batch_execute("SELECT mq_alter_topic('tp-conf', lock_timeout => '3 minutes')")
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('tp-conf', '{}')")
        .unwrap();
    consumer
        .batch_execute("SELECT * FROM mq_poll('tp-conf', 1)")
        .unwrap();
    assert_eq!(lock_seconds(&mut admin, "tp-conf"), 180.0);
    // The call's own argument wins over both.
    admin
        .batch_execute("SELECT mq_publish('tp-conf', '{}')")
        .unwrap();
    consumer
        .batch_execute("SELECT * FROM mq_poll('tp-conf', 1, lock_timeout => '5 seconds')")
        .unwrap();
    assert_eq!(lock_seconds(&mut admin, "tp-conf"), 5.0);
    // Reset: the server's setting (this session's pg_mq.lock_timeout) applies again.
    admin
        .batch_execute("SELECT mq_alter_topic('tp-conf', reset => '{lock_timeout}')")
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('tp-conf', '{}')")
        .unwrap();
    consumer
        .batch_execute("SET pg_mq.lock_timeout = '7s'; SELECT * FROM mq_poll('tp-conf', 1)")
        .unwrap();
    assert_eq!(lock_seconds(&mut admin, "tp-conf"), 7.0);
}

fn pause_holds_a_long_poll_and_resume_wakes_it(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_create_topic('tp-pause'); SELECT mq_pause('tp-pause'); \
             SELECT mq_publish('tp-pause', '{\"n\": 1}')",
        )
        .unwrap();
    let mut poller = cluster.connect();
    let pid: i32 = poller
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let handle = thread::spawn(move || {
        let rows = poller
            .query(
                "SELECT id FROM mq_poll('tp-pause', 10, wait => '30 seconds')",
                &[],
            )
            .unwrap();
        (rows.len(), Instant::now())
    });
    // It waits although a message is there...
    assert!(wait_until(Duration::from_secs(10), || admin
        .query_opt(
            "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Extension'",
            &[&pid],
        )
        .unwrap()
        .is_some()));
    // ...and keeps waiting while paused, through several of its looks (every 500 ms), and
    // through publishes that wake it.
    admin
        .batch_execute("SELECT mq_publish('tp-pause', '{\"n\": 2}')")
        .unwrap();
    assert!(!wait_until(Duration::from_millis(1_500), || handle.is_finished()));
    let resumed = Instant::now();
    admin.batch_execute("SELECT mq_resume('tp-pause')").unwrap();
    let (delivered, at) = handle.join().unwrap();
    assert_eq!(delivered, 2);
    let waited = at.duration_since(resumed);
    assert!(
        waited < Duration::from_millis(400),
        "woken {waited:?} after the resume"
    );
}

fn messages_expire_within_a_second_of_their_time(cluster: &Cluster) {
    let mut admin = cluster.connect();
    // 100 messages expiring over the next 2 s, none ever polled; and one in flight whose
    // failure after its expiry expires it.
    admin
        .batch_execute(
            "SELECT mq_create_topic('tp-ttl', max_retries => 5); \
             SELECT mq_publish('tp-ttl', jsonb_build_object('n', g), \
                               expires_at => clock_timestamp() + g * interval '20 milliseconds') \
             FROM generate_series(1, 100) g",
        )
        .unwrap();
    let id: i64 = admin
        .query_one(
            "SELECT mq_publish('tp-ttl-busy', '{}', expires_at => clock_timestamp() + interval '300 milliseconds')",
            &[],
        )
        .unwrap()
        .get(0);
    let mut consumer = cluster.connect();
    let lease: uuid::Uuid = consumer
        .query_one("SELECT lease FROM mq_poll('tp-ttl-busy', 1)", &[])
        .unwrap()
        .get(0);
    assert!(wait_until(Duration::from_secs(10), || admin
        .query_one(
            "SELECT count(*) = 100 FROM mq.messages WHERE topic = 'tp-ttl' AND status = 'EXPIRED'",
            &[],
        )
        .unwrap()
        .get(0)));
    // How late each expiry was: its EXPIRED trace row against its expires_at.
    let mut late: Vec<f64> = admin
        .query(
            "SELECT extract(epoch FROM t.created_at - m.expires_at)::float8 \
             FROM mq.messages m JOIN mq.traces t ON t.message_id = m.id AND t.event = 'EXPIRED' \
             WHERE m.topic = 'tp-ttl'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    late.sort_by(f64::total_cmp);
    let p99 = late[late.len() * 99 / 100 - 1];
    assert!(late[0] >= 0.0, "expired early: {late:?}");
    assert!(p99 < 1.0, "p99 lateness {p99} s");
    let dead: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.dead_letters WHERE topic = 'tp-ttl' AND error_message = 'expired'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(dead, 100);
    // The delivery in flight: not touched while in flight; its failure after the expiry
    // expires the message instead of retrying it.
    assert!(wait_until(Duration::from_secs(5), || {
        admin
            .query_one(
                "SELECT clock_timestamp() > expires_at FROM mq.messages WHERE id = $1",
                &[&id],
            )
            .unwrap()
            .get(0)
    }));
    let status: Option<String> = consumer
        .query_one("SELECT mq_fail($1, 'too late', $2)", &[&id, &lease])
        .unwrap()
        .get(0);
    assert_eq!(status.as_deref(), Some("EXPIRED"));
    let (expired_total, dead_letters): (i64, i64) = admin
        .query_one(
            "SELECT sum(expired_total)::bigint, sum(dead_letters)::bigint FROM mq_metrics() \
             WHERE topic IN ('tp-ttl', 'tp-ttl-busy')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((expired_total, dead_letters), (101, 101));
    let prometheus: String = admin
        .query_one("SELECT mq_metrics_prometheus()", &[])
        .unwrap()
        .get(0);
    assert!(prometheus.contains("mq_expired_total{topic=\"tp-ttl\"} 100"));
}

fn capacity_holds_under_eight_concurrent_publishers(cluster: &Cluster) {
    const CAP: i64 = 200;
    let mut admin = cluster.connect();
    admin
        .batch_execute(&format!(
            "SELECT mq_create_topic('tp-cap', max_depth => {CAP})"
        ))
        .unwrap();
    let accepted = Arc::new(AtomicI64::new(0));
    let consumed = Arc::new(AtomicI64::new(0));
    let mut threads = Vec::new();
    for p in 0..8_i64 {
        let mut client = cluster.connect();
        let accepted = accepted.clone();
        threads.push(thread::spawn(move || {
            let mut refused = 0;
            for i in 0..60_i64 {
                // Singles, and batches of 3 that must go in whole or not at all; some inside
                // transactions that hold the topic's publish lock a little longer.
                let result = if i % 4 == 0 {
                    client
                        .query_one(
                            "SELECT count(*) FROM mq_publish_batch('tp-cap', ARRAY['{}', '{}', '{}']::jsonb[])",
                            &[],
                        )
                        .map(|r| r.get::<_, i64>(0))
                } else if i % 4 == 1 {
                    let mut tx = client.transaction().unwrap();
                    let r = tx
                        .batch_execute("SELECT mq_publish('tp-cap', jsonb_build_object('p', 1))")
                        .map(|_| 1);
                    match r {
                        Ok(n) => tx.commit().map(|_| n),
                        Err(e) => Err(e),
                    }
                } else {
                    client
                        .batch_execute(&format!("SELECT mq_publish('tp-cap', '{{\"p\": {p}}}')"))
                        .map(|_| 1)
                };
                match result {
                    Ok(n) => {
                        accepted.fetch_add(n, Ordering::SeqCst);
                    }
                    Err(e) => {
                        assert_eq!(sqlstate(&e), "53400", "{e}");
                        refused += 1;
                    }
                }
            }
            refused
        }));
    }
    // A consumer completes some meanwhile, making room.
    {
        let mut client = cluster.connect();
        let consumed = consumed.clone();
        threads.push(thread::spawn(move || {
            for _ in 0..20 {
                let n: i64 = client
                    .query_one(
                        "SELECT count(mq_complete(id, lease)) FROM mq_poll('tp-cap', 5)",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                consumed.fetch_add(n, Ordering::SeqCst);
            }
            0
        }));
    }
    let refused: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let (accepted, consumed) = (
        accepted.load(Ordering::SeqCst),
        consumed.load(Ordering::SeqCst),
    );
    let live: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE topic = 'tp-cap' \
             AND status IN ('PENDING', 'SCHEDULED', 'PROCESSING')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(refused > 0, "the cap was never reached");
    assert_eq!(
        live,
        accepted - consumed,
        "every accepted message is there, no more"
    );
    assert_eq!(live, CAP, "publishers filled the topic exactly to its cap");
}

fn drop_refuses_while_in_use_and_force_removes_what_is_held(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_create_topic('tp-drop', max_retries => 9); \
             SELECT mq_publish('tp-drop', '{}') FROM generate_series(1, 3)",
        )
        .unwrap();
    let mut consumer = cluster.connect();
    let (id, lease): (i64, uuid::Uuid) = consumer
        .query_one("SELECT id, lease FROM mq_poll('tp-drop', 1)", &[])
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    let error = admin
        .batch_execute("SELECT mq_drop_topic('tp-drop')")
        .unwrap_err();
    assert_eq!(sqlstate(&error), "55006");
    let removed: i64 = admin
        .query_one("SELECT mq_drop_topic('tp-drop', force => true)", &[])
        .unwrap()
        .get(0);
    assert_eq!(removed, 3);
    // The consumer's delivery is gone: its completion changes nothing.
    let completed: bool = consumer
        .query_one("SELECT mq_complete($1, $2)", &[&id, &lease])
        .unwrap()
        .get(0);
    assert!(!completed);
    let (listed, gauges): (i64, i64) = admin
        .query_one(
            "SELECT (SELECT count(*) FROM mq_topics() WHERE topic = 'tp-drop'), \
                    (SELECT coalesce(sum(pending + delayed + processing), 0)::bigint \
                     FROM mq_metrics() WHERE topic = 'tp-drop')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((listed, gauges), (0, 0));
    // Publishing again registers it afresh, with the server's settings.
    admin
        .batch_execute("SELECT mq_publish('tp-drop', '{}')")
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || admin
        .query_one(
            "SELECT count(*) = 1 FROM mq.topics WHERE topic = 'tp-drop' AND max_retries IS NULL",
            &[],
        )
        .unwrap()
        .get(0)));
}

fn auto_creation_off_is_the_operators_choice(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS tp_producer; CREATE ROLE tp_producer LOGIN; \
             SELECT mq_grant('producer', 'tp_producer'); SELECT mq_create_topic('tp-known')",
        )
        .unwrap();
    admin
        .batch_execute("ALTER SYSTEM SET pg_mq.auto_create_topics = off")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    let mut producer = cluster.connect_as("tp_producer");
    assert!(wait_until(Duration::from_secs(5), || {
        producer
            .query_one("SHOW pg_mq.auto_create_topics", &[])
            .unwrap()
            .get::<_, String>(0)
            == "off"
    }));
    let error = producer
        .batch_execute("SELECT mq_publish('tp-unknown', '{}')")
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42704");
    producer
        .batch_execute("SELECT mq_publish('tp-known', '{}')")
        .unwrap();
    // A producer cannot switch it back on for itself.
    let error = producer
        .batch_execute("SET pg_mq.auto_create_topics = on")
        .unwrap_err();
    assert_eq!(sqlstate(&error), "42501");
    let unknown: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE topic = 'tp-unknown'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unknown, 0);
    admin
        .batch_execute("ALTER SYSTEM RESET pg_mq.auto_create_topics")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
}

fn first_use_registers_the_topic(cluster: &Cluster) {
    let mut admin = cluster.connect();
    // A poll registers a topic at once; a publish, when the worker folds its counts.
    admin
        .batch_execute("SELECT * FROM mq_poll('tp-first-poll', 1)")
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('tp-first-publish', '{}')")
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        admin
        .query_one(
            "SELECT count(*) = 2 FROM mq.topics WHERE topic IN ('tp-first-poll', 'tp-first-publish')",
            &[],
        )
        .unwrap()
        .get(0)
    }));
    // Two pollers of a new topic, the first inside an open transaction: the second neither
    // waits for the first nor fails.
    let mut first = cluster.connect();
    let mut tx = first.transaction().unwrap();
    tx.batch_execute("SELECT * FROM mq_poll('tp-first-race', 1)")
        .unwrap();
    let mut second = cluster.connect();
    second
        .batch_execute("SET statement_timeout = '2s'")
        .unwrap();
    second
        .batch_execute("SELECT * FROM mq_poll('tp-first-race', 1)")
        .unwrap();
    tx.commit().unwrap();
}
