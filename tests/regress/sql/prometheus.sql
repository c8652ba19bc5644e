-- The Prometheus text of a small, known queue (ages masked: they depend on the clock).
SET client_min_messages = warning;
SET pg_mq.retry_base_delay = 0;
TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.metric_counts, mq.metric_totals,
         mq.metric_snapshots, mq.metric_samples RESTART IDENTITY;
SELECT count(*) FROM (SELECT mq_publish('prom.a', jsonb_build_object('n', g)) FROM generate_series(1, 3) g) p;
SELECT mq_publish('prom.b', '{}', delay => '1 hour') IS NOT NULL AS delayed;
SELECT mq_publish('prom.c', '{}', max_retries => 0) IS NOT NULL AS doomed;
SELECT mq_complete(id, lease) FROM mq_poll('prom.a', 1);
SELECT count(*) AS in_flight FROM mq_poll('prom.a', 1);
SELECT mq_fail(id, 'broken', lease) FROM mq_poll('prom.c', 1);
-- Ages and latencies vary from run to run; the counts do not.
SELECT regexp_replace(
           regexp_replace(mq_metrics_prometheus(),
                          '(mq_oldest_pending_age_seconds\{topic="[^"]*"\}) [0-9.e+-]+', '\1 <age>', 'g'),
           '(mq_(delivery|processing)_latency_seconds_(bucket|sum)\{[^}]*\}) [0-9.e+-]+', '\1 <n>', 'g')
       AS exposition;
