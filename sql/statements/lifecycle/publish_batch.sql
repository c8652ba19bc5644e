-- Publishes one message per payload, in array order, each with its own trace id (PENDING when
-- due now, SCHEDULED when due later), all expiring at expires_at (NULL: never), and counts them; returns the new ids (the caller sorts
-- them: ids are drawn in array order).
WITH message AS (
    INSERT INTO mq.messages
        (topic, payload, headers, status, priority, max_retries, execute_at, trace_id,
         created_at, updated_at, expires_at)
    SELECT $1, p.payload, $3,
           CASE WHEN coalesce($6, $8 + $7, $8) > $8 THEN 'SCHEDULED' ELSE 'PENDING' END,
           $4, $5, coalesce($6, $8 + $7, $8), p.trace_id, $8, $8, $10
    FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($9::uuid[]))
         WITH ORDINALITY AS p(payload, trace_id, n)
    ORDER BY p.n
    RETURNING id, topic, trace_id, priority, max_retries, execute_at, status, expires_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                         'execute_at', execute_at, 'expires_at', expires_at),
           $8
    FROM message
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, pending_in, delayed, oldest_due, counted_at)
    SELECT $1, count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'SCHEDULED'),
           min(execute_at) FILTER (WHERE status = 'PENDING'), $8
    FROM message
)
SELECT id FROM message
