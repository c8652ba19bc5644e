use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, events, maybe, one, run};
    use pgrx::prelude::*;

    fn poll_group(group: &str, topic: Option<&str>) -> Vec<i64> {
        let topic = topic.map_or("NULL".to_owned(), |t| format!("'{t}'"));
        one::<Vec<i64>>(&format!(
            "SELECT coalesce(array_agg(id ORDER BY id), '{{}}') \
             FROM mq_poll({topic}, 100, consumer_group => '{group}')"
        ))
    }

    #[pg_test]
    fn every_subscribed_group_gets_the_message_once_and_the_payload_is_stored_once() {
        assert_eq!(
            one::<i64>("SELECT mq_subscribe('billing', 'orders.*')"),
            one::<i64>("SELECT mq_subscribe('billing', 'orders.*')"),
        );
        run("SELECT mq_subscribe('billing', 'orders.#')"); // matches too: still once
        run("SELECT mq_subscribe('shipping', 'orders.eu')");
        let id =
            one::<i64>("SELECT mq_publish('orders.eu', '{\"order\": 7}', headers => '{\"h\": 1}')");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.payloads"), 1);
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.messages WHERE payload_id = {id}"
            )),
            2
        );
        // Not point-to-point any more: a poll without a group finds nothing.
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('orders.eu')"), 0);
        let billing = one::<pgrx::JsonB>(
            "SELECT jsonb_build_object('payload', payload, 'headers', headers, 'group', consumer_group) \
             FROM mq_poll('orders.eu', 10, consumer_group => 'billing')",
        );
        assert_eq!(billing.0["payload"]["order"], 7);
        assert_eq!(billing.0["headers"]["h"], 1);
        assert_eq!(billing.0["group"], "billing");
        assert_eq!(poll_group("billing", None), Vec::<i64>::new());
        assert_eq!(poll_group("shipping", None).len(), 1);
        // A topic no pattern matches stays point-to-point; orders.#'s deeper topics do not.
        run("SELECT mq_publish('invoices.eu', '{}')");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('invoices.eu')"), 1);
        run("SELECT mq_publish('orders.eu.late', '{}')");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_poll('orders.eu.late')"),
            0
        );
        assert_eq!(poll_group("billing", Some("orders.eu.late")).len(), 1);
    }

    #[pg_test]
    fn each_group_settles_its_own_delivery() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
        run("SELECT mq_subscribe('a', 'evt'), mq_subscribe('b', 'evt')");
        run("SELECT mq_publish('evt', '{}', max_retries => 0)");
        let (a_id, a_lease) = Spi::get_two::<i64, pgrx::Uuid>(
            "SELECT id, lease FROM mq_poll('evt', 1, consumer_group => 'a')",
        )
        .unwrap();
        let (b_id, b_lease) = Spi::get_two::<i64, pgrx::Uuid>(
            "SELECT id, lease FROM mq_poll('evt', 1, consumer_group => 'b')",
        )
        .unwrap();
        let (a_id, b_id) = (a_id.unwrap(), b_id.unwrap());
        assert_ne!(a_id, b_id);
        assert!(one::<bool>(&format!(
            "SELECT mq_complete({a_id}, '{}')",
            a_lease.unwrap()
        )));
        assert_eq!(
            maybe::<String>(&format!(
                "SELECT mq_fail({b_id}, 'boom', '{}')",
                b_lease.unwrap()
            ))
            .as_deref(),
            Some("FAILED")
        );
        // b's dead letter records the group, and its replay goes to b only.
        assert_eq!(
            one::<String>("SELECT consumer_group FROM mq.dead_letters"),
            "b"
        );
        let replayed = one::<i64>("SELECT mq_replay(id) FROM mq.dead_letters");
        assert_eq!(poll_group("a", Some("evt")), Vec::<i64>::new());
        assert_eq!(poll_group("b", Some("evt")), vec![replayed]);
        // The trace tells the groups apart.
        let groups = one::<Vec<String>>(
            "SELECT array_agg(DISTINCT detail->>'consumer_group') FROM mq.traces \
             WHERE event = 'COMPLETED' OR event = 'FAILED'",
        );
        assert_eq!(groups, vec!["a".to_owned(), "b".to_owned()]);
        let trace = events("SELECT trace_id FROM mq.dead_letters");
        assert_eq!(trace[0], "PUBLISHED");
    }

    #[pg_test]
    fn start_at_delivers_retained_history_and_unsubscribe_removes_what_waits() {
        let first = one::<i64>("SELECT mq_publish('hist', '{\"n\": 1}')");
        let second = one::<i64>("SELECT mq_publish('hist', '{\"n\": 2}')");
        run(&format!(
            "UPDATE mq.messages SET created_at = now() - interval '1 hour' WHERE id = {first}"
        ));
        // From 10 minutes ago: the second message only; the point-to-point copies stay.
        run("SELECT mq_subscribe('late', 'hist', start_at => now() - interval '10 minutes')");
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.messages WHERE consumer_group = 'late' AND payload_id = {second}"
            )),
            1
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('hist', 10)"), 2);
        let delivered =
            one::<pgrx::JsonB>("SELECT payload FROM mq_poll('hist', 10, consumer_group => 'late')");
        assert_eq!(delivered.0["n"], 2);
        // New messages: to the group only; after unsubscribing, point-to-point again.
        run("SELECT mq_publish('hist', '{\"n\": 3}')");
        assert_eq!(one::<i64>("SELECT mq_unsubscribe('late')"), 1);
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM mq.messages WHERE consumer_group = 'late' AND status = 'PENDING'"
            ),
            0
        );
        run("SELECT mq_publish('hist', '{\"n\": 4}')");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('hist', 10)"), 1);
    }

    #[pg_test]
    fn a_paused_group_waits_while_the_others_go_on() {
        run("SELECT mq_subscribe('fast', 'p.*'), mq_subscribe('slow', 'p.*')");
        run("SELECT mq_publish('p.x', '{}')");
        assert!(one::<bool>(
            "SELECT mq_pause(NULL, consumer_group => 'slow')"
        ));
        assert_eq!(poll_group("slow", None).len(), 0);
        assert_eq!(poll_group("fast", None).len(), 1);
        assert!(one::<bool>("SELECT paused FROM mq_subscriptions('slow')"));
        assert!(one::<bool>(
            "SELECT mq_resume(NULL, consumer_group => 'slow')"
        ));
        assert_eq!(poll_group("slow", Some("p.x")).len(), 1);
    }

    #[pg_test]
    fn metrics_are_per_topic_and_group() {
        run("SELECT mq_subscribe('m1', 'met'), mq_subscribe('m2', 'met')");
        run("SELECT mq_publish_batch('met', ARRAY['{}', '{}', '{}']::jsonb[])");
        poll_group("m1", Some("met"));
        let rows = one::<Vec<String>>(
            "SELECT array_agg(consumer_group || ':' || pending || '/' || processing ORDER BY consumer_group) \
             FROM mq_metrics() WHERE topic = 'met'",
        );
        assert_eq!(rows, vec!["m1:0/3".to_owned(), "m2:3/0".to_owned()]);
        assert!(one::<bool>(
            "SELECT mq_metrics_prometheus() LIKE '%mq_queue_depth{topic=\"met\",consumer_group=\"m2\"} 3%'"
        ));
        let subscription = one::<pgrx::JsonB>("SELECT to_jsonb(s) FROM mq_subscriptions('m1') s");
        assert_eq!(subscription.0["processing"], 3);
        assert_eq!(subscription.0["topic_pattern"], "met");
        assert!(!subscription.0["last_poll_at"].is_null());
        assert_eq!(
            one::<i64>("SELECT pending FROM mq_topics() WHERE topic = 'met'"),
            3
        );
    }

    #[pg_test]
    fn bad_subscriptions_are_refused() {
        assert_rejected(
            "SELECT mq_subscribe(NULL, 'a')",
            "22004",
            "\"consumer_group\"",
        );
        assert_rejected(
            "SELECT mq_subscribe('g', NULL)",
            "22004",
            "\"topic_pattern\"",
        );
        assert_rejected(
            "SELECT mq_subscribe('g', 'a..b')",
            "22023",
            "\"topic_pattern\" has an empty word",
        );
        assert_rejected(
            "SELECT mq_subscribe('g', 'or*ders')",
            "22023",
            "whole words",
        );
        assert_rejected(
            "SELECT mq_subscribe('bad group', 'a')",
            "22023",
            "\"consumer_group\"",
        );
        assert_rejected(
            "SELECT mq_subscribe('g', 'a', start_at => now() + interval '1 hour')",
            "22023",
            "\"start_at\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll('a', consumer_group => 'nobody')",
            "42704",
            "consumer group \"nobody\" has no subscription",
        );
        assert_rejected("SELECT * FROM mq_poll(NULL)", "22004", "\"topic\"");
        assert_rejected("SELECT mq_pause(NULL)", "22004", "\"topic\"");
        assert_rejected(
            "SELECT mq_pause('x', consumer_group => 'nobody')",
            "42704",
            "\"nobody\"",
        );
    }
}
