-- Deletes up to a batch of trace rows older than the cutoff, found through the BRIN index on
-- created_at; returns how many.
WITH deleted AS (
    DELETE FROM mq.traces
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM mq.traces WHERE created_at < $1 LIMIT $2))
    RETURNING 1
)
SELECT count(*) FROM deleted
