-- Subscribes a consumer group to a topic pattern, unless it is already; returns the
-- subscription's id and whether this call created it.
WITH created AS (
    INSERT INTO mq.subscriptions (consumer_group, topic_pattern, start_at, created_at)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (consumer_group, topic_pattern) DO NOTHING
    RETURNING id
)
SELECT id, true AS created FROM created
UNION ALL
SELECT id, false FROM mq.subscriptions
WHERE consumer_group = $1 AND topic_pattern = $2 AND NOT EXISTS (SELECT FROM created)
