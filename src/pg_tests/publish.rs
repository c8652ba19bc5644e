use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{maybe, one, publish, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn publish_stores_a_pending_message_with_the_defaults() {
        let id = one::<i64>("SELECT mq_publish('orders', '{\"order\": 42}')");
        let row = format!("FROM mq.messages WHERE id = {id}");
        assert_eq!(one::<String>(&format!("SELECT status {row}")), "PENDING");
        assert_eq!(one::<String>(&format!("SELECT topic {row}")), "orders");
        assert_eq!(
            one::<String>(&format!("SELECT payload::text {row}")),
            "{\"order\": 42}"
        );
        assert_eq!(one::<i32>(&format!("SELECT priority {row}")), 0);
        assert_eq!(one::<i32>(&format!("SELECT retry_count {row}")), 0);
        assert_eq!(one::<i32>(&format!("SELECT max_retries {row}")), 3);
        assert!(maybe::<String>(&format!("SELECT headers::text {row}")).is_none());
        assert!(maybe::<String>(&format!("SELECT next_retry_at::text {row}")).is_none());
        assert!(one::<bool>(&format!("SELECT trace_id IS NOT NULL {row}")));
        assert!(one::<bool>(&format!(
            "SELECT execute_at BETWEEN now() AND clock_timestamp() {row}"
        )));
    }

    #[pg_test]
    fn publish_keeps_the_arguments_it_is_given() {
        let id = one::<i64>(
            "SELECT mq_publish('billing', '[1, 2]', priority => 5, max_retries => 0, \
             trace_id => 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', headers => '{\"k\": \"v\"}', \
             execute_at => '2030-01-01 00:00:00+00')",
        );
        let row = format!("FROM mq.messages WHERE id = {id}");
        assert_eq!(one::<i32>(&format!("SELECT priority {row}")), 5);
        assert_eq!(one::<i32>(&format!("SELECT max_retries {row}")), 0);
        assert_eq!(
            one::<String>(&format!("SELECT trace_id::text {row}")),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(
            one::<String>(&format!("SELECT headers::text {row}")),
            "{\"k\": \"v\"}"
        );
        assert!(one::<bool>(&format!(
            "SELECT execute_at = '2030-01-01 00:00:00+00' {row}"
        )));
    }

    #[pg_test]
    fn delay_makes_a_message_due_later() {
        let id = one::<i64>("SELECT mq_publish('later', '{}', delay => '1 hour')");
        assert!(one::<bool>(&format!(
            "SELECT execute_at - created_at = interval '1 hour' FROM mq.messages WHERE id = {id}"
        )));
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('later')"), 0);
    }

    #[pg_test]
    fn a_past_execute_at_is_due_at_once() {
        let id =
            one::<i64>("SELECT mq_publish('past', '{}', execute_at => now() - interval '1 day')");
        assert_eq!(one::<i64>("SELECT id FROM mq_poll('past')"), id);
    }

    #[pg_test]
    fn default_max_retries_comes_from_the_setting() {
        run("SET LOCAL pg_mq.default_max_retries = 7");
        let id = publish("retries");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT max_retries FROM mq.messages WHERE id = {id}"
            )),
            7
        );
    }

    #[pg_test]
    fn publish_writes_a_published_trace_row() {
        let id = publish("traced");
        assert_eq!(
            one::<String>(&format!(
                "SELECT string_agg(event, ',') FROM mq.traces WHERE message_id = {id}"
            )),
            "PUBLISHED"
        );
        assert!(one::<bool>(&format!(
            "SELECT t.trace_id = m.trace_id AND t.topic = 'traced' AND (t.detail ->> 'priority')::int = 0 \
             FROM mq.traces t JOIN mq.messages m ON m.id = t.message_id WHERE m.id = {id}"
        )));
    }

    #[pg_test]
    fn ids_increase() {
        let a = publish("seq");
        let b = publish("seq");
        assert!(b > a);
    }

    #[pg_test]
    fn large_payload_within_the_limit_round_trips() {
        run("SET LOCAL pg_mq.max_payload_size = '2MB'");
        let id = one::<i64>(
            "SELECT mq_publish('big', jsonb_build_object('blob', repeat('x', 1500000)))",
        );
        assert_eq!(
            one::<i32>(&format!(
                "SELECT length(payload ->> 'blob') FROM mq.messages WHERE id = {id}"
            )),
            1_500_000
        );
        assert_eq!(
            one::<i32>("SELECT length(payload ->> 'blob') FROM mq_poll('big')"),
            1_500_000
        );
    }
}
