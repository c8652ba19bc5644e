-- The last metrics snapshot taken at or before a moment (NULL when there is none).
SELECT max(sampled_at) AS sampled_at FROM mq.metric_snapshots WHERE sampled_at <= $1
