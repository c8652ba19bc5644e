-- Deletes the topic's waiting messages (PENDING, SCHEDULED and WAITING; its waiting deliveries to
-- consumer groups too), writing a PURGED trace row for
-- each, and counts them; returns how many. Rows another session is changing at that moment (a
-- message being failed back to PENDING, say) are skipped, not waited for: purge never waits,
-- so it cannot deadlock with consumers that lock several messages.
WITH doomed AS (
    SELECT id FROM mq.messages WHERE topic = $1 AND status IN ('PENDING', 'SCHEDULED', 'WAITING')
    FOR UPDATE SKIP LOCKED
), purged AS (
    DELETE FROM mq.messages m USING doomed d WHERE m.id = d.id
    RETURNING m.id, m.topic, m.trace_id, m.retry_count, m.status, m.consumer_group
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PURGED',
           pg_catalog.jsonb_build_object('retry_count', retry_count), $2
    FROM purged
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, consumer_group, pending_out, delayed, counted_at)
    SELECT $1, coalesce(consumer_group, ''), count(*) FILTER (WHERE status = 'PENDING'),
           -count(*) FILTER (WHERE status IN ('SCHEDULED', 'WAITING')), $2
    FROM purged GROUP BY consumer_group
)
SELECT count(*) FROM purged
