-- Every subscription, for the per-session copy that routes publishes.
SELECT id, consumer_group, topic_pattern, start_at, created_at
FROM mq.subscriptions
ORDER BY consumer_group, topic_pattern
