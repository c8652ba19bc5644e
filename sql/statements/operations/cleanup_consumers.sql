-- Forgets up to a batch of consumers last seen before the cutoff; returns how many.
WITH deleted AS (
    DELETE FROM mq.consumer_totals
    WHERE (consumer_id, topic, consumer_group) IN (
        SELECT consumer_id, topic, consumer_group FROM mq.consumer_totals WHERE last_seen < $1
        ORDER BY last_seen LIMIT $2
        FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) FROM deleted
