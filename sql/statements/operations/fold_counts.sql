-- Moves the counter increments appended by complete and fail into the per-topic totals.
-- Rows appended while this runs are left for the next fold.
WITH moved AS (
    DELETE FROM mq.metric_counts RETURNING topic, consumed, failed, dead_lettered
)
INSERT INTO mq.metric_totals AS t (topic, consumed, failed, dead_lettered, updated_at)
SELECT topic, sum(consumed), sum(failed), sum(dead_lettered), $1
FROM moved
GROUP BY topic
ON CONFLICT (topic) DO UPDATE
SET consumed = t.consumed + excluded.consumed,
    failed = t.failed + excluded.failed,
    dead_lettered = t.dead_lettered + excluded.dead_lettered,
    updated_at = excluded.updated_at
