//! pg_mq from real clients: the contract every driver relies on, the Python (psycopg 3) and
//! Node.js (node-postgres) examples in examples/, PgBouncer in transaction pooling, and
//! long-polls whose client goes away.
//!
//! The examples' drivers are installed by the test command (scripts/lib.sh,
//! `ensure_client_tools`): psycopg into target/clients/python, node-postgres into
//! examples/node/node_modules.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pg_mq_live_tests::{run_suite_on, sqlstate, wait_until, Client, Cluster, NoTls};

/// The cluster's TCP port (the drivers and PgBouncer connect over TCP).
const PORT: u16 = 55431;
/// PgBouncer's port.
const BOUNCER_PORT: u16 = 55432;

fn main() {
    run_suite_on(
        "clients",
        &["pg_mq.recovery_interval = '200ms'", "max_connections = 100"],
        Some(PORT),
        &[
            (
                "no_call_is_ambiguous_with_untyped_parameters",
                no_call_is_ambiguous_with_untyped_parameters,
            ),
            (
                "a_stale_lease_in_a_batch_settles_nothing",
                a_stale_lease_in_a_batch_settles_nothing,
            ),
            (
                "a_killed_long_polling_client_claims_nothing",
                a_killed_long_polling_client_claims_nothing,
            ),
            ("python_outbox_and_consumers", python_outbox_and_consumers),
            ("node_outbox_and_consumers", node_outbox_and_consumers),
            (
                "pgbouncer_with_killed_consumers_loses_nothing",
                pgbouncer_with_killed_consumers_loses_nothing,
            ),
            (
                "a_killed_long_poll_behind_pgbouncer_claims_nothing",
                a_killed_long_poll_behind_pgbouncer_claims_nothing,
            ),
        ],
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn url(port: u16) -> String {
    format!("postgresql://postgres@127.0.0.1:{port}/postgres")
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// Every pg_mq function, and each number of arguments it can be called with, prepared with
/// untyped parameters (what node-postgres does for every call, and psycopg for str, None and
/// empty lists): the server must find exactly one function each time.
fn no_call_is_ambiguous_with_untyped_parameters(cluster: &Cluster) {
    let mut client = cluster.connect();
    let overloaded = client
        .query(
            "SELECT p.proname::text FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid \
             WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' \
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_mq') \
             GROUP BY p.pronamespace, p.proname HAVING count(*) > 1",
            &[],
        )
        .unwrap();
    assert!(
        overloaded.is_empty(),
        "overloaded: {:?}",
        overloaded
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
    );
    let functions = client
        .query(
            "SELECT p.oid::regproc::text, p.pronargs::int, p.pronargdefaults::int \
             FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid \
             WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND p.prorettype <> 'trigger'::regtype \
               AND p.prokind = 'f' \
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_mq') \
             ORDER BY 1",
            &[],
        )
        .unwrap();
    assert!(functions.len() > 25, "{} functions", functions.len());
    let mut calls = 0;
    for row in &functions {
        let (name, args, defaults): (String, i32, i32) = (row.get(0), row.get(1), row.get(2));
        for n in (args - defaults)..=args {
            let params: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT * FROM {name}({})", params.join(", "));
            if let Err(e) = client.prepare(&sql) {
                panic!("{sql}: {} {e}", sqlstate(&e));
            }
            calls += 1;
        }
    }
    println!(
        "  {calls} call forms of {} functions prepared",
        functions.len()
    );
}

/// A consumer whose lock expired cannot complete or fail, in a batch, the delivery someone
/// else received since; the new holder's batch works.
fn a_stale_lease_in_a_batch_settles_nothing(cluster: &Cluster) {
    let mut first = cluster.connect();
    let mut second = cluster.connect();
    first
        .batch_execute("SELECT mq_publish('stale-batch', jsonb_build_object('n', g)) FROM generate_series(1, 3) g")
        .unwrap();
    let polled = first
        .query(
            "SELECT id, lease FROM mq_poll('stale-batch', 3, lock_timeout => '200 milliseconds')",
            &[],
        )
        .unwrap();
    let ids: Vec<i64> = polled.iter().map(|r| r.get(0)).collect();
    let old: Vec<uuid::Uuid> = polled.iter().map(|r| r.get(1)).collect();
    // The locks expire; the worker recovers the messages and the second consumer gets them.
    let mut redelivered = Vec::new();
    assert!(wait_until(Duration::from_secs(10), || {
        redelivered.extend(
            second
                .query("SELECT id, lease FROM mq_poll('stale-batch', 3)", &[])
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, uuid::Uuid>(1))),
        );
        redelivered.len() == 3
    }));
    let statuses = |client: &mut Client, sql: &str, leases: &[uuid::Uuid]| -> Vec<Option<String>> {
        client
            .query(sql, &[&ids, &leases])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert_eq!(
        statuses(
            &mut first,
            "SELECT status FROM mq_complete_batch($1, $2)",
            &old
        ),
        vec![None, None, None]
    );
    assert_eq!(
        statuses(
            &mut first,
            "SELECT status FROM mq_fail_batch($1, $2, 'late')",
            &old
        ),
        vec![None, None, None]
    );
    assert_eq!(
        count(&mut first, "SELECT count(*) FROM mq.messages WHERE topic = 'stale-batch' AND status = 'PROCESSING'"),
        3,
        "the stale batch changed the new deliveries"
    );
    let current: Vec<uuid::Uuid> = ids
        .iter()
        .map(|id| redelivered.iter().find(|(r, _)| r == id).unwrap().1)
        .collect();
    assert_eq!(
        statuses(
            &mut second,
            "SELECT status FROM mq_complete_batch($1, $2)",
            &current
        ),
        vec![Some("COMPLETED".to_owned()); 3]
    );
}

/// psql running `sql` against `port`, as a child process that can be killed.
fn psql(port: u16, sql: &str) -> Child {
    let bin = std::env::var("PG_MQ_PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    Command::new(Path::new(&bin).join("psql"))
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start psql")
}

/// The pid of the backend running a query that contains `marker`, once it runs.
fn backend_running(admin: &mut Client, marker: &str) -> Option<i32> {
    let mut pid = None;
    wait_until(Duration::from_secs(10), || {
        pid = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 \
                 AND pid <> pg_backend_pid()",
                &[&format!("%{marker}%")],
            )
            .unwrap()
            .map(|r| r.get(0));
        pid.is_some()
    });
    pid
}

/// Kills a client waiting in a long-poll on `port` (the server directly, or PgBouncer) and
/// publishes at once: the orphaned backend must not keep the message.
fn killed_long_poll_claims_nothing(cluster: &Cluster, port: u16, topic: &str) {
    let mut admin = cluster.connect();
    let mut poller = psql(
        port,
        &format!("SELECT * FROM mq_poll('{topic}', 10, wait => '60 seconds')"),
    );
    let pid = backend_running(&mut admin, topic).expect("the long-poll runs");
    poller.kill().unwrap();
    poller.wait().unwrap();
    // Published the moment the client is gone: the orphan may wake up and claim it, and must
    // then give it up.
    let id: i64 = admin
        .query_one(&format!("SELECT mq_publish('{topic}', '{{}}')"), &[])
        .unwrap()
        .get(0);
    assert!(
        wait_until(Duration::from_secs(5), || count(
            &mut admin,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")
        ) == 0),
        "the orphaned backend {pid} still runs"
    );
    let (status, retries, consumer): (String, i32, Option<String>) = {
        let row = admin
            .query_one(
                "SELECT status, retry_count, consumer_id FROM mq.messages WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(
        (status.as_str(), retries, consumer),
        ("PENDING", 0, None),
        "the orphan claimed the message"
    );
    // And it is delivered at once to a live consumer.
    assert_eq!(
        count(
            &mut admin,
            &format!("SELECT count(*) FROM mq_poll('{topic}')")
        ),
        1
    );
}

fn a_killed_long_polling_client_claims_nothing(cluster: &Cluster) {
    killed_long_poll_claims_nothing(cluster, PORT, "orphan-direct");
}

/// Creates the examples' tables (afresh) in database postgres.
fn example_tables(client: &mut Client) {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS orders, processed;
             CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL);
             CREATE TABLE processed (order_id bigint NOT NULL, message_id bigint NOT NULL,
                                     consumer text NOT NULL, at timestamptz NOT NULL DEFAULT now());
             DELETE FROM mq.messages WHERE topic = 'orders';
             DELETE FROM mq.dead_letters WHERE topic = 'orders';",
        )
        .unwrap();
}

/// A command running one of the examples: `language` is python or node.
fn example(language: &str, script: &str, database: &str, consumer: &str, args: &[&str]) -> Command {
    let dir = root().join("examples").join(language);
    let mut command = match language {
        "python" => {
            let mut c = Command::new("python3");
            c.env("PYTHONPATH", root().join("target/clients/python"));
            c
        }
        _ => Command::new("node"),
    };
    command
        .arg(dir.join(script))
        .args(args)
        .env("DATABASE_URL", database)
        .env("CONSUMER", consumer)
        .stdin(Stdio::null());
    command
}

fn run_ok(mut command: Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn producer_script(language: &str) -> &'static str {
    if language == "python" {
        "producer.py"
    } else {
        "producer.js"
    }
}

fn consumer_script(language: &str) -> &'static str {
    if language == "python" {
        "consumer.py"
    } else {
        "consumer.js"
    }
}

/// The outbox producer and two consumers (one acknowledging in batches) of `language`: every
/// order committed is processed exactly once, none rolled back is, poison messages are
/// dead-lettered and a slow one is kept alive with mq_extend.
fn outbox_and_consumers(cluster: &Cluster, language: &str) {
    let mut admin = cluster.connect();
    example_tables(&mut admin);
    let database = url(PORT);
    let out = run_ok(example(
        language,
        producer_script(language),
        &database,
        "producer",
        &["--orders", "60", "--fail-every", "10"],
    ));
    assert!(out.contains("placed 54 orders"), "{out}");
    assert_eq!(count(&mut admin, "SELECT count(*) FROM orders"), 54);
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = 'orders'"
        ),
        54,
        "a rolled-back order left its message behind"
    );
    admin
        .batch_execute(
            "SELECT mq_publish('orders', jsonb_build_object('order_id', 1000 + g, 'poison', true), max_retries => 0)
               FROM generate_series(1, 2) g;
             SELECT mq_publish('orders', '{\"order_id\": 2000, \"slow\": true}');",
        )
        .unwrap();
    let consumers: Vec<Child> = [("c1", false), ("c2", true)]
        .iter()
        .map(|(name, batch)| {
            let mut args = vec!["--idle-exit", "3", "--lock-timeout", "1 second"];
            if *batch {
                args.push("--batch");
            }
            example(language, consumer_script(language), &database, name, &args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for consumer in consumers {
        let out = consumer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "consumer failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        count(&mut admin, "SELECT count(DISTINCT order_id) FROM processed"),
        55,
        "every committed order and the slow one are processed"
    );
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM processed"),
        55,
        "an order was processed twice"
    );
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM processed WHERE order_id NOT IN (SELECT id FROM orders) AND order_id <> 2000"),
        0
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM mq.dead_letters WHERE topic = 'orders' AND NOT replayed"
        ),
        2
    );
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM mq.messages WHERE topic = 'orders' AND status NOT IN ('COMPLETED', 'FAILED')"),
        0
    );
    admin
        .batch_execute("DELETE FROM mq.dead_letters WHERE topic = 'orders'")
        .unwrap();
}

fn python_outbox_and_consumers(cluster: &Cluster) {
    outbox_and_consumers(cluster, "python");
}

fn node_outbox_and_consumers(cluster: &Cluster) {
    outbox_and_consumers(cluster, "node");
}

/// PgBouncer in transaction pooling in front of the cluster; stopped on drop.
struct Bouncer {
    child: Child,
    dir: PathBuf,
}

impl Bouncer {
    fn start(cluster: &Cluster) -> Bouncer {
        let dir = cluster.socket_dir().join("pgbouncer");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n\
                 postgres = host=127.0.0.1 port={PORT} dbname=postgres\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {BOUNCER_PORT}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {}\n\
                 pool_mode = transaction\n\
                 default_pool_size = 8\n\
                 max_client_conn = 100\n\
                 ignore_startup_parameters = extra_float_digits,options\n",
                dir.join("userlist.txt").display()
            ),
        )
        .unwrap();
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "pgbouncer"]);
            c
        } else {
            Command::new("pgbouncer")
        };
        let child = command
            .arg(dir.join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("pgbouncer.log")).unwrap())
            .spawn()
            .expect("start pgbouncer (the test command installs it)");
        let bouncer = Bouncer { child, dir };
        assert!(
            wait_until(Duration::from_secs(10), || {
                postgres::Client::connect(&url(BOUNCER_PORT), NoTls).is_ok()
            }),
            "pgbouncer did not start: {}",
            std::fs::read_to_string(bouncer.dir.join("pgbouncer.log")).unwrap_or_default()
        );
        bouncer
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Producers and consumers through PgBouncer (transaction pooling); consumers are killed
/// with SIGKILL while they work and replaced: every committed order is processed exactly once.
fn pgbouncer_with_killed_consumers_loses_nothing(cluster: &Cluster) {
    let _bouncer = Bouncer::start(cluster);
    let mut admin = cluster.connect();
    example_tables(&mut admin);
    let database = url(BOUNCER_PORT);
    let producers: Vec<Child> = [1, 401]
        .iter()
        .map(|first| {
            example(
                "python",
                "producer.py",
                &database,
                "producer",
                &[
                    "--orders",
                    "400",
                    "--first",
                    &first.to_string(),
                    "--fail-every",
                    "25",
                ],
            )
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    let consumer = |name: &str| {
        example(
            "python",
            "consumer.py",
            &database,
            name,
            &["--idle-exit", "4", "--lock-timeout", "2 seconds"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
    };
    let mut consumers: Vec<Child> = (0..4).map(|i| consumer(&format!("c{i}"))).collect();
    // Kill two consumers once messages flow, and start two more.
    assert!(wait_until(Duration::from_secs(30), || count(
        &mut admin,
        "SELECT count(*) FROM processed"
    ) > 50));
    for victim in consumers.iter_mut().take(2) {
        victim.kill().unwrap();
        victim.wait().unwrap();
    }
    consumers.push(consumer("c4"));
    consumers.push(consumer("c5"));
    for producer in producers {
        assert!(producer.wait_with_output().unwrap().status.success());
    }
    let expected = count(&mut admin, "SELECT count(*) FROM orders");
    assert_eq!(expected, 800 - 32);
    assert!(
        wait_until(Duration::from_secs(90), || count(
            &mut admin,
            "SELECT count(DISTINCT order_id) FROM processed"
        ) >= expected),
        "orders were lost"
    );
    for mut consumer in consumers.into_iter().skip(2) {
        let _ = consumer.wait();
    }
    assert_eq!(
        count(&mut admin, "SELECT count(*) FROM processed"),
        expected,
        "an order was processed twice"
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM mq.messages WHERE topic = 'orders' AND status <> 'COMPLETED'"
        ),
        0
    );
}

fn a_killed_long_poll_behind_pgbouncer_claims_nothing(cluster: &Cluster) {
    let _bouncer = Bouncer::start(cluster);
    killed_long_poll_claims_nothing(cluster, BOUNCER_PORT, "orphan-bouncer");
}
