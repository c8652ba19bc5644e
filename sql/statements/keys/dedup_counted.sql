-- Counts publishes that returned an earlier message of their dedup key.
INSERT INTO mq.metric_counts (topic, deduplicated, counted_at) VALUES ($1, $2, $3)
