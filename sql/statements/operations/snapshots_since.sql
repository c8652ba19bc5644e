-- The snapshot times since a moment, for the dashboard's time series.
SELECT sampled_at FROM mq.metric_snapshots WHERE sampled_at >= $1 ORDER BY sampled_at
