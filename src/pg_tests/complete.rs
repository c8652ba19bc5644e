use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{one, poll_one, publish};
    use pgrx::prelude::*;

    #[pg_test]
    fn complete_finishes_a_delivery_once() {
        let id = publish("done");
        poll_one("done");
        assert!(one::<bool>(&format!("SELECT mq_complete({id})")));
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "COMPLETED"
        );
        assert!(!one::<bool>(&format!("SELECT mq_complete({id})")));
    }

    #[pg_test]
    fn complete_checks_the_lease() {
        let id = publish("lease");
        let (_, lease) = poll_one("lease");
        assert!(!one::<bool>(&format!(
            "SELECT mq_complete({id}, gen_random_uuid())"
        )));
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "PROCESSING"
        );
        assert!(one::<bool>(&format!("SELECT mq_complete({id}, '{lease}')")));
    }

    #[pg_test]
    fn complete_is_false_for_unknown_and_undelivered_messages() {
        assert!(!one::<bool>("SELECT mq_complete(9223372036854775807)"));
        let id = publish("waiting");
        assert!(!one::<bool>(&format!("SELECT mq_complete({id})")));
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {id}")),
            "PENDING"
        );
    }

    #[pg_test]
    fn complete_writes_a_completed_trace_row() {
        let id = publish("ctrace");
        poll_one("ctrace");
        one::<bool>(&format!("SELECT mq_complete({id})"));
        assert_eq!(
            crate::pg_tests::events(&format!("SELECT trace_id FROM mq.messages WHERE id = {id}")),
            vec!["PUBLISHED", "PROCESSING", "COMPLETED"]
        );
    }
}
