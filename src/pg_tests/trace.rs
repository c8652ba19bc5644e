use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{events, one, poll_one, publish, run};
    use pgrx::prelude::*;

    /// The chain of the trace of message `id` as mq_trace returns it: each event, and for a
    /// PROCESSING event its consumer, attempt, lock duration (its lock expiry less its time)
    /// and consumer group.
    fn chain(id: i64) -> Vec<String> {
        one::<Vec<String>>(&format!(
            "SELECT array_agg(CASE WHEN t.event = 'PROCESSING' \
                 THEN pg_catalog.format('PROCESSING %s #%s %s%s', t.detail ->> 'consumer_id', \
                          t.detail ->> 'attempt', \
                          ((t.detail ->> 'locked_until')::timestamptz - t.created_at)::text, \
                          coalesce(' ' || (t.detail ->> 'consumer_group'), '')) \
                 ELSE t.event END ORDER BY t.n) \
             FROM mq_trace((SELECT trace_id FROM mq.traces WHERE message_id = {id} LIMIT 1)) \
                  WITH ORDINALITY AS t(event, message_id, topic, detail, created_at, n)"
        ))
    }

    /// Polls one message of `topic` as `consumer` with a 7-minute lock; returns (id, lease).
    fn take(topic: &str, consumer: &str) -> (i64, pgrx::Uuid) {
        let (id, lease) = Spi::get_two::<i64, pgrx::Uuid>(&format!(
            "SELECT id, lease FROM mq_poll('{topic}', 1, lock_timeout => '7 minutes', \
                                           consumer_id => '{consumer}')"
        ))
        .unwrap();
        (id.expect("a message"), lease.expect("a lease"))
    }

    /// Every path a message can take leaves the chain it always has: each attempt's
    /// PROCESSING (consumer, attempt, lock expiry) before what ended it, the attempt in flight
    /// too. (Written against 0.2.0's trace, one row per event; the crash is in the worker's
    /// live suite.)
    #[pg_test]
    fn every_path_keeps_its_chain() {
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let p = |c: &str, n: i32| format!("PROCESSING {c} #{n} 00:07:00");

        // Completed; in flight before that.
        let done = publish("tc.done");
        let (_, lease) = take("tc.done", "c1");
        assert_eq!(chain(done), ["PUBLISHED".to_owned(), p("c1", 1)]);
        run(&format!("SELECT mq_complete({done}, '{lease}')"));
        assert_eq!(
            chain(done),
            ["PUBLISHED".to_owned(), p("c1", 1), "COMPLETED".into()]
        );

        // Failed with a retry, failed into the dead letters, replayed, completed.
        let dead = one::<i64>("SELECT mq_publish('tc.dead', '{}', max_retries => 1)");
        let (_, lease) = take("tc.dead", "c1");
        run(&format!("SELECT mq_fail({dead}, 'once', '{lease}')"));
        let (_, lease) = take("tc.dead", "c2");
        run(&format!("SELECT mq_fail({dead}, 'twice', '{lease}')"));
        let again = one::<i64>(&format!(
            "SELECT mq_replay(id) FROM mq.dead_letters WHERE original_id = {dead}"
        ));
        let (_, lease) = take("tc.dead", "c3");
        run(&format!("SELECT mq_complete({again}, '{lease}')"));
        assert_eq!(
            chain(dead),
            [
                "PUBLISHED".to_owned(),
                p("c1", 1),
                "FAILED".into(),
                p("c2", 2),
                "FAILED".into(),
                "DEAD_LETTERED".into(),
                "REPLAYED".into(),
                p("c3", 1),
                "COMPLETED".into()
            ]
        );

        // Recovered after its lock expired, then delivered again (in flight).
        let lost = publish("tc.lost");
        run("SELECT count(*) FROM mq_poll('tc.lost', 1, lock_timeout => '5 milliseconds', consumer_id => 'c1')");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while one::<i64>("SELECT mq_recover()") == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the lock did not expire"
            );
        }
        take("tc.lost", "c2");
        assert_eq!(
            chain(lost),
            [
                "PUBLISHED".to_owned(),
                "PROCESSING c1 #1 00:00:00.005".into(),
                "RECOVERED".into(),
                p("c2", 2)
            ]
        );

        // Failed after its expiry passed: expired into the dead letters.
        let late = one::<i64>(
            "SELECT mq_publish('tc.late', '{}', expires_at => clock_timestamp() + interval '1 hour')",
        );
        let (_, lease) = take("tc.late", "c1");
        run(&format!(
            "UPDATE mq.messages SET expires_at = clock_timestamp() - interval '1 second' WHERE id = {late}"
        ));
        run(&format!("SELECT mq_fail({late}, 'late', '{lease}')"));
        assert_eq!(
            chain(late),
            [
                "PUBLISHED".to_owned(),
                p("c1", 1),
                "FAILED".into(),
                "EXPIRED".into(),
                "DEAD_LETTERED".into()
            ]
        );

        // Purged with its topic while in flight, and while waiting.
        run("SELECT mq_create_topic('tc.gone')");
        let held = publish("tc.gone");
        let waiting = publish("tc.gone");
        take("tc.gone", "c1");
        run("SELECT mq_drop_topic('tc.gone', force => true)");
        assert_eq!(
            chain(held),
            ["PUBLISHED".to_owned(), p("c1", 1), "PURGED".into()]
        );
        assert_eq!(chain(waiting), ["PUBLISHED", "PURGED"]);

        // A delivery to a consumer group, failed once and completed.
        run("SELECT mq_subscribe('tc-g', 'tc.fan')");
        publish("tc.fan");
        let take_group = |consumer: &str| {
            Spi::get_two::<i64, pgrx::Uuid>(&format!(
                "SELECT id, lease FROM mq_poll('tc.fan', 1, lock_timeout => '7 minutes', \
                         consumer_id => '{consumer}', consumer_group => 'tc-g')"
            ))
            .map(|(id, lease)| (id.unwrap(), lease.unwrap()))
            .unwrap()
        };
        let (delivery, lease) = take_group("c1");
        run(&format!("SELECT mq_fail({delivery}, 'once', '{lease}')"));
        let (_, lease) = take_group("c2");
        run(&format!("SELECT mq_complete({delivery}, '{lease}')"));
        let fan = chain(delivery);
        assert_eq!(
            fan[fan.len() - 4..],
            [
                format!("{} tc-g", p("c1", 1)),
                "FAILED".into(),
                format!("{} tc-g", p("c2", 2)),
                "COMPLETED".into()
            ]
        );

        // A batch completion records its attempts too.
        let a = publish("tc.batch");
        let b = publish("tc.batch");
        run(
            "CREATE TEMP TABLE tc_batch AS SELECT id, lease FROM mq_poll('tc.batch', 2, \
                 lock_timeout => '7 minutes', consumer_id => 'c9')",
        );
        run(
            "SELECT count(*) FROM mq_complete_batch((SELECT array_agg(id ORDER BY id) FROM tc_batch), \
                                                    (SELECT array_agg(lease ORDER BY id) FROM tc_batch))",
        );
        for id in [a, b] {
            assert_eq!(
                chain(id),
                ["PUBLISHED".to_owned(), p("c9", 1), "COMPLETED".into()]
            );
        }
        // The listing shows the same PROCESSING events as the chain.
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_traces('tc.dead', event => 'PROCESSING')"),
            3
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq_traces(message_id => {lost}, event => 'PROCESSING')"
            )),
            2
        );
    }

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
