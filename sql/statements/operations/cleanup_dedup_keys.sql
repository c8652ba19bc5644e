-- Forgets up to a batch of dedup keys whose window has passed; returns how many.
WITH deleted AS (
    DELETE FROM mq.dedup_keys
    WHERE (topic, dedup_key) IN (
        SELECT topic, dedup_key FROM mq.dedup_keys WHERE expires_at < $1
        ORDER BY expires_at LIMIT $2
        FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) FROM deleted
