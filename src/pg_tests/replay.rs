use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, one, poll_one, run};
    use pgrx::prelude::*;

    /// Publishes a message on `topic` that fails straight into the dead letters; returns the
    /// dead letter's id.
    fn dead_letter(topic: &str) -> i64 {
        let id = one::<i64>(&format!(
            "SELECT mq_publish('{topic}', '{{\"d\": true}}', priority => 3, max_retries => 0, headers => '{{\"h\": 1}}')"
        ));
        poll_one(topic);
        run(&format!("SELECT mq_fail({id}, 'dead')"));
        one::<i64>(&format!(
            "SELECT id FROM mq.dead_letters WHERE original_id = {id}"
        ))
    }

    #[pg_test]
    fn replay_makes_a_fresh_pending_copy() {
        let dl = dead_letter("replay");
        let new_id = one::<i64>(&format!("SELECT mq_replay({dl})"));
        assert!(one::<bool>(&format!(
            "SELECT m.status = 'PENDING' AND m.retry_count = 0 AND m.topic = d.topic \
               AND m.payload = d.payload AND m.headers = d.headers AND m.trace_id = d.trace_id \
               AND m.priority = 3 AND m.max_retries = 0 AND m.execute_at <= clock_timestamp() \
               AND d.replayed AND d.replayed_at IS NOT NULL AND d.replayed_message_id = m.id \
             FROM mq.dead_letters d JOIN mq.messages m ON m.id = {new_id} WHERE d.id = {dl}"
        )));
        assert_eq!(one::<i64>("SELECT id FROM mq_poll('replay')"), new_id);
        assert_eq!(
            crate::pg_tests::events(&format!(
                "SELECT trace_id FROM mq.messages WHERE id = {new_id}"
            )),
            vec![
                "PUBLISHED",
                "PROCESSING",
                "FAILED",
                "DEAD_LETTERED",
                "REPLAYED",
                "PROCESSING"
            ]
        );
    }

    #[pg_test]
    fn replay_rejects_unknown_and_replayed_ids() {
        assert_rejected(
            "SELECT mq_replay(9223372036854775807::bigint)",
            "P0002",
            "dead_letter_id",
        );
        let dl = dead_letter("twice");
        let new_id = one::<i64>(&format!("SELECT mq_replay({dl})"));
        assert_rejected(
            &format!("SELECT mq_replay({dl}::bigint)"),
            "55000",
            &format!("replayed as message {new_id}"),
        );
        assert_rejected("SELECT mq_replay(NULL)", "22004", "dead_letter_id");
    }

    #[pg_test]
    fn batch_replay_skips_replayed_nulls_duplicates_and_unknown_ids() {
        let a = dead_letter("batch");
        let b = dead_letter("batch");
        let c = dead_letter("batch");
        let first = one::<i64>(&format!("SELECT mq_replay({b})"));
        let ids = one::<Vec<i64>>(&format!(
            "SELECT array_agg(r) FROM mq_replay_batch(ARRAY[{c}, NULL, {a}, {b}, {a}, 9223372036854775807]) AS r"
        ));
        assert_eq!(ids.len(), 2);
        assert!(!ids.contains(&first));
        assert_eq!(
            ids,
            one::<Vec<i64>>(&format!(
                "SELECT array_agg(replayed_message_id ORDER BY id) FROM mq.dead_letters WHERE id IN ({a}, {c})"
            ))
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM mq.dead_letters WHERE topic = 'batch' AND NOT replayed"
            ),
            0
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_replay_batch('{}')"), 0);
    }
}
