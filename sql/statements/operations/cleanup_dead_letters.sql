-- Deletes up to a batch of dead letters replayed before the cutoff; returns how many.
WITH deleted AS (
    DELETE FROM mq.dead_letters
    WHERE id = ANY (ARRAY(
        SELECT id
        FROM mq.dead_letters
        WHERE replayed AND replayed_at < $1
        ORDER BY replayed_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    RETURNING id
)
SELECT count(*) FROM deleted
