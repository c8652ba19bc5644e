-- Completes the listed messages that are PROCESSING; returns how many. Rows are locked in id
-- order, so concurrent batch completions cannot deadlock.
WITH done AS (
    UPDATE mq.messages
    SET status = 'COMPLETED', locked_until = NULL, updated_at = $2
    WHERE id = ANY($1) AND status = 'PROCESSING'
    RETURNING id, topic, trace_id, consumer_id, retry_count
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'COMPLETED',
           pg_catalog.jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1),
           $2
    FROM done
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, consumed, counted_at)
    SELECT topic, count(*), $2 FROM done GROUP BY topic
)
SELECT count(*) FROM done
