//! Faults against a live server, and what pg_mq keeps through them: consumers killed at
//! random during a 20,000-message run; the server stopped with `pg_ctl stop -m immediate`
//! under load; the background worker killed with SIGKILL and SIGTERM; replay, cleanup, purge,
//! recovery and polling racing on one topic for 30 seconds.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use pg_mq_live_tests::{
    run_suite, sqlstate, wait_until, worker_pid, Client, Cluster, Connector, Rng,
};
use uuid::Uuid;

fn main() {
    run_suite(
        "faults",
        &[
            // The server-crash test counts on what a COMMIT that returned has written.
            "fsync = on",
            "synchronous_commit = on",
            "pg_mq.recovery_interval = '200ms'",
            "pg_mq.retention_interval = '1s'",
        ],
        &[
            (
                "killed_consumers_lose_nothing",
                killed_consumers_lose_nothing,
            ),
            (
                "an_immediate_server_stop_loses_no_committed_work",
                an_immediate_server_stop_loses_no_committed_work,
            ),
            (
                "recovery_resumes_after_the_worker_is_killed",
                recovery_resumes_after_the_worker_is_killed,
            ),
            (
                "recovery_resumes_after_the_worker_is_terminated",
                recovery_resumes_after_the_worker_is_terminated,
            ),
            (
                "replay_cleanup_purge_recovery_and_polling_race_safely",
                replay_cleanup_purge_recovery_and_polling_race_safely,
            ),
        ],
    );
}

/// Publishes `count` messages to `topic` in batches; returns their ids.
fn publish_many(client: &mut Client, topic: &str, count: usize, max_retries: i32) -> Vec<i64> {
    let mut ids = Vec::with_capacity(count);
    while ids.len() < count {
        let n = (count - ids.len()).min(1_000) as i32;
        let rows = client
            .query(
                "SELECT mq_publish_batch($1, array_agg(jsonb_build_object('n', g)), \
                                         max_retries => $3) \
                 FROM generate_series(1, $2) g",
                &[&topic, &n, &max_retries],
            )
            .unwrap();
        ids.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    }
    ids
}

fn count(client: &mut Client, sql: &str, topic: &str) -> i64 {
    client.query_one(sql, &[&topic]).unwrap().get(0)
}

// ---------------------------------------------------------------------------------------------
// 1. Consumer crash

#[derive(Default)]
struct Ledger {
    /// Deliveries seen by consumers, per message.
    deliveries: HashMap<i64, u32>,
    /// mq_complete calls that returned true, per message.
    acks: HashMap<i64, u32>,
    /// Messages whose mq_complete call was cut off (its outcome unknown to the consumer).
    uncertain: HashSet<i64>,
}

/// A consumer that survives being killed: on any error it reconnects and goes on. Odd ones
/// acknowledge each message with its lease in autocommit; even ones poll and complete the
/// whole batch in one explicit transaction.
fn crash_consumer(cluster: &Connector, n: usize, ledger: &Mutex<Ledger>, stop: &AtomicBool) {
    let per_message = n % 2 == 1;
    while !stop.load(Ordering::Relaxed) {
        let mut client = cluster.connect_retrying("crash-consumer");
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let outcome = if per_message {
                consume_per_message(&mut client, ledger)
            } else {
                consume_in_transaction(&mut client, ledger)
            };
            if outcome.is_err() {
                break; // killed: reconnect
            }
        }
    }
}

fn consume_per_message(client: &mut Client, ledger: &Mutex<Ledger>) -> Result<(), postgres::Error> {
    let rows = client.query(
        "SELECT id, lease FROM mq_poll('crash', 20, lock_timeout => '1 second', wait => '200 milliseconds')",
        &[],
    )?;
    let batch: Vec<(i64, Uuid)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    {
        let mut ledger = ledger.lock().unwrap();
        for (id, _) in &batch {
            *ledger.deliveries.entry(*id).or_default() += 1;
        }
    }
    for (id, lease) in batch {
        match client.query_one("SELECT mq_complete($1, $2)", &[&id, &lease]) {
            Ok(row) => {
                if row.get::<_, bool>(0) {
                    *ledger.lock().unwrap().acks.entry(id).or_default() += 1;
                }
            }
            Err(e) => {
                ledger.lock().unwrap().uncertain.insert(id);
                return Err(e);
            }
        }
    }
    Ok(())
}

fn consume_in_transaction(
    client: &mut Client,
    ledger: &Mutex<Ledger>,
) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    let rows = tx.query(
        "SELECT id, lease FROM mq_poll('crash', 20, lock_timeout => '1 second', wait => '200 milliseconds')",
        &[],
    )?;
    let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    let leases: Vec<uuid::Uuid> = rows.iter().map(|r| r.get(1)).collect();
    if ids.is_empty() {
        return tx.commit();
    }
    let done: i64 = tx
        .query_one(
            "SELECT count(status) FROM mq_complete_batch($1, $2)",
            &[&ids, &leases],
        )?
        .get(0);
    assert_eq!(done as usize, ids.len(), "a claimed batch completes whole");
    match tx.commit() {
        Ok(()) => {
            let mut ledger = ledger.lock().unwrap();
            for id in ids {
                *ledger.deliveries.entry(id).or_default() += 1;
                *ledger.acks.entry(id).or_default() += 1;
            }
            Ok(())
        }
        Err(e) => {
            let mut ledger = ledger.lock().unwrap();
            for id in ids {
                *ledger.deliveries.entry(id).or_default() += 1;
                ledger.uncertain.insert(id);
            }
            Err(e)
        }
    }
}

fn killed_consumers_lose_nothing(cluster: &Cluster) {
    const MESSAGES: usize = 20_000;
    const CONSUMERS: usize = 6;
    let mut admin = cluster.connect();
    let published = publish_many(&mut admin, "crash", MESSAGES, 10);
    assert_eq!(published.len(), MESSAGES);

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU64::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|n| {
            let (cluster, ledger, stop) = (cluster.connector(), ledger.clone(), stop.clone());
            thread::spawn(move || crash_consumer(&cluster, n, &ledger, &stop))
        })
        .collect();
    let killer = {
        let (cluster, stop, kills) = (cluster.connector(), stop.clone(), kills.clone());
        thread::spawn(move || {
            let mut rng = Rng::from_env("consumer kills");
            let mut client = cluster.connect();
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(rng.between(20, 120)));
                let killed: i64 = client
                    .query_one(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM \
                         (SELECT pid FROM pg_stat_activity WHERE application_name = 'crash-consumer' \
                          ORDER BY random() LIMIT 1) victim",
                        &[],
                    )
                    .unwrap()
                    .get(0);
                kills.fetch_add(killed as u64, Ordering::Relaxed);
            }
        })
    };

    let settled = wait_until(Duration::from_secs(240), || {
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = $1 AND status IN ('COMPLETED', 'FAILED')",
            "crash",
        ) == MESSAGES as i64
    });
    stop.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    for consumer in consumers {
        consumer.join().unwrap();
    }
    assert!(settled, "not every message was settled within 4 minutes");

    let ledger = ledger.lock().unwrap();
    let rows = admin
        .query(
            "SELECT m.id, m.status, \
                    (SELECT count(*) FROM mq.dead_letters d WHERE d.original_id = m.id), \
                    (SELECT count(*) FROM mq.traces t \
                      WHERE t.trace_id = m.trace_id AND t.message_id = m.id AND t.event = 'COMPLETED') \
             FROM mq.messages m WHERE m.topic = 'crash'",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), MESSAGES, "messages appeared or vanished");
    let mut problems = Vec::new();
    let mut dead = 0;
    for row in &rows {
        let (id, status): (i64, String) = (row.get(0), row.get(1));
        let (dead_letters, completed_events): (i64, i64) = (row.get(2), row.get(3));
        let acks = ledger.acks.get(&id).copied().unwrap_or(0);
        match status.as_str() {
            "COMPLETED" => {
                if completed_events != 1 {
                    problems.push(format!("{id}: {completed_events} COMPLETED events"));
                }
                if acks > 1 || (acks == 0 && !ledger.uncertain.contains(&id)) {
                    problems.push(format!("{id}: completed, acknowledged {acks} times"));
                }
            }
            "FAILED" => {
                dead += 1;
                if dead_letters != 1 || acks != 0 {
                    problems.push(format!(
                        "{id}: FAILED with {dead_letters} dead letters, {acks} acks"
                    ));
                }
            }
            other => problems.push(format!("{id}: {other}")),
        }
    }
    let published: HashSet<i64> = published.into_iter().collect();
    let present: HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(published, present, "published and present messages differ");
    assert!(
        problems.is_empty(),
        "{}",
        problems[..problems.len().min(20)].join("\n")
    );

    let kills = kills.load(Ordering::Relaxed);
    let deliveries: u32 = ledger.deliveries.values().sum();
    let duplicates = deliveries as usize - ledger.deliveries.len();
    println!(
        "  {MESSAGES} messages, {kills} consumers killed, {deliveries} deliveries seen, \
         {duplicates} duplicate deliveries, {} completions cut off, {dead} dead-lettered",
        ledger.uncertain.len()
    );
    assert!(kills >= 10, "only {kills} kills: the fault did not happen");
}

// ---------------------------------------------------------------------------------------------
// 2. Server crash

fn an_immediate_server_stop_loses_no_committed_work(cluster: &Cluster) {
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(Mutex::new(Vec::<i64>::new()));
    let completed = Arc::new(Mutex::new(Vec::<i64>::new()));

    let producers: Vec<_> = (0..3)
        .map(|p| {
            let (cluster, stop, published) = (cluster.connector(), stop.clone(), published.clone());
            thread::spawn(move || {
                let mut client = cluster.connect();
                let mut n = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let payload = serde_json::json!({"producer": p, "n": n});
                    match client.query_one("SELECT mq_publish('srvcrash', $1)", &[&payload]) {
                        Ok(row) => published.lock().unwrap().push(row.get(0)),
                        Err(_) => return, // the server went away
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (cluster, stop, completed) =
                (cluster.connector(), stop.clone(), completed.clone());
            thread::spawn(move || {
                let mut client = cluster.connect();
                while !stop.load(Ordering::Relaxed) {
                    let Ok(rows) = client.query(
                        "SELECT id, lease FROM mq_poll('srvcrash', 10, lock_timeout => '2 seconds')",
                        &[],
                    ) else {
                        return;
                    };
                    for row in rows {
                        let (id, lease): (i64, Uuid) = (row.get(0), row.get(1));
                        match client.query_one("SELECT mq_complete($1, $2)", &[&id, &lease]) {
                            Ok(done) if done.get::<_, bool>(0) => {
                                completed.lock().unwrap().push(id)
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                }
            })
        })
        .collect();

    // Let the load run, make sure some messages are in flight, then pull the plug.
    let mut holder = cluster.connect();
    assert!(wait_until(Duration::from_secs(30), || {
        published.lock().unwrap().len() > 2_000 && completed.lock().unwrap().len() > 500
    }));
    let held: Vec<i64> = holder
        .query(
            "SELECT id FROM mq_poll('srvcrash', 5, lock_timeout => '2 seconds')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!held.is_empty());
    cluster.stop("immediate");
    stop.store(true, Ordering::Relaxed);
    for handle in producers.into_iter().chain(consumers) {
        handle.join().unwrap();
    }
    drop(holder);
    cluster.start_again();

    let published = published.lock().unwrap().clone();
    let completed = completed.lock().unwrap().clone();
    let mut admin = cluster.connector().connect_retrying("crash-check");
    // Every publish whose COMMIT returned is there; every acknowledged completion stuck.
    let present: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE id = ANY($1)",
            &[&published],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        present as usize,
        published.len(),
        "acknowledged publishes were lost"
    );
    let still_completed: i64 = admin
        .query_one(
            "SELECT count(*) FROM mq.messages WHERE id = ANY($1) AND status = 'COMPLETED'",
            &[&completed],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        still_completed as usize,
        completed.len(),
        "acknowledged completions were lost"
    );
    let completed_at_restart: HashSet<i64> = admin
        .query(
            "SELECT id FROM mq.messages WHERE topic = 'srvcrash' AND status = 'COMPLETED'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let in_flight: Vec<i64> = admin
        .query(
            "SELECT id FROM mq.messages WHERE topic = 'srvcrash' AND status = 'PROCESSING'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        held.iter().all(|id| in_flight.contains(id)),
        "messages held at the crash are in flight after it"
    );
    // Their trace ends with the attempt in flight, read from the message itself.
    for id in &held {
        let chain = chain_of(&mut admin, *id);
        assert_eq!(
            chain.last().map(|(e, _)| e.as_str()),
            Some("PROCESSING"),
            "message {id} held at the crash: {chain:?}"
        );
    }

    // The restarted worker returns the in-flight messages once their locks expire.
    assert!(
        wait_until(Duration::from_secs(30), || {
            let recovered: i64 = admin
                .query_one(
                    "SELECT count(DISTINCT message_id) FROM mq.traces \
                     WHERE event = 'RECOVERED' AND message_id = ANY($1)",
                    &[&in_flight],
                )
                .unwrap()
                .get(0);
            recovered as usize == in_flight.len()
        }),
        "the worker did not recover the in-flight messages:\n{}",
        cluster.log()
    );

    // Drain: nothing completed before the crash is delivered again.
    let total: i64 = count(
        &mut admin,
        "SELECT count(*) FROM mq.messages WHERE topic = $1",
        "srvcrash",
    );
    let mut redelivered = Vec::new();
    let drained = wait_until(Duration::from_secs(60), || {
        let rows = admin
            .query("SELECT id, lease FROM mq_poll('srvcrash', 100)", &[])
            .unwrap();
        for row in rows {
            let (id, lease): (i64, Uuid) = (row.get(0), row.get(1));
            if completed_at_restart.contains(&id) {
                redelivered.push(id);
            }
            admin
                .query_one("SELECT mq_complete($1, $2)", &[&id, &lease])
                .unwrap();
        }
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = $1 AND status = 'COMPLETED'",
            "srvcrash",
        ) == total
    });
    assert!(
        redelivered.is_empty(),
        "completed messages delivered again: {redelivered:?}"
    );
    assert!(drained, "the queue did not drain after the restart");
    // Every message in flight at the crash has its whole chain: published, then each attempt's
    // PROCESSING (numbered from 1) followed by what ended it, the last one completed.
    for id in &in_flight {
        let chain = chain_of(&mut admin, *id);
        let problem = || format!("message {id}: {chain:?}");
        assert_eq!(chain[0].0, "PUBLISHED", "{}", problem());
        let attempts: Vec<&[(String, Option<i32>)]> = chain[1..].chunks(2).collect();
        assert!(attempts.len() >= 2, "{}", problem());
        for (n, pair) in attempts.iter().enumerate() {
            assert_eq!(pair.len(), 2, "{}", problem());
            assert_eq!(
                (pair[0].0.as_str(), pair[0].1),
                ("PROCESSING", Some(n as i32 + 1)),
                "{}",
                problem()
            );
            let end = if n + 1 == attempts.len() {
                "COMPLETED"
            } else {
                "RECOVERED"
            };
            assert_eq!(pair[1].0, end, "{}", problem());
        }
    }
    println!(
        "  {} publishes and {} completions acknowledged before the crash, {} in flight at it",
        published.len(),
        completed.len(),
        in_flight.len()
    );
}

/// The events of message `id`'s trace (its own), each with its attempt number if it has one.
fn chain_of(client: &mut Client, id: i64) -> Vec<(String, Option<i32>)> {
    client
        .query(
            "SELECT t.event, (t.detail ->> 'attempt')::int \
             FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = $1)) t \
             WHERE t.message_id = $1",
            &[&id],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 3. Worker crash

/// Publishes a message to `topic` and abandons it: polled with a 1 s lock, never answered.
fn abandon(client: &mut Client, topic: &str) -> i64 {
    client
        .batch_execute(&format!("SELECT mq_publish('{topic}', '{{}}')"))
        .unwrap();
    client
        .query_one(
            "SELECT id FROM mq_poll($1, 1, lock_timeout => '1 second')",
            &[&topic],
        )
        .unwrap()
        .get(0)
}

fn recovered(client: &mut Client, id: i64) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM mq.traces WHERE message_id = $1 AND event = 'RECOVERED')",
            &[&id],
        )
        .unwrap()
        .get(0)
}

fn signal(pid: i32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

/// The worker's pid once it runs and differs from `old`, asked over sessions that are
/// reopened whenever a crash restart closes them.
fn new_worker_pid(cluster: &Cluster, old: i32) -> Option<i32> {
    let connector = cluster.connector();
    let mut client: Option<Client> = None;
    let mut found = None;
    wait_until(Duration::from_secs(60), || {
        let session = client.get_or_insert_with(|| connector.connect_retrying("worker-watch"));
        match session.query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_mq worker' \
             AND datname = current_database()",
            &[],
        ) {
            Ok(row) => {
                found = row.map(|r| r.get::<_, i32>(0)).filter(|pid| *pid != old);
                found.is_some()
            }
            Err(_) => {
                client = None;
                false
            }
        }
    });
    found
}

fn recovery_resumes_after_the_worker_is_killed(cluster: &Cluster) {
    let mut client = cluster.connect();
    let id = abandon(&mut client, "worker-kill");
    let pid = worker_pid(&mut client).expect("the worker runs");
    drop(client);
    // SIGKILL: the postmaster treats it as a crash, restarts every backend, then the worker.
    signal(pid, "-KILL");
    assert!(
        new_worker_pid(cluster, pid).is_some(),
        "the worker did not come back:\n{}",
        cluster.log()
    );
    let mut client = cluster.connector().connect_retrying("after-kill");
    assert!(
        wait_until(Duration::from_secs(15), || recovered(&mut client, id)),
        "no recovery after the worker was killed:\n{}",
        cluster.log()
    );
    assert!(cluster.log().contains("terminated by signal 9"));
}

fn recovery_resumes_after_the_worker_is_terminated(cluster: &Cluster) {
    let pid = new_worker_pid(cluster, 0).expect("the worker runs");
    let mut client = cluster.connect();
    // SIGTERM: the worker exits on its own and the postmaster starts it again after its
    // restart delay; other sessions are not disturbed.
    signal(pid, "-TERM");
    let id = abandon(&mut client, "worker-term");
    assert!(
        new_worker_pid(cluster, pid).is_some(),
        "the worker did not come back:\n{}",
        cluster.log()
    );
    assert!(
        wait_until(Duration::from_secs(15), || recovered(&mut client, id)),
        "no recovery after the worker was terminated:\n{}",
        cluster.log()
    );
    // The session opened before the signal is still there: no crash restart.
    client.batch_execute("SELECT 1").unwrap();
}

// ---------------------------------------------------------------------------------------------
// 4. Races

#[derive(Default)]
struct RaceLedger {
    /// Ids of messages published or replayed.
    created: Vec<i64>,
    completed: u64,
    failed: u64,
    errors: Vec<String>,
}

fn race_loop(
    cluster: &Connector,
    name: &'static str,
    stop: &AtomicBool,
    ledger: &Mutex<RaceLedger>,
    mut step: impl FnMut(&mut Client, &mut Rng, &Mutex<RaceLedger>) -> Result<(), postgres::Error>,
) {
    let mut client = cluster.connect();
    let mut rng = Rng::seeded(name.len() as u64 * 7919 + 1);
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = step(&mut client, &mut rng, ledger) {
            ledger
                .lock()
                .unwrap()
                .errors
                .push(format!("{name}: {} {e}", sqlstate(&e)));
        }
    }
}

fn replay_cleanup_purge_recovery_and_polling_race_safely(cluster: &Cluster) {
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(RaceLedger::default()));
    let mut threads = Vec::new();
    let mut spawn = |name: &'static str,
                     step: fn(
        &mut Client,
        &mut Rng,
        &Mutex<RaceLedger>,
    ) -> Result<(), postgres::Error>| {
        let (cluster, stop, ledger) = (cluster.connector(), stop.clone(), ledger.clone());
        threads.push(thread::spawn(move || {
            race_loop(&cluster, name, &stop, &ledger, step)
        }));
    };
    spawn("producer-1", race_publish);
    spawn("producer-2", race_publish);
    spawn("consumer-1", race_consume);
    spawn("consumer-2", race_consume);
    spawn("consumer-3", race_consume);
    spawn("replayer", race_replay);
    spawn("cleaner", race_cleanup);
    spawn("purger", race_purge);
    spawn("recoverer", race_recover);
    thread::sleep(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    for handle in threads {
        handle.join().unwrap();
    }
    let ledger = ledger.lock().unwrap();
    assert!(
        ledger.errors.is_empty(),
        "errors reached callers:\n{}",
        ledger.errors[..ledger.errors.len().min(20)].join("\n")
    );

    let mut admin = cluster.connect();
    // Messages abandoned at the end come back once their locks expire; after that nothing
    // changes any more (the worker finds nothing to recover) and the history can be read.
    assert!(wait_until(Duration::from_secs(30), || {
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = $1 AND status = 'PROCESSING'",
            "race",
        ) == 0
    }));
    let problems = check_race_history(&mut admin, &ledger);
    assert!(
        problems.is_empty(),
        "{}",
        problems[..problems.len().min(30)].join("\n")
    );
}

fn race_publish(
    client: &mut Client,
    rng: &mut Rng,
    ledger: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    let n = rng.between(1, 20) as i32;
    let rows = client.query(
        "SELECT mq_publish_batch('race', array_agg(jsonb_build_object('n', g)), max_retries => 1) \
         FROM generate_series(1, $1) g",
        &[&n],
    )?;
    ledger
        .lock()
        .unwrap()
        .created
        .extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    thread::sleep(Duration::from_millis(rng.between(2, 10)));
    Ok(())
}

fn race_consume(
    client: &mut Client,
    rng: &mut Rng,
    ledger: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    let rows = client.query(
        "SELECT id, lease FROM mq_poll('race', 10, lock_timeout => '300 milliseconds', wait => '100 milliseconds')",
        &[],
    )?;
    let mut to_complete = Vec::new();
    for row in rows {
        let (id, lease): (i64, Uuid) = (row.get(0), row.get(1));
        match rng.between(0, 100) {
            0..=49 => {
                let done: bool = client
                    .query_one("SELECT mq_complete($1, $2)", &[&id, &lease])?
                    .get(0);
                if done {
                    ledger.lock().unwrap().completed += 1;
                }
            }
            50..=64 => to_complete.push((id, lease)),
            65..=89 => {
                let outcome: Option<String> = client
                    .query_one("SELECT mq_fail($1, 'race', $2)", &[&id, &lease])?
                    .get(0);
                if outcome.is_some() {
                    ledger.lock().unwrap().failed += 1;
                }
            }
            _ => {} // abandoned: its lock expires and recovery takes it back
        }
    }
    if !to_complete.is_empty() {
        let (ids, leases): (Vec<i64>, Vec<Uuid>) = to_complete.into_iter().unzip();
        let done: i64 = client
            .query_one(
                "SELECT count(status) FROM mq_complete_batch($1, $2)",
                &[&ids, &leases],
            )?
            .get(0);
        ledger.lock().unwrap().completed += done as u64;
    }
    Ok(())
}

fn race_replay(
    client: &mut Client,
    rng: &mut Rng,
    ledger: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    if rng.chance(70) {
        let rows = client.query(
            "SELECT * FROM mq_replay_batch(ARRAY(SELECT id FROM mq.dead_letters \
              WHERE topic = 'race' AND NOT replayed ORDER BY random() LIMIT 20))",
            &[],
        )?;
        ledger
            .lock()
            .unwrap()
            .created
            .extend(rows.iter().map(|r| r.get::<_, i64>(0)));
    } else {
        // A single replay of any dead letter, replayed or not: the documented refusals are
        // answers, not failures.
        let target: Option<i64> = client
            .query_one(
                "SELECT (SELECT id FROM mq.dead_letters WHERE topic = 'race' ORDER BY random() LIMIT 1)",
                &[],
            )?
            .get(0);
        if let Some(target) = target {
            match client.query_one("SELECT mq_replay($1::bigint)", &[&target]) {
                Ok(row) => ledger.lock().unwrap().created.push(row.get(0)),
                Err(e) if matches!(sqlstate(&e), "55000" | "P0002") => {}
                Err(e) => return Err(e),
            }
        }
    }
    thread::sleep(Duration::from_millis(rng.between(10, 60)));
    Ok(())
}

fn race_cleanup(
    client: &mut Client,
    rng: &mut Rng,
    _: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    client.batch_execute(
        "SELECT mq_cleanup('COMPLETED', '0 seconds'); SELECT mq_cleanup('FAILED', '0 seconds')",
    )?;
    thread::sleep(Duration::from_millis(rng.between(20, 150)));
    Ok(())
}

fn race_purge(
    client: &mut Client,
    rng: &mut Rng,
    _: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    thread::sleep(Duration::from_millis(rng.between(200, 800)));
    client.batch_execute("SELECT mq_purge('race')")
}

fn race_recover(
    client: &mut Client,
    rng: &mut Rng,
    _: &Mutex<RaceLedger>,
) -> Result<(), postgres::Error> {
    client.batch_execute("SELECT mq_recover()")?;
    thread::sleep(Duration::from_millis(rng.between(10, 80)));
    Ok(())
}

/// Replays every message's trace against the lifecycle and compares the outcome with the
/// tables and the counters; returns what does not add up.
fn check_race_history(admin: &mut Client, ledger: &RaceLedger) -> Vec<String> {
    let mut problems = Vec::new();
    let status: HashMap<i64, String> = admin
        .query(
            "SELECT id, status FROM mq.messages WHERE topic = 'race'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // Every event of the topic, as mq_traces lists them (page by page, newest first).
    let mut histories: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for page in 1.. {
        let rows = admin
            .query(
                "SELECT message_id, id, event FROM mq_traces('race', page => $1, page_size => 10000)",
                &[&page],
            )
            .unwrap();
        if rows.is_empty() {
            break;
        }
        for row in rows {
            histories
                .entry(row.get(0))
                .or_default()
                .push((row.get(1), row.get(2)));
        }
    }
    let mut traced = HashSet::new();
    let (mut completed_events, mut failed_events, mut dead_events, mut replay_events) =
        (0, 0, 0, 0);
    for (id, mut rows) in histories {
        rows.sort();
        let events: Vec<String> = rows.into_iter().map(|(_, event)| event).collect();
        traced.insert(id);
        let mut state = "none";
        for event in &events {
            let next = match (state, event.as_str()) {
                ("none", "PUBLISHED" | "REPLAYED") => "PENDING",
                ("PENDING", "PROCESSING") => "PROCESSING",
                ("PENDING", "PURGED") => "deleted",
                ("PROCESSING", "COMPLETED") => "COMPLETED",
                ("PROCESSING", "FAILED" | "RECOVERED") => "PENDING?",
                ("PENDING?", "DEAD_LETTERED") => "FAILED",
                ("PENDING?", "PROCESSING") => "PROCESSING",
                ("PENDING?", "PURGED") => "deleted",
                _ => {
                    problems.push(format!("message {id}: {event} after {state} in {events:?}"));
                    break;
                }
            };
            state = next;
        }
        completed_events += events.iter().filter(|e| *e == "COMPLETED").count();
        failed_events += events
            .iter()
            .filter(|e| *e == "FAILED" || *e == "RECOVERED")
            .count();
        dead_events += events.iter().filter(|e| *e == "DEAD_LETTERED").count();
        replay_events += events.iter().filter(|e| *e == "REPLAYED").count();
        let state = if state == "PENDING?" {
            "PENDING"
        } else {
            state
        };
        match status.get(&id).map(String::as_str) {
            Some(actual) if actual == state => {}
            // A retry waits out its backoff as SCHEDULED.
            Some("SCHEDULED") if state == "PENDING" => {}
            // Cleanup removes finished messages.
            None if matches!(state, "COMPLETED" | "FAILED" | "deleted") => {}
            actual => problems.push(format!(
                "message {id}: trace ends {state}, table says {actual:?} ({events:?})"
            )),
        }
    }
    for id in &ledger.created {
        if !traced.contains(id) {
            problems.push(format!("message {id} was created but has no trace"));
        }
    }
    let created: HashSet<i64> = ledger.created.iter().copied().collect();
    for id in status.keys() {
        if !created.contains(id) {
            problems.push(format!("message {id} exists but no caller created it"));
        }
    }

    // Dead letters: one per DEAD_LETTERED event, each replayed at most once.
    let row = admin
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE replayed), \
                    count(DISTINCT replayed_message_id), count(DISTINCT original_id) \
             FROM mq.dead_letters WHERE topic = 'race'",
            &[],
        )
        .unwrap();
    let (dead_letters, replayed, distinct_replays, distinct_originals): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if dead_letters as usize != dead_events || distinct_originals != dead_letters {
        problems.push(format!(
            "{dead_letters} dead letters for {distinct_originals} messages, {dead_events} DEAD_LETTERED events"
        ));
    }
    if replayed != distinct_replays || replayed as usize != replay_events {
        problems.push(format!(
            "{replayed} replayed dead letters, {distinct_replays} distinct new messages, {replay_events} REPLAYED events"
        ));
    }

    // Counters add up to the callers' answers and to the trace.
    let row = admin
        .query_one(
            "SELECT consumed_total, failed_total, dead_letter_total FROM mq_metrics() WHERE topic = 'race'",
            &[],
        )
        .unwrap();
    let (consumed, failed, dead): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    if consumed as u64 != ledger.completed || consumed as usize != completed_events {
        problems.push(format!(
            "consumed_total {consumed}, callers completed {}, {completed_events} COMPLETED events",
            ledger.completed
        ));
    }
    if (failed as usize) != failed_events || (failed as u64) < ledger.failed {
        problems.push(format!(
            "failed_total {failed}, callers failed {}, {failed_events} FAILED/RECOVERED events",
            ledger.failed
        ));
    }
    if dead != dead_letters {
        problems.push(format!(
            "dead_letter_total {dead}, {dead_letters} dead letters"
        ));
    }
    println!(
        "  race: {} messages created, {} completed, {} failed by callers, {failed} failures counted, \
         {dead_letters} dead letters ({replayed} replayed)",
        ledger.created.len(),
        ledger.completed,
        ledger.failed
    );
    problems
}
