-- Deletes up to a batch of a topic's messages in a status ('COMPLETED', 'FAILED' or
-- 'EXPIRED') last changed before the cutoff; returns how many.
WITH deleted AS (
    DELETE FROM mq.messages
    WHERE id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status IN ('COMPLETED', 'FAILED', 'EXPIRED') AND topic = $1 AND status = $2
          AND updated_at < $3
        ORDER BY updated_at
        LIMIT $4
        FOR UPDATE SKIP LOCKED))
    RETURNING id
)
SELECT count(*) FROM deleted
