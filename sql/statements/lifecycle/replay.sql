-- Replays the listed dead letters not yet replayed as new PENDING messages (a dead letter of a
-- consumer group's delivery as a delivery to that group only), each expiring after its
-- topic's message_ttl from now (if the topic has one); returns (dead_letter_id, message_id,
-- topic) in dead letter id order.
WITH picked AS MATERIALIZED (
    SELECT d.id AS dead_letter_id, d.original_id, d.topic, d.payload, d.headers, d.priority,
           d.max_retries, d.trace_id, d.consumer_group,
           pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass) AS message_id
    FROM mq.dead_letters d
    WHERE d.id = ANY($1) AND NOT d.replayed
    ORDER BY d.id
    FOR UPDATE
), inserted AS (
    INSERT INTO mq.messages
        (id, topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at,
         updated_at, expires_at, consumer_group)
    SELECT p.message_id, p.topic, p.payload, p.headers, p.priority, p.max_retries, $2,
           p.trace_id, $2, $2, $2 + t.message_ttl, p.consumer_group
    FROM picked p
    LEFT JOIN mq.topics t ON t.topic = p.topic
), marked AS (
    UPDATE mq.dead_letters d
    SET replayed = true, replayed_at = $2, replayed_message_id = p.message_id
    FROM picked p
    WHERE d.id = p.dead_letter_id AND d.id = ANY($1)
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, message_id, topic, 'REPLAYED',
           pg_catalog.jsonb_build_object('dead_letter_id', dead_letter_id,
                                         'original_id', original_id)
           || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', consumer_group) END,
           $2
    FROM picked
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_in, dead_letters, oldest_due, counted_at)
    SELECT topic, coalesce(consumer_group, ''), count(*), -count(*), $2, $2
    FROM picked GROUP BY topic, consumer_group
)
SELECT dead_letter_id, message_id, topic, consumer_group FROM picked ORDER BY dead_letter_id
