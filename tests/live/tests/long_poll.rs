//! Long-poll against a live server: woken by the publisher's commit, not by an uncommitted
//! publish; interrupted by query cancel and statement_timeout; a latch-based fallback
//! without shared memory.

use std::thread;
use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster};

fn main() {
    run_suite(
        "long_poll",
        &[],
        &[
            (
                "a_commit_wakes_a_waiting_poller",
                a_commit_wakes_a_waiting_poller,
            ),
            (
                "an_uncommitted_publish_does_not_deliver",
                an_uncommitted_publish_does_not_deliver,
            ),
            (
                "query_cancel_interrupts_the_wait",
                query_cancel_interrupts_the_wait,
            ),
            (
                "statement_timeout_interrupts_the_wait",
                statement_timeout_interrupts_the_wait,
            ),
            (
                "batch_publish_and_replay_wake_pollers",
                batch_publish_and_replay_wake_pollers,
            ),
            (
                "without_shared_memory_the_wait_still_works",
                without_shared_memory_the_wait_still_works,
            ),
        ],
    );
}

/// What a poller thread yields: the ids it received and when its poll returned.
type PollOutcome = thread::JoinHandle<Result<(Vec<i64>, Instant), postgres::Error>>;

/// Starts a poller on `topic` waiting up to `wait`; returns its pid and its outcome.
fn waiting_poller(cluster: &Cluster, topic: &str, wait: &str) -> (i32, PollOutcome) {
    let mut client = cluster.connect();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let (topic, wait) = (topic.to_owned(), wait.to_owned());
    let handle = thread::spawn(move || {
        let rows = client.query(
            "SELECT id FROM mq_poll($1, 10, wait => $2::text::interval)",
            &[&topic, &wait],
        )?;
        Ok((rows.iter().map(|r| r.get(0)).collect(), Instant::now()))
    });
    (pid, handle)
}

/// Waits until backend `pid` sleeps on pg_mq's wait event.
fn sleeping(admin: &mut Client, pid: i32) -> bool {
    wait_until(Duration::from_secs(10), || {
        admin
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Extension'",
                &[&pid],
            )
            .unwrap()
            .is_some()
    })
}

fn a_commit_wakes_a_waiting_poller(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let (pid, poller) = waiting_poller(cluster, "lp-wake", "30 seconds");
    assert!(
        sleeping(&mut admin, pid),
        "the poller is not sleeping on its wait event"
    );
    let id: i64 = admin
        .query_one("SELECT mq_publish('lp-wake', '{}')", &[])
        .unwrap()
        .get(0);
    let committed = Instant::now();
    let (ids, returned) = poller.join().unwrap().unwrap();
    assert_eq!(ids, vec![id]);
    // A waiting poll looks on its own only every 500ms: returning well before that means the
    // commit woke it.
    let delay = returned.saturating_duration_since(committed);
    assert!(
        delay < Duration::from_millis(300),
        "woken {delay:?} after the commit"
    );
}

fn an_uncommitted_publish_does_not_deliver(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let (pid, poller) = waiting_poller(cluster, "lp-tx", "30 seconds");
    assert!(sleeping(&mut admin, pid));
    let mut producer = cluster.connect();
    let mut tx = producer.transaction().unwrap();
    let id: i64 = tx
        .query_one("SELECT mq_publish('lp-tx', '{}')", &[])
        .unwrap()
        .get(0);
    // The poller stays asleep while the transaction is open.
    assert!(!wait_until(Duration::from_millis(700), || poller.is_finished()));
    tx.commit().unwrap();
    let (ids, _) = poller.join().unwrap().unwrap();
    assert_eq!(ids, vec![id]);
}

fn query_cancel_interrupts_the_wait(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let (pid, poller) = waiting_poller(cluster, "lp-cancel", "1 hour");
    assert!(sleeping(&mut admin, pid));
    let cancelled_at = Instant::now();
    admin
        .execute("SELECT pg_cancel_backend($1)", &[&pid])
        .unwrap();
    let error = poller
        .join()
        .unwrap()
        .expect_err("the poll was not cancelled");
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::QUERY_CANCELED)
    );
    assert!(cancelled_at.elapsed() < Duration::from_secs(5));
}

fn statement_timeout_interrupts_the_wait(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute("SET statement_timeout = '300ms'")
        .unwrap();
    let started = Instant::now();
    let error = client
        .query(
            "SELECT id FROM mq_poll('lp-timeout', wait => '1 hour')",
            &[],
        )
        .expect_err("statement_timeout did not end the wait");
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::QUERY_CANCELED)
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

fn batch_publish_and_replay_wake_pollers(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let (pid, poller) = waiting_poller(cluster, "lp-batch", "30 seconds");
    assert!(sleeping(&mut admin, pid));
    admin
        .batch_execute("SELECT mq_publish_batch('lp-batch', ARRAY['1', '2']::jsonb[])")
        .unwrap();
    let committed = Instant::now();
    let (ids, returned) = poller.join().unwrap().unwrap();
    assert_eq!(ids.len(), 2);
    assert!(returned.saturating_duration_since(committed) < Duration::from_millis(300));

    // Two dead letters of another topic, replayed while a poller waits there.
    admin
        .batch_execute(
            "SELECT mq_publish('lp-replay', '{}', max_retries => 0) FROM generate_series(1, 2);
             SELECT mq_fail(id) FROM mq_poll('lp-replay', 10);",
        )
        .unwrap();
    let (pid, poller) = waiting_poller(cluster, "lp-replay", "30 seconds");
    assert!(sleeping(&mut admin, pid));
    admin
        .batch_execute(
            "SELECT mq_replay_batch(array_agg(id)) FROM mq.dead_letters WHERE topic = 'lp-replay'",
        )
        .unwrap();
    let committed = Instant::now();
    let (ids, returned) = poller.join().unwrap().unwrap();
    assert_eq!(ids.len(), 2);
    assert!(returned.saturating_duration_since(committed) < Duration::from_millis(300));
}

fn without_shared_memory_the_wait_still_works(_cluster: &Cluster) {
    let plain = Cluster::start_with("long_poll-plain", &[], false);
    let mut admin = plain.connect();
    let (_, poller) = waiting_poller(&plain, "lp-plain", "30 seconds");
    assert!(wait_until(Duration::from_secs(10), || {
        admin
            .query_opt(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE '%mq_poll%' AND wait_event = 'Extension' AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .is_some()
    }));
    let id: i64 = admin
        .query_one("SELECT mq_publish('lp-plain', '{}')", &[])
        .unwrap()
        .get(0);
    let committed = Instant::now();
    let (ids, returned) = poller.join().unwrap().unwrap();
    assert_eq!(ids, vec![id]);
    // Without wake-ups the poller looks every 50ms.
    assert!(returned.saturating_duration_since(committed) < Duration::from_millis(500));
}
