-- Replays the listed dead letters not yet replayed as new messages (a dead letter of a
-- consumer group's delivery as a delivery to that group only), each expiring after its
-- topic's message_ttl from now (if the topic has one). A dead letter with an ordering key
-- keeps its place in the key's order: it is deliverable at once when the key has nothing
-- unfinished or was blocked (by it: the key is unblocked), and otherwise WAITS for its turn;
-- the caller locked the keys (keys/lock_keys.sql). Returns (dead_letter_id, message_id, topic,
-- consumer_group) in dead letter id order.
WITH picked AS MATERIALIZED (
    SELECT d.id AS dead_letter_id, d.original_id, d.topic, d.payload, d.headers, d.priority,
           d.max_retries, d.trace_id, d.consumer_group, d.ordering_key, d.ordering_seq,
           pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass) AS message_id,
           CASE WHEN d.ordering_key IS NULL THEN 'PENDING'
                WHEN k.blocked_message_id IS NOT NULL OR coalesce(k.live, 0) = 0 THEN 'PENDING'
                ELSE 'WAITING' END AS status
    FROM mq.dead_letters d
    LEFT JOIN mq.ordering_keys k
      ON k.topic = d.topic AND k.consumer_group = coalesce(d.consumer_group, '')
     AND k.ordering_key = d.ordering_key
    WHERE d.id = ANY($1) AND NOT d.replayed
    ORDER BY d.id
    FOR UPDATE OF d
), inserted AS (
    INSERT INTO mq.messages
        (id, topic, payload, headers, status, priority, max_retries, execute_at, trace_id,
         created_at, updated_at, expires_at, consumer_group, ordering_key, ordering_seq)
    SELECT p.message_id, p.topic, p.payload, p.headers, p.status, p.priority, p.max_retries, $2,
           p.trace_id, $2, $2, $2 + t.message_ttl, p.consumer_group, p.ordering_key,
           p.ordering_seq
    FROM picked p
    LEFT JOIN mq.topics t ON t.topic = p.topic
), keys AS (
    INSERT INTO mq.ordering_keys AS k
        (topic, consumer_group, ordering_key, next_seq, live, updated_at)
    SELECT topic, coalesce(consumer_group, ''), ordering_key, max(message_id), count(*), $2
    FROM picked WHERE ordering_key IS NOT NULL
    GROUP BY topic, coalesce(consumer_group, ''), ordering_key
    ON CONFLICT (topic, consumer_group, ordering_key) DO UPDATE
    SET live = k.live + excluded.live, blocked_message_id = NULL, blocked_reason = NULL,
        blocked_since = NULL, updated_at = excluded.updated_at
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
        (topic, consumer_group, pending_in, delayed, dead_letters, oldest_due, counted_at)
    SELECT topic, coalesce(consumer_group, ''), count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'WAITING'), -count(*), $2, $2
    FROM picked GROUP BY topic, consumer_group
)
SELECT dead_letter_id, message_id, topic, consumer_group FROM picked ORDER BY dead_letter_id
