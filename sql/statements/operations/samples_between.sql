-- The samples taken between two moments (inclusive), in the column layout of
-- current_metrics.sql.
SELECT topic, NULLIF(consumer_group, '') AS consumer_group, sampled_at, pending, delayed,
       processing, consumed_total, failed_total, dead_letter_total, oldest_pending_age,
       expired_total, NULL::bigint AS dead_letters, NULL::bigint AS delivered_total,
       NULL::timestamptz AS last_delivery_at, NULL::bigint AS deduplicated_total,
       delivery_latency, delivery_latency_sum, processing_latency, processing_latency_sum
FROM mq.metric_samples
WHERE sampled_at >= $1 AND sampled_at <= $2
ORDER BY sampled_at, topic, consumer_group
