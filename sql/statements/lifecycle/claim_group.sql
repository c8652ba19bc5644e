-- Claims up to batch_size PENDING deliveries of the topic to the consumer group (all of them due: deliveries due later
-- are SCHEDULED), skipping rows other pollers hold and messages whose expiry has passed (the
-- worker moves those to EXPIRED), and counts the claim. The candidates are
-- locked in the inner SELECT and updated through the primary key, a plan that stays right
-- whatever the batch size. Rows come back unordered, with their due time; the caller sorts
-- them. With the trace on, each claim draws the id of its PROCESSING trace event and writes
-- no trace row: the row that ends the attempt records it (see mq.traces).
WITH claimed AS (
    UPDATE mq.messages m
    SET status = 'PROCESSING', consumer_id = $3, locked_at = $5, locked_until = $5 + $4,
        lease = pg_catalog.gen_random_uuid(), updated_at = $5
--trace{
        , processing_id = pg_catalog.nextval('mq.traces_id_seq')
--}trace
    WHERE m.id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status = 'PENDING' AND consumer_group = $6 AND topic = $1
          AND (expires_at IS NULL OR expires_at > $5)
        ORDER BY priority DESC, coalesce(next_retry_at, execute_at), id
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    RETURNING m.id, m.topic,
              coalesce(m.payload, (SELECT p.payload FROM mq.payloads p WHERE p.id = m.payload_id))
                  AS payload,
              CASE WHEN m.payload_id IS NULL THEN m.headers
                   ELSE (SELECT p.headers FROM mq.payloads p WHERE p.id = m.payload_id) END
                  AS headers,
              m.priority, m.retry_count, m.max_retries,
              m.trace_id, m.created_at, m.lease, m.locked_until, m.ordering_key,
              coalesce(m.next_retry_at, m.execute_at) AS due_at
)
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_out, processing, delivered, counted_at, consumer_id,
         delivery_latency, delivery_latency_sum)
    SELECT $1, $6, count(*), count(*), count(*), $5, $3,
           mq.latency_histogram(pg_catalog.array_agg(EXTRACT(epoch FROM $5 - due_at)::float8)
                                FILTER (WHERE retry_count = 0)),
           coalesce(sum(EXTRACT(epoch FROM $5 - due_at)::float8) FILTER (WHERE retry_count = 0), 0)
    FROM claimed HAVING count(*) > 0
)
SELECT id, topic, payload, headers, priority, retry_count, max_retries, trace_id, created_at, lease,
       due_at, ordering_key
FROM claimed
