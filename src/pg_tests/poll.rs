use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{one, publish, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn poll_claims_in_priority_then_due_then_id_order() {
        let low = one::<i64>("SELECT mq_publish('order', '{}', priority => 0)");
        let high = one::<i64>("SELECT mq_publish('order', '{}', priority => 9)");
        let early = one::<i64>(
            "SELECT mq_publish('order', '{}', priority => 0, execute_at => now() - interval '1 minute')",
        );
        let low2 = one::<i64>("SELECT mq_publish('order', '{}', priority => 0)");
        let got = one::<Vec<i64>>(
            "SELECT array_agg(p.id ORDER BY p.n) FROM mq_poll('order', 10) WITH ORDINALITY AS p(id, topic, payload, headers, priority, retry_count, max_retries, trace_id, published_at, lease, n)",
        );
        assert_eq!(got, vec![high, early, low, low2]);
    }

    #[pg_test]
    fn poll_returns_at_most_batch_size_and_only_its_topic() {
        for _ in 0..5 {
            publish("mine");
        }
        publish("theirs");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('mine', 3)"), 3);
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('mine', 3)"), 2);
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('mine', 3)"), 0);
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM mq.messages WHERE topic = 'theirs' AND status = 'PENDING'"
            ),
            1
        );
    }

    #[pg_test]
    fn poll_marks_the_message_processing_and_returns_its_fields() {
        let id = one::<i64>(
            "SELECT mq_publish('fields', '{\"x\": 1}', priority => 2, max_retries => 4, headers => '{\"h\": 1}')",
        );
        run("CREATE TEMP TABLE polled AS \
             SELECT * FROM mq_poll('fields', 1, lock_timeout => '45 seconds', consumer_id => 'worker-7')");
        assert!(one::<bool>(&format!(
            "SELECT p.payload = '{{\"x\": 1}}' AND p.headers = '{{\"h\": 1}}' AND p.priority = 2 \
               AND p.retry_count = 0 AND p.max_retries = 4 AND p.trace_id = m.trace_id \
               AND p.published_at = m.created_at AND p.lease = m.lease AND p.topic = 'fields' \
               AND m.status = 'PROCESSING' AND m.consumer_id = 'worker-7' \
               AND m.locked_until - m.locked_at = interval '45 seconds' \
             FROM polled p JOIN mq.messages m USING (id) WHERE m.id = {id}"
        )));
    }

    #[pg_test]
    fn each_delivery_gets_its_own_lease() {
        publish("leases");
        publish("leases");
        assert_eq!(
            one::<i64>("SELECT count(DISTINCT lease) FROM mq_poll('leases', 2)"),
            2
        );
    }

    #[pg_test]
    fn default_consumer_id_names_the_backend() {
        publish("who");
        run("SELECT * FROM mq_poll('who')");
        assert_eq!(
            one::<String>("SELECT consumer_id FROM mq.messages WHERE topic = 'who'"),
            one::<String>("SELECT 'pid:' || pg_backend_pid()")
        );
    }

    #[pg_test]
    fn lock_timeout_defaults_to_the_setting() {
        publish("locks");
        run("SET LOCAL pg_mq.lock_timeout = '90s'");
        run("SELECT * FROM mq_poll('locks')");
        assert!(one::<bool>(
            "SELECT locked_until - locked_at = interval '90 seconds' FROM mq.messages WHERE topic = 'locks'"
        ));
    }

    #[pg_test]
    fn a_locked_message_is_not_delivered_again() {
        publish("once");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('once')"), 1);
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('once')"), 0);
    }

    #[pg_test]
    fn poll_writes_a_processing_trace_with_consumer_and_attempt() {
        let id = publish("ptrace");
        run("SELECT * FROM mq_poll('ptrace', consumer_id => 'c1')");
        assert!(one::<bool>(&format!(
            "SELECT detail ->> 'consumer_id' = 'c1' AND (detail ->> 'attempt')::int = 1 \
             FROM mq_traces(message_id => {id}, event => 'PROCESSING')"
        )));
    }

    #[pg_test]
    fn an_expired_lock_is_recovered_and_delivered_again() {
        let id = publish("expired");
        let (_, first_lease) = crate::pg_tests::poll_one("expired");
        run("UPDATE mq.messages SET locked_until = clock_timestamp() - interval '1 second' WHERE topic = 'expired'");
        assert_eq!(one::<i64>("SELECT mq_recover()"), 1);
        let (again, second_lease) = crate::pg_tests::poll_one("expired");
        assert_eq!(again, id);
        assert_ne!(first_lease, second_lease);
        let row = format!("FROM mq.messages WHERE id = {id}");
        assert_eq!(one::<i32>(&format!("SELECT retry_count {row}")), 1);
        assert_eq!(
            one::<String>(&format!("SELECT last_error {row}")),
            "lock timeout"
        );
        assert_eq!(
            crate::pg_tests::events(&format!("SELECT trace_id {row}")),
            vec!["PUBLISHED", "PROCESSING", "RECOVERED", "PROCESSING"]
        );
        assert!(!one::<bool>(&format!(
            "SELECT mq_complete({id}, '{first_lease}')"
        )));
        assert!(one::<bool>(&format!(
            "SELECT mq_complete({id}, '{second_lease}')"
        )));
    }

    #[pg_test]
    fn an_expired_lock_with_no_retries_left_is_dead_lettered() {
        let id = one::<i64>("SELECT mq_publish('doomed', '{}', max_retries => 0)");
        run("SELECT * FROM mq_poll('doomed')");
        run("UPDATE mq.messages SET locked_until = clock_timestamp() - interval '1 second' WHERE topic = 'doomed'");
        run("SELECT mq_recover()");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('doomed')"), 0);
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "FAILED"
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT error_message FROM mq.dead_letters WHERE original_id = {id}"
            )),
            "lock timeout"
        );
    }
}
