-- Makes up to `limit` SCHEDULED messages whose due time has come PENDING (of one topic, or of
-- every topic when topic is NULL), skipping rows another session holds, and counts them;
-- returns how many per topic and consumer group (their pollers are woken at commit).
WITH promoted AS (
    UPDATE mq.messages m
    SET status = 'PENDING', updated_at = $2
    WHERE m.id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status = 'SCHEDULED' AND coalesce(next_retry_at, execute_at) <= $2
          AND ($1::text IS NULL OR topic = $1)
        ORDER BY coalesce(next_retry_at, execute_at)
        LIMIT $3
        FOR UPDATE SKIP LOCKED))
      AND m.status = 'SCHEDULED'
    RETURNING m.topic, m.consumer_group, coalesce(m.next_retry_at, m.execute_at) AS due_at
), counted AS (
    INSERT INTO mq.metric_counts (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, coalesce(consumer_group, ''), count(*), -count(*), min(due_at), $2
    FROM promoted GROUP BY topic, consumer_group
)
SELECT topic, consumer_group, count(*) AS promoted FROM promoted GROUP BY topic, consumer_group
