-- Completes a PROCESSING message (with the lease of its current delivery, or any when the
-- lease is NULL; in the topic named, when one is); returns its id when completed, and counts
-- the completion for the metrics.
WITH done AS (
    UPDATE mq.messages
    SET status = 'COMPLETED', locked_until = NULL, updated_at = $4
    WHERE id = $1 AND status = 'PROCESSING' AND ($2::uuid IS NULL OR lease = $2)
      AND ($3::text IS NULL OR topic = $3)
    RETURNING id, topic, trace_id, consumer_id, retry_count, consumer_group, ordering_key, locked_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'COMPLETED',
           pg_catalog.jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1)
           || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_group', consumer_group) END,
           $4
    FROM done
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
