-- Deletes a consumer group's waiting deliveries (PENDING, SCHEDULED and WAITING) of the given topics,
-- each with a PURGED trace row, and counts them; returns how many. Deliveries in flight stay
-- (they can still be completed). Rows another session is changing are skipped.
WITH doomed AS (
    SELECT id FROM mq.messages
    WHERE consumer_group = $1 AND topic = ANY ($2) AND status IN ('PENDING', 'SCHEDULED', 'WAITING')
    FOR UPDATE SKIP LOCKED
), purged AS (
    DELETE FROM mq.messages m USING doomed d WHERE m.id = d.id
    RETURNING m.id, m.topic, m.trace_id, m.retry_count, m.status
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PURGED',
           pg_catalog.jsonb_build_object('retry_count', retry_count, 'consumer_group', $1,
                                         'unsubscribed', true), $3
    FROM purged
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, consumer_group, pending_out, delayed, counted_at)
    SELECT topic, $1, count(*) FILTER (WHERE status = 'PENDING'),
           -count(*) FILTER (WHERE status IN ('SCHEDULED', 'WAITING')), $3
    FROM purged GROUP BY topic
)
SELECT count(*) FROM purged
