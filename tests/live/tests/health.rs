//! mq_health against a live server: each check is driven into warn and then critical by a
//! scripted situation — a backlog no one polls, dead letters, a transaction held open, a table
//! full of dead tuples — and comes back to ok when the situation ends. mq_consumers counts
//! what consumers do, through the worker's folds, and marks one killed mid-delivery stale. (The worker check's
//! warn and critical, without a preload and without a worker slot, are in the scale suite.)

use std::time::Duration;

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster};

fn main() {
    run_suite(
        "health",
        // Dead tuples stay until the test looks at them; locks of killed consumers expire soon.
        &["autovacuum = off", "pg_mq.recovery_interval = '200ms'"],
        &[
            ("the_worker_is_ok_here", the_worker_is_ok_here),
            (
                "consumer_lag_rises_with_the_oldest_message",
                consumer_lag_rises_with_the_oldest_message,
            ),
            (
                "dead_letters_added_in_the_window",
                dead_letters_added_in_the_window,
            ),
            (
                "a_snapshot_held_open_is_reported",
                a_snapshot_held_open_is_reported,
            ),
            (
                "dead_tuples_of_the_queue_tables",
                dead_tuples_of_the_queue_tables,
            ),
            (
                "consumers_and_one_killed_mid_delivery",
                consumers_and_one_killed_mid_delivery,
            ),
        ],
    );
}

/// The status of `check` (the row about `topic`, when given) and its detail.
fn status(
    client: &mut Client,
    check: &str,
    topic: Option<&str>,
) -> Option<(String, serde_json::Value)> {
    client
        .query(
            "SELECT status, detail FROM mq_health() \
             WHERE \"check\" = $1 AND ($2::text IS NULL OR detail ->> 'topic' = $2)",
            &[&check, &topic],
        )
        .unwrap()
        .first()
        .map(|row| (row.get(0), row.get(1)))
}

fn reaches(
    client: &mut Client,
    check: &str,
    topic: Option<&str>,
    wanted: &str,
) -> serde_json::Value {
    let mut last = None;
    let reached = wait_until(Duration::from_secs(20), || {
        last = status(client, check, topic);
        last.as_ref().is_some_and(|(s, _)| s == wanted)
    });
    assert!(
        reached,
        "{check} {topic:?} never became {wanted}: last {last:?}"
    );
    last.unwrap().1
}

fn the_worker_is_ok_here(cluster: &Cluster) {
    let mut client = cluster.connect();
    let detail = reaches(&mut client, "worker", None, "ok");
    assert_eq!(detail["running"], true);
    let checks: Vec<String> = client
        .query("SELECT DISTINCT \"check\" FROM mq_health() ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for wanted in ["dead_tuples", "snapshot_age", "worker"] {
        assert!(
            checks.iter().any(|c| c == wanted),
            "no {wanted} check in {checks:?}"
        );
    }
}

fn consumer_lag_rises_with_the_oldest_message(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute("SET pg_mq.health_lag_warn = '400ms'; SELECT mq_publish('h-lag', '{}')")
        .unwrap();
    // Counted by the worker's next fold: the topic then has a row.
    let detail = reaches(&mut client, "consumer_lag", Some("h-lag"), "warn");
    assert_eq!(detail["pending"], 1);
    reaches(&mut client, "consumer_lag", Some("h-lag"), "critical");
    // Consumed: ok again.
    client
        .batch_execute("SELECT mq_complete(id, lease) FROM mq_poll('h-lag', 1)")
        .unwrap();
    reaches(&mut client, "consumer_lag", Some("h-lag"), "ok");
}

fn dead_letters_added_in_the_window(cluster: &Cluster) {
    let mut client = cluster.connect();
    for (topic, n) in [("h-dl-few", 1), ("h-dl-many", 100)] {
        client
            .execute(
                "SELECT count(*) FROM mq_publish_batch($1, \
                   ARRAY(SELECT '{}'::jsonb FROM generate_series(1, $2::int)), max_retries => 0)",
                &[&topic, &n],
            )
            .unwrap();
        client
            .execute(
                "WITH p AS (SELECT id, lease FROM mq_poll($1, 1000)) \
                 SELECT count(*) FROM mq_fail_batch((SELECT array_agg(id) FROM p), \
                                                    (SELECT array_agg(lease) FROM p), 'broken')",
                &[&topic],
            )
            .unwrap();
    }
    let few = reaches(&mut client, "dead_letters", Some("h-dl-few"), "warn");
    assert_eq!(few["not_replayed"], 1);
    reaches(&mut client, "dead_letters", Some("h-dl-many"), "critical");
}

fn a_snapshot_held_open_is_reported(cluster: &Cluster) {
    let mut holder = cluster.connect();
    let mut client = cluster.connect();
    client
        .batch_execute("SET pg_mq.health_snapshot_warn = '300ms'")
        .unwrap();
    reaches(&mut client, "snapshot_age", None, "ok");
    holder
        .batch_execute(
            "SET application_name = 'snapshot-holder'; \
             BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM mq.messages",
        )
        .unwrap();
    let detail = reaches(&mut client, "snapshot_age", None, "warn");
    assert_eq!(detail["application_name"], "snapshot-holder");
    reaches(&mut client, "snapshot_age", None, "critical");
    holder.batch_execute("COMMIT").unwrap();
    reaches(&mut client, "snapshot_age", None, "ok");
}

fn dead_tuples_of_the_queue_tables(cluster: &Cluster) {
    let mut client = cluster.connect();
    reaches(&mut client, "dead_tuples", None, "ok");
    client
        .batch_execute(
            "SELECT count(*) FROM mq_publish_batch('h-dead', \
               ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, 30000) g)); \
             SELECT mq_purge('h-dead')",
        )
        .unwrap();
    let detail = reaches(&mut client, "dead_tuples", None, "critical");
    assert!(
        detail["table"]
            .as_str()
            .is_some_and(|t| t.starts_with("mq.")),
        "{detail}"
    );
    client.batch_execute("VACUUM").unwrap();
    reaches(&mut client, "dead_tuples", None, "ok");
}

fn consumers_and_one_killed_mid_delivery(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT count(*) FROM mq_publish_batch('h-cons', ARRAY(SELECT '{}'::jsonb FROM generate_series(1, 6)))",
        )
        .unwrap();
    let mut steady = cluster.connect();
    steady
        .batch_execute(
            "SELECT count(mq_complete(id, lease)) FROM mq_poll('h-cons', 3, consumer_id => 'steady')",
        )
        .unwrap();
    let mut doomed = cluster.connect();
    doomed
        .batch_execute(
            "SELECT count(*) FROM mq_poll('h-cons', 2, consumer_id => 'doomed', lock_timeout => '300ms')",
        )
        .unwrap();
    let pid: i32 = doomed
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let row = |admin: &mut Client, who: &str| -> Option<String> {
        admin
            .query(
                "SELECT concat_ws(' ', claimed, completed, failed, lease_expired, in_flight, status) \
                 FROM mq_consumers('h-cons') WHERE consumer_id = $1",
                &[&who],
            )
            .unwrap()
            .first()
            .map(|r| r.get(0))
    };
    // The worker recovers the two locks of the killed consumer: counted against it.
    let mut last = None;
    assert!(
        wait_until(Duration::from_secs(20), || {
            last = row(&mut admin, "doomed");
            last.as_deref() == Some("2 0 0 2 0 stale")
        }),
        "doomed: {last:?}"
    );
    assert_eq!(
        row(&mut admin, "steady").as_deref(),
        Some("3 3 0 0 0 active")
    );
    // Folded by the worker: the totals hold them, the figures stay.
    assert!(wait_until(Duration::from_secs(20), || {
        admin
            .query_one(
                "SELECT count(*) FROM mq.consumer_totals WHERE topic = 'h-cons'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 2
    }));
    assert_eq!(
        row(&mut admin, "doomed").as_deref(),
        Some("2 0 0 2 0 stale")
    );
}
