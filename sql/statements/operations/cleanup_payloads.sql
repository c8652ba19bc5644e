-- Deletes up to a batch of payloads no delivery refers to any more: those older than the
-- oldest payload a delivery (in any state) still refers to; returns how many.
WITH deleted AS (
    DELETE FROM mq.payloads
    WHERE id = ANY (ARRAY(
        SELECT p.id FROM mq.payloads p
        WHERE p.id < coalesce((SELECT min(m.payload_id) FROM mq.messages m
                               WHERE m.payload_id IS NOT NULL), 9223372036854775807)
        ORDER BY p.id
        LIMIT $1))
    RETURNING id
)
SELECT count(*) FROM deleted
