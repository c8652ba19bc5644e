//! Every bad input of the list: an ERROR with its documented SQLSTATE, a message that
//! names the argument, and nothing written.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, one, poll_one, publish, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn null_topic() {
        assert_rejected("SELECT mq_publish(NULL, '{}')", "22004", "\"topic\"");
        assert_rejected("SELECT * FROM mq_poll(NULL)", "22004", "\"topic\"");
    }

    #[pg_test]
    fn empty_topic() {
        assert_rejected("SELECT mq_publish('', '{}')", "22023", "\"topic\"");
        assert_rejected("SELECT * FROM mq_poll('')", "22023", "\"topic\"");
    }

    #[pg_test]
    fn topic_over_255_characters() {
        run("SELECT mq_publish(repeat('t', 255), '{}')");
        assert_rejected(
            "SELECT mq_publish(repeat('t', 256), '{}')",
            "22023",
            "\"topic\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll(repeat('t', 256))",
            "22023",
            "\"topic\"",
        );
    }

    #[pg_test]
    fn topic_with_characters_outside_the_alphabet() {
        for bad in [
            "a b", "a/b", "naïve", "a'b", "a;b", "a\"b", "tab\tx", "x*", "ü",
        ] {
            let literal = bad.replace('\'', "''");
            assert_rejected(
                &format!("SELECT mq_publish(E'{literal}', '{{}}')"),
                "22023",
                "\"topic\"",
            );
        }
        run("SELECT mq_publish('Aa0.b_c-d:e', '{}')");
    }

    #[pg_test]
    fn null_payload() {
        assert_rejected("SELECT mq_publish('t', NULL)", "22004", "\"payload\"");
    }

    #[pg_test]
    fn payload_over_max_payload_size() {
        run("SET LOCAL pg_mq.max_payload_size = '1kB'");
        run("SELECT mq_publish('t', jsonb_build_object('s', repeat('x', 900)))");
        assert_rejected(
            "SELECT mq_publish('t', jsonb_build_object('s', repeat('x', 1100)))",
            "54000",
            "\"payload\"",
        );
        // Headers are held to the same limit.
        run("SELECT mq_publish('t', '{}', headers => jsonb_build_object('s', repeat('x', 900)))");
        assert_rejected(
            "SELECT mq_publish('t', '{}', headers => jsonb_build_object('s', repeat('x', 1100)))",
            "54000",
            "\"headers\"",
        );
        // The default limit is 1MB.
        run("RESET pg_mq.max_payload_size");
        assert_rejected(
            "SELECT mq_publish('t', jsonb_build_object('s', repeat('x', 1048576)))",
            "54000",
            "pg_mq.max_payload_size",
        );
    }

    #[pg_test]
    fn batch_size_outside_1_to_10000() {
        for bad in ["0", "-1", "10001", "2147483647"] {
            assert_rejected(
                &format!("SELECT * FROM mq_poll('t', {bad})"),
                "22023",
                "\"batch_size\"",
            );
        }
        assert_rejected(
            "SELECT * FROM mq_poll('t', NULL)",
            "22004",
            "\"batch_size\"",
        );
        run("SELECT * FROM mq_poll('t', 10000)");
    }

    #[pg_test]
    fn negative_max_retries() {
        assert_rejected(
            "SELECT mq_publish('t', '{}', max_retries => -1)",
            "22023",
            "\"max_retries\"",
        );
    }

    #[pg_test]
    fn both_execute_at_and_delay() {
        assert_rejected(
            "SELECT mq_publish('t', '{}', execute_at => now(), delay => '1 minute')",
            "22023",
            "\"delay\"",
        );
    }

    #[pg_test]
    fn other_bad_arguments() {
        assert_rejected(
            "SELECT mq_publish('t', '{}', delay => '-1 second')",
            "22023",
            "\"delay\"",
        );
        assert_rejected(
            "SELECT mq_publish('t', '{}', execute_at => 'infinity')",
            "22023",
            "\"execute_at\"",
        );
        assert_rejected(
            "SELECT mq_publish('t', '{}', headers => '[1]')",
            "22023",
            "\"headers\"",
        );
        assert_rejected(
            "SELECT mq_publish('t', '{}', headers => '\"x\"')",
            "22023",
            "\"headers\"",
        );
        assert_rejected(
            "SELECT mq_publish('t', '{}', priority => NULL)",
            "22004",
            "\"priority\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll('t', lock_timeout => '0 seconds')",
            "22023",
            "\"lock_timeout\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll('t', lock_timeout => '-5 minutes')",
            "22023",
            "\"lock_timeout\"",
        );
        assert_rejected(
            "SELECT * FROM mq_poll('t', consumer_id => repeat('c', 256))",
            "22023",
            "\"consumer_id\"",
        );
        assert_rejected("SELECT mq_complete(NULL::bigint)", "22004", "\"id\"");
        assert_rejected("SELECT mq_fail(NULL::bigint)", "22004", "\"id\"");
        assert_rejected("SELECT * FROM mq_trace(NULL)", "22004", "\"trace_id\"");
    }

    #[pg_test]
    fn a_rejected_poll_claims_nothing() {
        let id = publish("keep");
        assert_rejected(
            "SELECT * FROM mq_poll('keep', 0)",
            "22023",
            "\"batch_size\"",
        );
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "PENDING"
        );
        assert_eq!(poll_one("keep").0, id);
    }
}
