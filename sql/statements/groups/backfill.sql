-- Delivers to a new consumer group every message of the given topics published at or after
-- start_at that mq.messages still holds, in any state (a message delivered to groups counts
-- once, a point-to-point message's payload is copied into mq.payloads once), unless it has
-- expired; counted per topic; returns how many deliveries were made.
WITH source AS MATERIALIZED (
    SELECT DISTINCT ON (coalesce(m.payload_id, m.id))
           m.id, m.payload_id, m.topic, m.payload, m.headers, m.priority, m.max_retries,
           m.trace_id, m.created_at, m.execute_at, m.expires_at
    FROM mq.messages m
    WHERE m.topic = ANY ($2) AND m.created_at >= $3
      AND (m.consumer_group IS NULL OR m.payload_id IS NOT NULL)
      AND (m.expires_at IS NULL OR m.expires_at > $4)
    ORDER BY coalesce(m.payload_id, m.id)
), copied AS (
    INSERT INTO mq.payloads (id, topic, payload, headers, created_at)
    SELECT id, topic, payload, headers, created_at FROM source WHERE payload_id IS NULL
    ON CONFLICT (id) DO NOTHING
), delivery AS (
    INSERT INTO mq.messages
        (topic, payload_id, status, priority, max_retries, execute_at, trace_id, created_at,
         updated_at, expires_at, consumer_group)
    SELECT topic, coalesce(payload_id, id),
           CASE WHEN execute_at > $4 THEN 'SCHEDULED' ELSE 'PENDING' END,
           priority, max_retries, execute_at, trace_id, created_at, $4, expires_at, $1
    FROM source
    ORDER BY coalesce(payload_id, id)
    RETURNING id, topic, trace_id, status, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('consumer_group', $1, 'from_history', true), $4
    FROM delivery
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, $1, count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'SCHEDULED'),
           min(execute_at) FILTER (WHERE status = 'PENDING'), $4
    FROM delivery
    GROUP BY topic
)
SELECT count(*) FROM delivery
