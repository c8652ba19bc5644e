use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{maybe, one, poll_one, publish, run};
    use pgrx::prelude::*;

    fn no_jitter() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
    }

    #[pg_test]
    fn fail_with_retries_left_backs_off_exponentially() {
        no_jitter();
        let id = publish("retry");
        let row = format!("FROM mq.messages WHERE id = {id}");
        poll_one("retry");
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({id}, 'boom')")).as_deref(),
            Some("SCHEDULED")
        );
        assert_eq!(one::<String>(&format!("SELECT status {row}")), "SCHEDULED");
        assert_eq!(one::<i32>(&format!("SELECT retry_count {row}")), 1);
        assert_eq!(one::<String>(&format!("SELECT last_error {row}")), "boom");
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '1 second' {row}"
        )));
        // Not due yet: the backoff keeps it from the next poll.
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('retry')"), 0);

        // Make it due (and PENDING, as the worker would), fail it again: the backoff doubles.
        run(&format!(
            "UPDATE mq.messages SET next_retry_at = clock_timestamp() WHERE id = {id}"
        ));
        assert_eq!(one::<i64>("SELECT mq_promote()"), 1);
        assert_eq!(one::<i32>("SELECT retry_count FROM mq_poll('retry')"), 1);
        run(&format!("SELECT mq_fail({id}, 'boom again')"));
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '2 seconds' {row}"
        )));
    }

    #[pg_test]
    fn backoff_follows_the_settings_and_caps_at_the_max() {
        no_jitter();
        run("SET LOCAL pg_mq.retry_base_delay = '10s'");
        run("SET LOCAL pg_mq.retry_max_delay = '15s'");
        let id = one::<i64>("SELECT mq_publish('capped', '{}', max_retries => 5)");
        let row = format!("FROM mq.messages WHERE id = {id}");
        poll_one("capped");
        run(&format!("SELECT mq_fail({id})"));
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '10 seconds' {row}"
        )));
        run(&format!(
            "UPDATE mq.messages SET next_retry_at = clock_timestamp() WHERE id = {id}"
        ));
        run("SELECT mq_promote()");
        poll_one("capped");
        run(&format!("SELECT mq_fail({id})"));
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '15 seconds' {row}"
        )));
    }

    #[pg_test]
    fn jitter_only_shortens_the_backoff() {
        run("SET LOCAL pg_mq.retry_jitter = 0.5");
        for _ in 0..20 {
            publish("jitter");
        }
        run("SELECT mq_fail(id) FROM mq_poll('jitter', 20)");
        assert!(one::<bool>(
            "SELECT bool_and(next_retry_at - updated_at BETWEEN interval '0.5 seconds' AND interval '1 second') \
             FROM mq.messages WHERE topic = 'jitter'"
        ));
    }

    #[pg_test]
    fn exhausted_retries_fail_the_message_into_the_dead_letters() {
        let id = one::<i64>(
            "SELECT mq_publish('dlq', '{\"p\": 1}', max_retries => 0, headers => '{\"h\": 2}')",
        );
        poll_one("dlq");
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({id}, 'fatal')")).as_deref(),
            Some("FAILED")
        );
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "FAILED"
        );
        assert!(one::<bool>(&format!(
            "SELECT d.topic = 'dlq' AND d.payload = m.payload AND d.headers = m.headers \
               AND d.trace_id = m.trace_id AND d.error_message = 'fatal' AND d.retry_count = 1 \
               AND NOT d.replayed AND d.replayed_at IS NULL AND d.replayed_message_id IS NULL \
             FROM mq.dead_letters d JOIN mq.messages m ON m.id = d.original_id WHERE m.id = {id}"
        )));
        assert_eq!(
            crate::pg_tests::events(&format!("SELECT trace_id FROM mq.messages WHERE id = {id}")),
            vec!["PUBLISHED", "PROCESSING", "FAILED", "DEAD_LETTERED"]
        );
    }

    #[pg_test]
    fn a_message_is_delivered_at_most_one_plus_max_retries_times() {
        no_jitter();
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let id = one::<i64>("SELECT mq_publish('bounded', '{}', max_retries => 2)");
        let mut deliveries = 0;
        let mut outcomes = Vec::new();
        while let Some(got) = maybe::<i64>("SELECT id FROM mq_poll('bounded', 1)") {
            assert_eq!(got, id);
            deliveries += 1;
            outcomes.push(one::<String>(&format!("SELECT mq_fail({id}, 'no')")));
            assert!(deliveries <= 3, "delivered more than 1 + max_retries times");
        }
        assert_eq!(deliveries, 3);
        assert_eq!(outcomes, vec!["PENDING", "PENDING", "FAILED"]);
    }

    #[pg_test]
    fn fail_is_null_and_harmless_for_stale_leases_and_unknown_ids() {
        let id = publish("stale");
        let (_, lease) = poll_one("stale");
        let before = crate::pg_tests::table_counts();
        assert!(
            maybe::<String>(&format!("SELECT mq_fail({id}, 'x', gen_random_uuid())")).is_none()
        );
        assert!(maybe::<String>("SELECT mq_fail(9223372036854775807, 'x')").is_none());
        assert_eq!(crate::pg_tests::table_counts(), before);
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "PROCESSING"
        );
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({id}, 'x', '{lease}')")).as_deref(),
            Some("SCHEDULED")
        );
        // Now waiting for its retry: a second report for the same delivery changes nothing.
        assert!(maybe::<String>(&format!("SELECT mq_fail({id}, 'x', '{lease}')")).is_none());
    }

    #[pg_test]
    fn the_failed_trace_carries_the_error_and_next_due_time() {
        no_jitter();
        let id = publish("ftrace");
        poll_one("ftrace");
        run(&format!("SELECT mq_fail({id}, 'bad input')"));
        assert!(one::<bool>(&format!(
            "SELECT t.detail ->> 'error' = 'bad input' AND (t.detail ->> 'next_retry_at')::timestamptz = m.next_retry_at \
               AND (t.detail ->> 'attempt')::int = 1 \
             FROM mq.traces t JOIN mq.messages m ON m.id = t.message_id \
             WHERE m.id = {id} AND t.event = 'FAILED'"
        )));
    }
}
