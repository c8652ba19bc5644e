use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, error_of, one, publish, run};
    use pgrx::prelude::*;

    /// The extension's functions, as `regprocedure` text, that `condition` (on pg_proc p)
    /// selects.
    fn functions_where(condition: &str) -> Vec<String> {
        one::<Vec<String>>(&format!(
            "SELECT coalesce(array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text COLLATE \"C\"), '{{}}') \
             FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid \
             WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' \
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_mq') \
               AND p.pronamespace::regnamespace::text <> 'tests' AND ({condition})"
        ))
    }

    /// Runs `sql` as `role` (SET LOCAL ROLE); returns the error's SQLSTATE and message, if any.
    fn error_as(role: &str, sql: &str) -> Option<(String, String)> {
        let outcome = error_of(&format!("SET LOCAL ROLE {role}; {sql}"));
        run("RESET ROLE");
        outcome
    }

    #[track_caller]
    fn assert_denied_as(role: &str, sql: &str, needle: &str) {
        match error_as(role, sql) {
            Some((state, message)) => {
                assert_eq!(state, "42501", "{sql}: {message}");
                assert!(
                    message.contains(needle),
                    "{sql}: {message:?} lacks {needle:?}"
                );
            }
            None => panic!("{sql} as {role}: expected insufficient_privilege, it succeeded"),
        }
    }

    #[track_caller]
    fn assert_allowed_as(role: &str, sql: &str) {
        if let Some((state, message)) = error_as(role, sql) {
            panic!("{sql} as {role}: {state} {message}");
        }
    }

    #[pg_test]
    fn no_function_is_executable_by_public() {
        assert!(functions_where("true").len() >= 25);
        let open = functions_where(
            "p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a \
             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')",
        );
        assert!(open.is_empty(), "executable by PUBLIC: {open:?}");
    }

    #[pg_test]
    fn nothing_in_schema_mq_is_readable_by_public() {
        let open = one::<i64>(
            "SELECT count(*) FROM pg_class c \
             WHERE c.relnamespace = 'mq'::regnamespace AND c.relacl IS NOT NULL \
               AND EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantee = 0)",
        );
        assert_eq!(open, 0);
        assert!(!one::<bool>(
            "SELECT coalesce(bool_or(a.grantee = 0), false) \
             FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.nspname = 'mq'"
        ));
    }

    #[pg_test]
    fn queue_functions_run_as_owner_with_a_pinned_search_path() {
        // An aggregate has no settings of its own; its state function is pinned.
        let unpinned = functions_where(
            "p.prokind <> 'a' AND p.proconfig IS DISTINCT FROM '{\"search_path=pg_catalog, pg_temp\"}'",
        );
        assert!(unpinned.is_empty(), "search_path not pinned: {unpinned:?}");
        // Only the privilege functions (which act as the calling superuser), the trigger and
        // the helpers called by owner-run functions run as their caller.
        let invoker = functions_where("NOT p.prosecdef");
        assert_eq!(
            invoker,
            vec![
                "mq.catalog_changed()",
                "mq.check_paging(integer,integer)",
                "mq.current_metrics(timestamp with time zone)",
                "mq.grants_changed()",
                "mq.histogram_add(bigint[],bigint[])",
                "mq.histogram_sum(bigint[])",
                "mq.latency_histogram(double precision[])",
                "mq.oldest_pending_due(text,text)",
                "mq_grant(text,name,text)",
                "mq_revoke(text,name,text)",
            ]
        );
    }

    #[pg_test]
    fn grant_arguments_are_checked() {
        run("CREATE ROLE mq_test_args");
        assert_rejected(
            "SELECT mq_grant(NULL, 'mq_test_args')",
            "22004",
            "argument \"capability\"",
        );
        assert_rejected(
            "SELECT mq_grant('writer', 'mq_test_args')",
            "22023",
            "argument \"capability\"",
        );
        assert_rejected(
            "SELECT mq_grant('producer', NULL)",
            "22004",
            "argument \"role\"",
        );
        assert_rejected(
            "SELECT mq_grant('producer', 'mq_test_nobody')",
            "42704",
            "role \"mq_test_nobody\" does not exist",
        );
        assert_rejected(
            "SELECT mq_grant('producer', 'public')",
            "42704",
            "role \"public\" does not exist",
        );
        assert_rejected(
            "SELECT mq_grant('admin', 'mq_test_args', 'orders')",
            "22023",
            "argument \"topic\"",
        );
        assert_rejected(
            "SELECT mq_grant('producer', 'mq_test_args', 'bad topic')",
            "22023",
            "argument \"topic\"",
        );
        assert_rejected(
            "SELECT mq_revoke('consumer', 'mq_test_args', '')",
            "22023",
            "argument \"topic\"",
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.grants"), 0);
    }

    #[pg_test]
    fn grant_and_revoke_give_and_take_execute() {
        run("CREATE ROLE mq_test_app");
        let can = |function: &str| -> bool {
            one(&format!(
                "SELECT has_function_privilege('mq_test_app', '{function}', 'EXECUTE')"
            ))
        };
        let publish_fn =
            "mq_publish(text,jsonb,integer,timestamptz,integer,uuid,jsonb,interval,timestamptz,text,text)";
        let poll_fn = "mq_poll(text,integer,interval,text,interval,text)";
        assert!(!can(publish_fn));

        run("SELECT mq_grant('producer', 'mq_test_app')");
        run("SELECT mq_grant('producer', 'mq_test_app')"); // again: nothing new
        assert!(can(publish_fn));
        assert!(can(
            "mq_publish_batch(text,jsonb[],integer,timestamptz,integer,jsonb,interval,timestamptz,text[],text[])"
        ));
        assert!(!can(poll_fn));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.grants WHERE role = 'mq_test_app'::regrole"),
            1
        );

        run("SELECT mq_grant('consumer', 'mq_test_app')");
        assert!(can(poll_fn));
        assert!(can("mq_complete(bigint,uuid,text)"));
        assert!(can("mq_complete_batch(bigint[],uuid[],text)"));
        assert!(can("mq_fail_batch(bigint[],uuid[],text,interval,text)"));
        assert!(can("mq_extend(bigint,uuid,interval,text)"));
        assert!(!can("mq_replay(bigint)"));

        run("SELECT mq_revoke('producer', 'mq_test_app')");
        assert!(!can(publish_fn));
        assert!(can(poll_fn));

        // Admin reads the tables; revoking it keeps the monitor functions of a monitor.
        run("SELECT mq_grant('monitor', 'mq_test_app')");
        run("SELECT mq_grant('admin', 'mq_test_app')");
        assert!(can("mq_replay(bigint)"));
        assert!(one::<bool>(
            "SELECT has_table_privilege('mq_test_app', 'mq.messages', 'SELECT')"
        ));
        assert!(!one::<bool>(
            "SELECT has_table_privilege('mq_test_app', 'mq.messages', 'INSERT')"
        ));
        run("SELECT mq_revoke('admin', 'mq_test_app')");
        assert!(!can("mq_replay(bigint)"));
        assert!(can("mq_metrics(interval)"));
        assert!(!one::<bool>(
            "SELECT has_table_privilege('mq_test_app', 'mq.messages', 'SELECT')"
        ));
        run("SELECT mq_revoke('monitor', 'mq_test_app')");
        assert!(!can("mq_metrics(interval)"));
        // Revoking what was never granted changes nothing.
        run("SELECT mq_revoke('admin', 'mq_test_app')");
        run("SELECT mq_revoke('consumer', 'mq_test_app')");
        assert!(!can(poll_fn));
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.grants"), 0);
    }

    #[pg_test]
    fn a_role_limited_to_a_topic_is_refused_others() {
        run("CREATE ROLE mq_test_orders");
        run("CREATE ROLE mq_test_any");
        run("SELECT mq_grant('producer', 'mq_test_orders', 'orders')");
        run("SELECT mq_grant('consumer', 'mq_test_orders', 'orders')");
        run("SELECT mq_grant('producer', 'mq_test_any')");

        assert_allowed_as("mq_test_orders", "SELECT mq_publish('orders', '{}')");
        assert_denied_as(
            "mq_test_orders",
            "SELECT mq_publish('payments', '{}')",
            "permission denied for topic \"payments\": role \"mq_test_orders\" may publish to topic \"orders\" only",
        );
        assert_denied_as(
            "mq_test_orders",
            "SELECT mq_publish_batch('payments', ARRAY['{}']::jsonb[])",
            "topic \"payments\"",
        );
        assert_allowed_as("mq_test_any", "SELECT mq_publish('payments', '{}')");

        // Consuming: poll by topic, complete and fail by the messages' topics.
        let payment = publish("payments");
        run("SELECT id FROM mq_poll('payments', 1)");
        assert_denied_as(
            "mq_test_orders",
            "SELECT * FROM mq_poll('payments')",
            "topic \"payments\"",
        );
        assert_denied_as(
            "mq_test_orders",
            &format!("SELECT mq_complete({payment})"),
            "topic \"payments\"",
        );
        let order = publish("orders");
        assert_denied_as(
            "mq_test_orders",
            &format!(
                "SELECT * FROM mq_fail_batch(ARRAY[{order}, {payment}], ARRAY[gen_random_uuid(), gen_random_uuid()], 'x')"
            ),
            "topic \"payments\"",
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT status FROM mq.messages WHERE id = {order}"
            )),
            "PENDING"
        );
        // The topic named in the call is checked directly.
        assert_denied_as(
            "mq_test_orders",
            &format!("SELECT mq_complete({order}, topic => 'payments')"),
            "topic \"payments\"",
        );
        assert_allowed_as("mq_test_orders", "SELECT * FROM mq_poll('orders', 10)");
        let lease = one::<String>(&format!(
            "SELECT lease::text FROM mq.messages WHERE id = {order}"
        ));
        assert_allowed_as(
            "mq_test_orders",
            &format!(
                "SELECT * FROM mq_complete_batch(ARRAY[{order}], ARRAY['{lease}']::uuid[], topic => 'orders')"
            ),
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT status FROM mq.messages WHERE id = {order}"
            )),
            "COMPLETED"
        );

        // The grant for every topic lifts the limit; revoking the topic grant alone ends it.
        run("SELECT mq_grant('producer', 'mq_test_orders')");
        assert_allowed_as("mq_test_orders", "SELECT mq_publish('payments', '{}')");
        run("SELECT mq_revoke('producer', 'mq_test_orders')");
        assert_denied_as(
            "mq_test_orders",
            "SELECT mq_publish('orders', '{}')",
            "mq_publish",
        );
    }

    #[pg_test]
    fn superusers_only_may_grant() {
        run("CREATE ROLE mq_test_plain");
        run("GRANT EXECUTE ON FUNCTION mq_grant(text, name, text) TO mq_test_plain");
        assert_denied_as(
            "mq_test_plain",
            "SELECT mq_grant('admin', 'mq_test_plain')",
            "only superusers",
        );
        assert_denied_as(
            "mq_test_plain",
            "SELECT mq_revoke('admin', 'mq_test_plain')",
            "permission denied for function mq_revoke",
        );
    }

    #[pg_test]
    fn operator_settings_are_for_superusers() {
        run("CREATE ROLE mq_test_setter");
        for setting in ["pg_mq.trace = off", "pg_mq.max_payload_size = '1GB'"] {
            assert_denied_as(
                "mq_test_setter",
                &format!("SET {setting}"),
                "permission denied to set parameter",
            );
        }
        assert_allowed_as("mq_test_setter", "SET pg_mq.lock_timeout = '5s'");
    }
}
