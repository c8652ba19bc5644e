use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{events, one, poll_one, publish, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn trace_of_two_failures_then_success() {
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let id = publish("chain");
        for _ in 0..2 {
            poll_one("chain");
            run(&format!("SELECT mq_fail({id}, 'try again')"));
        }
        poll_one("chain");
        run(&format!("SELECT mq_complete({id})"));
        assert_eq!(
            events(&format!("SELECT trace_id FROM mq.messages WHERE id = {id}")),
            vec![
                "PUBLISHED",
                "PROCESSING",
                "FAILED",
                "PROCESSING",
                "FAILED",
                "PROCESSING",
                "COMPLETED"
            ]
        );
        assert!(one::<bool>(&format!(
            "SELECT bool_and(message_id = {id} AND topic = 'chain') FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = {id}))"
        )));
        assert_eq!(
            one::<Vec<i32>>(&format!(
                "SELECT array_agg((t.detail ->> 'attempt')::int ORDER BY t.n) FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = {id})) \
                 WITH ORDINALITY AS t(event, message_id, topic, detail, created_at, n) WHERE t.event = 'PROCESSING'"
            )),
            vec![1, 2, 3]
        );
    }

    #[pg_test]
    fn trace_off_writes_no_trace_rows() {
        run("SET LOCAL pg_mq.trace = off");
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let id = one::<i64>("SELECT mq_publish('quiet', '{}', max_retries => 1)");
        poll_one("quiet");
        run(&format!("SELECT mq_fail({id})"));
        poll_one("quiet");
        run(&format!("SELECT mq_fail({id})"));
        let dl = one::<i64>(&format!(
            "SELECT id FROM mq.dead_letters WHERE original_id = {id}"
        ));
        let new_id = one::<i64>(&format!("SELECT mq_replay({dl})"));
        poll_one("quiet");
        run(&format!("SELECT mq_complete({new_id})"));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.traces WHERE topic = 'quiet'"),
            0
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT status FROM mq.messages WHERE id = {new_id}"
            )),
            "COMPLETED"
        );
    }

    #[pg_test]
    fn unknown_trace_is_empty() {
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_trace(gen_random_uuid())"),
            0
        );
    }
}
