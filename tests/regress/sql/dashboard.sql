-- The shape of mq_dashboard()'s document: its keys at each level.
SET client_min_messages = warning;
TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.metric_counts, mq.metric_totals,
         mq.metric_snapshots, mq.metric_samples RESTART IDENTITY;
SELECT mq_publish('dash', '{}') IS NOT NULL AS published;
SELECT mq_metrics_sample() AS topics_sampled;
SELECT jsonb_object_keys(mq_dashboard()) AS top ORDER BY 1;
SELECT jsonb_object_keys(mq_dashboard() -> 'current') AS current ORDER BY 1;
SELECT jsonb_object_keys(mq_dashboard() -> 'current' -> 'queueDepth') AS queue_depth ORDER BY 1;
SELECT jsonb_object_keys(mq_dashboard() -> 'timeSeries') AS time_series ORDER BY 1;
SELECT mq_dashboard() -> 'current' -> 'queueDepth' AS queue_depth_now;
SELECT jsonb_array_length(mq_dashboard('10 minutes', '1 minute') -> 'timeSeries' -> 'queueDepth') AS points;
