-- claim.sql with tracing off: the UPDATE alone (the caller orders the rows).
UPDATE mq.messages m
SET status = 'PROCESSING', consumer_id = $3, locked_at = $5, locked_until = $5 + $4,
    lease = pg_catalog.gen_random_uuid(), updated_at = $5
WHERE m.id = ANY (ARRAY(
    SELECT id
    FROM mq.messages
    WHERE status = 'PENDING' AND topic = $1 AND coalesce(next_retry_at, execute_at) <= $5
    ORDER BY priority DESC, coalesce(next_retry_at, execute_at), id
    LIMIT $2
    FOR UPDATE SKIP LOCKED))
RETURNING m.id, m.topic, m.payload, m.headers, m.priority, m.retry_count, m.max_retries,
          m.trace_id, m.created_at, m.lease, coalesce(m.next_retry_at, m.execute_at) AS due_at
