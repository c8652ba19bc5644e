-- Each topic's (or one topic's) gauges and counters now, per consumer group (NULL:
-- point-to-point), in the column layout of samples_between.sql.
SELECT topic, NULLIF(consumer_group, '') AS consumer_group, $1 AS sampled_at, pending, delayed,
       processing, consumed_total, failed_total, dead_letter_total, oldest_pending_age,
       expired_total, dead_letters, delivered_total, last_delivery_at, deduplicated_total,
       delivery_latency, delivery_latency_sum, processing_latency, processing_latency_sum
FROM mq.current_metrics($1)
WHERE $2::text IS NULL OR topic = $2
ORDER BY topic, consumer_group
