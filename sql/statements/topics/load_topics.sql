-- Every topic of the catalog with its own settings (intervals in microseconds), for the
-- per-session copy.
SELECT topic, max_retries,
       (extract(epoch FROM retry_base_delay) * 1000000)::bigint AS retry_base_delay_us,
       (extract(epoch FROM retry_max_delay) * 1000000)::bigint AS retry_max_delay_us,
       (extract(epoch FROM lock_timeout) * 1000000)::bigint AS lock_timeout_us,
       (extract(epoch FROM message_ttl) * 1000000)::bigint AS message_ttl_us,
       max_depth,
       (extract(epoch FROM retention) * 1000000)::bigint AS retention_us,
       (extract(epoch FROM dedup_window) * 1000000)::bigint AS dedup_window_us,
       ordering_dead_letter, description, paused, created_at
FROM mq.topics
ORDER BY topic
