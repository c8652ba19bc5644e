use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, maybe, one, run};
    use pgrx::prelude::*;

    /// Polls `topic` (point-to-point) and returns the (id, ordering key) pairs claimed.
    fn poll(topic: &str) -> Vec<(i64, Option<String>)> {
        Spi::connect_mut(|client| {
            client
                .update(
                    &format!("SELECT id, ordering_key FROM mq_poll('{topic}', 100) ORDER BY id"),
                    None,
                    &[],
                )
                .unwrap()
                .map(|row| {
                    (
                        row.get::<i64>(1).unwrap().unwrap(),
                        row.get::<String>(2).unwrap(),
                    )
                })
                .collect()
        })
    }

    #[pg_test]
    fn one_message_of_a_key_at_a_time_in_order() {
        let a1 = one::<i64>("SELECT mq_publish('ord', '{\"n\": 1}', ordering_key => 'a')");
        let a2 = one::<i64>("SELECT mq_publish('ord', '{\"n\": 2}', ordering_key => 'a')");
        let b1 = one::<i64>("SELECT mq_publish('ord', '{\"n\": 3}', ordering_key => 'b')");
        let free = one::<i64>("SELECT mq_publish('ord', '{\"n\": 4}')");
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {a2}")),
            "WAITING"
        );
        // The heads of a and b and the message without a key; a2 waits.
        let first: Vec<i64> = poll("ord").into_iter().map(|(id, _)| id).collect();
        assert_eq!(first, vec![a1, b1, free]);
        assert!(poll("ord").is_empty());
        assert!(one::<bool>(&format!("SELECT mq_complete({a1})")));
        assert_eq!(poll("ord"), vec![(a2, Some("a".to_owned()))]);
        // Nothing left of key b once its message is done: its row is forgotten.
        assert!(one::<bool>(&format!("SELECT mq_complete({b1})")));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.ordering_keys WHERE ordering_key = 'b'"),
            0
        );
    }

    #[pg_test]
    fn a_retry_keeps_the_key_and_skip_lets_the_next_go_after_a_dead_letter() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let m1 =
            one::<i64>("SELECT mq_publish('ord2', '{}', max_retries => 1, ordering_key => 'k')");
        let m2 = one::<i64>("SELECT mq_publish('ord2', '{}', ordering_key => 'k')");
        assert_eq!(poll("ord2").len(), 1);
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({m1}, 'x')")).as_deref(),
            Some("PENDING")
        );
        // The retry is the key's head again; m2 still waits.
        assert_eq!(poll("ord2"), vec![(m1, Some("k".to_owned()))]);
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({m1}, 'x')")).as_deref(),
            Some("FAILED")
        );
        // skip (the default): the next one proceeds.
        assert_eq!(poll("ord2"), vec![(m2, Some("k".to_owned()))]);
    }

    #[pg_test]
    fn block_holds_the_key_until_the_dead_letter_is_replayed() {
        run("SELECT mq_create_topic('ord3', ordering_dead_letter => 'block')");
        let m1 =
            one::<i64>("SELECT mq_publish('ord3', '{}', max_retries => 0, ordering_key => 'k')");
        let m2 = one::<i64>("SELECT mq_publish('ord3', '{}', ordering_key => 'k')");
        poll("ord3");
        run(&format!("SELECT mq_fail({m1}, 'x')"));
        assert!(poll("ord3").is_empty());
        let blocked = one::<pgrx::JsonB>("SELECT to_jsonb(b) FROM mq_blocked_keys('ord3') b");
        assert_eq!(blocked.0["ordering_key"], "k");
        assert_eq!(blocked.0["head_message_id"], m1);
        assert_eq!(blocked.0["reason"], "dead-lettered");
        // Replayed, the dead letter goes first; then m2.
        let replayed = one::<i64>("SELECT mq_replay(id) FROM mq.dead_letters WHERE topic = 'ord3'");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_blocked_keys('ord3')"),
            0
        );
        assert_eq!(poll("ord3"), vec![(replayed, Some("k".to_owned()))]);
        run(&format!("SELECT mq_complete({replayed})"));
        assert_eq!(poll("ord3"), vec![(m2, Some("k".to_owned()))]);
    }

    #[pg_test]
    fn batches_order_keys_and_groups_keep_their_own_order() {
        run("SELECT mq_subscribe('g1', 'ordg'), mq_subscribe('g2', 'ordg')");
        let ids = one::<Vec<i64>>(
            "SELECT array_agg(i) FROM mq_publish_batch('ordg', ARRAY['{\"n\":1}','{\"n\":2}','{\"n\":3}']::jsonb[], \
             ordering_keys => ARRAY['x', 'x', NULL]) AS i",
        );
        assert_eq!(ids.len(), 3);
        let polled = |group: &str| {
            one::<Vec<i64>>(&format!(
                "SELECT array_agg((payload->>'n')::bigint ORDER BY id) \
                 FROM mq_poll('ordg', 10, consumer_group => '{group}')"
            ))
        };
        assert_eq!(polled("g1"), vec![1, 3]);
        assert_eq!(polled("g2"), vec![1, 3]);
        run("SELECT mq_complete(id) FROM mq.messages WHERE consumer_group = 'g1' AND status = 'PROCESSING'");
        assert_eq!(polled("g1"), vec![2]);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_poll('ordg', 10, consumer_group => 'g2')"),
            0
        );
    }

    #[pg_test]
    fn a_dedup_key_publishes_once_within_the_window() {
        let first = one::<i64>("SELECT mq_publish('dd', '{\"n\": 1}', dedup_key => 'evt-1')");
        let before = one::<i64>("SELECT count(*) FROM mq.messages");
        let traces = one::<i64>("SELECT count(*) FROM mq.traces");
        assert_eq!(
            one::<i64>("SELECT mq_publish('dd', '{\"n\": 2}', dedup_key => 'evt-1')"),
            first
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.messages"), before);
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.traces"), traces);
        assert_eq!(
            one::<i64>("SELECT deduplicated_total FROM mq_metrics() WHERE topic = 'dd'"),
            1
        );
        // Another topic, another key space; within a batch, later duplicates get the first id.
        assert_ne!(
            one::<i64>("SELECT mq_publish('dd2', '{}', dedup_key => 'evt-1')"),
            first
        );
        let ids = one::<Vec<i64>>(
            "SELECT array_agg(i) FROM mq_publish_batch('dd', ARRAY['{}','{}','{}']::jsonb[], \
             dedup_keys => ARRAY['evt-2', 'evt-2', 'evt-1']) AS i",
        );
        assert_eq!(ids.len(), 3);
        let mut sorted = ids.clone();
        sorted.sort();
        assert!(sorted.contains(&first));
        // After the window the key publishes again.
        run("UPDATE mq.dedup_keys SET expires_at = now() - interval '1 second' WHERE dedup_key = 'evt-1'");
        assert_ne!(
            one::<i64>("SELECT mq_publish('dd', '{}', dedup_key => 'evt-1')"),
            first
        );
    }

    #[pg_test]
    fn bad_keys_are_refused() {
        assert_rejected(
            "SELECT mq_publish('t', '{}', ordering_key => '')",
            "22023",
            "\"ordering_key\"",
        );
        assert_rejected(
            &format!(
                "SELECT mq_publish('t', '{{}}', dedup_key => '{}')",
                "k".repeat(256)
            ),
            "22023",
            "\"dedup_key\" is 256 characters long",
        );
        assert_rejected(
            "SELECT mq_publish_batch('t', ARRAY['{}','{}']::jsonb[], ordering_keys => ARRAY['a'])",
            "22023",
            "\"ordering_keys\" must have one element per payload",
        );
        assert_rejected(
            "SELECT mq_publish_batch('t', ARRAY['{}']::jsonb[], dedup_keys => ARRAY[''])",
            "22023",
            "\"dedup_keys\" element 1",
        );
    }
}
