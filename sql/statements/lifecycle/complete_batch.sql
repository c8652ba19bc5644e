-- Completes the listed messages that are PROCESSING; returns how many. Rows are locked in id
-- order, so concurrent batch completions cannot deadlock. With the trace on, each COMPLETED
-- row records its attempt's start from the message's row as it was (prior), as complete.sql
-- does.
WITH done AS (
    UPDATE mq.messages m
    SET status = 'COMPLETED', locked_until = NULL, processing_id = NULL, updated_at = $4
    FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::uuid[])) AS b(id, lease)
    WHERE m.id = b.id AND m.status = 'PROCESSING' AND m.lease = b.lease
      AND ($3::text IS NULL OR m.topic = $3)
    RETURNING m.id, m.topic, m.trace_id, m.consumer_id, m.retry_count, m.consumer_group,
              m.ordering_key, m.locked_at
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
    SELECT d.trace_id, d.id, d.topic, 'COMPLETED',
           pg_catalog.jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1)
           || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', consumer_group) END,
           $4, p.processing_id, CASE WHEN p.processing_id IS NOT NULL THEN d.locked_at END,
           CASE WHEN p.processing_id IS NOT NULL THEN p.locked_until END
    FROM done d JOIN prior p ON p.id = d.id
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, processing, consumed, counted_at, consumer_id, processing_latency,
         processing_latency_sum)
    SELECT topic, coalesce(consumer_group, ''), -count(*), count(*), $4, consumer_id,
           mq.latency_histogram(pg_catalog.array_agg(EXTRACT(epoch FROM $4 - locked_at)::float8)),
           coalesce(sum(EXTRACT(epoch FROM $4 - locked_at)::float8), 0)
    FROM done GROUP BY topic, consumer_group, consumer_id
)
SELECT id, topic, coalesce(consumer_group, '') AS consumer_group, ordering_key FROM done
