-- Adds one message; returns its id.
WITH message AS (
    INSERT INTO mq.messages
        (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9)
    RETURNING id, topic, trace_id, priority, max_retries, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                         'execute_at', execute_at),
           $9
    FROM message
)
--}trace
SELECT id FROM message
