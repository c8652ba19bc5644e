//! Recovery, cleanup, retention, purge, listings and depth from SQL.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::engine::retention::{self, Kind};
    use crate::pg_tests::{assert_rejected, events, one, poll_one, publish, run};
    use pgrx::prelude::*;

    fn expire_locks(topic: &str) {
        run(&format!(
            "UPDATE mq.messages SET locked_until = clock_timestamp() - interval '1 second' \
             WHERE topic = '{topic}' AND status = 'PROCESSING'"
        ));
    }

    #[pg_test]
    fn mq_recover_returns_expired_messages_of_every_topic() {
        let a = publish("rec-a");
        let b = publish("rec-b");
        let live = publish("rec-live");
        poll_one("rec-a");
        poll_one("rec-b");
        poll_one("rec-live");
        expire_locks("rec-a");
        expire_locks("rec-b");
        assert_eq!(one::<i64>("SELECT mq_recover()"), 2);
        for id in [a, b] {
            let row = format!("FROM mq.messages WHERE id = {id}");
            assert_eq!(one::<String>(&format!("SELECT status {row}")), "PENDING");
            assert_eq!(one::<i32>(&format!("SELECT retry_count {row}")), 1);
            assert!(one::<bool>(&format!(
                "SELECT next_retry_at <= clock_timestamp() {row}"
            )));
            assert_eq!(
                events(&format!("SELECT trace_id {row}")),
                vec!["PUBLISHED", "PROCESSING", "RECOVERED"]
            );
        }
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {live}")),
            "PROCESSING"
        );
        assert_eq!(one::<i64>("SELECT mq_recover()"), 0);
    }

    #[pg_test]
    fn mq_cleanup_deletes_old_finished_messages_only() {
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        for _ in 0..3 {
            let id = publish("clean");
            poll_one("clean");
            run(&format!("SELECT mq_complete({id})"));
        }
        let failed = one::<i64>("SELECT mq_publish('clean', '{}', max_retries => 0)");
        poll_one("clean");
        run(&format!("SELECT mq_fail({failed})"));
        publish("clean");
        let before: i64 = one("SELECT consumed_total FROM mq_metrics() WHERE topic = 'clean'");
        assert_eq!(before, 3);
        // Nothing is old enough yet.
        assert_eq!(one::<i64>("SELECT mq_cleanup()"), 0);
        run("UPDATE mq.messages SET updated_at = now() - interval '8 days' WHERE topic = 'clean'");
        assert_eq!(one::<i64>("SELECT mq_cleanup()"), 3);
        assert_eq!(one::<i64>("SELECT mq_cleanup('FAILED', '1 day')"), 1);
        assert_eq!(
            one::<String>("SELECT string_agg(status, ',') FROM mq.messages WHERE topic = 'clean'"),
            "PENDING"
        );
        assert_eq!(
            one::<i64>("SELECT consumed_total FROM mq_metrics() WHERE topic = 'clean'"),
            before,
            "cleanup lowered a counter"
        );
        assert_eq!(
            one::<i64>("SELECT dead_letter_total FROM mq_metrics() WHERE topic = 'clean'"),
            1
        );
    }

    #[pg_test]
    fn mq_cleanup_rejects_bad_arguments() {
        assert_rejected("SELECT mq_cleanup('PENDING')", "22023", "\"status\"");
        assert_rejected("SELECT mq_cleanup(NULL)", "22004", "\"status\"");
        assert_rejected(
            "SELECT mq_cleanup('COMPLETED', NULL)",
            "22004",
            "\"older_than\"",
        );
        assert_rejected(
            "SELECT mq_cleanup('COMPLETED', '-1 day')",
            "22023",
            "\"older_than\"",
        );
    }

    #[pg_test]
    fn retention_deletes_in_bounded_batches() {
        run("SET LOCAL pg_mq.trace = off");
        run("SELECT mq_publish('batches', '{}') FROM generate_series(1, 2500)");
        run("SELECT mq_complete(id) FROM mq_poll('batches', 2500)");
        run("UPDATE mq.messages SET updated_at = now() - interval '30 days' WHERE topic = 'batches'");
        let cutoff = crate::pg::clock::plus_micros(crate::pg::clock::now(), -86_400_000_000);
        let mut batches = Vec::new();
        Spi::connect_mut(|client| loop {
            let (deleted, more) = retention::delete_batch(
                client,
                Kind::Completed,
                retention::Cutoff::Before(cutoff),
                crate::pg::clock::now(),
            );
            batches.push(deleted);
            if !more {
                break;
            }
        });
        assert_eq!(batches, vec![1000, 1000, 500]);
        assert_eq!(
            one::<i64>("SELECT consumed_total FROM mq_metrics() WHERE topic = 'batches'"),
            2500
        );
    }

    #[pg_test]
    fn mq_retention_applies_the_default_retentions() {
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        let done = publish("ret");
        poll_one("ret");
        run(&format!("SELECT mq_complete({done})"));
        let dead = one::<i64>("SELECT mq_publish('ret', '{}', max_retries => 0)");
        poll_one("ret");
        run(&format!("SELECT mq_fail({dead})"));
        run(&format!(
            "SELECT mq_replay(id) FROM mq.dead_letters WHERE original_id = {dead}"
        ));
        let fresh = publish("ret-fresh");
        // Age everything of topic 'ret' past the defaults (7 days, 30 days, 7 days).
        run("UPDATE mq.messages SET updated_at = now() - interval '8 days' WHERE topic = 'ret' AND status = 'COMPLETED'");
        run("UPDATE mq.dead_letters SET replayed_at = now() - interval '31 days' WHERE topic = 'ret'");
        run("UPDATE mq.traces SET created_at = now() - interval '8 days' WHERE topic = 'ret'");
        let deleted: Vec<(String, i64)> = Spi::connect(|client| {
            client
                .select(
                    "SELECT kind, deleted FROM mq_retention() ORDER BY kind",
                    None,
                    &[],
                )
                .unwrap()
                .map(|r| (r.get(1).unwrap().unwrap(), r.get(2).unwrap().unwrap()))
                .collect()
        });
        let trace_rows = deleted.iter().find(|(k, _)| k == "traces").unwrap().1;
        // PUBLISHED, COMPLETED; PUBLISHED, FAILED, DEAD_LETTERED, REPLAYED (each attempt's
        // PROCESSING is kept in the row that ended it).
        assert!(trace_rows >= 6, "{deleted:?}");
        assert!(
            deleted.contains(&("completed messages".to_owned(), 1)),
            "{deleted:?}"
        );
        assert!(
            deleted.contains(&("replayed dead letters".to_owned(), 1)),
            "{deleted:?}"
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.messages WHERE id = {done}"
            )),
            0
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.traces WHERE message_id = {fresh}"
            )),
            1,
            "a fresh trace row was deleted"
        );
        // The FAILED original stays (retention only deletes COMPLETED messages).
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.messages WHERE id = {dead}"
            )),
            1
        );
    }

    #[pg_test]
    fn mq_purge_removes_only_waiting_messages() {
        let waiting = publish("purge");
        let delayed = one::<i64>("SELECT mq_publish('purge', '{}', delay => '1 hour')");
        let busy = publish("purge");
        run(&format!(
            "UPDATE mq.messages SET priority = 1 WHERE id = {busy}"
        ));
        let (polled, _) = poll_one("purge");
        assert_eq!(polled, busy);
        publish("purge-other");
        assert_eq!(one::<i64>("SELECT mq_purge('purge')"), 2);
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.messages WHERE id IN ({waiting}, {delayed})"
            )),
            0
        );
        assert_eq!(
            one::<String>(&format!("SELECT status FROM mq.messages WHERE id = {busy}")),
            "PROCESSING"
        );
        assert_eq!(
            one::<i64>(&format!(
                "SELECT count(*) FROM mq.traces WHERE event = 'PURGED' AND message_id IN ({waiting}, {delayed})"
            )),
            2
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.messages WHERE topic = 'purge-other'"),
            1
        );
        assert_rejected("SELECT mq_purge(NULL)", "22004", "\"topic\"");
        assert_rejected("SELECT mq_purge('bad topic')", "22023", "\"topic\"");
    }

    /// mq_messages of a topic reads each status through its own index; whatever the parts,
    /// the listing is the topic's rows matching every filter, newest first, page by page.
    #[pg_test]
    fn message_listing_of_a_topic_is_every_status_newest_first() {
        run("SELECT mq_publish('lst', '{}', headers => '{\"h\": \"1\"}', dedup_key => 'd1')");
        run("SELECT mq_publish('lst', '{}', ordering_key => 'k', priority => -1)"); // PENDING
        run("SELECT mq_publish('lst', '{}', ordering_key => 'k', priority => -1)"); // WAITING
        run("SELECT mq_publish('lst', '{}', delay => '1 hour', headers => '{\"h\": \"1\"}')");
        run("SELECT mq_publish('other', '{}', headers => '{\"h\": \"1\"}', dedup_key => 'd1')");
        for _ in 0..3 {
            publish("lst");
        }
        poll_one("lst"); // PROCESSING
        let (done, lease) = poll_one("lst");
        run(&format!("SELECT mq_complete({done}, '{lease}')"));
        run("SELECT mq_publish('lst', '{}', max_retries => 0, priority => 9)");
        let (failed, lease) = poll_one("lst");
        run(&format!("SELECT mq_fail({failed}, 'broken', '{lease}')"));
        run("UPDATE mq.messages SET status = 'EXPIRED' WHERE id = (SELECT max(id) FROM mq.messages \
             WHERE topic = 'lst' AND status = 'PENDING' AND ordering_key IS NULL)");
        // deliveries to a group, one of them scheduled
        run("SELECT mq_subscribe('lst-group', 'lst')");
        run("SELECT mq_publish('lst', '{}', headers => '{\"h\": \"1\"}', dedup_key => 'd2')");
        run("SELECT mq_publish('lst', '{}', delay => '1 hour')");
        publish("lst");
        let statuses: Vec<String> = one::<Vec<String>>(
            "SELECT array_agg(DISTINCT status) FROM mq.messages WHERE topic = 'lst'",
        );
        assert_eq!(statuses.len(), 7, "{statuses:?}");
        let trace = one::<String>(
            "SELECT trace_id::text FROM mq.messages WHERE topic = 'lst' AND status = 'WAITING'",
        );
        let filters = [
            ("", "true".to_owned()),
            (", ordering_key => 'k'", "m.ordering_key = 'k'".to_owned()),
            (
                ", headers => '{\"h\": \"1\"}'",
                "coalesce(m.headers, (SELECT p.headers FROM mq.payloads p WHERE p.id = m.payload_id)) @> '{\"h\": \"1\"}'"
                    .to_owned(),
            ),
            (
                ", dedup_key => 'd1'",
                "m.id IN (SELECT message_id FROM mq.dedup_keys WHERE dedup_key = 'd1')".to_owned(),
            ),
            (
                ", dedup_key => 'd2'",
                "m.payload_id IN (SELECT message_id FROM mq.dedup_keys WHERE dedup_key = 'd2')"
                    .to_owned(),
            ),
            (&*format!(", trace_id => '{trace}'"), format!("m.trace_id = '{trace}'")),
        ];
        let mut seen = 0;
        for status in [
            None,
            Some("WAITING"),
            Some("SCHEDULED"),
            Some("PENDING"),
            Some("PROCESSING"),
            Some("COMPLETED"),
            Some("FAILED"),
            Some("EXPIRED"),
        ] {
            let (arg, cond) = match status {
                None => ("NULL".to_owned(), "true".to_owned()),
                Some(s) => (format!("'{s}'"), format!("m.status = '{s}'")),
            };
            for (filter_arg, filter_cond) in &filters {
                for size in 1..=3 {
                    for page in 1..=4 {
                        let got = one::<Vec<i64>>(&format!(
                            "SELECT coalesce(array_agg(id), '{{}}') FROM mq_messages('lst', {arg}{filter_arg}, \
                             page => {page}, page_size => {size})"
                        ));
                        let want = one::<Vec<i64>>(&format!(
                            "SELECT coalesce(array_agg(id), '{{}}') FROM (SELECT m.id FROM mq.messages m \
                             WHERE m.topic = 'lst' AND {cond} AND {filter_cond} \
                             ORDER BY m.id DESC LIMIT {size} OFFSET {}) q",
                            (page - 1) * size
                        ));
                        assert_eq!(got, want, "status {arg}{filter_arg}, page {page} of {size}");
                        seen += got.len();
                    }
                }
            }
        }
        assert!(seen > 100, "{seen}");
        // Without a topic: every topic's; a dedup key is the topic's own.
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_messages(dedup_key => 'd1')"),
            2
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_messages(headers => '{\"h\": \"1\"}', page_size => 100)"),
            one::<i64>("SELECT count(*) FROM mq.messages m WHERE coalesce(m.headers, \
                        (SELECT p.headers FROM mq.payloads p WHERE p.id = m.payload_id)) @> '{\"h\": \"1\"}'")
        );
        assert_rejected(
            "SELECT * FROM mq_messages('lst', headers => '[1]')",
            "22023",
            "\"headers\"",
        );
    }

    #[pg_test]
    fn listings_filter_and_page() {
        let ids: Vec<i64> = (0..5).map(|_| publish("list")).collect();
        publish("list-other");
        poll_one("list");
        assert_eq!(
            one::<Vec<i64>>("SELECT array_agg(id) FROM mq_messages('list', page_size => 2)"),
            vec![ids[4], ids[3]]
        );
        assert_eq!(
            one::<Vec<i64>>(
                "SELECT array_agg(id) FROM mq_messages('list', page => 3, page_size => 2)"
            ),
            vec![ids[0]]
        );
        assert_eq!(
            one::<Vec<i64>>("SELECT array_agg(id) FROM mq_messages('list', 'PROCESSING')"),
            vec![ids[0]]
        );
        let trace = one::<String>(&format!(
            "SELECT trace_id::text FROM mq.messages WHERE id = {}",
            ids[2]
        ));
        assert_eq!(
            one::<i64>(&format!(
                "SELECT id FROM mq_messages(trace_id => '{trace}')"
            )),
            ids[2]
        );
        assert_eq!(
            one::<Vec<String>>(&format!(
                "SELECT array_agg(event) FROM mq_traces(message_id => {})",
                ids[0]
            )),
            vec!["PROCESSING", "PUBLISHED"]
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_traces('list', event => 'PUBLISHED')"),
            5
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_dead_letters('list')"),
            0
        );
        assert_rejected("SELECT * FROM mq_messages(page => 0)", "22023", "\"page\"");
        assert_rejected(
            "SELECT * FROM mq_messages(page_size => 0)",
            "22023",
            "\"page_size\"",
        );
        assert_rejected(
            "SELECT * FROM mq_messages(page_size => NULL)",
            "22004",
            "\"page_size\"",
        );
        assert_rejected(
            "SELECT * FROM mq_messages(status => 'DONE')",
            "22023",
            "\"status\"",
        );
        assert_rejected(
            "SELECT * FROM mq_traces(event => 'NOPE')",
            "22023",
            "\"event\"",
        );
    }

    #[pg_test]
    fn dead_letter_listing_filters_on_replayed() {
        run("SET LOCAL pg_mq.retry_base_delay = 0");
        for _ in 0..2 {
            let id = one::<i64>("SELECT mq_publish('dl-list', '{}', max_retries => 0)");
            poll_one("dl-list");
            run(&format!("SELECT mq_fail({id}, 'x')"));
        }
        run("SELECT mq_replay(min(id)) FROM mq.dead_letters WHERE topic = 'dl-list'");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_dead_letters('dl-list')"),
            2
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_dead_letters('dl-list', true)"),
            1
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_dead_letters('dl-list', false)"),
            1
        );
    }

    #[pg_test]
    fn depth_counts_waiting_and_in_flight_messages() {
        publish("depth");
        publish("depth");
        one::<i64>("SELECT mq_publish('depth', '{}', delay => '1 hour')");
        poll_one("depth");
        assert!(one::<bool>(
            "SELECT pending = 1 AND delayed = 1 AND processing = 1 AND oldest_pending_age >= interval '0' \
             FROM mq_depth('depth')"
        ));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_depth() WHERE topic = 'depth'"),
            1
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq_depth('nothing-here')"),
            0
        );
    }

    #[pg_test]
    fn health_reports_every_check_and_a_backlog_no_one_polls() {
        publish("health-idle");
        // The fold counts the publish; a lag threshold of 1 ms makes the wait critical at once.
        run("SELECT pg_sleep(0.02)");
        run("SET LOCAL pg_mq.health_lag_warn = 1");
        let fold_first = one::<i64>("SELECT count(*) FROM mq_health()");
        assert!(fold_first >= 3);
        let (status, reason) = Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT status, detail ->> 'reason' FROM mq_health() \
                     WHERE \"check\" = 'consumer_lag' AND detail ->> 'topic' = 'health-idle'",
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (
                row.get::<String>(1).unwrap().unwrap(),
                row.get::<String>(2).unwrap().unwrap(),
            )
        });
        assert_eq!(status, "critical");
        assert_eq!(reason, "a backlog no one polls");
        let checks = one::<Vec<String>>(
            "SELECT array_agg(DISTINCT \"check\" ORDER BY \"check\") FROM mq_health()",
        );
        assert_eq!(
            checks,
            [
                "consumer_lag",
                "dead_letters",
                "dead_tuples",
                "snapshot_age",
                "worker"
            ]
        );
        assert!(one::<bool>(
            "SELECT bool_and(status IN ('ok', 'warn', 'critical')) FROM mq_health()"
        ));
    }

    #[pg_test]
    fn consumers_count_claims_completions_failures_and_what_they_hold() {
        for _ in 0..4 {
            publish("cons");
        }
        run("SELECT count(*) FROM mq_poll('cons', 2, consumer_id => 'worker-a')");
        run("SELECT count(*) FROM mq_poll('cons', 2, consumer_id => 'worker-b')");
        run("SELECT mq_complete(id) FROM mq.messages WHERE consumer_id = 'worker-a' AND status = 'PROCESSING'");
        run("SELECT mq_fail(id, 'no disk') FROM mq.messages \
             WHERE consumer_id = 'worker-b' AND status = 'PROCESSING' ORDER BY id LIMIT 1");
        let row = |who: &str| {
            one::<String>(&format!(
                "SELECT concat_ws(' ', claimed, completed, failed, lease_expired, in_flight, \
                                 coalesce(last_error, '-'), status) \
                 FROM mq_consumers('cons') WHERE consumer_id = '{who}'"
            ))
        };
        assert_eq!(row("worker-a"), "2 2 0 0 0 - active");
        assert_eq!(row("worker-b"), "2 0 1 0 1 no disk active");
        // The fold moves the counts into the totals; the figures stay the same.
        run("SELECT mq_metrics_sample()");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.consumer_totals WHERE topic = 'cons'"),
            2
        );
        assert_eq!(row("worker-b"), "2 0 1 0 1 no disk active");
        // A lock that expired makes its holder stale, and counts it.
        run(
            "UPDATE mq.messages SET locked_until = clock_timestamp() - interval '1 second' \
             WHERE consumer_id = 'worker-b' AND status = 'PROCESSING'",
        );
        assert!(row("worker-b").ends_with(" stale"));
        run("SELECT mq_recover()");
        assert_eq!(row("worker-b"), "2 0 1 1 0 no disk stale");
        assert_rejected("SELECT * FROM mq_consumers('bad topic')", "22023", "topic");
    }
}
