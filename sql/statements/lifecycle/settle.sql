-- Settles failed deliveries locked by lock_for_failure.sql or lock_expired.sql: back to
-- PENDING when next_retry_at has come, SCHEDULED when it is later, FAILED with a dead letter
-- when next_retry_at is NULL, or EXPIRED with a dead letter (error 'expired') when the
-- message's expiry has passed; and counts them. retry_event names the trace event of a retry
-- ('FAILED' or 'RECOVERED'); that row ends the attempt and, with the trace on, records its
-- start (prior: the message's row as it was before this statement, which every part of it
-- sees). Returns each message's id, new status and
-- topic.
WITH outcome AS (
    SELECT o.id, o.next_retry_at, o.expire
    FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::timestamptz[]),
                    pg_catalog.unnest($6::boolean[]))
         AS o(id, next_retry_at, expire)
), settled AS (
    UPDATE mq.messages m
    SET status = CASE WHEN o.expire THEN 'EXPIRED'
                      WHEN o.next_retry_at IS NULL THEN 'FAILED'
                      WHEN o.next_retry_at > $4 THEN 'SCHEDULED'
                      ELSE 'PENDING' END,
        retry_count = m.retry_count + 1,
        next_retry_at = CASE WHEN o.expire THEN NULL ELSE o.next_retry_at END,
        last_error = $3,
        locked_until = NULL,
        processing_id = NULL,
        updated_at = $4
    FROM outcome o
    WHERE m.id = o.id AND m.status = 'PROCESSING'
    RETURNING m.id, m.topic, m.consumer_group, m.payload, m.payload_id, m.headers, m.priority,
              m.max_retries, m.trace_id, m.retry_count, m.consumer_id, m.next_retry_at, m.status,
              m.ordering_key, m.ordering_seq
--trace{
              , m.locked_at
--}trace
), dead AS (
    INSERT INTO mq.dead_letters
        (original_id, topic, payload, headers, priority, max_retries, trace_id, error_message,
         retry_count, created_at, consumer_group, ordering_key, ordering_seq)
    SELECT s.id, s.topic, coalesce(s.payload, p.payload),
           CASE WHEN s.payload_id IS NULL THEN s.headers ELSE p.headers END,
           s.priority, s.max_retries, s.trace_id,
           CASE WHEN s.status = 'EXPIRED' THEN 'expired' ELSE $3 END, s.retry_count, $4,
           s.consumer_group, s.ordering_key, s.ordering_seq
    FROM settled s
    LEFT JOIN mq.payloads p ON p.id = s.payload_id
    WHERE s.status IN ('FAILED', 'EXPIRED')
    RETURNING id, original_id
)
--trace{
, prior AS (
    SELECT m.id, m.locked_until, m.processing_id
    FROM pg_catalog.unnest($1::bigint[]) AS u(id) JOIN mq.messages m ON m.id = u.id
)
, traced AS (
    INSERT INTO mq.traces
        (trace_id, message_id, topic, event, detail, created_at, started_id, started_at,
         locked_until)
    SELECT s.trace_id, s.id, s.topic, CASE WHEN s.status = 'FAILED' THEN 'FAILED' ELSE $5 END,
           pg_catalog.jsonb_build_object('error', $3, 'attempt', retry_count,
                                         'consumer_id', consumer_id, 'next_retry_at', next_retry_at)
           || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', consumer_group) END,
           $4, p.processing_id, CASE WHEN p.processing_id IS NOT NULL THEN s.locked_at END,
           CASE WHEN p.processing_id IS NOT NULL THEN p.locked_until END
    FROM settled s JOIN prior p ON p.id = s.id
    UNION ALL
    SELECT trace_id, id, topic, 'EXPIRED', pg_catalog.jsonb_build_object('attempt', retry_count), $4,
           NULL, NULL, NULL
    FROM settled
    WHERE status = 'EXPIRED'
    UNION ALL
    SELECT s.trace_id, s.id, s.topic, 'DEAD_LETTERED',
           pg_catalog.jsonb_build_object('dead_letter_id', d.id, 'retry_count', s.retry_count),
           $4, NULL, NULL, NULL
    FROM settled s JOIN dead d ON d.original_id = s.id
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, processing, pending_in, delayed, dead_letters, failed,
         dead_lettered, expired, oldest_due, counted_at, consumer_id, lease_expired, last_error)
    SELECT topic, coalesce(consumer_group, ''), -count(*), count(*) FILTER (WHERE status = 'PENDING'),
           count(*) FILTER (WHERE status = 'SCHEDULED'),
           count(*) FILTER (WHERE status IN ('FAILED', 'EXPIRED')),
           count(*), count(*) FILTER (WHERE status = 'FAILED'),
           count(*) FILTER (WHERE status = 'EXPIRED'),
           min(next_retry_at) FILTER (WHERE status = 'PENDING'), $4,
           consumer_id, CASE WHEN $5 = 'RECOVERED' THEN count(*) ELSE 0 END,
           CASE WHEN $5 = 'RECOVERED' THEN NULL ELSE $3 END
    FROM settled
    GROUP BY topic, consumer_group, consumer_id
)
SELECT id, status, topic, consumer_group, ordering_key FROM settled
