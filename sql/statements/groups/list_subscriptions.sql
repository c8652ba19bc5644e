-- The subscriptions (of one group, or all), for mq_subscriptions.
SELECT id, consumer_group, topic_pattern, start_at, created_at
FROM mq.subscriptions
WHERE $1::text IS NULL OR consumer_group = $1
ORDER BY consumer_group, topic_pattern
