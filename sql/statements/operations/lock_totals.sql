-- Serializes folds (the worker's and mq_metrics_sample's): each reads the totals it adds to.
-- Readers of the metrics are not blocked.
LOCK TABLE mq.metric_totals IN SHARE ROW EXCLUSIVE MODE
