//! The extension's own lifecycle against a live server: ALTER EXTENSION UPDATE from the
//! previous release keeps every row and ends where a fresh install starts; pg_dump /
//! pg_restore round-trips a queue; DROP EXTENSION leaves nothing behind while the worker waits;
//! the worker waits for an update after the library was replaced.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pg_mq_live_tests::{
    run_suite, sqlstate, wait_until, worker_activity, worker_pid, Client, Cluster, NoTls,
};
use postgres::GenericClient;

const PREVIOUS: &str = "0.2.0";

/// The version this build of pg_mq installs (the root crate's version).
fn current() -> &'static str {
    pg_mq_live_tests::pg_mq_version()
}

fn main() {
    run_suite(
        "lifecycle",
        &[
            "pg_mq.recovery_interval = '200ms'",
            // Folds often, so a restore that let the worker in between the loading of two
            // tables would collide (a fold writes mq.metric_totals before its rows arrive).
            "pg_mq.fold_interval = '20ms'",
            // The worker reports what it found at LOG level.
            "log_min_messages = log",
        ],
        &[
            (
                "update_from_the_previous_release_keeps_everything",
                update_from_the_previous_release_keeps_everything,
            ),
            (
                "dump_and_restore_round_trip_the_queue",
                dump_and_restore_round_trip_the_queue,
            ),
            (
                "the_worker_keeps_out_of_a_restore_in_progress",
                the_worker_keeps_out_of_a_restore_in_progress,
            ),
            (
                "drop_extension_leaves_nothing_and_the_worker_leaves",
                drop_extension_leaves_nothing_and_the_worker_leaves,
            ),
            (
                "the_worker_waits_for_alter_extension_update",
                the_worker_waits_for_alter_extension_update,
            ),
        ],
    );
}

fn pg_bin() -> PathBuf {
    std::env::var_os("PG_MQ_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// A session on `database` as the superuser.
fn connect_to(cluster: &Cluster, database: &str) -> Client {
    let mut config = cluster.config(pg_mq_live_tests::SUPERUSER);
    config.dbname(database);
    config.connect(NoTls).unwrap()
}

/// Runs each statement on its own (DROP / CREATE DATABASE refuse to run in a transaction,
/// which a multi-statement string is).
fn each(client: &mut Client, statements: &[&str]) {
    for statement in statements {
        client
            .batch_execute(statement)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

fn fresh_database(cluster: &Cluster, name: &str) -> Client {
    each(
        &mut cluster.connect(),
        &[
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            &format!("CREATE DATABASE {name}"),
        ],
    );
    connect_to(cluster, name)
}

/// Some of everything: messages pending, delayed, in flight, completed, failed with dead
/// letters (one replayed), traces, counters, a metrics sample. Returns a message still in
/// flight and its lease.
fn load_queue(client: &mut Client) -> (i64, uuid::Uuid) {
    client
        .batch_execute(
            "SET pg_mq.retry_base_delay = 0;
             SELECT mq_publish('life-a', jsonb_build_object('n', g), priority => g % 3)
               FROM generate_series(1, 30) g;
             SELECT mq_publish('life-b', '{\"later\": true}', delay => '1 hour');
             SELECT mq_publish('life-c', jsonb_build_object('n', g), max_retries => 0,
                               headers => '{\"h\": 1}') FROM generate_series(1, 5) g;
             SELECT mq_complete(id, lease) FROM mq_poll('life-a', 10);
             SELECT mq_fail(id, 'broken', lease) FROM mq_poll('life-c', 5);
             SELECT mq_replay((SELECT min(id) FROM mq.dead_letters));
             SELECT mq_metrics_sample();",
        )
        .unwrap();
    let row = client
        .query_one(
            "SELECT id, lease FROM mq_poll('life-a', 1, lock_timeout => '1 hour')",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// A live queue in the previous release's tables, written as that release would have left it
/// (its functions run on this library only as far as their arguments are unchanged, so the
/// rows are inserted directly): messages pending, scheduled, retrying, in flight, with an
/// expired lock, completed and failed; dead letters, one replayed; trace rows of every event;
/// counters, a snapshot and its samples; a consumer grant. Returns the message in flight and
/// its lease.
fn load_previous_queue(client: &mut Client) -> (i64, uuid::Uuid) {
    client
        .batch_execute(
            "CREATE TEMP TABLE previous_load AS SELECT now() - interval '10 minutes' AS t0;
             -- due, in three priorities
             INSERT INTO mq.messages (topic, payload, status, priority, max_retries, execute_at,
                                      trace_id, created_at, updated_at)
             SELECT 'life-a', jsonb_build_object('n', g), 'PENDING', g % 3, 3, t0, gen_random_uuid(), t0, t0
             FROM generate_series(1, 20) g, previous_load;
             -- scheduled for later, with headers
             INSERT INTO mq.messages (topic, payload, headers, status, max_retries, execute_at,
                                      trace_id, created_at, updated_at)
             SELECT 'life-b', '{\"later\": true}', '{\"h\": 1}', 'PENDING', 3, now() + interval '1 hour',
                    gen_random_uuid(), t0, t0 FROM previous_load;
             -- waiting for a retry after a failure
             INSERT INTO mq.messages (topic, payload, status, retry_count, max_retries, execute_at,
                                      next_retry_at, consumer_id, locked_at, lease, trace_id,
                                      last_error, created_at, updated_at)
             SELECT 'life-a', '{\"retry\": true}', 'PENDING', 1, 3, t0, now() + interval '1 hour',
                    'w1', t0, gen_random_uuid(), gen_random_uuid(), 'transient', t0, t0
             FROM previous_load;
             -- in flight: one with a live lock, one whose lock expired
             INSERT INTO mq.messages (topic, payload, status, max_retries, execute_at, consumer_id,
                                      locked_at, locked_until, lease, trace_id, created_at, updated_at)
             SELECT 'life-a', jsonb_build_object('flight', g), 'PROCESSING', 3, t0, 'w' || g, t0,
                    CASE g WHEN 1 THEN now() + interval '1 hour' ELSE t0 + interval '1 second' END,
                    gen_random_uuid(), gen_random_uuid(), t0, t0
             FROM generate_series(1, 2) g, previous_load;
             -- completed
             INSERT INTO mq.messages (topic, payload, status, max_retries, execute_at, consumer_id,
                                      locked_at, lease, trace_id, created_at, updated_at)
             SELECT 'life-a', jsonb_build_object('done', g), 'COMPLETED', 3, t0, 'w1', t0,
                    gen_random_uuid(), gen_random_uuid(), t0, t0
             FROM generate_series(1, 10) g, previous_load;
             -- failed and dead-lettered; the first dead letter replayed as a new message
             INSERT INTO mq.messages (topic, payload, headers, status, retry_count, max_retries,
                                      execute_at, consumer_id, locked_at, lease, trace_id,
                                      last_error, created_at, updated_at)
             SELECT 'life-c', jsonb_build_object('n', g), '{\"h\": 1}', 'FAILED', 1, 0, t0, 'w2', t0,
                    gen_random_uuid(), gen_random_uuid(), 'broken', t0, t0
             FROM generate_series(1, 5) g, previous_load;
             INSERT INTO mq.dead_letters (original_id, topic, payload, headers, priority,
                                          max_retries, trace_id, error_message, retry_count, created_at)
             SELECT id, topic, payload, headers, priority, max_retries, trace_id, last_error,
                    retry_count, updated_at
             FROM mq.messages WHERE status = 'FAILED' ORDER BY id;
             WITH first AS (SELECT * FROM mq.dead_letters ORDER BY id LIMIT 1),
                  replayed AS (
                    INSERT INTO mq.messages (topic, payload, headers, status, max_retries,
                                             execute_at, trace_id, created_at, updated_at)
                    SELECT topic, payload, headers, 'PENDING', max_retries, now(), trace_id, now(), now()
                    FROM first RETURNING id)
             UPDATE mq.dead_letters d SET replayed = true, replayed_at = now(),
                    replayed_message_id = (SELECT id FROM replayed)
             FROM first WHERE d.id = first.id;
             -- the trace: every event of the previous release
             INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
             SELECT trace_id, id, topic, 'PUBLISHED',
                    jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                       'execute_at', execute_at), created_at
             FROM mq.messages;
             INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
             SELECT trace_id, id, topic, e.event, jsonb_build_object('consumer_id', consumer_id),
                    updated_at
             FROM mq.messages,
                  LATERAL (VALUES ('PROCESSING'), ('COMPLETED')) AS e(event)
             WHERE status = 'COMPLETED';
             -- the deliveries in flight wrote their PROCESSING rows
             INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
             SELECT trace_id, id, topic, 'PROCESSING',
                    jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1,
                                       'locked_until', locked_until), locked_at
             FROM mq.messages WHERE status = 'PROCESSING';
             INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
             SELECT m.trace_id, m.id, m.topic, e.event, '{}', m.updated_at
             FROM mq.messages m,
                  LATERAL (VALUES ('PROCESSING'), ('FAILED'), ('DEAD_LETTERED'), ('REPLAYED'),
                                  ('RECOVERED'), ('PURGED')) AS e(event)
             WHERE m.status = 'FAILED';
             -- counters folded and not, a snapshot with its samples
             INSERT INTO mq.metric_totals (topic, consumed, failed, dead_lettered, updated_at)
             VALUES ('life-a', 10, 1, 0, now()), ('life-c', 0, 5, 5, now());
             INSERT INTO mq.metric_counts (topic, consumed, failed, dead_lettered, counted_at)
             VALUES ('life-a', 2, 0, 0, now());
             INSERT INTO mq.metric_snapshots (sampled_at) VALUES (now() - interval '1 minute');
             INSERT INTO mq.metric_samples (topic, sampled_at, pending, delayed, processing,
                                            consumed_total, failed_total, dead_letter_total,
                                            oldest_pending_age)
             SELECT 'life-a', sampled_at, 20, 1, 2, 10, 1, 0, interval '9 minutes'
             FROM mq.metric_snapshots;",
        )
        .unwrap();
    let row = client
        .query_one(
            "SELECT id, lease FROM mq.messages WHERE status = 'PROCESSING' AND locked_until > now()",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

/// What `contents_of(KEPT_TABLES)` must be after the update: the same rows, but a PENDING
/// message whose due time has not come is SCHEDULED (every such message of the loaded queue
/// is due an hour later, every other one due minutes ago).
fn contents_as_updated(client: &mut impl GenericClient) -> Vec<String> {
    let mut out: Vec<String> = client
        .query(
            "SELECT 'mq.messages ' || (to_jsonb(t) || jsonb_build_object('expires_at', NULL, \
                 'consumer_group', NULL, 'payload_id', NULL, 'ordering_key', NULL, \
                 'ordering_seq', NULL, 'processing_id', NULL) \
                 || CASE WHEN t.status = 'PENDING' \
                 AND coalesce(t.next_retry_at, t.execute_at) > now() \
                 THEN jsonb_build_object('status', 'SCHEDULED') ELSE '{}' END)::text \
             FROM mq.messages t \
             UNION ALL \
             SELECT 'mq.metric_samples ' || (to_jsonb(t) \
                 || jsonb_build_object('expired_total', 0, 'consumer_group', '', \
                      'delivery_latency', NULL, 'delivery_latency_sum', NULL, \
                      'processing_latency', NULL, 'processing_latency_sum', NULL))::text \
             FROM mq.metric_samples t \
             UNION ALL \
             SELECT 'mq.dead_letters ' || (to_jsonb(t) || jsonb_build_object('consumer_group', NULL, \
                 'ordering_key', NULL, 'ordering_seq', NULL))::text \
             FROM mq.dead_letters t \
             UNION ALL \
             SELECT 'mq.traces ' || (to_jsonb(t) || jsonb_build_object('started_id', NULL, \
                 'started_at', NULL, 'locked_until', NULL))::text \
             FROM mq.traces t",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    out.extend(contents_of(client, &KEPT_TABLES[3..4]));
    out.sort();
    out
}

/// What a dump must carry, however far each database's worker has got: the rows of the tables
/// it does not rewrite, the metrics samples taken up to `upto`, and the counters and gauges as
/// mq_metrics reports them (folding moves rows between the counters' tables, not the figures).
fn queue_state(client: &mut impl GenericClient, upto: std::time::SystemTime) -> Vec<String> {
    let mut out = contents_of(client, &["mq.messages", "mq.dead_letters", "mq.traces"]);
    for table in ["mq.metric_snapshots", "mq.metric_samples"] {
        let rows = client
            .query(
                &format!(
                    "SELECT to_jsonb(t)::text FROM {table} t WHERE sampled_at <= $1 \
                     ORDER BY to_jsonb(t)::text COLLATE \"C\""
                ),
                &[&upto],
            )
            .unwrap();
        out.extend(
            rows.iter()
                .map(|r| format!("{table} {}", r.get::<_, String>(0))),
        );
    }
    let metrics = client
        .query(
            "SELECT to_jsonb(m)::text FROM (SELECT topic, pending, delayed, processing, \
                    consumed_total, failed_total, dead_letter_total FROM mq_metrics()) m \
             ORDER BY 1",
            &[],
        )
        .unwrap();
    out.extend(
        metrics
            .iter()
            .map(|r| format!("mq_metrics {}", r.get::<_, String>(0))),
    );
    out
}

/// `state` without the metrics snapshots (and their samples) that `before` does not have: the
/// worker may take a sample whose time is before `upto` but which commits after `before` was
/// read (its transaction starts, then waits for the counters' lock the loading transaction
/// holds); the dump has it, `before` does not.
fn same_snapshots(state: Vec<String>, before: &[String]) -> Vec<String> {
    let sampled_at = |line: &str| -> Option<String> {
        let json = line
            .strip_prefix("mq.metric_snapshots ")
            .or_else(|| line.strip_prefix("mq.metric_samples "))?;
        let row: serde_json::Value = serde_json::from_str(json).unwrap();
        Some(row["sampled_at"].to_string())
    };
    let known: std::collections::BTreeSet<String> =
        before.iter().filter_map(|l| sampled_at(l)).collect();
    state
        .into_iter()
        .filter(|l| sampled_at(l).is_none_or(|t| known.contains(&t)))
        .collect()
}

/// The tables the update from the previous release carries over row for row (the metrics
/// counters' tables change their shape, and are checked through mq_metrics instead).
const KEPT_TABLES: &[&str] = &[
    "mq.messages",
    "mq.dead_letters",
    "mq.traces",
    "mq.metric_snapshots",
    "mq.metric_samples",
];

/// Every row of `tables`, as text, in a stable order.
fn contents_of(client: &mut impl GenericClient, tables: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for table in tables {
        let rows = client
            .query(
                &format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY to_jsonb(t)::text COLLATE \"C\""),
                &[],
            )
            .unwrap();
        out.extend(
            rows.iter()
                .map(|r| format!("{table} {}", r.get::<_, String>(0))),
        );
    }
    out
}

/// The extension's objects and their definitions, as sorted text lines: what a fresh install
/// and an updated one must agree on.
fn describe(client: &mut Client) -> Vec<String> {
    const MEMBERS: &str = "SELECT d.classid, d.objid FROM pg_depend d \
        WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' \
          AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_mq')";
    let queries = [
        format!("SELECT 'member ' || pg_describe_object(m.classid, m.objid, 0) FROM ({MEMBERS}) m"),
        format!(
            "SELECT 'function ' || p.oid::regprocedure || ' returns ' || pg_get_function_result(p.oid) \
                 || ' args ' || pg_get_function_arguments(p.oid) \
                 || ' secdef ' || p.prosecdef || ' config ' || coalesce(p.proconfig::text, '-') \
                 || ' volatile ' || p.provolatile::text || ' strict ' || p.proisstrict \
                 || ' parallel ' || p.proparallel::text || ' acl ' || coalesce(p.proacl::text, 'default') \
                 || ' language ' || (SELECT lanname FROM pg_language l WHERE l.oid = p.prolang) \
                 || ' src ' || p.prosrc || ' bin ' || coalesce(p.probin, '-') \
                 || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-') \
             FROM pg_proc p JOIN ({MEMBERS}) m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid"
        ),
        "SELECT 'relation ' || c.oid::regclass || ' kind ' || c.relkind::text \
             || ' acl ' || coalesce(c.relacl::text, 'default') \
             || ' options ' || coalesce(c.reloptions::text, '-') \
             || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-') \
         FROM pg_class c WHERE c.relnamespace = 'mq'::regnamespace"
            .to_owned(),
        "SELECT 'column ' || c.oid::regclass || '.' || a.attname || ' ' || a.attnum || ' ' \
             || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull \
             || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-') \
             || ' identity ' || a.attidentity::text \
             || ' comment ' || coalesce(col_description(c.oid, a.attnum), '-') \
         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
         LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum \
         WHERE c.relnamespace = 'mq'::regnamespace AND c.relkind IN ('r', 'v') \
           AND a.attnum > 0 AND NOT a.attisdropped"
            .to_owned(),
        "SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE connamespace = 'mq'::regnamespace"
            .to_owned(),
        "SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'mq'::regnamespace"
            .to_owned(),
        "SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t \
         JOIN pg_class c ON c.oid = t.tgrelid \
         WHERE c.relnamespace = 'mq'::regnamespace AND NOT t.tgisinternal"
            .to_owned(),
        "SELECT 'view ' || c.oid::regclass || ' ' || pg_get_viewdef(c.oid) FROM pg_class c \
         WHERE c.relnamespace = 'mq'::regnamespace AND c.relkind = 'v'"
            .to_owned(),
        "SELECT 'sequence ' || s.seqrelid::regclass || ' ' || format_type(s.seqtypid, NULL) \
             || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmax || ' ' || s.seqcycle \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
         WHERE c.relnamespace = 'mq'::regnamespace"
            .to_owned(),
        "SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, 'default') \
             || ' comment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-') \
         FROM pg_namespace n WHERE n.nspname = 'mq'"
            .to_owned(),
        "SELECT 'config ' || c::regclass || ' ' || coalesce(x, '-') \
         FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(c, x) \
         WHERE e.extname = 'pg_mq'"
            .to_owned(),
        "SELECT 'initial privileges ' || pg_describe_object(i.classoid, i.objoid, i.objsubid) \
             || ' ' || i.privtype::text || ' ' || i.initprivs::text \
         FROM pg_init_privs i JOIN ({MEMBERS}) m ON m.classid = i.classoid AND m.objid = i.objoid"
            .replace("{MEMBERS}", MEMBERS),
    ];
    let mut lines: Vec<String> = queries
        .iter()
        .flat_map(|q| {
            client
                .query(q.as_str(), &[])
                .unwrap_or_else(|e| panic!("{q}: {}", pg_mq_live_tests::error_message(&e)))
                .iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

fn extension_dir() -> PathBuf {
    let out = Command::new(pg_bin().join("pg_config"))
        .arg("--sharedir")
        .output()
        .expect("pg_config --sharedir");
    Path::new(String::from_utf8_lossy(&out.stdout).trim()).join("extension")
}

fn update_from_the_previous_release_keeps_everything(cluster: &Cluster) {
    let script = extension_dir().join(format!("pg_mq--{PREVIOUS}.sql"));
    assert!(
        script.exists(),
        "{} is missing: scripts/test.sh installs the previous release's script from sql/releases/",
        script.display()
    );
    each(
        &mut cluster.connect(),
        &[
            "DROP ROLE IF EXISTS life_consumer",
            "CREATE ROLE life_consumer LOGIN",
        ],
    );
    let mut fresh = fresh_database(cluster, "life_fresh");
    fresh
        .batch_execute("CREATE EXTENSION pg_mq; SELECT mq_grant('consumer', 'life_consumer')")
        .unwrap();

    let mut old = fresh_database(cluster, "life_update");
    old.batch_execute(&format!("CREATE EXTENSION pg_mq VERSION '{PREVIOUS}'"))
        .unwrap();
    old.batch_execute("SELECT mq_grant('consumer', 'life_consumer')")
        .unwrap();
    let (in_flight, lease) = load_previous_queue(&mut old);
    let expected = contents_as_updated(&mut old);
    assert!(expected.len() > 100);

    // The update and the look at its result in one transaction: the worker that comes for the
    // updated extension starts at its commit, and cannot touch the rows before they are read.
    let mut update = old.transaction().unwrap();
    update
        .batch_execute("ALTER EXTENSION pg_mq UPDATE")
        .unwrap();
    let mut after = contents_of(&mut update, KEPT_TABLES);
    // The counters and gauges were carried over and recounted (read before the commit too:
    // the worker recovers the expired lock as soon as it may, which changes them).
    let metrics: Vec<(String, i64, i64, i64, i64, i64, i64)> = update
        .query(
            "SELECT topic, pending, delayed, processing, consumed_total, failed_total, dead_letter_total \
             FROM mq_metrics() ORDER BY topic",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)))
        .collect();
    assert_eq!(
        metrics,
        vec![
            ("life-a".to_owned(), 20, 1, 2, 12, 1, 0),
            ("life-b".to_owned(), 0, 1, 0, 0, 0, 0),
            ("life-c".to_owned(), 1, 0, 0, 0, 5, 5),
        ]
    );

    update.commit().unwrap();
    // Every row is kept; messages waiting for a later due time are SCHEDULED now.
    after.sort();
    assert_eq!(after, expected, "the update changed rows");
    // The capabilities of re-created functions are granted again as the update tells.
    old.batch_execute(
        "SELECT mq_grant(g.capability, r.rolname, g.topic) FROM mq.grants g JOIN pg_roles r ON r.oid = g.role",
    )
    .unwrap();
    let version: String = old
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_mq'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(version, current());
    // Every topic in use is in the new catalog, with the server's settings.
    let registered: Vec<(String, bool)> = old
        .query(
            "SELECT topic, config->>'max_retries' = current_setting('pg_mq.default_max_retries') \
             FROM mq_topics() ORDER BY topic",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let in_use: Vec<(String, bool)> = old
        .query(
            "SELECT topic, true FROM (SELECT topic FROM mq.messages UNION SELECT topic FROM mq.dead_letters \
             UNION SELECT topic FROM mq.grants WHERE topic IS NOT NULL) t ORDER BY topic",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(registered, in_use);

    let (updated, installed) = (describe(&mut old), describe(&mut fresh));
    assert!(
        installed.len() > 200,
        "describe() sees too little: {installed:?}"
    );
    let only_updated: Vec<&String> = updated.iter().filter(|l| !installed.contains(l)).collect();
    let only_fresh: Vec<&String> = installed.iter().filter(|l| !updated.contains(l)).collect();
    assert!(
        only_updated.is_empty() && only_fresh.is_empty(),
        "the updated extension differs from a fresh install\nonly after update:\n{}\nonly in fresh install:\n{}",
        only_updated.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n"),
        only_fresh.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
    );

    // The queue carries on: the delivery in flight across the update completes with its
    // lease; the due messages are delivered, the expired lock is recovered, the replayed
    // message and the other dead letters go on, and the consumer's grant covers the new
    // functions.
    let completed: bool = old
        .query_one("SELECT mq_complete($1, $2)", &[&in_flight, &lease])
        .unwrap()
        .get(0);
    assert!(completed);
    // Its trace: the PROCESSING row 0.2.0 wrote, once, then the completion.
    let events: Vec<String> = old
        .query(
            "SELECT event FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = $1))",
            &[&in_flight],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(events, ["PUBLISHED", "PROCESSING", "COMPLETED"]);
    let count = |client: &mut Client, sql: &str| -> i64 {
        client
            .query_one(&format!("SELECT count(*) FROM ({sql}) q"), &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    };
    // The expired lock is recovered (by the worker, which now serves the database, or here).
    old.batch_execute("SELECT mq_recover()").unwrap();
    assert_eq!(count(&mut old, "SELECT id FROM mq_poll('life-a', 100)"), 21);
    assert_eq!(
        count(
            &mut old,
            "SELECT mq_replay_batch(array_agg(id)) FROM mq.dead_letters WHERE NOT replayed"
        ),
        4
    );
    let mut config = cluster.config("life_consumer");
    config.dbname("life_update");
    let mut consumer = config.connect(NoTls).unwrap();
    let settled: Vec<Option<String>> = consumer
        .query(
            "WITH p AS (SELECT id, lease FROM mq_poll('life-c', 10)) \
             SELECT status FROM mq_complete_batch((SELECT array_agg(id) FROM p), \
                                                  (SELECT array_agg(lease) FROM p))",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        settled,
        vec![Some("COMPLETED".to_owned()); 5],
        "the replayed messages, by the consumer"
    );
    drop(consumer);
    drop(old);
    drop(fresh);
    each(
        &mut cluster.connect(),
        &[
            "DROP DATABASE life_update WITH (FORCE)",
            "DROP DATABASE life_fresh WITH (FORCE)",
            "DROP ROLE life_consumer",
        ],
    );
}

/// The rows of mq.grants, as text.
fn grants(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT role::text || ' ' || capability || ' ' || topic FROM mq.grants ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn run_tool(tool: &str, args: &[&str]) {
    let out = Command::new(pg_bin().join(tool))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dump_and_restore_round_trip_the_queue(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute("DROP ROLE IF EXISTS life_producer; CREATE ROLE life_producer LOGIN")
        .unwrap();
    let mut source = fresh_database(cluster, "life_source");
    source
        .batch_execute(
            "CREATE EXTENSION pg_mq; SELECT mq_grant('producer', 'life_producer', 'life-a')",
        )
        .unwrap();
    let (in_flight, lease) = load_queue(&mut source);
    let upto = std::time::SystemTime::now();
    let before = queue_state(&mut source, upto);
    let grants_before = grants(&mut source);
    let max_id: i64 = source
        .query_one("SELECT max(id) FROM mq.messages", &[])
        .unwrap()
        .get(0);
    drop(source);

    let dump = std::env::temp_dir().join(format!("pg_mq-life-{}.dump", std::process::id()));
    let host = cluster.socket_dir().to_str().unwrap().to_owned();
    let port = cluster.port().to_string();
    let common = ["-h", host.as_str(), "-p", port.as_str(), "-U", "postgres"];
    let dump_path = dump.to_str().unwrap();
    run_tool(
        "pg_dump",
        &[&common[..], &["-Fc", "-d", "life_source", "-f", dump_path]].concat(),
    );
    drop(fresh_database(cluster, "life_restored"));
    run_tool(
        "pg_restore",
        &[
            &common[..],
            &["--exit-on-error", "-d", "life_restored", dump_path],
        ]
        .concat(),
    );
    let _ = std::fs::remove_file(&dump);

    let mut restored = connect_to(cluster, "life_restored");
    assert_eq!(
        same_snapshots(queue_state(&mut restored, upto), &before),
        before,
        "the restored queue differs"
    );
    let grants_after = grants(&mut restored);
    assert_eq!(grants_after, grants_before);
    // Ids continue where they were; the delivery in flight completes with its lease.
    let next: i64 = restored
        .query_one("SELECT mq_publish('life-a', '{}')", &[])
        .unwrap()
        .get(0);
    assert!(next > max_id, "id {next} reused (max was {max_id})");
    let completed: bool = restored
        .query_one("SELECT mq_complete($1, $2)", &[&in_flight, &lease])
        .unwrap()
        .get(0);
    assert!(completed);
    // Privileges came back too: the producer may publish to its topic only.
    let mut config = cluster.config("life_producer");
    config.dbname("life_restored");
    let mut producer = config.connect(NoTls).unwrap();
    producer
        .batch_execute("SELECT mq_publish('life-a', '{}')")
        .unwrap();
    let refused = producer
        .batch_execute("SELECT mq_publish('life-b', '{}')")
        .unwrap_err();
    assert_eq!(sqlstate(&refused), "42501");
    drop(producer);
    drop(restored);
    each(
        &mut admin,
        &[
            "DROP DATABASE life_source WITH (FORCE)",
            "DROP DATABASE life_restored WITH (FORCE)",
            "DROP ROLE life_producer",
        ],
    );
}

fn drop_extension_leaves_nothing_and_the_worker_leaves(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let pid = worker_pid(&mut admin).expect("the worker runs");
    let log_mark = cluster.log().len();
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS life_gone; CREATE ROLE life_gone;
             SELECT mq_grant('admin', 'life_gone');
             SELECT mq_publish('life-drop', '{}');
             DROP EXTENSION pg_mq;",
        )
        .unwrap();
    let left: i64 = admin
        .query_one(
            "SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'mq') \
                  + (SELECT count(*) FROM pg_proc WHERE proname LIKE 'mq\\_%') \
                  + (SELECT count(*) FROM pg_class WHERE relname LIKE 'messages%' OR relname LIKE 'traces%') \
                  + (SELECT count(*) FROM pg_shdepend WHERE refobjid = 'life_gone'::regrole)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "DROP EXTENSION left objects or privileges behind");
    // Nothing of pg_mq holds on to the role any more.
    admin.batch_execute("DROP ROLE life_gone").unwrap();

    assert!(
        wait_until(Duration::from_secs(10), || worker_pid(&mut admin).is_none()),
        "the worker did not leave:\n{}",
        cluster.log()
    );
    // It left quietly: one log line, no errors, and no worker comes back without the extension
    // however many ticks pass.
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(worker_pid(&mut admin), None);
    let log = cluster.log()[log_mark..].to_owned();
    assert_eq!(
        log.matches("is not installed in database").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("ERROR") && !log.contains("failed"), "{log}");

    admin.batch_execute("CREATE EXTENSION pg_mq").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || worker_activity(&mut admin)
            .is_some_and(|a| a.contains("recovery every"))),
        "no worker after CREATE EXTENSION:\n{}",
        cluster.log()
    );
    assert_ne!(worker_pid(&mut admin), Some(pid));
}

fn the_worker_waits_for_alter_extension_update(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let log_mark = cluster.log().len();
    // As after installing a new library over a database still at the previous release.
    admin
        .batch_execute(&format!(
            "DROP EXTENSION pg_mq; CREATE EXTENSION pg_mq VERSION '{PREVIOUS}'"
        ))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || cluster.log()[log_mark..]
            .contains(&format!(
            "is version {PREVIOUS}, this library is {}; leaving until ALTER EXTENSION pg_mq UPDATE",
            current()
        ))),
        "the worker did not wait for the update:\n{}",
        cluster.log()
    );
    assert!(
        wait_until(Duration::from_secs(5), || worker_pid(&mut admin).is_none()),
        "a worker stayed with the old version"
    );
    admin.batch_execute("ALTER EXTENSION pg_mq UPDATE").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || worker_activity(&mut admin)
            .is_some_and(|a| a.contains("recovery every"))),
        "the worker did not resume after the update:\n{}",
        cluster.log()
    );
}

/// A restore loads pg_mq's tables one after another. The worker of the restored database must
/// not move anything in between: here the restore runs in two steps (everything, then
/// mq.metric_totals), and an application publishes in between; a fold then would write the
/// totals row the second step loads, and the restore would fail on its primary key.
fn the_worker_keeps_out_of_a_restore_in_progress(cluster: &Cluster) {
    let mut source = fresh_database(cluster, "life_steps_source");
    source.batch_execute("CREATE EXTENSION pg_mq").unwrap();
    load_queue(&mut source);
    drop(source);
    let dir = std::env::temp_dir().join(format!("pg_mq-life-steps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump = dir.join("queue.dump");
    let host = cluster.socket_dir().to_str().unwrap().to_owned();
    let port = cluster.port().to_string();
    let common = ["-h", host.as_str(), "-p", port.as_str(), "-U", "postgres"];
    run_tool(
        "pg_dump",
        &[
            &common[..],
            &[
                "-Fc",
                "-d",
                "life_steps_source",
                "-f",
                dump.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let listing = Command::new(pg_bin().join("pg_restore"))
        .args(["-l", dump.to_str().unwrap()])
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    let (totals, rest): (Vec<&str>, Vec<&str>) = listing
        .lines()
        .partition(|l| l.contains("TABLE DATA mq metric_totals"));
    assert_eq!(totals.len(), 1, "{listing}");
    let first = dir.join("first.list");
    let second = dir.join("second.list");
    std::fs::write(&first, rest.join("\n")).unwrap();
    std::fs::write(&second, totals.join("\n")).unwrap();
    drop(fresh_database(cluster, "life_steps"));
    let restore = |list: &Path| {
        run_tool(
            "pg_restore",
            &[
                &common[..],
                &[
                    "--exit-on-error",
                    "-d",
                    "life_steps",
                    "-L",
                    list.to_str().unwrap(),
                ],
                &[dump.to_str().unwrap()],
            ]
            .concat(),
        )
    };
    restore(&first);
    let mut app = connect_to(cluster, "life_steps");
    app.batch_execute("SELECT mq_publish('life-a', '{\"during\": \"restore\"}')")
        .unwrap();
    // Either the worker says it keeps out, or it has folded the publish's counts already (the
    // bug): whichever comes first.
    assert!(wait_until(Duration::from_secs(10), || {
        let folded: bool = app
            .query_one("SELECT count(*) = 0 FROM mq.metric_counts", &[])
            .unwrap()
            .get(0);
        folded
            || worker_activity(&mut app)
                .is_some_and(|a| a.contains("keeping out while a restore loads rows"))
    }));
    restore(&second);
    let pending: i64 = app
        .query_one(
            "SELECT pending FROM mq_metrics() WHERE topic = 'life-a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        pending, 20,
        "the totals restored plus the message published meanwhile"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
