-- Moves up to `limit` waiting (PENDING, SCHEDULED or WAITING) messages whose expiry has passed to
-- EXPIRED (of one topic, or every topic when topic is NULL), skipping rows another session
-- holds, with a dead letter each (error 'expired'), and counts them; returns how many per topic.
WITH doomed AS MATERIALIZED (
    SELECT id, status
    FROM mq.messages
    WHERE expires_at <= $2 AND status IN ('WAITING', 'SCHEDULED', 'PENDING')
      AND ($1::text IS NULL OR topic = $1)
    ORDER BY expires_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), expired AS (
    UPDATE mq.messages m
    SET status = 'EXPIRED', next_retry_at = NULL, updated_at = $2
    FROM doomed d
    WHERE m.id = d.id
    RETURNING m.id, m.topic, m.consumer_group,
              coalesce(m.payload, (SELECT p.payload FROM mq.payloads p WHERE p.id = m.payload_id))
                  AS payload,
              CASE WHEN m.payload_id IS NULL THEN m.headers
                   ELSE (SELECT p.headers FROM mq.payloads p WHERE p.id = m.payload_id) END
                  AS headers,
              m.priority, m.max_retries, m.trace_id, m.retry_count, m.expires_at, d.status AS was,
              m.ordering_key, m.ordering_seq
), dead AS (
    INSERT INTO mq.dead_letters
        (original_id, topic, payload, headers, priority, max_retries, trace_id, error_message,
         retry_count, created_at, consumer_group, ordering_key, ordering_seq)
    SELECT id, topic, payload, headers, priority, max_retries, trace_id, 'expired', retry_count, $2,
           consumer_group, ordering_key, ordering_seq
    FROM expired
    RETURNING id, original_id
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'EXPIRED',
           pg_catalog.jsonb_build_object('expires_at', expires_at)
           || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', consumer_group) END, $2
    FROM expired
    UNION ALL
    SELECT e.trace_id, e.id, e.topic, 'DEAD_LETTERED',
           pg_catalog.jsonb_build_object('dead_letter_id', d.id, 'retry_count', e.retry_count),
           $2
    FROM expired e JOIN dead d ON d.original_id = e.id
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_out, delayed, dead_letters, expired, counted_at)
    SELECT topic, coalesce(consumer_group, ''), count(*) FILTER (WHERE was = 'PENDING'),
           -count(*) FILTER (WHERE was IN ('SCHEDULED', 'WAITING')), count(*), count(*), $2
    FROM expired
    GROUP BY topic, consumer_group
)
SELECT id, topic, coalesce(consumer_group, '') AS consumer_group, ordering_key, was FROM expired
