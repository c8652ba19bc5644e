-- publish_batch.sql with tracing off: a plain INSERT.
INSERT INTO mq.messages
    (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
SELECT $1, p.payload, $3, $4, $5, coalesce($6, $8 + $7, $8), p.trace_id, $8, $8
FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($9::uuid[]))
     WITH ORDINALITY AS p(payload, trace_id, n)
ORDER BY p.n
RETURNING id
