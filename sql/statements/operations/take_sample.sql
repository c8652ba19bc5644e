-- Records a snapshot with one sample per topic.
WITH snapshot AS (
    INSERT INTO mq.metric_snapshots (sampled_at) VALUES ($1)
    ON CONFLICT (sampled_at) DO NOTHING
    RETURNING sampled_at
)
INSERT INTO mq.metric_samples
    (topic, consumer_group, sampled_at, pending, delayed, processing, consumed_total,
     failed_total, dead_letter_total, oldest_pending_age, expired_total, delivery_latency,
     delivery_latency_sum, processing_latency, processing_latency_sum)
SELECT m.topic, m.consumer_group, s.sampled_at, m.pending, m.delayed, m.processing, m.consumed_total,
       m.failed_total, m.dead_letter_total, m.oldest_pending_age, m.expired_total,
       m.delivery_latency, m.delivery_latency_sum, m.processing_latency, m.processing_latency_sum
FROM snapshot s CROSS JOIN mq.current_metrics($1) m
