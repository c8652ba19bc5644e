//! The batch functions and long-poll arguments.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, events, one, run};
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
    fn complete_many_counts_what_it_completed() {
        run("SELECT mq_publish_batch('cm', array_fill('{}'::jsonb, ARRAY[5]))");
        let polled = one::<Vec<i64>>("SELECT array_agg(id ORDER BY id) FROM mq_poll('cm', 4)");
        let pending =
            one::<i64>("SELECT id FROM mq.messages WHERE topic = 'cm' AND status = 'PENDING'");
        let list = format!(
            "ARRAY[{}, {}, NULL, {}, {pending}, 9223372036854775807]::bigint[]",
            polled[0], polled[1], polled[0]
        );
        assert_eq!(one::<i32>(&format!("SELECT mq_complete({list})")), 2);
        assert_eq!(one::<i32>(&format!("SELECT mq_complete({list})")), 0);
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
        assert_eq!(one::<i32>("SELECT mq_complete('{}'::bigint[])"), 0);
        assert_rejected("SELECT mq_complete(NULL::bigint[])", "22004", "\"ids\"");
    }

    #[pg_test]
    fn fail_many_applies_each_messages_policy() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
        let retry = one::<i64>("SELECT mq_publish('fm', '{}', max_retries => 3)");
        let dead = one::<i64>("SELECT mq_publish('fm', '{}', max_retries => 0)");
        let idle = one::<i64>("SELECT mq_publish('fm-idle', '{}')");
        run("SELECT * FROM mq_poll('fm', 10)");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT mq_fail(ARRAY[{retry}, {dead}, {idle}, NULL], 'bulk failure')"
            )),
            2
        );
        let status =
            |id: i64| one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}"));
        assert_eq!(status(retry), "PENDING");
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
        assert_rejected("SELECT mq_fail(NULL::bigint[])", "22004", "\"ids\"");
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
}
