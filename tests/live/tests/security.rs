//! Least privilege against a live server: roles that log in with one capability each can do
//! exactly their part; topic grants take effect in sessions that are already connected; a
//! hostile search_path and injection-shaped topics and role names change nothing.

use pg_mq_live_tests::{error_message, run_suite, sqlstate, Client, Cluster};

fn main() {
    run_suite(
        "security",
        &[],
        &[
            (
                "each_capability_can_do_exactly_its_part",
                each_capability_can_do_exactly_its_part,
            ),
            (
                "topic_grants_apply_to_connected_sessions",
                topic_grants_apply_to_connected_sessions,
            ),
            (
                "a_hostile_search_path_changes_nothing",
                a_hostile_search_path_changes_nothing,
            ),
            (
                "injection_shaped_topics_and_roles_change_nothing",
                injection_shaped_topics_and_roles_change_nothing,
            ),
        ],
    );
}

const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// A role that can log in (the test cluster trusts local connections).
fn login_role(admin: &mut Client, name: &str) {
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN"
        ))
        .unwrap();
}

/// What each capability opens, as (name, statement) pairs run by every role.
const OPERATIONS: &[(&str, &str)] = &[
    ("publish", "SELECT mq_publish('sec', '{}')"),
    ("publish_batch", "SELECT mq_publish_batch('sec', ARRAY['{}']::jsonb[])"),
    ("poll", "SELECT * FROM mq_poll('sec', 1)"),
    ("complete", "SELECT mq_complete(-1)"),
    (
        "complete_batch",
        "SELECT * FROM mq_complete_batch(ARRAY[-1], ARRAY[gen_random_uuid()])",
    ),
    ("fail", "SELECT mq_fail(-1, 'x')"),
    (
        "fail_batch",
        "SELECT * FROM mq_fail_batch(ARRAY[-1], ARRAY[gen_random_uuid()], 'x')",
    ),
    ("extend", "SELECT mq_extend(-1, gen_random_uuid(), '1 minute')"),
    ("metrics", "SELECT * FROM mq_metrics()"),
    ("prometheus", "SELECT mq_metrics_prometheus()"),
    ("dashboard", "SELECT mq_dashboard()"),
    ("depth", "SELECT * FROM mq_depth()"),
    ("sample", "SELECT mq_metrics_sample()"),
    ("replay", "SELECT * FROM mq_replay_batch(ARRAY[-1])"),
    ("purge", "SELECT mq_purge('sec-nothing')"),
    ("cleanup", "SELECT mq_cleanup('COMPLETED', '100 years')"),
    ("recover", "SELECT mq_recover()"),
    ("retention", "SELECT * FROM mq_retention()"),
    ("trace", "SELECT * FROM mq_trace(gen_random_uuid())"),
    ("list_messages", "SELECT * FROM mq_messages()"),
    ("list_dead_letters", "SELECT * FROM mq_dead_letters()"),
    ("list_traces", "SELECT * FROM mq_traces()"),
    ("read_messages", "SELECT count(*) FROM mq.messages"),
    ("read_dead_letters", "SELECT count(*) FROM mq.dead_letters"),
    ("read_traces", "SELECT count(*) FROM mq.traces"),
    ("read_depth_view", "SELECT count(*) FROM mq.queue_depth"),
    (
        "write_messages",
        "INSERT INTO mq.messages (topic, payload, max_retries, execute_at, trace_id, created_at, updated_at) \
         VALUES ('sec', '{}', 0, now(), gen_random_uuid(), now(), now())",
    ),
    ("delete_messages", "DELETE FROM mq.messages"),
    ("update_dead_letters", "UPDATE mq.dead_letters SET replayed = false"),
    ("write_grants", "DELETE FROM mq.grants"),
    ("grant", "SELECT mq_grant('admin', current_user)"),
    ("revoke", "SELECT mq_revoke('producer', current_user)"),
];

fn allowed(capability: &str) -> &'static [&'static str] {
    const MONITOR: &[&str] = &["metrics", "prometheus", "dashboard", "depth"];
    match capability {
        "producer" => &["publish", "publish_batch"],
        "consumer" => &[
            "poll",
            "complete",
            "complete_batch",
            "fail",
            "fail_batch",
            "extend",
        ],
        "monitor" => MONITOR,
        "admin" => &[
            "metrics",
            "prometheus",
            "dashboard",
            "depth",
            "sample",
            "replay",
            "purge",
            "cleanup",
            "recover",
            "retention",
            "trace",
            "list_messages",
            "list_dead_letters",
            "list_traces",
            "read_messages",
            "read_dead_letters",
            "read_traces",
            "read_depth_view",
        ],
        _ => &[],
    }
}

fn each_capability_can_do_exactly_its_part(cluster: &Cluster) {
    let mut admin = cluster.connect();
    let mut failures = Vec::new();
    for capability in ["producer", "consumer", "monitor", "admin", "none"] {
        let role = format!("sec_{capability}");
        login_role(&mut admin, &role);
        if capability != "none" {
            admin
                .execute("SELECT mq_grant($1, $2)", &[&capability, &role])
                .unwrap();
        }
        let mut session = cluster.connect_as(&role);
        for (operation, sql) in OPERATIONS {
            let outcome = session.batch_execute(sql);
            let expected_ok = allowed(capability).contains(operation);
            match (&outcome, expected_ok) {
                (Ok(()), true) => {}
                (Err(e), false) if sqlstate(e) == INSUFFICIENT_PRIVILEGE => {}
                _ => failures.push(format!("{role} {operation}: {outcome:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn topic_grants_apply_to_connected_sessions(cluster: &Cluster) {
    let mut admin = cluster.connect();
    login_role(&mut admin, "sec_topical");
    admin
        .batch_execute("SELECT mq_grant('consumer', 'sec_topical', 'sec-a')")
        .unwrap();
    admin
        .batch_execute("SELECT mq_publish('sec-a', '{}'), mq_publish('sec-b', '{}')")
        .unwrap();
    let mut consumer = cluster.connect_as("sec_topical");
    let polled = |consumer: &mut Client, topic: &str| {
        consumer
            .query("SELECT id FROM mq_poll($1, 10)", &[&topic])
            .map(|rows| rows.len())
    };
    assert_eq!(polled(&mut consumer, "sec-a").unwrap(), 1);
    let refused = polled(&mut consumer, "sec-b").unwrap_err();
    assert_eq!(sqlstate(&refused), INSUFFICIENT_PRIVILEGE);
    assert!(
        error_message(&refused).contains("may consume from topic \"sec-a\" only"),
        "{refused}"
    );

    // Granted in another session: the connected one sees it at its next call.
    admin
        .batch_execute("SELECT mq_grant('consumer', 'sec_topical', 'sec-b')")
        .unwrap();
    assert_eq!(polled(&mut consumer, "sec-b").unwrap(), 1);

    // Revoked in another session: refused at once.
    admin
        .batch_execute("SELECT mq_revoke('consumer', 'sec_topical', 'sec-a')")
        .unwrap();
    let refused = polled(&mut consumer, "sec-a").unwrap_err();
    assert_eq!(sqlstate(&refused), INSUFFICIENT_PRIVILEGE);
    assert_eq!(polled(&mut consumer, "sec-b").unwrap(), 0);

    // A role granted EXECUTE by hand, without mq_grant, is refused while topic grants exist:
    // topic limits cannot be side-stepped through a role without grants.
    login_role(&mut admin, "sec_by_hand");
    admin
        .batch_execute("GRANT EXECUTE ON FUNCTION mq_poll(text, integer, interval, text, interval, text) TO sec_by_hand")
        .unwrap();
    let mut by_hand = cluster.connect_as("sec_by_hand");
    let refused = polled(&mut by_hand, "sec-b").unwrap_err();
    assert_eq!(sqlstate(&refused), INSUFFICIENT_PRIVILEGE);
    assert!(
        error_message(&refused).contains("may consume from no topic"),
        "{refused}"
    );

    admin
        .batch_execute("SELECT mq_revoke('consumer', 'sec_topical')")
        .unwrap();
    let refused = polled(&mut consumer, "sec-b").unwrap_err();
    assert_eq!(sqlstate(&refused), INSUFFICIENT_PRIVILEGE);
    assert!(error_message(&refused).contains("permission denied for function mq_poll"));
    // No topic grant is left, so topics are no longer checked for anyone.
    assert_eq!(polled(&mut by_hand, "sec-b").unwrap(), 0);
}

fn a_hostile_search_path_changes_nothing(cluster: &Cluster) {
    let mut admin = cluster.connect();
    login_role(&mut admin, "sec_evil");
    admin
        .batch_execute(
            "DROP SCHEMA IF EXISTS evil CASCADE;
             CREATE SCHEMA evil AUTHORIZATION sec_evil;
             SELECT mq_grant('producer', 'sec_evil');
             SELECT mq_grant('consumer', 'sec_evil');",
        )
        .unwrap();
    let mut evil = cluster.connect_as("sec_evil");
    // Objects that would capture unqualified names in pg_mq's statements if its functions
    // resolved names through the caller's search_path: each records that it was called.
    evil.batch_execute(
        "CREATE TABLE evil.calls (what text);
         CREATE TABLE evil.messages (LIKE evil.calls);
         CREATE TABLE evil.traces (LIKE evil.calls);
         CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO evil.calls VALUES ('now'); RETURN '2000-01-01'; END $$;
         CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO evil.calls VALUES ('clock_timestamp'); RETURN '2000-01-01'; END $$;
         CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO evil.calls VALUES ('gen_random_uuid'); RETURN '00000000-0000-0000-0000-000000000000'; END $$;
         CREATE FUNCTION evil.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO evil.calls VALUES ('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
         CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.eq);
         CREATE FUNCTION evil.teq(text, text) RETURNS boolean LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO evil.calls VALUES ('text ='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
         CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.teq);
         SET search_path = evil, public, pg_catalog;",
    )
    .unwrap();
    let id: i64 = evil
        .query_one("SELECT mq_publish('sec-path', '{\"n\": 1}')", &[])
        .unwrap()
        .get(0);
    let polled = evil
        .query("SELECT id FROM mq_poll('sec-path', 10)", &[])
        .unwrap();
    assert_eq!(polled.len(), 1);
    let completed: bool = evil
        .query_one("SELECT mq_complete($1::bigint)", &[&id])
        .unwrap()
        .get(0);
    assert!(completed);

    let calls: i64 = admin
        .query_one("SELECT count(*) FROM evil.calls", &[])
        .unwrap()
        .get(0);
    assert_eq!(calls, 0, "a pg_mq function used the caller's objects");
    let row = admin
        .query_one(
            "SELECT status, created_at > now() - interval '1 hour', \
                    (SELECT count(*) FROM mq_trace(m.trace_id)) \
             FROM mq.messages m WHERE id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "COMPLETED");
    assert!(
        row.get::<_, bool>(1),
        "publish time came from the caller's now()"
    );
    assert_eq!(row.get::<_, i64>(2), 3);
}

fn injection_shaped_topics_and_roles_change_nothing(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute("SELECT mq_publish('sec-keep', '{}')")
        .unwrap();
    let count = |admin: &mut Client| -> i64 {
        admin
            .query_one("SELECT count(*) FROM mq.messages", &[])
            .unwrap()
            .get(0)
    };
    let before = count(&mut admin);
    let topics = [
        "x'); DROP TABLE mq.messages; --",
        "x\"; DELETE FROM mq.messages; --",
        "' OR '1'='1",
        "sec-keep' OR topic <> '",
        "sec-keep; TRUNCATE mq.messages",
        "$$; DROP SCHEMA mq CASCADE; $$",
    ];
    for topic in topics {
        for sql in [
            "SELECT mq_publish($1, '{}')",
            "SELECT count(*) FROM mq_poll($1, 10)",
            "SELECT mq_purge($1)",
            "SELECT count(*) FROM mq_publish_batch($1, ARRAY['{}']::jsonb[])",
        ] {
            let error = admin.query(sql, &[&topic]).unwrap_err();
            assert_eq!(sqlstate(&error), "22023", "{sql} with {topic:?}: {error}");
        }
        // Filters of the listings are parameters: nothing matches, nothing runs.
        let listed: i64 = admin
            .query_one("SELECT count(*) FROM mq_messages(topic => $1)", &[&topic])
            .unwrap()
            .get(0);
        assert_eq!(listed, 0);
        let depth: i64 = admin
            .query_one("SELECT count(*) FROM mq_depth($1)", &[&topic])
            .unwrap()
            .get(0);
        assert_eq!(depth, 0);
    }
    assert_eq!(count(&mut admin), before);

    // A role whose name is made to break out of a GRANT statement gets its grant, and only it.
    let role = "sec\"; DROP TABLE mq.messages; --";
    admin
        .batch_execute(
            "DROP ROLE IF EXISTS \"sec\"\"; DROP TABLE mq.messages; --\"; \
             CREATE ROLE \"sec\"\"; DROP TABLE mq.messages; --\" LOGIN",
        )
        .unwrap();
    admin
        .execute("SELECT mq_grant('producer', $1, 'sec-keep')", &[&role])
        .unwrap();
    let can_publish: bool = admin
        .query_one(
            "SELECT has_function_privilege($1, 'mq_publish(text,jsonb,integer,timestamptz,integer,uuid,jsonb,interval,timestamptz,text,text)', 'EXECUTE')",
            &[&role],
        )
        .unwrap()
        .get(0);
    assert!(can_publish);
    let mut odd = cluster.connect_as(role);
    odd.batch_execute("SELECT mq_publish('sec-keep', '{}')")
        .unwrap();
    admin
        .execute("SELECT mq_revoke('producer', $1)", &[&role])
        .unwrap();
    assert_eq!(count(&mut admin), before + 1);
    let tables: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'mq'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 15, "schema mq lost a table");
}
