-- A trace's chain in the order it happened (event ids are drawn in causal order): its rows,
-- the PROCESSING event of each attempt a row ended (its start kept in that row: started_id,
-- started_at, locked_until; its consumer, attempt and group are those of the row's detail),
-- and the PROCESSING event of each attempt still in flight (read from its message, found
-- through the message ids of the trace's rows).
SELECT event, message_id, topic, detail, created_at
FROM (
    SELECT t.id, t.event, t.message_id, t.topic, t.detail, t.created_at
    FROM mq.traces t
    WHERE t.trace_id = $1
    UNION ALL
    SELECT t.started_id, 'PROCESSING', t.message_id, t.topic,
           pg_catalog.jsonb_build_object('consumer_id', t.detail -> 'consumer_id',
                                         'attempt', t.detail -> 'attempt',
                                         'locked_until', t.locked_until)
           || CASE WHEN t.detail ? 'consumer_group'
                   THEN pg_catalog.jsonb_build_object('consumer_group', t.detail -> 'consumer_group')
                   ELSE '{}'::jsonb END,
           t.started_at
    FROM mq.traces t
    WHERE t.trace_id = $1 AND t.started_id IS NOT NULL
    UNION ALL
    SELECT m.processing_id, 'PROCESSING', m.id, m.topic,
           pg_catalog.jsonb_build_object('consumer_id', m.consumer_id, 'attempt', m.retry_count + 1,
                                         'locked_until', m.locked_until)
           || CASE WHEN m.consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', m.consumer_group) END,
           m.locked_at
    FROM mq.messages m
    WHERE m.id IN (SELECT t.message_id FROM mq.traces t WHERE t.trace_id = $1)
      AND m.trace_id = $1 AND m.status = 'PROCESSING' AND m.processing_id IS NOT NULL
) chain (id, event, message_id, topic, detail, created_at)
ORDER BY id
