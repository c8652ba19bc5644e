-- Completes a PROCESSING message (with the lease of its current delivery, or any when the
-- lease is NULL; in the topic named, when one is); returns its id when completed, and counts
-- the completion for the metrics. With the trace on, its COMPLETED row also records the
-- attempt's start (its PROCESSING event, drawn by the claim): prior reads the message's row
-- as it was before this update (every part of the statement sees the same snapshot, not the
-- update's own change), which still has the lock expiry and the event id.
WITH done AS (
    UPDATE mq.messages m
    SET status = 'COMPLETED', locked_until = NULL, processing_id = NULL, updated_at = $4
    WHERE m.id = $1 AND m.status = 'PROCESSING' AND ($2::uuid IS NULL OR m.lease = $2)
      AND ($3::text IS NULL OR m.topic = $3)
    RETURNING m.id, m.topic, m.trace_id, m.consumer_id, m.retry_count, m.consumer_group,
              m.ordering_key, m.locked_at
)
--trace{
, prior AS (
    SELECT id, locked_until, processing_id FROM mq.messages WHERE id = $1
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
