use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, one, run};
    use pgrx::prelude::*;

    #[pg_test]
    fn settings_have_their_documented_defaults() {
        for (name, value) in [
            ("pg_mq.default_max_retries", "3"),
            ("pg_mq.lock_timeout", "30s"),
            ("pg_mq.retry_base_delay", "1s"),
            ("pg_mq.retry_max_delay", "1min"),
            ("pg_mq.retry_jitter", "0.1"),
            ("pg_mq.trace", "on"),
            ("pg_mq.max_payload_size", "1MB"),
        ] {
            assert_eq!(
                one::<String>(&format!("SELECT current_setting('{name}')")),
                value,
                "{name}"
            );
        }
    }

    #[pg_test]
    fn settings_take_set_with_units() {
        run("SET LOCAL pg_mq.lock_timeout = '2min'");
        assert_eq!(
            one::<String>("SELECT current_setting('pg_mq.lock_timeout')"),
            "2min"
        );
        run("SET LOCAL pg_mq.max_payload_size = '64kB'");
        assert_eq!(
            one::<String>("SELECT current_setting('pg_mq.max_payload_size')"),
            "64kB"
        );
    }

    #[pg_test]
    fn misspelt_and_out_of_range_settings_are_errors() {
        assert_rejected(
            "SET LOCAL pg_mq.lock_timout = '1s'",
            "42602",
            "pg_mq.lock_timout",
        );
        assert_rejected(
            "SET LOCAL pg_mq.retry_jitter = 1.5",
            "22023",
            "pg_mq.retry_jitter",
        );
        assert_rejected(
            "SET LOCAL pg_mq.lock_timeout = 0",
            "22023",
            "pg_mq.lock_timeout",
        );
    }
}
