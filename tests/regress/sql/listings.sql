-- The psql listings over a small, known queue (columns that do not depend on the clock).
SET client_min_messages = warning;
SET pg_mq.retry_base_delay = 0;
\pset null '(null)'
TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.metric_counts, mq.metric_totals,
         mq.metric_snapshots, mq.metric_samples RESTART IDENTITY;
SELECT mq_publish('list.a', '{"n": 1}') IS NOT NULL,
       mq_publish('list.a', '{"n": 2}', priority => 5) IS NOT NULL,
       mq_publish('list.b', '{"n": 3}', delay => '1 hour') IS NOT NULL,
       mq_publish('list.c', '{"n": 4}', max_retries => 0) IS NOT NULL;
SELECT payload, priority FROM mq_poll('list.a', 1, consumer_id => 'lister');
SELECT mq_fail(id, 'gone wrong', lease) FROM mq_poll('list.c', 1, consumer_id => 'lister');

SELECT topic, payload, status, priority, retry_count, max_retries, consumer_id, last_error
FROM mq_messages() ORDER BY id;
SELECT topic, payload, status FROM mq_messages('list.a', 'PENDING');
SELECT topic, payload, error_message, retry_count, replayed FROM mq_dead_letters();
SELECT topic, event, detail ->> 'consumer_id' AS consumer, detail ->> 'error' AS error
FROM mq_traces(page_size => 100) ORDER BY id;
SELECT topic, pending, delayed, processing, oldest_pending_age IS NOT NULL AS has_age
FROM mq_depth();
SELECT topic, pending, delayed, processing FROM mq_depth('list.b');
SELECT topic, pending, delayed, processing, consumed_total, failed_total, dead_letter_total
FROM mq_metrics() ORDER BY topic;
