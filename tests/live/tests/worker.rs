//! The background worker against a live server: recovery after consumer crashes, retention,
//! surviving its own errors, SIGHUP reload, restart after being killed, DROP EXTENSION.

use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, wait_until, worker_activity, worker_pid, Client, Cluster};

const RECOVERY_INTERVAL: Duration = Duration::from_millis(500);

fn main() {
    run_suite(
        "worker",
        &[
            "pg_mq.recovery_interval = '500ms'",
            "pg_mq.retention_interval = '1s'",
            "pg_mq.metrics_sample_interval = '1s'",
            "pg_mq.completed_retention = '1h'",
            "pg_mq.dead_letter_retention = '1h'",
            "pg_mq.trace_retention = '1h'",
        ],
        &[
            (
                "worker_is_visible_in_pg_stat_activity",
                worker_is_visible_in_pg_stat_activity,
            ),
            (
                "killed_consumer_messages_are_recovered",
                killed_consumer_messages_are_recovered,
            ),
            (
                "a_message_that_kills_every_consumer_is_dead_lettered",
                a_message_that_kills_every_consumer_is_dead_lettered,
            ),
            (
                "retention_deletes_old_rows_and_keeps_counters",
                retention_deletes_old_rows_and_keeps_counters,
            ),
            (
                "worker_survives_an_error_in_its_tick",
                worker_survives_an_error_in_its_tick,
            ),
            (
                "worker_reloads_settings_on_sighup",
                worker_reloads_settings_on_sighup,
            ),
            (
                "worker_restarts_after_being_terminated",
                worker_restarts_after_being_terminated,
            ),
            (
                "worker_leaves_while_the_extension_is_dropped",
                worker_leaves_while_the_extension_is_dropped,
            ),
        ],
    );
}

fn status_of(client: &mut Client, id: i64) -> String {
    client
        .query_one("SELECT status FROM mq.messages WHERE id = $1", &[&id])
        .unwrap()
        .get(0)
}

/// Waits until the worker (no one polls) has put message `id` back to PENDING.
fn recovered_within(client: &mut Client, id: i64, timeout: Duration) -> bool {
    wait_until(timeout, || status_of(client, id) == "PENDING")
}

fn status_counts(client: &mut Client, topic: &str) -> (i64, i64) {
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'PENDING'), count(*) FILTER (WHERE status = 'PROCESSING') \
             FROM mq.messages WHERE topic = $1",
            &[&topic],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

fn worker_is_visible_in_pg_stat_activity(cluster: &Cluster) {
    let mut admin = cluster.connect();
    assert!(
        wait_until(Duration::from_secs(10), || worker_pid(&mut admin).is_some()),
        "no pg_mq worker in pg_stat_activity"
    );
    // One launcher, connected to no database, and this database's worker.
    let rows: Vec<(Option<String>, String)> = admin
        .query(
            "SELECT datname::text, backend_type FROM pg_stat_activity \
             WHERE backend_type LIKE 'pg_mq%' ORDER BY backend_type",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        vec![
            (None, "pg_mq launcher".to_owned()),
            (Some("postgres".to_owned()), "pg_mq worker".to_owned()),
        ]
    );
    assert!(cluster
        .log()
        .contains("pg_mq worker started in database \"postgres\""));
}

fn killed_consumer_messages_are_recovered(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute("SELECT mq_publish('crash', '{}') FROM generate_series(1, 5)")
        .unwrap();
    let mut consumer = cluster.connect();
    let consumer_pid: i32 = consumer
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let lock_timeout = Duration::from_secs(1);
    let polled_at = Instant::now();
    let held = consumer
        .query(
            "SELECT id FROM mq_poll('crash', 5, lock_timeout => '1 second')",
            &[],
        )
        .unwrap();
    assert_eq!(held.len(), 5);
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&consumer_pid])
        .unwrap()
        .get(0);
    assert!(killed);

    // No one polls the topic: only the worker can bring the messages back.
    let deadline = lock_timeout + RECOVERY_INTERVAL + Duration::from_secs(1);
    assert!(
        wait_until(deadline.saturating_sub(polled_at.elapsed()), || {
            status_counts(&mut admin, "crash") == (5, 0)
        }),
        "messages not recovered within lock_timeout + recovery_interval + 1s: {:?}",
        status_counts(&mut admin, "crash")
    );
    let recovered: i64 = admin
        .query_one(
            "SELECT count(DISTINCT message_id) FROM mq.traces WHERE topic = 'crash' AND event = 'RECOVERED'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(recovered, 5);
    let due: bool = admin
        .query_one(
            "SELECT bool_and(next_retry_at <= clock_timestamp() AND retry_count = 1 AND last_error = 'lock timeout') \
             FROM mq.messages WHERE topic = 'crash'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(due, "recovered messages are deliverable at once");
    let again = cluster
        .connect()
        .query("SELECT id FROM mq_poll('crash', 10)", &[])
        .unwrap();
    assert_eq!(again.len(), 5);
}

fn a_message_that_kills_every_consumer_is_dead_lettered(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let id: i64 = admin
        .query_one("SELECT mq_publish('poison', '{}', max_retries => 2)", &[])
        .unwrap()
        .get(0);
    for delivery in 1..=3 {
        let mut consumer = cluster.connect();
        let pid: i32 = consumer
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        let got = consumer
            .query(
                "SELECT id FROM mq_poll('poison', 1, lock_timeout => '300 milliseconds')",
                &[],
            )
            .unwrap();
        assert_eq!(got.len(), 1, "delivery {delivery} did not happen");
        admin
            .execute("SELECT pg_terminate_backend($1)", &[&pid])
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || status_of(&mut admin, id)
                != "PROCESSING"),
            "delivery {delivery} was not recovered"
        );
    }
    let row = admin
        .query_one(
            "SELECT m.status, d.error_message, d.retry_count FROM mq.messages m \
             JOIN mq.dead_letters d ON d.original_id = m.id WHERE m.id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "FAILED");
    assert_eq!(row.get::<_, String>(1), "lock timeout");
    assert_eq!(row.get::<_, i32>(2), 3);
    let events: Vec<String> = admin
        .query(
            "SELECT event FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = $1))",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        events,
        [
            "PUBLISHED",
            "PROCESSING",
            "RECOVERED",
            "PROCESSING",
            "RECOVERED",
            "PROCESSING",
            "FAILED",
            "DEAD_LETTERED"
        ]
    );
}

fn counters(client: &mut Client, topic: &str) -> (i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT consumed_total, failed_total, dead_letter_total FROM mq_metrics() WHERE topic = $1",
            &[&topic],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

fn retention_deletes_old_rows_and_keeps_counters(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute(
            "SET pg_mq.retry_base_delay = 0;
             SELECT mq_publish('retain', '{}') FROM generate_series(1, 2500);
             SELECT mq_complete(id) FROM mq_poll('retain', 2500);
             SELECT mq_publish('retain', '{}', max_retries => 0);
             SELECT mq_fail(id) FROM mq_poll('retain', 1);
             SELECT mq_replay(id) FROM mq.dead_letters WHERE topic = 'retain';
             SELECT mq_publish('retain', '{}');",
        )
        .unwrap();
    let before = counters(&mut client, "retain");
    assert_eq!(before, (2500, 1, 1));
    client
        .batch_execute(
            "UPDATE mq.messages SET updated_at = now() - interval '2 hours' WHERE topic = 'retain' AND status = 'COMPLETED';
             UPDATE mq.dead_letters SET replayed_at = now() - interval '2 hours' WHERE topic = 'retain';
             UPDATE mq.traces SET created_at = now() - interval '2 hours' WHERE topic = 'retain';",
        )
        .unwrap();
    let left = |client: &mut Client| -> (i64, i64, i64) {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM mq.messages WHERE topic = 'retain' AND status = 'COMPLETED'), \
                        (SELECT count(*) FROM mq.dead_letters WHERE topic = 'retain'), \
                        (SELECT count(*) FROM mq.traces WHERE topic = 'retain')",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert!(
        wait_until(Duration::from_secs(30), || left(&mut client) == (0, 0, 0)),
        "retention left {:?}",
        left(&mut client)
    );
    assert_eq!(
        counters(&mut client, "retain"),
        before,
        "retention lowered a counter"
    );
    let pending: i64 = client
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE topic = 'retain' AND status IN ('PENDING', 'FAILED')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(pending, 3, "retention deleted a message it should keep");
}

fn worker_survives_an_error_in_its_tick(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let pid = worker_pid(&mut admin).expect("worker running");
    let id: i64 = admin
        .query_one("SELECT mq_publish('survive', '{}')", &[])
        .unwrap()
        .get(0);
    admin
        .query(
            "SELECT id FROM mq_poll('survive', 1, lock_timeout => '100 milliseconds')",
            &[],
        )
        .unwrap();

    // Hold an exclusive lock on the messages table longer than the worker's lock_timeout:
    // its recovery tick fails with a lock timeout.
    let mut blocker = cluster.connect();
    let mut tx = blocker.transaction().unwrap();
    tx.batch_execute("LOCK TABLE mq.messages IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let logged = wait_until(Duration::from_secs(10), || {
        cluster.log().contains("pg_mq worker: recovery failed")
    });
    tx.commit().unwrap();
    assert!(logged, "the worker did not report its failed tick");

    assert!(
        recovered_within(&mut admin, id, Duration::from_secs(10)),
        "the worker stopped recovering after its error"
    );
    assert_eq!(
        worker_pid(&mut admin),
        Some(pid),
        "the worker died instead of carrying on"
    );
}

fn worker_reloads_settings_on_sighup(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let pid = worker_pid(&mut admin).expect("worker running");
    admin
        .batch_execute("ALTER SYSTEM SET pg_mq.recovery_interval = '300ms'")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    let reloaded = wait_until(Duration::from_secs(10), || {
        worker_activity(&mut admin).is_some_and(|a| a.contains("recovery every 300ms"))
    });
    admin
        .batch_execute("ALTER SYSTEM RESET pg_mq.recovery_interval")
        .unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    assert!(reloaded, "activity: {:?}", worker_activity(&mut admin));
    assert!(
        wait_until(Duration::from_secs(10), || {
            worker_activity(&mut admin).is_some_and(|a| a.contains("recovery every 500ms"))
        }),
        "activity: {:?}",
        worker_activity(&mut admin)
    );
    assert_eq!(
        worker_pid(&mut admin),
        Some(pid),
        "a reload must not restart the worker"
    );
}

fn worker_restarts_after_being_terminated(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let pid = worker_pid(&mut admin).expect("worker running");
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || {
            worker_pid(&mut admin).is_some_and(|new| new != pid)
        }),
        "the worker was not restarted"
    );
    // The new worker works: it recovers an expired lock.
    let id: i64 = admin
        .query_one("SELECT mq_publish('after-restart', '{}')", &[])
        .unwrap()
        .get(0);
    admin
        .query(
            "SELECT id FROM mq_poll('after-restart', 1, lock_timeout => '100 milliseconds')",
            &[],
        )
        .unwrap();
    assert!(recovered_within(&mut admin, id, Duration::from_secs(10)));
}

fn worker_leaves_while_the_extension_is_dropped(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let pid = worker_pid(&mut admin).expect("worker running");
    let log_before = cluster.log().len();
    admin.batch_execute("DROP EXTENSION pg_mq").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || worker_pid(&mut admin).is_none()),
        "the worker stayed in a database without the extension: {:?}",
        worker_activity(&mut admin)
    );
    // Absence of an error loop cannot be waited for: let a few recovery intervals pass, then
    // look at the log.
    std::thread::sleep(RECOVERY_INTERVAL * 3);
    assert_eq!(
        worker_pid(&mut admin),
        None,
        "a worker came back without the extension"
    );
    let log = cluster.log()[log_before..].to_owned();
    assert_eq!(
        log.matches("extension pg_mq is not installed in database")
            .count(),
        1,
        "expected one log line when the worker left:\n{log}"
    );
    assert!(!log.contains("failed"), "{log}");

    // CREATE EXTENSION brings a worker at once.
    admin.batch_execute("CREATE EXTENSION pg_mq").unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || {
            worker_activity(&mut admin).is_some_and(|a| a.contains("recovery every"))
        }),
        "no worker after CREATE EXTENSION"
    );
    assert_ne!(worker_pid(&mut admin), Some(pid));
}
