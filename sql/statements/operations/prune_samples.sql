-- Deletes the snapshots (with their samples) older than the newest `keep` ones.
DELETE FROM mq.metric_snapshots
WHERE sampled_at < (SELECT sampled_at FROM mq.metric_snapshots
                    ORDER BY sampled_at DESC OFFSET $1 - 1 LIMIT 1)
