//! Metrics values, samples, Prometheus text and dashboard document from SQL.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use crate::pg_tests::{assert_rejected, one, poll_one, publish, run};
    use pgrx::prelude::*;

    /// A scripted workload on `topic`: 12 completed, 5 failed with retries left, 3 failed into
    /// the dead letters, 1 in flight, 3 due, 2 scheduled for later.
    fn workload(topic: &str) {
        run("SET LOCAL pg_mq.retry_base_delay = '1h'");
        run("SET LOCAL pg_mq.retry_jitter = 0");
        run(&format!(
            "SELECT mq_publish('{topic}', '{{}}') FROM generate_series(1, 17)"
        ));
        run(&format!(
            "SELECT mq_publish('{topic}', '{{}}', max_retries => 0) FROM generate_series(1, 3)"
        ));
        run(&format!(
            "CREATE TEMP TABLE polled AS SELECT id, max_retries FROM mq_poll('{topic}', 20)"
        ));
        run("SELECT mq_complete(id) FROM (SELECT id FROM polled WHERE max_retries > 0 ORDER BY id LIMIT 12) s");
        run("SELECT mq_fail(id, 'later') FROM (SELECT id FROM polled WHERE max_retries > 0 ORDER BY id OFFSET 12) s");
        run("SELECT mq_fail(id, 'never') FROM polled WHERE max_retries = 0");
        run(&format!(
            "SELECT mq_publish('{topic}', '{{}}') FROM generate_series(1, 4)"
        ));
        run(&format!(
            "SELECT mq_publish('{topic}', '{{}}', delay => '1 hour') FROM generate_series(1, 2)"
        ));
        poll_one(topic);
    }

    #[pg_test]
    fn metrics_count_a_scripted_workload_exactly() {
        workload("work");
        assert!(one::<bool>(
            "SELECT pending = 3 AND delayed = 7 AND processing = 1 AND consumed_total = 12 \
               AND failed_total = 8 AND dead_letter_total = 3 AND oldest_pending_age >= interval '0' \
             FROM mq_metrics() WHERE topic = 'work'"
        ));
    }

    #[pg_test]
    fn rates_need_a_sample_to_measure_from() {
        // Whatever snapshots the background worker took in this database before the test.
        run("DELETE FROM mq.metric_snapshots");
        publish("rates");
        assert!(one::<bool>(
            "SELECT consume_rate IS NULL AND success_ratio IS NULL FROM mq_metrics() WHERE topic = 'rates'"
        ));
        // A snapshot taken before the topic existed is its baseline: it counts from zero.
        run("SELECT mq_purge('rates')");
        run("SELECT mq_metrics_sample()");
        publish("rates");
        let (id, _) = poll_one("rates");
        run(&format!("SELECT mq_complete({id})"));
        assert!(one::<bool>(
            "SELECT consume_rate > 0 AND failure_rate = 0 AND dlq_rate = 0 AND success_ratio = 1 \
             FROM mq_metrics('1 hour') WHERE topic = 'rates'"
        ));
    }

    #[pg_test]
    fn samples_fold_counters_and_keep_the_newest() {
        let id = publish("samples");
        poll_one("samples");
        run(&format!("SELECT mq_complete({id})"));
        // Each change appended its row: the publication, the claim, the completion.
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.metric_counts WHERE topic = 'samples'"),
            3
        );
        run("SELECT mq_metrics_sample()");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.metric_counts WHERE topic = 'samples'"),
            0
        );
        assert_eq!(
            one::<i64>("SELECT consumed FROM mq.metric_totals WHERE topic = 'samples'"),
            1
        );
        assert_eq!(
            one::<i64>("SELECT consumed_total FROM mq.metric_samples WHERE topic = 'samples'"),
            1
        );
        // Snapshots beyond pg_mq.metrics_max_samples (360) are deleted with their samples,
        // oldest first.
        run("INSERT INTO mq.metric_snapshots SELECT now() - g * interval '1 minute' FROM generate_series(1, 400) g");
        run("INSERT INTO mq.metric_samples (topic, sampled_at, pending, delayed, processing, consumed_total, failed_total, dead_letter_total) \
             SELECT 'samples', sampled_at, 0, 0, 0, 0, 0, 0 FROM mq.metric_snapshots WHERE sampled_at < now()");
        run("SELECT mq_metrics_sample()");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM mq.metric_samples WHERE topic = 'samples'"),
            360
        );
        assert_eq!(one::<i64>("SELECT count(*) FROM mq.metric_snapshots"), 360);
        assert_eq!(
            one::<i64>("SELECT consumed_total FROM mq.metric_samples WHERE topic = 'samples' ORDER BY sampled_at DESC LIMIT 1"),
            1
        );
    }

    #[pg_test]
    fn prometheus_text_has_every_family() {
        workload("prom");
        let text = one::<String>("SELECT mq_metrics_prometheus()");
        for (family, kind, value) in [
            ("mq_queue_depth", "gauge", "3"),
            ("mq_processing", "gauge", "1"),
            ("mq_delayed", "gauge", "7"),
            ("mq_consumed_total", "counter", "12"),
            ("mq_failed_total", "counter", "8"),
            ("mq_dlq_total", "counter", "3"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} {kind}\n")),
                "{text}"
            );
            assert!(
                text.contains(&format!("{family}{{topic=\"prom\"}} {value}\n")),
                "{text}"
            );
        }
        assert!(text.contains("# TYPE mq_oldest_pending_age_seconds gauge\n"));
    }

    #[pg_test]
    fn dashboard_document_shape() {
        workload("dash");
        run("SELECT mq_metrics_sample()");
        let doc = one::<pgrx::JsonB>("SELECT mq_dashboard('10 minutes', '1 minute')").0;
        assert!(doc["timestamp"].is_string());
        assert_eq!(doc["current"]["queueDepth"]["byTopic"]["dash"], 3);
        assert_eq!(doc["current"]["consumedTotal"]["byTopic"]["dash"], 12);
        assert_eq!(doc["current"]["dlqTotal"]["total"], 3);
        for series in ["queueDepth", "consumeRate", "failureRate", "dlqRate"] {
            let points = doc["timeSeries"][series].as_array().unwrap();
            assert_eq!(points.len(), 10, "{series}");
            assert!(points.iter().all(|p| p["timestamp"].is_string()));
        }
        assert_eq!(doc["timeSeries"]["queueDepth"][9]["dash"], 3);
        assert_rejected(
            "SELECT mq_dashboard('1 hour', '0 seconds')",
            "22023",
            "\"step\"",
        );
        assert_rejected(
            "SELECT mq_dashboard('1 year', '1 millisecond')",
            "22023",
            "\"step\"",
        );
        assert_rejected(
            "SELECT * FROM mq_metrics('0 seconds')",
            "22023",
            "\"window\"",
        );
        assert_rejected("SELECT * FROM mq_metrics(NULL)", "22004", "\"window\"");
    }

    #[pg_test]
    fn latencies_are_histograms_in_the_metrics_and_the_prometheus_text() {
        run("SELECT mq_publish('lat', '{}'), mq_publish('lat', '{}')");
        run("SELECT pg_sleep(0.01)");
        run("SELECT mq_complete(id, lease) FROM mq_poll('lat', 2)");
        let (p50, p99, done50) = Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT delivery_latency_p50, delivery_latency_p99, processing_latency_p50 \
                     FROM mq_metrics() WHERE topic = 'lat'",
                    None,
                    &[],
                )
                .unwrap()
                .first();
            (
                row.get::<f64>(1).unwrap().unwrap(),
                row.get::<f64>(2).unwrap().unwrap(),
                row.get::<f64>(3).unwrap().unwrap(),
            )
        });
        // Both waited at least 10 ms: the median lies in the bucket (0.01, 0.025] or above.
        assert!(p50 >= 0.005 && p50 <= p99, "{p50} {p99}");
        assert!(done50 > 0.0 && done50 < 1.0, "{done50}");
        let text = one::<String>("SELECT mq_metrics_prometheus()");
        assert!(
            text.contains("mq_delivery_latency_seconds_count{topic=\"lat\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("mq_processing_latency_seconds_count{topic=\"lat\"} 2\n"));
        assert!(
            text.contains("mq_processing_latency_seconds_bucket{topic=\"lat\",le=\"+Inf\"} 2\n")
        );
        // Folded into the totals, the figures stay.
        run("SELECT mq_metrics_sample()");
        assert_eq!(
            one::<Vec<i64>>("SELECT delivery_latency FROM mq.metric_totals WHERE topic = 'lat'")
                .iter()
                .sum::<i64>(),
            2
        );
        assert!(one::<String>("SELECT mq_metrics_prometheus()")
            .contains("mq_delivery_latency_seconds_count{topic=\"lat\"} 2\n"));
        // mq_metrics' percentiles are over its window, measured from the last snapshot at or
        // before the window's start: ours (the worker's older ones are out of the way), and
        // nothing happened since.
        run("DELETE FROM mq.metric_snapshots WHERE sampled_at < (SELECT max(sampled_at) FROM mq.metric_snapshots)");
        run("SELECT pg_sleep(0.02)");
        assert!(one::<bool>(
            "SELECT delivery_latency_p50 IS NULL AND processing_latency_p99 IS NULL \
             FROM mq_metrics('10 milliseconds') WHERE topic = 'lat'"
        ));
        run("SELECT mq_publish('lat', '{}')");
        run("SELECT mq_complete(id, lease) FROM mq_poll('lat', 1)");
        assert!(one::<bool>(
            "SELECT delivery_latency_p50 IS NOT NULL AND processing_latency_p99 IS NOT NULL \
             FROM mq_metrics('10 milliseconds') WHERE topic = 'lat'"
        ));
    }
}
