-- The snapshot a window's rates are measured from: the last one at or before the start of the
-- window, or else the first one after it.
SELECT sampled_at
FROM mq.metric_snapshots
WHERE sampled_at < $2
ORDER BY sampled_at > $1, abs(extract(epoch FROM sampled_at - $1))
LIMIT 1
