//! The batch functions and long-poll arguments.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, events, maybe, one, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn publish_batch_publishes_each_payload_in_order() {
        let ids = one::<Vec<i64>>(
            "SELECT array_agg(id) FROM mq_publish_batch('many', ARRAY['{\"n\": 1}', '{\"n\": 2}', '{\"n\": 3}']::jsonb[], \
             priority => 4, max_retries => 1, headers => '{\"h\": true}') AS id",
        );
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            one::<Vec<i64>>(&format!(
                "SELECT array_agg((payload ->> 'n')::bigint ORDER BY id) FROM mq.messages WHERE id = ANY('{{{}}}')",
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
            )),
            vec![1, 2, 3]
        );
        assert!(one::<bool>(
            "SELECT bool_and(priority = 4 AND max_retries = 1 AND headers = '{\"h\": true}' AND status = 'PENDING') \
             FROM mq.messages WHERE topic = 'many'"
        ));
        assert_eq!(
            one::<i64>("SELECT count(DISTINCT trace_id) FROM mq.messages WHERE topic = 'many'"),
            3
        );
        assert_eq!(
            events(&format!(
                "SELECT trace_id FROM mq.messages WHERE id = {}",
                ids[1]
            )),
            vec!["PUBLISHED"]
        );
        assert_eq!(
            one::<Vec<i64>>("SELECT array_agg(id ORDER BY id) FROM mq_poll('many', 10)"),
            ids
        );
    }

    #[pg_test]
    fn publish_batch_edge_cases() {
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_publish_batch('empty', '{}'::jsonb[])"),
            0
        );
        let id = one::<i64>(
            "SELECT id FROM mq_publish_batch('later-batch', ARRAY['1']::jsonb[], execute_at => now() + interval '1 hour') AS id",
        );
        assert!(one::<bool>(&format!(
            "SELECT execute_at > clock_timestamp() FROM mq.messages WHERE id = {id}"
        )));
        run("SET LOCAL pg_mq.default_max_retries = 9");
        let id = one::<i64>("SELECT id FROM mq_publish_batch('d', ARRAY['1']::jsonb[]) AS id");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT max_retries FROM mq.messages WHERE id = {id}"
            )),
            9
        );
    }

    #[pg_test]
    fn publish_batch_rejects_bad_input_and_writes_nothing() {
        assert_rejected(
            "SELECT mq_publish_batch('b', ARRAY['1', NULL, '3']::jsonb[])",
            "22004",
            "element 2",
        );
        assert_rejected(
            "SELECT mq_publish_batch('b', NULL)",
            "22004",
            "\"payloads\"",
        );
        assert_rejected(
            "SELECT mq_publish_batch(NULL, ARRAY['1']::jsonb[])",
            "22004",
            "\"topic\"",
        );
        assert_rejected(
            "SELECT mq_publish_batch('b c', ARRAY['1']::jsonb[])",
            "22023",
            "\"topic\"",
        );
        assert_rejected(
            "SELECT mq_publish_batch('b', ARRAY['1']::jsonb[], max_retries => -1)",
            "22023",
            "\"max_retries\"",
        );
        assert_rejected(
            "SELECT mq_publish_batch('b', ARRAY['1']::jsonb[], headers => '[]')",
            "22023",
            "\"headers\"",
        );
        run("SET LOCAL pg_mq.max_payload_size = '1kB'");
        assert_rejected(
            "SELECT mq_publish_batch('b', ARRAY['1', jsonb_build_object('s', repeat('x', 2000))])",
            "54000",
            "element 2",
        );
        assert_rejected(
            "SELECT mq_publish_batch('b', ARRAY['1']::jsonb[], \
             headers => jsonb_build_object('s', repeat('x', 2000)))",
            "54000",
            "\"headers\"",
        );
    }

    #[pg_test]
    fn complete_batch_completes_current_leases_and_reports_each_element() {
        run("SELECT mq_publish_batch('cm', array_fill('{}'::jsonb, ARRAY[5]))");
        run("CREATE TEMP TABLE cm_polled AS SELECT id, lease FROM mq_poll('cm', 4) ORDER BY id");
        let polled = one::<Vec<i64>>("SELECT array_agg(id ORDER BY id) FROM cm_polled");
        let lease = |i: usize| {
            one::<String>(&format!(
                "SELECT lease::text FROM cm_polled WHERE id = {}",
                polled[i]
            ))
        };
        let pending =
            one::<i64>("SELECT id FROM mq.messages WHERE topic = 'cm' AND status = 'PENDING'");
        // In the caller's order: two current leases, a stale one, a NULL id, a repeat, a
        // message not in flight and an unknown id.
        let call = format!(
            "SELECT array_agg(coalesce(status, '-') ORDER BY n) FROM mq_complete_batch(\
                 ARRAY[{}, {}, {}, NULL, {}, {pending}, 9223372036854775807]::bigint[], \
                 ARRAY['{}', '{}', gen_random_uuid(), gen_random_uuid(), '{}', gen_random_uuid(), gen_random_uuid()]::uuid[]) \
             WITH ORDINALITY AS r(id, status, n)",
            polled[1], polled[0], polled[2], polled[1], lease(1), lease(0), lease(1)
        );
        assert_eq!(
            one::<Vec<String>>(&call),
            vec!["COMPLETED", "COMPLETED", "-", "-", "-", "-", "-"]
        );
        assert_eq!(
            one::<Vec<String>>(&call),
            vec!["-", "-", "-", "-", "-", "-", "-"],
            "a second call changes nothing"
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM mq.messages WHERE topic = 'cm' AND status = 'COMPLETED'"
            ),
            2
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.traces WHERE topic = 'cm' AND event = 'COMPLETED'"),
            2
        );
        assert_eq!(
            one::<i64>("SELECT consumed_total FROM mq_metrics() WHERE topic = 'cm'"),
            2
        );
        // The stale one is still in flight with its own lease.
        assert_eq!(
            one::<String>(&format!(
                "SELECT status FROM mq.messages WHERE id = {}",
                polled[2]
            )),
            "PROCESSING"
        );
    }

    #[pg_test]
    fn an_empty_or_null_batch_is_empty() {
        for call in [
            "mq_complete_batch(NULL, NULL)",
            "mq_complete_batch('{}', NULL)",
            "mq_complete_batch(ARRAY[]::bigint[], ARRAY[]::uuid[])",
            "mq_fail_batch(NULL, NULL, 'x')",
            "mq_fail_batch('{}', '{}')",
        ] {
            assert_eq!(
                one::<i64>(&format!("SELECT count(*) FROM {call}")),
                0,
                "{call}"
            );
        }
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_replay_batch(NULL)"), 0);
        // The README's poll-and-ack of an idle poll: array_agg over no rows is NULL.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM mq_complete_batch(\
                     (SELECT array_agg(id) FROM mq_poll('nothing-here')), \
                     (SELECT array_agg(lease) FROM mq_poll('nothing-here')))"
            ),
            0
        );
    }

    #[pg_test]
    fn batch_leases_must_match_the_ids() {
        assert_rejected(
            "SELECT * FROM mq_complete_batch(ARRAY[1, 2]::bigint[], NULL)",
            "22004",
            "\"leases\"",
        );
        assert_rejected(
            "SELECT * FROM mq_complete_batch(ARRAY[1, 2]::bigint[], ARRAY[gen_random_uuid()])",
            "22023",
            "2 ids, 1 leases",
        );
        assert_rejected(
            "SELECT * FROM mq_fail_batch(ARRAY[1, 2]::bigint[], ARRAY[gen_random_uuid(), NULL])",
            "22004",
            "element 2",
        );
        assert_rejected(
            "SELECT * FROM mq_complete_batch(ARRAY[1]::bigint[], ARRAY[gen_random_uuid()], topic => 'a b')",
            "22023",
            "\"topic\"",
        );
    }

    #[pg_test]
    fn fail_batch_applies_each_messages_policy() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
        let retry = one::<i64>("SELECT mq_publish('fm', '{}', max_retries => 3)");
        let dead = one::<i64>("SELECT mq_publish('fm', '{}', max_retries => 0)");
        let idle = one::<i64>("SELECT mq_publish('fm-idle', '{}')");
        run("CREATE TEMP TABLE fm_polled AS SELECT id, lease FROM mq_poll('fm', 10)");
        assert_eq!(
            one::<Vec<String>>(&format!(
                "SELECT array_agg(coalesce(status, '-') ORDER BY n) FROM mq_fail_batch(\
                     ARRAY[{retry}, {dead}, {idle}, NULL], \
                     ARRAY[(SELECT lease FROM fm_polled WHERE id = {retry}), \
                           (SELECT lease FROM fm_polled WHERE id = {dead}), \
                           gen_random_uuid(), gen_random_uuid()], \
                     'bulk failure') WITH ORDINALITY AS r(id, status, n)"
            )),
            vec!["SCHEDULED", "FAILED", "-", "-"]
        );
        let status =
            |id: i64| one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}"));
        assert_eq!(status(retry), "SCHEDULED");
        assert_eq!(status(dead), "FAILED");
        assert_eq!(status(idle), "PENDING");
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '1 second' AND last_error = 'bulk failure' \
             FROM mq.messages WHERE id = {retry}"
        )));
        assert_eq!(
            one::<String>(&format!(
                "SELECT error_message FROM mq.dead_letters WHERE original_id = {dead}"
            )),
            "bulk failure"
        );
    }

    #[pg_test]
    fn fail_retry_in_sets_the_next_delivery_and_counts_the_attempt() {
        let id = one::<i64>("SELECT mq_publish('ri', '{}', max_retries => 1)");
        run("CREATE TEMP TABLE ri_polled AS SELECT id, lease FROM mq_poll('ri', 1)");
        assert_eq!(
            one::<String>(
                "SELECT mq_fail(id, 'later', lease, retry_in => '10 minutes') FROM ri_polled"
            ),
            "SCHEDULED"
        );
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '10 minutes' AND retry_count = 1 \
             FROM mq.messages WHERE id = {id}"
        )));
        // retry_in does not add attempts: the next failure dead-letters it.
        run(&format!(
            "UPDATE mq.messages SET next_retry_at = now() WHERE id = {id}"
        ));
        run("SELECT mq_promote()");
        run("SELECT * FROM mq_poll('ri', 1)");
        assert_eq!(
            one::<String>(&format!("SELECT mq_fail({id}, 'again', retry_in => '0')")),
            "FAILED"
        );
        assert_rejected(
            &format!("SELECT mq_fail({id}, 'x', retry_in => '-1 second')"),
            "22023",
            "\"retry_in\"",
        );
    }

    #[pg_test]
    fn extend_moves_the_lock_of_the_current_delivery_only() {
        let id = one::<i64>("SELECT mq_publish('ext', '{}')");
        let lease =
            one::<String>("SELECT lease::text FROM mq_poll('ext', 1, lock_timeout => '1 minute')");
        let before = one::<bool>(&format!(
            "SELECT locked_until < clock_timestamp() + interval '2 minutes' FROM mq.messages WHERE id = {id}"
        ));
        assert!(before);
        run(&format!(
            "CREATE TEMP TABLE extended AS SELECT mq_extend({id}, '{lease}', '1 hour') AS until"
        ));
        assert!(one::<bool>(&format!(
            "SELECT e.until = m.locked_until AND m.locked_until > clock_timestamp() + interval '59 minutes' \
             FROM extended e, mq.messages m WHERE m.id = {id}"
        )));
        // Never shortened.
        assert!(one::<bool>(&format!(
            "SELECT mq_extend({id}, '{lease}', '1 second') > clock_timestamp() + interval '59 minutes'"
        )));
        assert!(maybe::<pgrx::datum::TimestampWithTimeZone>(&format!(
            "SELECT mq_extend({id}, gen_random_uuid(), '1 hour')"
        ))
        .is_none());
        assert!(maybe::<pgrx::datum::TimestampWithTimeZone>(&format!(
            "SELECT mq_extend({id}, '{lease}', '1 hour', topic => 'elsewhere')"
        ))
        .is_none());
        assert_rejected(
            &format!("SELECT mq_extend({id}, '{lease}', '0')"),
            "22023",
            "\"extend_by\"",
        );
        assert_rejected(
            &format!("SELECT mq_extend({id}, NULL, '1 hour')"),
            "22004",
            "\"lease\"",
        );
        run(&format!("SELECT mq_complete({id}, '{lease}')"));
        assert!(maybe::<pgrx::datum::TimestampWithTimeZone>(&format!(
            "SELECT mq_extend({id}, '{lease}', '1 hour')"
        ))
        .is_none());
    }

    #[pg_test]
    fn the_topic_argument_is_checked_when_given() {
        let id = one::<i64>("SELECT mq_publish('named', '{}')");
        let lease = one::<String>("SELECT lease::text FROM mq_poll('named', 1)");
        assert!(!one::<bool>(&format!(
            "SELECT mq_complete({id}, '{lease}', topic => 'other')"
        )));
        assert!(maybe::<String>(&format!(
            "SELECT mq_fail({id}, 'x', '{lease}', topic => 'other')"
        ))
        .is_none());
        assert!(one::<bool>(&format!(
            "SELECT mq_complete({id}, '{lease}', topic => 'named')"
        )));
    }

    #[pg_test]
    fn publish_batch_takes_a_delay() {
        run("SELECT mq_publish_batch('bd', ARRAY['{}', '{}']::jsonb[], delay => '1 hour')");
        assert!(one::<bool>(
            "SELECT bool_and(execute_at - created_at = interval '1 hour') FROM mq.messages WHERE topic = 'bd'"
        ));
        assert_rejected(
            "SELECT mq_publish_batch('bd', ARRAY['{}']::jsonb[], execute_at => now(), delay => '1 minute')",
            "22023",
            "\"delay\"",
        );
        assert_rejected(
            "SELECT mq_publish_batch('bd', ARRAY['{}']::jsonb[], delay => '-1 minute')",
            "22023",
            "\"delay\"",
        );
    }

    #[pg_test]
    fn poll_wait_arguments() {
        assert_rejected(
            "SELECT * FROM mq_poll('w', wait => '-1 second')",
            "22023",
            "\"wait\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll('w', wait => NULL)",
            "22004",
            "\"wait\"",
        );
        // Nothing arrives: the poll returns empty once the wait is over, not before.
        assert!(one::<bool>(
            "WITH t AS (SELECT clock_timestamp() AS started), \
                  p AS (SELECT count(*) AS n FROM mq_poll('w', wait => '150 milliseconds')) \
             SELECT p.n = 0 AND clock_timestamp() - t.started >= interval '150 milliseconds' FROM t, p"
        ));
        // Something is due: no waiting.
        run("SELECT mq_publish('w2', '{}')");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_poll('w2', wait => '1 hour')"),
            1
        );
    }

    /// The plan of a batch statement over the messages, generic as the plan cache makes it:
    /// EXPLAIN's text.
    fn generic_plan(statement: crate::pg::statements::Statement) -> String {
        let types: Vec<String> = statement
            .arg_types()
            .iter()
            .map(|oid| one::<String>(&format!("SELECT format_type({}, NULL)", oid.to_u32())))
            .collect();
        let name = format!("plan_{}", statement.file().replace(['/', '.'], "_"));
        run("SET LOCAL plan_cache_mode = force_generic_plan");
        run(&format!(
            "PREPARE {name}({}) AS {}",
            types.join(", "),
            statement.sql(true)
        ));
        let nulls = vec!["NULL"; types.len()].join(", ");
        let plan = Spi::connect(|client| {
            client
                .select(
                    &format!("EXPLAIN (COSTS OFF) EXECUTE {name}({nulls})"),
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| row.get::<String>(1).unwrap().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        });
        run(&format!("DEALLOCATE {name}"));
        plan
    }

    #[pg_test]
    fn batch_settlements_look_each_id_up_once() {
        // Each element of a batch finds its message through the primary key: the cost is the
        // batch's length, not its square (a scan of the whole id list per element, as a join
        // filtered by `id = ANY(ids)` planned it, took 3.4 s for 3,500 ids).
        use crate::pg::statements::Statement;
        // A queue of some size, analyzed, so that the plans are the ones a real queue gets.
        run("SELECT count(*) FROM mq_publish_batch('plans', \
             ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, 20000) g))");
        run("SELECT count(*) FROM mq_poll('plans', 5000)");
        run("ANALYZE mq.messages");
        for statement in [
            Statement::CompleteBatch,
            Statement::LockForFailure,
            Statement::Settle,
        ] {
            let plan = generic_plan(statement);
            assert!(
                !plan.contains("id = ANY"),
                "{}: the whole id list is scanned:\n{plan}",
                statement.file()
            );
            assert!(
                plan.contains("Index Cond: (id = b.id)")
                    || plan.contains("Index Cond: (id = o.id)"),
                "{}: no primary-key lookup per element:\n{plan}",
                statement.file()
            );
        }
    }
}
