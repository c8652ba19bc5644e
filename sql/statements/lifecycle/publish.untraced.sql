-- publish.sql with tracing off: a plain INSERT.
INSERT INTO mq.messages
    (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9)
RETURNING id
