-- Publishes one message per payload, in array order, each with its own trace id, to the
-- consumer groups subscribed to the topic: each payload once in mq.payloads, a delivery per
-- message and group in mq.messages, counted per group; returns the messages' ids.
WITH item AS MATERIALIZED (
    SELECT pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass) AS id, p.payload,
           p.trace_id, p.n
    FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($9::uuid[]))
         WITH ORDINALITY AS p(payload, trace_id, n)
    ORDER BY p.n
), payload AS (
    INSERT INTO mq.payloads (id, topic, payload, headers, created_at)
    SELECT id, $1, payload, $3, $8 FROM item
), delivery AS (
    INSERT INTO mq.messages
        (topic, payload_id, status, priority, max_retries, execute_at, trace_id, created_at,
         updated_at, expires_at, consumer_group)
    SELECT $1, i.id,
           CASE WHEN coalesce($6, $8 + $7, $8) > $8 THEN 'SCHEDULED' ELSE 'PENDING' END,
           $4, $5, coalesce($6, $8 + $7, $8), i.trace_id, $8, $8, $10, g.consumer_group
    FROM item i, pg_catalog.unnest($11::text[]) AS g(consumer_group)
    ORDER BY i.n, g.consumer_group
    RETURNING id, topic, consumer_group, status, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT i.trace_id, i.id, $1, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', $4, 'max_retries', $5,
                                         'execute_at', coalesce($6, $8 + $7, $8),
                                         'expires_at', $10, 'consumer_groups', $11::text[]),
           $8
    FROM item i
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, consumer_group, count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'SCHEDULED'),
           min(execute_at) FILTER (WHERE status = 'PENDING'), $8
    FROM delivery
    GROUP BY topic, consumer_group
)
SELECT id FROM item ORDER BY n
