-- Publishes one message to the consumer groups subscribed to its topic: its payload and
-- headers once, in mq.payloads (under the message's id), and a delivery per group in
-- mq.messages — PENDING when due now, SCHEDULED when due later — counted per group; returns
-- the message's id.
WITH payload AS (
    INSERT INTO mq.payloads (id, topic, payload, headers, created_at)
    VALUES (pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass), $1, $2, $3, $9)
    RETURNING id
), delivery AS (
    INSERT INTO mq.messages
        (topic, payload_id, status, priority, max_retries, execute_at, trace_id, created_at,
         updated_at, expires_at, consumer_group)
    SELECT $1, p.id,
           CASE WHEN coalesce($6, $9 + $7, $9) > $9 THEN 'SCHEDULED' ELSE 'PENDING' END,
           $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9, $10, g.consumer_group
    FROM payload p, pg_catalog.unnest($11::text[]) AS g(consumer_group)
    RETURNING id, topic, consumer_group, status, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT $8, p.id, $1, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', $4, 'max_retries', $5,
                                         'execute_at', coalesce($6, $9 + $7, $9),
                                         'expires_at', $10, 'consumer_groups', $11::text[]),
           $9
    FROM payload p
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, consumer_group, (status = 'PENDING')::int, (status = 'SCHEDULED')::int,
           CASE WHEN status = 'PENDING' THEN execute_at END, $9
    FROM delivery
)
SELECT id FROM payload
