-- Drops a topic: deletes its waiting and in-flight messages (waiting for sessions settling
-- them; each gets a PURGED trace row, which ends an attempt in flight and then also names its
-- consumer and attempt, and is counted) and its catalog row. Dead letters,
-- finished messages and traces stay until retention. Returns how many messages were removed.
WITH doomed AS MATERIALIZED (
    SELECT id, status FROM mq.messages
    WHERE topic = $1 AND status IN ('WAITING', 'SCHEDULED', 'PENDING', 'PROCESSING')
    ORDER BY id
    FOR UPDATE
), removed AS (
    DELETE FROM mq.messages m USING doomed d
    WHERE m.id = d.id AND m.status IN ('WAITING', 'SCHEDULED', 'PENDING', 'PROCESSING')
    RETURNING m.id, m.topic, m.trace_id, m.retry_count, m.status, m.consumer_group,
              m.consumer_id, m.locked_at, m.locked_until, m.processing_id
), catalog AS (
    DELETE FROM mq.topics WHERE topic = $1
), keys AS (
    DELETE FROM mq.ordering_keys WHERE topic = $1
)
--trace{
, traced AS (
    INSERT INTO mq.traces
        (trace_id, message_id, topic, event, detail, created_at, started_id, started_at,
         locked_until)
    SELECT trace_id, id, topic, 'PURGED',
           pg_catalog.jsonb_build_object('retry_count', retry_count, 'status', status,
                                         'topic_dropped', true)
           || CASE WHEN processing_id IS NULL THEN '{}'::jsonb
                   ELSE pg_catalog.jsonb_build_object('consumer_id', consumer_id,
                                                      'attempt', retry_count + 1)
                        || CASE WHEN consumer_group IS NULL THEN '{}'::jsonb
                                ELSE pg_catalog.jsonb_build_object('consumer_group',
                                                                   consumer_group) END
              END, $2,
           processing_id, CASE WHEN processing_id IS NOT NULL THEN locked_at END,
           CASE WHEN processing_id IS NOT NULL THEN locked_until END
    FROM removed
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts
        (topic, consumer_group, pending_out, delayed, processing, counted_at)
    SELECT $1, coalesce(consumer_group, ''), count(*) FILTER (WHERE status = 'PENDING'),
           -count(*) FILTER (WHERE status IN ('SCHEDULED', 'WAITING')),
           -count(*) FILTER (WHERE status = 'PROCESSING'), $2
    FROM removed GROUP BY consumer_group
)
SELECT count(*) FROM removed
