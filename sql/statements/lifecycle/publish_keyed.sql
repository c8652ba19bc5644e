-- Publishes messages with ordering keys, or with ids drawn beforehand (deduplication), in
-- array order: point-to-point when groups is empty, else a delivery per group (the payloads
-- once in mq.payloads). Each message with an ordering key takes its key's row (per group) —
-- held until commit, so the key's publishers take turns — and the next numbers of the key:
-- the first message of a key with nothing unfinished (and not blocked) is deliverable at
-- once (PENDING, or SCHEDULED when due later); every later one WAITS behind it. Counts
-- everything; returns the messages' ids in array order.
WITH item AS MATERIALIZED (
    SELECT coalesce(p.id, pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass)) AS id,
           p.payload, p.trace_id, p.ordering_key, p.n
    FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($9::uuid[]),
                    pg_catalog.unnest($12::bigint[]), pg_catalog.unnest($13::text[]))
         WITH ORDINALITY AS p(payload, trace_id, id, ordering_key, n)
    ORDER BY p.n
), target AS MATERIALIZED (
    -- One row per message and group ('' for point-to-point), with its rank among the
    -- batch's messages of the same key.
    SELECT i.id, i.payload, i.trace_id, i.ordering_key, i.n, g.consumer_group,
           pg_catalog.row_number() OVER (PARTITION BY g.consumer_group, i.ordering_key ORDER BY i.n)
               AS rank
    FROM item i,
         pg_catalog.unnest(CASE WHEN pg_catalog.cardinality($11::text[]) = 0 THEN ARRAY['']
                                ELSE $11::text[] END) AS g(consumer_group)
), keyed AS (
    SELECT consumer_group, ordering_key, count(*) AS n, min(id) AS first_id
    FROM target WHERE ordering_key IS NOT NULL
    GROUP BY consumer_group, ordering_key
), key_row AS (
    -- A key's numbers only grow: a key seen again after all its messages finished (its row was
    -- forgotten) starts from this batch's first message id, above every number it had.
    INSERT INTO mq.ordering_keys AS k
        (topic, consumer_group, ordering_key, next_seq, live, updated_at)
    SELECT $1, consumer_group, ordering_key, first_id - 1 + n, n, $8 FROM keyed
    ORDER BY consumer_group, ordering_key
    ON CONFLICT (topic, consumer_group, ordering_key) DO UPDATE
    SET next_seq = k.next_seq + excluded.next_seq, live = k.live + excluded.live,
        updated_at = excluded.updated_at
    RETURNING k.consumer_group, k.ordering_key, k.next_seq, k.live, k.blocked_message_id
), placed AS MATERIALIZED (
    SELECT t.*,
           k.next_seq - kd.n + t.rank AS ordering_seq,
           t.ordering_key IS NOT NULL
               AND NOT (t.rank = 1 AND k.live - kd.n = 0 AND k.blocked_message_id IS NULL)
               AS waits
    FROM target t
    LEFT JOIN key_row k ON k.consumer_group = t.consumer_group AND k.ordering_key = t.ordering_key
    LEFT JOIN keyed kd ON kd.consumer_group = t.consumer_group AND kd.ordering_key = t.ordering_key
), payload AS (
    INSERT INTO mq.payloads (id, topic, payload, headers, created_at)
    SELECT id, $1, payload, $3, $8 FROM item WHERE pg_catalog.cardinality($11::text[]) > 0
), delivery AS (
    INSERT INTO mq.messages
        (id, topic, payload, payload_id, headers, status, priority, max_retries, execute_at,
         trace_id, created_at, updated_at, expires_at, consumer_group, ordering_key,
         ordering_seq)
    SELECT CASE WHEN consumer_group = '' THEN id
                ELSE pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass) END,
           $1,
           CASE WHEN consumer_group = '' THEN payload END,
           CASE WHEN consumer_group <> '' THEN id END,
           CASE WHEN consumer_group = '' THEN $3 END,
           CASE WHEN waits THEN 'WAITING'
                WHEN coalesce($6, $8 + $7, $8) > $8 THEN 'SCHEDULED'
                ELSE 'PENDING' END,
           $4, $5, coalesce($6, $8 + $7, $8), trace_id, $8, $8, $10,
           NULLIF(consumer_group, ''), ordering_key, ordering_seq
    FROM placed
    ORDER BY n, consumer_group
    RETURNING topic, coalesce(consumer_group, '') AS consumer_group, status, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT i.trace_id, i.id, $1, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', $4, 'max_retries', $5,
                                         'execute_at', coalesce($6, $8 + $7, $8),
                                         'expires_at', $10, 'ordering_key', i.ordering_key)
           || CASE WHEN pg_catalog.cardinality($11::text[]) = 0 THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_groups', $11::text[]) END,
           $8
    FROM item i
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, consumer_group, count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status IN ('SCHEDULED', 'WAITING')),
           min(execute_at) FILTER (WHERE status = 'PENDING'), $8
    FROM delivery
    GROUP BY topic, consumer_group
)
SELECT id FROM item ORDER BY n
