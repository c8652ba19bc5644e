-- The topics for mq_topics: every catalog row, and topics with messages that the worker has
-- not registered yet; with their settings (as load_topics.sql) and current gauges.
SELECT coalesce(t.topic, m.topic) AS topic, t.max_retries,
       (extract(epoch FROM t.retry_base_delay) * 1000000)::bigint AS retry_base_delay_us,
       (extract(epoch FROM t.retry_max_delay) * 1000000)::bigint AS retry_max_delay_us,
       (extract(epoch FROM t.lock_timeout) * 1000000)::bigint AS lock_timeout_us,
       (extract(epoch FROM t.message_ttl) * 1000000)::bigint AS message_ttl_us,
       t.max_depth,
       (extract(epoch FROM t.retention) * 1000000)::bigint AS retention_us,
       (extract(epoch FROM t.dedup_window) * 1000000)::bigint AS dedup_window_us,
       t.ordering_dead_letter, t.description, coalesce(t.paused, false) AS paused,
       coalesce(t.created_at, $1) AS created_at,
       coalesce(m.pending, 0) AS pending, coalesce(m.delayed, 0) AS delayed,
       coalesce(m.processing, 0) AS processing, coalesce(m.dead_letters, 0) AS dead_letters
FROM mq.topics t
FULL JOIN (SELECT c.topic, sum(c.pending)::bigint AS pending, sum(c.delayed)::bigint AS delayed,
                  sum(c.processing)::bigint AS processing,
                  sum(c.dead_letters)::bigint AS dead_letters
           FROM mq.current_metrics($1) c GROUP BY c.topic) m ON m.topic = t.topic
WHERE t.topic IS NOT NULL OR m.pending + m.delayed + m.processing > 0
ORDER BY 1
