use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, events, maybe, one, poll_one, publish, run};
    use pgrx::prelude::*;

    fn config(topic: &str, setting: &str) -> (Option<String>, String) {
        let value = maybe::<String>(&format!(
            "SELECT value FROM mq_topic_config('{topic}') WHERE setting = '{setting}'"
        ));
        let source = one::<String>(&format!(
            "SELECT source FROM mq_topic_config('{topic}') WHERE setting = '{setting}'"
        ));
        (value, source)
    }

    #[pg_test]
    fn create_registers_a_topic_once_and_keeps_its_settings() {
        assert!(one::<bool>(
            "SELECT mq_create_topic('orders', max_retries => 7, lock_timeout => '2 minutes', \
             description => 'order events')"
        ));
        // Creating it again changes nothing.
        assert!(!one::<bool>(
            "SELECT mq_create_topic('orders', max_retries => 1)"
        ));
        assert_eq!(
            config("orders", "max_retries"),
            (Some("7".into()), "topic".into())
        );
        assert_eq!(
            config("orders", "lock_timeout"),
            (Some("00:02:00".into()), "topic".into())
        );
        assert_eq!(
            config("orders", "retry_base_delay"),
            (Some("00:00:01".into()), "server".into())
        );
        assert_eq!(config("orders", "message_ttl"), (None, "server".into()));
        assert_eq!(
            one::<String>("SELECT description FROM mq_topics() WHERE topic = 'orders'"),
            "order events"
        );
        assert_eq!(
            one::<i32>(
                "SELECT (config->>'max_retries')::int FROM mq_topics() WHERE topic = 'orders'"
            ),
            7
        );
    }

    #[pg_test]
    fn precedence_is_argument_then_topic_then_server() {
        run("SET LOCAL pg_mq.default_max_retries = 2");
        run("SET LOCAL pg_mq.lock_timeout = '45s'");
        run("SELECT mq_create_topic('prec', max_retries => 5)");
        // Server: lock timeout; topic: max_retries; argument: each when given.
        let id = publish("prec");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT max_retries FROM mq.messages WHERE id = {id}"
            )),
            5
        );
        let arg = one::<i64>("SELECT mq_publish('prec', '{}', max_retries => 1)");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT max_retries FROM mq.messages WHERE id = {arg}"
            )),
            1
        );
        let other = publish("unconfigured");
        assert_eq!(
            one::<i32>(&format!(
                "SELECT max_retries FROM mq.messages WHERE id = {other}"
            )),
            2
        );

        let locked_for = || {
            let (id, _) = poll_one("prec");
            one::<String>(&format!(
                "SELECT (locked_until - locked_at)::text FROM mq.messages WHERE id = {id}"
            ))
        };
        assert_eq!(locked_for(), "00:00:45");
        run("SELECT mq_alter_topic('prec', lock_timeout => '10 minutes')");
        assert_eq!(locked_for(), "00:10:00");
        assert_eq!(
            one::<String>(
                "SELECT source FROM mq_topic_config('prec', lock_timeout => '1s') \
                 WHERE setting = 'lock_timeout'"
            ),
            "argument"
        );
        // Reset gives the setting back to the server.
        let effective =
            one::<pgrx::JsonB>("SELECT mq_alter_topic('prec', reset => '{lock_timeout}')");
        assert_eq!(effective.0["lock_timeout"], "00:00:45");
        assert_eq!(effective.0["max_retries"], 5);
        assert_eq!(config("prec", "lock_timeout").1, "server");
    }

    #[pg_test]
    fn a_topics_backoff_applies_to_its_failures() {
        run("SET LOCAL pg_mq.retry_jitter = 0");
        run("SELECT mq_create_topic('slow-retry', retry_base_delay => '1 minute', retry_max_delay => '1 hour')");
        let id = publish("slow-retry");
        poll_one("slow-retry");
        run(&format!("SELECT mq_fail({id}, 'x')"));
        assert!(one::<bool>(&format!(
            "SELECT next_retry_at - updated_at = interval '1 minute' FROM mq.messages WHERE id = {id}"
        )));
    }

    #[pg_test]
    fn a_paused_topic_accepts_publishes_and_delivers_nothing() {
        run("SELECT mq_create_topic('held')");
        let id = publish("held");
        let (in_flight, lease) = poll_one("held");
        assert!(one::<bool>("SELECT mq_pause('held')"));
        assert!(!one::<bool>("SELECT mq_pause('held')"));
        publish("held");
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('held', 10)"), 0);
        // A delivery made before the pause still completes.
        assert!(one::<bool>(&format!(
            "SELECT mq_complete({in_flight}, '{lease}')"
        )));
        assert_eq!(in_flight, id);
        assert!(one::<bool>(
            "SELECT paused FROM mq_topics() WHERE topic = 'held'"
        ));
        assert!(one::<bool>(
            "SELECT paused FROM mq_metrics() WHERE topic = 'held'"
        ));
        assert!(one::<bool>(
            "SELECT mq_metrics_prometheus() LIKE '%mq_topic_paused{topic=\"held\"} 1%'"
        ));
        assert!(one::<bool>("SELECT mq_resume('held')"));
        assert!(!one::<bool>("SELECT mq_resume('held')"));
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('held', 10)"), 1);
    }

    #[pg_test]
    fn an_expired_message_is_never_delivered_and_is_dead_lettered() {
        let id = one::<i64>(
            "SELECT mq_publish('ttl', '{\"n\": 1}', expires_at => clock_timestamp() + interval '1 hour')",
        );
        run(&format!(
            "UPDATE mq.messages SET expires_at = clock_timestamp() - interval '1 second' WHERE id = {id}"
        ));
        // Not claimable even before it is moved.
        assert_eq!(one::<i64>("SELECT count(*) FROM mq_poll('ttl', 10)"), 0);
        assert_eq!(one::<i64>("SELECT mq_promote()"), 1);
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "EXPIRED"
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT error_message FROM mq.dead_letters WHERE original_id = {id}"
            )),
            "expired"
        );
        assert_eq!(
            events(&format!("SELECT trace_id FROM mq.messages WHERE id = {id}")),
            vec!["PUBLISHED", "EXPIRED", "DEAD_LETTERED"]
        );
        assert_eq!(
            one::<i64>("SELECT expired_total FROM mq_metrics() WHERE topic = 'ttl'"),
            1
        );
    }

    #[pg_test]
    fn a_failed_delivery_after_the_expiry_expires_instead_of_retrying() {
        run("SELECT mq_create_topic('ttl2', message_ttl => '1 hour', max_retries => 5)");
        let id = publish("ttl2");
        assert!(one::<bool>(&format!(
            "SELECT expires_at - created_at = interval '1 hour' FROM mq.messages WHERE id = {id}"
        )));
        let (_, lease) = poll_one("ttl2");
        run(&format!(
            "UPDATE mq.messages SET expires_at = clock_timestamp() - interval '1 second' WHERE id = {id}"
        ));
        assert_eq!(
            maybe::<String>(&format!("SELECT mq_fail({id}, 'late', '{lease}')")).as_deref(),
            Some("EXPIRED")
        );
        // Replay gives it a fresh expiry from the topic's ttl.
        let replayed = one::<i64>(&format!(
            "SELECT mq_replay(id) FROM mq.dead_letters WHERE original_id = {id}"
        ));
        assert!(one::<bool>(&format!(
            "SELECT expires_at > clock_timestamp() + interval '59 minutes' \
             FROM mq.messages WHERE id = {replayed}"
        )));
    }

    #[pg_test]
    fn capacity_refuses_a_publish_that_would_overflow() {
        run("SELECT mq_create_topic('small', max_depth => 3)");
        publish("small");
        run("SELECT mq_publish_batch('small', ARRAY['{}', '{}']::jsonb[])");
        assert_rejected(
            "SELECT mq_publish('small', '{}')",
            "53400",
            "topic \"small\" is full",
        );
        assert_rejected(
            "SELECT mq_publish_batch('small', ARRAY['{}']::jsonb[])",
            "53400",
            "max_depth is 3",
        );
        // Completing one makes room for one.
        let (id, lease) = poll_one("small");
        run(&format!("SELECT mq_complete({id}, '{lease}')"));
        publish("small");
        assert_rejected("SELECT mq_publish('small', '{}')", "53400", "holds 3");
    }

    #[pg_test]
    fn drop_refuses_a_topic_in_use_unless_forced() {
        run("SELECT mq_create_topic('gone', max_retries => 1)");
        publish("gone");
        publish("gone");
        poll_one("gone");
        assert_rejected("SELECT mq_drop_topic('gone')", "55006", "still holds 2");
        assert_eq!(one::<i64>("SELECT mq_drop_topic('gone', force => true)"), 2);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_topics() WHERE topic = 'gone'"),
            0
        );
        // Folding the publishes counted before the drop does not register the topic again.
        run("SELECT mq_metrics_sample()");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_topics() WHERE topic = 'gone'"),
            0
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.traces WHERE topic = 'gone' AND event = 'PURGED'"),
            2
        );
        // An empty topic drops without force.
        run("SELECT mq_create_topic('empty')");
        assert_eq!(one::<i64>("SELECT mq_drop_topic('empty')"), 0);
        assert_rejected("SELECT mq_drop_topic('never')", "42704", "does not exist");
    }

    #[pg_test]
    fn with_auto_create_off_only_created_topics_take_messages() {
        run("SET LOCAL pg_mq.auto_create_topics = off");
        assert_rejected(
            "SELECT mq_publish('unknown-topic', '{}')",
            "42704",
            "topic \"unknown-topic\" does not exist",
        );
        run("SELECT mq_create_topic('known-topic')");
        publish("known-topic");
    }

    #[pg_test]
    fn bad_topic_arguments_are_refused() {
        assert_rejected("SELECT mq_create_topic(NULL)", "22004", "\"topic\"");
        assert_rejected(
            "SELECT mq_create_topic('t', lock_timeout => '0')",
            "22023",
            "\"lock_timeout\" must be longer than zero",
        );
        assert_rejected(
            "SELECT mq_create_topic('t', retry_base_delay => '-1s')",
            "22023",
            "\"retry_base_delay\" must not be negative",
        );
        assert_rejected(
            "SELECT mq_create_topic('t', max_depth => 0)",
            "22023",
            "\"max_depth\"",
        );
        run("SELECT mq_create_topic('t')");
        assert_rejected(
            "SELECT mq_alter_topic('t', reset => '{lock_timeot}')",
            "22023",
            "\"reset\" names an unknown setting",
        );
        assert_rejected(
            "SELECT mq_alter_topic('t', ordering_dead_letter => 'wait')",
            "22023",
            "\"ordering_dead_letter\"",
        );
        assert_rejected(
            "SELECT mq_alter_topic('nope')",
            "42704",
            "\"nope\" does not exist",
        );
        assert_rejected(
            "SELECT mq_publish('t', '{}', expires_at => now() - interval '1 second')",
            "22023",
            "\"expires_at\" must be later than now",
        );
    }
}
