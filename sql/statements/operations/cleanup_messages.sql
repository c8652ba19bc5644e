-- Deletes up to a batch of messages in a status ('COMPLETED' or 'FAILED') last changed
-- before the cutoff; returns how many.
WITH deleted AS (
    DELETE FROM mq.messages
    WHERE id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status IN ('COMPLETED', 'FAILED') AND status = $1 AND updated_at < $2
        ORDER BY updated_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED))
    RETURNING id
)
SELECT count(*) FROM deleted
