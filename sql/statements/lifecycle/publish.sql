-- Adds one message, PENDING when it is due now and SCHEDULED when it is due later, expiring
-- at expires_at (NULL: never), and counts it; returns its id.
WITH message AS (
    INSERT INTO mq.messages
        (topic, payload, headers, status, priority, max_retries, execute_at, trace_id, created_at,
         updated_at, expires_at)
    VALUES ($1, $2, $3,
            CASE WHEN coalesce($6, $9 + $7, $9) > $9 THEN 'SCHEDULED' ELSE 'PENDING' END,
            $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9, $10)
    RETURNING id, topic, trace_id, priority, max_retries, execute_at, status, expires_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                         'execute_at', execute_at, 'expires_at', expires_at),
           $9
    FROM message
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, (status = 'PENDING')::int, (status = 'SCHEDULED')::int,
           CASE WHEN status = 'PENDING' THEN execute_at END, $9
    FROM message
)
SELECT id FROM message
