//! pg_mq at scale, against live servers: scheduled messages and retries are delivered within a
//! second of their due time (with the worker and without it), the maintained metrics equal what
//! counting the tables says after a workload of every kind of change, and every database with
//! pg_mq gets a worker — one created after the server started, one restored with pg_restore —
//! while a database beyond the worker slots still has its locks recovered by its polls.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, wait_until, worker_pid, Client, Cluster, NoTls, Rng};
use postgres::GenericClient;

const RECOVERY_INTERVAL: Duration = Duration::from_millis(500);

fn main() {
    run_suite(
        "scale",
        &[
            "pg_mq.recovery_interval = '500ms'",
            "max_worker_processes = 12",
        ],
        &[
            (
                "scheduled_messages_are_delivered_within_a_second",
                scheduled_messages_are_delivered_within_a_second,
            ),
            (
                "without_the_worker_polls_deliver_scheduled_messages_on_time",
                without_the_worker_polls_deliver_scheduled_messages_on_time,
            ),
            (
                "metrics_equal_the_counted_tables_after_every_kind_of_change",
                metrics_equal_the_counted_tables_after_every_kind_of_change,
            ),
            (
                "every_database_gets_its_locks_recovered",
                every_database_gets_its_locks_recovered,
            ),
            (
                "out_of_worker_slots_polls_recover_their_topic",
                out_of_worker_slots_polls_recover_their_topic,
            ),
        ],
    );
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Publishes `n` messages due 0.3..2.3 s from now, and as many that fail once with a retry
/// due 0.3..2.3 s after the failure, to `topic`; consumes them with a long-poll and returns,
/// for each delivery, how late it came after its due time.
fn lateness(cluster: &Cluster, topic: &str, n: i64) -> Vec<Duration> {
    let mut producer = cluster.connect();
    producer
        .execute(
            "SELECT mq_publish($1, jsonb_build_object('n', g, 'kind', 'scheduled'), \
                    delay => (300 + g * 2000 / $2) * interval '1 millisecond') \
             FROM generate_series(1, $2::bigint) g",
            &[&topic, &n],
        )
        .unwrap();
    producer
        .execute(
            "SELECT mq_publish($1, jsonb_build_object('n', g, 'kind', 'retry')) \
             FROM generate_series(1, $2::bigint) g",
            &[&topic, &n],
        )
        .unwrap();
    let mut consumer = cluster.connect();
    let mut late = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut done = 0;
    while done < 2 * n && Instant::now() < deadline {
        let rows = consumer
            .query(
                "SELECT p.id, p.lease, p.retry_count, p.payload ->> 'kind', \
                        extract(epoch FROM clock_timestamp() - coalesce(m.next_retry_at, m.execute_at))::float8 \
                 FROM mq_poll($1, 100, wait => '1 second') p JOIN mq.messages m USING (id)",
                &[&topic],
            )
            .unwrap();
        for row in rows {
            let (id, lease, retries, kind, seconds): (i64, uuid::Uuid, i32, String, f64) =
                (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
            if kind == "retry" && retries == 0 {
                // The first delivery fails, with a retry due a moment later.
                let delay = format!("{} milliseconds", 300 + (id % 2000));
                consumer
                    .execute(
                        "SELECT mq_fail($1, 'again later', $2, retry_in => $3::text::interval)",
                        &[&id, &lease, &delay],
                    )
                    .unwrap();
                continue;
            }
            late.push(Duration::from_secs_f64(seconds.max(0.0)));
            consumer
                .execute("SELECT mq_complete($1, $2)", &[&id, &lease])
                .unwrap();
            done += 1;
        }
    }
    assert_eq!(done, 2 * n, "not every message was delivered in time");
    late
}

fn assert_on_time(late: &mut [Duration]) {
    late.sort();
    let p99 = late[late.len() * 99 / 100 - 1];
    let worst = *late.last().unwrap();
    println!("  lateness after the due time: p99 {p99:?}, worst {worst:?}");
    assert!(p99 < Duration::from_secs(1), "p99 {p99:?}");
}

fn scheduled_messages_are_delivered_within_a_second(cluster: &Cluster) {
    let mut late = lateness(cluster, "on-time", 100);
    assert_on_time(&mut late);
}

fn without_the_worker_polls_deliver_scheduled_messages_on_time(_cluster: &Cluster) {
    let plain = Cluster::start_with("scale-plain", &[], false);
    let mut late = lateness(&plain, "on-time-plain", 100);
    assert_on_time(&mut late);
    // mq_health says there is no worker, as a warning: polls do its work.
    assert_eq!(worker_health(&mut plain.connect()), "warn");
}

/// What counting the tables says, per topic: (topic, pending, delayed, processing, dead
/// letters not replayed).
fn counted(client: &mut impl GenericClient) -> Vec<(String, i64, i64, i64, i64)> {
    client
        .query(
            "SELECT t.topic, \
                    count(*) FILTER (WHERE m.status = 'PENDING'), \
                    count(*) FILTER (WHERE m.status = 'SCHEDULED'), \
                    count(*) FILTER (WHERE m.status = 'PROCESSING'), \
                    (SELECT count(*) FROM mq.dead_letters d WHERE d.topic = t.topic AND NOT d.replayed) \
             FROM (SELECT DISTINCT topic FROM mq.metric_totals UNION SELECT DISTINCT topic FROM mq.metric_counts) t \
             LEFT JOIN mq.messages m ON m.topic = t.topic \
             WHERE t.topic LIKE 'exact-%' \
             GROUP BY t.topic ORDER BY t.topic",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// What the metrics say, per topic, in the same layout.
fn reported(client: &mut impl GenericClient) -> Vec<(String, i64, i64, i64, i64)> {
    client
        .query(
            "SELECT topic, pending, delayed, processing, dead_letters FROM mq_metrics() \
             WHERE topic LIKE 'exact-%' ORDER BY topic",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect()
}

/// The metrics and the counted tables, read in one snapshot (the worker promotes, recovers
/// and folds meanwhile).
type Gauges = Vec<(String, i64, i64, i64, i64)>;

fn reported_and_counted(client: &mut Client) -> (Gauges, Gauges) {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    let both = (reported(&mut tx), counted(&mut tx));
    tx.commit().unwrap();
    both
}

/// Counters against the trace: completions, failed deliveries, dead letters.
fn counters_match_the_trace(client: &mut Client) {
    let rows = client
        .query(
            "SELECT m.topic, m.consumed_total, m.failed_total, m.dead_letter_total, \
                    (SELECT count(*) FROM mq.traces t WHERE t.topic = m.topic AND t.event = 'COMPLETED'), \
                    (SELECT count(*) FROM mq.traces t WHERE t.topic = m.topic AND t.event IN ('FAILED', 'RECOVERED')), \
                    (SELECT count(*) FROM mq.traces t WHERE t.topic = m.topic AND t.event = 'DEAD_LETTERED') \
             FROM mq_metrics() m WHERE m.topic LIKE 'exact-%'",
            &[],
        )
        .unwrap();
    for row in rows {
        let topic: String = row.get(0);
        let (c, f, d): (i64, i64, i64) = (row.get(1), row.get(2), row.get(3));
        let (tc, tf, td): (i64, i64, i64) = (row.get(4), row.get(5), row.get(6));
        assert_eq!((c, f, d), (tc, tf, td), "{topic}: counters vs trace");
    }
}

fn metrics_equal_the_counted_tables_after_every_kind_of_change(cluster: &Cluster) {
    let mut rng = Rng::from_env("exact metrics");
    let mut client = cluster.connect();
    client
        .batch_execute("SET pg_mq.retry_base_delay = '200ms'; SET pg_mq.retry_max_delay = '400ms'")
        .unwrap();
    let topics = ["exact-a", "exact-b", "exact-c"];
    for round in 0..300_i32 {
        let topic = topics[rng.between(0, 3) as usize];
        match rng.between(0, 12) {
            0..=2 => {
                let n = rng.between(1, 20) as i64;
                let delay = if rng.chance(30) { "1 second" } else { "0" };
                client
                    .execute(
                        "SELECT mq_publish_batch($1, array_agg(jsonb_build_object('n', g)), \
                                max_retries => ($3 % 3)::int, delay => $4::text::interval) \
                         FROM generate_series(1, $2::bigint) g",
                        &[&topic, &n, &round, &delay],
                    )
                    .unwrap();
            }
            3..=4 => {
                // Claim and complete some, fail some, abandon some (short locks).
                let rows = client
                    .query(
                        "SELECT id, lease FROM mq_poll($1, 10, lock_timeout => '300 milliseconds')",
                        &[&topic],
                    )
                    .unwrap();
                for row in rows {
                    let (id, lease): (i64, uuid::Uuid) = (row.get(0), row.get(1));
                    match rng.between(0, 3) {
                        0 => {
                            client
                                .execute("SELECT mq_complete($1, $2)", &[&id, &lease])
                                .unwrap();
                        }
                        1 => {
                            client
                                .execute("SELECT mq_fail($1, 'x', $2)", &[&id, &lease])
                                .unwrap();
                        }
                        _ => {} // abandoned: recovered by the worker
                    }
                }
            }
            5 => {
                client
                    .batch_execute(&format!(
                        "SELECT mq_replay_batch(ARRAY(SELECT id FROM mq.dead_letters \
                           WHERE topic = '{topic}' AND NOT replayed LIMIT 3))"
                    ))
                    .unwrap();
            }
            6 => {
                if rng.chance(20) {
                    client.execute("SELECT mq_purge($1)", &[&topic]).unwrap();
                }
            }
            7 => {
                client
                    .batch_execute(
                        "SELECT mq_cleanup('COMPLETED', '0'); SELECT mq_cleanup('FAILED', '0')",
                    )
                    .unwrap();
            }
            8 => {
                client
                    .batch_execute("SELECT mq_recover(); SELECT mq_promote()")
                    .unwrap();
            }
            9 => {
                // A transaction that changes messages and rolls back counts nothing.
                let mut tx = client.transaction().unwrap();
                tx.execute("SELECT mq_publish($1, '{}')", &[&topic])
                    .unwrap();
                tx.query("SELECT id FROM mq_poll($1, 5)", &[&topic])
                    .unwrap();
                tx.rollback().unwrap();
            }
            10 => {
                client.batch_execute("SELECT mq_metrics_sample()").unwrap();
            }
            _ => {
                let (reported, counted) = reported_and_counted(&mut client);
                assert_eq!(reported, counted, "round {round}");
            }
        }
    }
    // Whatever the worker does meanwhile (recover, promote, fold), the two agree at every
    // moment; and after everything settled, the counters match the trace.
    for _ in 0..5 {
        let (reported, counted) = reported_and_counted(&mut client);
        assert_eq!(reported, counted);
        std::thread::sleep(RECOVERY_INTERVAL);
    }
    client
        .batch_execute("SELECT mq_recover(); SELECT mq_metrics_sample()")
        .unwrap();
    assert_eq!(reported(&mut client), counted(&mut client));
    counters_match_the_trace(&mut client);
    // oldest_pending_age: the age of the oldest PENDING message, within the read's moment.
    for topic in topics {
        let (reported_age, counted_age): (Option<f64>, Option<f64>) = {
            let row = client
                .query_one(
                    "SELECT (SELECT extract(epoch FROM oldest_pending_age)::float8 FROM mq_metrics() WHERE topic = $1), \
                            (SELECT extract(epoch FROM clock_timestamp() - min(coalesce(next_retry_at, execute_at)))::float8 \
                             FROM mq.messages WHERE topic = $1 AND status = 'PENDING')",
                    &[&topic],
                )
                .unwrap();
            (row.get(0), row.get(1))
        };
        match (reported_age, counted_age) {
            (Some(r), Some(c)) => assert!((r - c).abs() < 0.5, "{topic}: {r} vs {c}"),
            (r, c) => assert_eq!(r.is_some(), c.is_some(), "{topic}: {r:?} vs {c:?}"),
        }
    }
}

fn pg_bin() -> PathBuf {
    std::env::var_os("PG_MQ_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn connect_to(cluster: &Cluster, database: &str) -> Client {
    let mut config = cluster.config(pg_mq_live_tests::SUPERUSER);
    config.dbname(database);
    config.connect(NoTls).unwrap()
}

/// Abandons a message in `client`'s database (polled with a 1 s lock, never settled) and
/// returns how long it took to be recovered.
/// mq_health's verdict on the worker of the client's database.
fn worker_health(client: &mut Client) -> String {
    client
        .query_one(
            "SELECT status FROM mq_health() WHERE \"check\" = 'worker'",
            &[],
        )
        .unwrap()
        .get(0)
}

fn recovery_time(client: &mut Client, topic: &str) -> Duration {
    client
        .execute("SELECT mq_publish($1, '{}')", &[&topic])
        .unwrap();
    let id: i64 = client
        .query_one(
            "SELECT id FROM mq_poll($1, 1, lock_timeout => '1 second')",
            &[&topic],
        )
        .unwrap()
        .get(0);
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(20), || count(
            client,
            &format!(
                "SELECT count(*) FROM mq.traces WHERE message_id = {id} AND event = 'RECOVERED'"
            )
        ) == 1),
        "{topic}: never recovered"
    );
    started.elapsed()
}

fn every_database_gets_its_locks_recovered(cluster: &Cluster) {
    let mut admin = cluster.connect();
    for db in ["scale_later", "scale_restored"] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .unwrap();
    }
    // A database created after the server started, the extension created in it afterwards.
    admin.batch_execute("CREATE DATABASE scale_later").unwrap();
    let mut later = connect_to(cluster, "scale_later");
    later.batch_execute("CREATE EXTENSION pg_mq").unwrap();
    // A database restored with pg_restore from a dump of another, with a message in flight.
    let mut source = connect_to(cluster, "scale_later");
    source
        .batch_execute("SELECT mq_publish('restored', '{}')")
        .unwrap();
    let dump = std::env::temp_dir().join(format!("pg_mq-scale-{}.dump", std::process::id()));
    let host = cluster.socket_dir().to_str().unwrap().to_owned();
    let port = cluster.port().to_string();
    let common = ["-h", host.as_str(), "-p", port.as_str(), "-U", "postgres"];
    let run = |tool: &str, args: &[&str]| {
        let out = Command::new(pg_bin().join(tool))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        "pg_dump",
        &[
            &common[..],
            &["-Fc", "-d", "scale_later", "-f", dump.to_str().unwrap()],
        ]
        .concat(),
    );
    admin
        .batch_execute("CREATE DATABASE scale_restored")
        .unwrap();
    run(
        "pg_restore",
        &[
            &common[..],
            &[
                "--exit-on-error",
                "-d",
                "scale_restored",
                dump.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let _ = std::fs::remove_file(&dump);
    let mut restored = connect_to(cluster, "scale_restored");

    // The lock's second, a few of the worker's rounds (a worker that just started in a
    // database, as the restored one's has, begins with the next round), and slack for a
    // loaded machine: far below what a database without a worker shows (never).
    let limit = Duration::from_secs(1) + RECOVERY_INTERVAL * 4 + Duration::from_secs(2);
    for (name, client) in [
        ("postgres", &mut admin),
        ("scale_later", &mut later),
        ("scale_restored", &mut restored),
    ] {
        assert!(
            wait_until(Duration::from_secs(10), || worker_pid(client).is_some()),
            "no worker in {name}:\n{}",
            cluster.log()
        );
        let took = recovery_time(client, &format!("abandoned-{name}"));
        println!("  {name}: recovered after {took:?}");
        assert!(
            took <= limit,
            "{name}: recovered after {took:?}, more than {limit:?}"
        );
    }
    drop((later, restored, source));
    // Dropping a database with a worker in it works (the worker leaves), with no error loop.
    let mark = cluster.log().len();
    for db in ["scale_later", "scale_restored"] {
        admin.batch_execute(&format!("DROP DATABASE {db}")).unwrap();
    }
    std::thread::sleep(Duration::from_secs(3));
    let log = cluster.log()[mark..].to_owned();
    assert!(!log.contains("ERROR") && !log.contains("FATAL"), "{log}");
}

fn out_of_worker_slots_polls_recover_their_topic(_cluster: &Cluster) {
    // Room for the launcher and one worker only (the logical replication launcher takes one).
    let small = Cluster::start_with("scale-small", &["max_worker_processes = 3"], true);
    let mut admin = small.connect();
    admin
        .batch_execute("DROP DATABASE IF EXISTS scale_crowded")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE scale_crowded")
        .unwrap();
    let mut crowded = connect_to(&small, "scale_crowded");
    crowded.batch_execute("CREATE EXTENSION pg_mq").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || small
            .log()
            .contains("no background worker slot free")),
        "the launcher did not say it ran out of slots:\n{}",
        small.log()
    );
    assert_eq!(worker_pid(&mut crowded), None);
    // Preloaded, yet no worker in this database: critical.
    assert_eq!(worker_health(&mut crowded), "critical");
    // No worker there: a poll of the topic recovers the expired lock itself.
    crowded
        .batch_execute("SELECT mq_publish('crowded', '{}')")
        .unwrap();
    crowded
        .batch_execute("SELECT id FROM mq_poll('crowded', 1, lock_timeout => '200 milliseconds')")
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        count(&mut crowded, "SELECT count(*) FROM mq_poll('crowded', 1)") == 1
    }));
    // One warning, not one per tick.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        small
            .log()
            .matches("no background worker slot free")
            .count(),
        1,
        "{}",
        small.log()
    );
}
