-- Pauses a consumer group for a topic (or all its topics: topic ''); returns a row when this
-- paused it.
INSERT INTO mq.group_pauses (consumer_group, topic, paused_at) VALUES ($1, $2, $3)
ON CONFLICT (consumer_group, topic) DO NOTHING
RETURNING consumer_group
